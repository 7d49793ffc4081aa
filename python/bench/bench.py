#!/usr/bin/env python3
"""Speed of the Python package, measured in one run, interleaved (issue 15, item 3).

1. `Trainer` on one of backprop's networks (the library's loop) against `backprop train`
   with the same work: TwoLayerNet 784-50-10 (MNIST) or 64-50-10 (the embedded digits), SGD
   lr 0.1, batches of 100 drawn with replacement, float32. Both report training samples per
   second with evaluations excluded; steps/s = samples/s / 100.
2. The book's ch05 training loop (`network.gradient` + a per-key `params[key] -= lr * grad`)
   on backprop's TwoLayerNet against the same loop on a plain NumPy implementation of the
   book's classes (numpy_book.py): float64 as in the book, and float32 on both sides. The
   runners take turns, `--block` steps each, for `--book-rounds` rounds.

    OPENBLAS_NUM_THREADS=1 RAYON_NUM_THREADS=1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        python python/bench/bench.py [--cli target/release/backprop] [--rounds 5] [--book-only]

Single-threaded is the fair setting on a small shared machine (OpenBLAS's threads spin when
the cores are busy); NumPy runs its own kernels only with OPENBLAS_CORETYPE/L2_SIZE unset.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy_book  # noqa: E402

from backprop.dataset.mnist import load_digits, load_mnist  # noqa: E402
from backprop.trainer import Trainer  # noqa: E402
from backprop.two_layer_net import TwoLayerNet  # noqa: E402


def cpu():
    fam = model = name = "?"
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "cpu family" and fam == "?":
                fam = v
            elif k == "model" and model == "?":
                model = v
            elif k == "model name" and name == "?":
                name = v
    except OSError:
        pass
    return f"{name} (family {fam}, model {model}), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"


def cli_steps_per_sec(cli, dataset, iters):
    out = subprocess.run(
        [cli, "train", "--dataset", dataset, "--iters", str(iters), "--batch-size", "100", "--lr", "0.1",
         "--sampling", "replacement", "--eval-every", str(iters), "--json"],
        capture_output=True, text=True, check=True,
    ).stdout
    final = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")][-1]
    return final["samples_per_sec"] / 100


def trainer_steps_per_sec(data, iters):
    (x, t), (xs, ts) = data
    net = TwoLayerNet(x.shape[1], 50, 10, seed=1, dtype=np.float32)
    epochs = iters / max(x.shape[0] / 100, 1)
    tr = Trainer(net, x, t, xs, ts, epochs=epochs, mini_batch_size=100, optimizer="SGD",
                 optimizer_param={"lr": 0.1}, evaluate_sample_num_per_epoch=100, verbose=False)
    r = tr.train()
    assert r is not None, "the fast path did not run"
    return r.samples_per_sec / 100


def book_loop(net, x, t, batches, lr=0.1):
    """ch05's train_neuralnet.py loop body on `net` for each batch mask: steps/s."""
    start = time.perf_counter()
    for batch_mask in batches:
        x_batch, t_batch = x[batch_mask], t[batch_mask]
        grad = net.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= lr * grad[key]
    return len(batches) / (time.perf_counter() - start)


# The book loop's runners: (label, constructor for input size n).
BOOK_RUNNERS = [
    ("ours_f64", "book loop on backprop, float64 (the book's dtype)",
     lambda n: TwoLayerNet(n, 50, 10, seed=2)),
    ("numpy_f64", "book loop on NumPy classes, float64 (the book)",
     lambda n: numpy_book.TwoLayerNet(n, 50, 10)),
    ("ours_f32", "book loop on backprop, dtype=np.float32",
     lambda n: TwoLayerNet(n, 50, 10, seed=2, dtype=np.float32)),
    ("numpy_f32", "book loop on NumPy classes, float32",
     lambda n: numpy_book.TwoLayerNet(n, 50, 10, dtype=np.float32)),
]


def book_loops(data, rounds, block):
    """Every runner in turn, `block` steps each, `rounds` times (the order rotating from round
    to round): per-block steps/s for each runner. The images stay float32 as `load_mnist`
    gives them, as in the book's script (a float64 network converts them per batch)."""
    (x, t), _ = data
    np.random.seed(0)
    nets = {key: make(x.shape[1]) for key, _, make in BOOK_RUNNERS}
    warm = [np.random.choice(x.shape[0], 100) for _ in range(10)]
    for net in nets.values():
        book_loop(net, x, t, warm)
    out = {key: [] for key in nets}
    keys = list(nets)
    for r in range(rounds):
        batches = [np.random.choice(x.shape[0], 100) for _ in range(block)]
        for key in keys[r % len(keys):] + keys[: r % len(keys)]:
            out[key].append(book_loop(nets[key], x, t, batches))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="target/release/backprop")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--digits", action="store_true", help="use the embedded digits even if MNIST is there")
    ap.add_argument("--book-only", action="store_true", help="only the book loop (no CLI, no Trainer)")
    ap.add_argument("--book-rounds", type=int, default=21, help="interleaved rounds of the book loop")
    ap.add_argument("--block", type=int, default=100, help="book-loop steps per runner and round")
    args = ap.parse_args()

    dataset = "digits"
    data = load_digits()
    if not args.digits:
        try:
            data = load_mnist()
            dataset = "mnist"
        except FileNotFoundError:
            pass
    print(f"CPU: {cpu()}")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, dataset {dataset}; "
          f"library loop: {args.iters} steps of 100 x {args.rounds} rounds; book loop: "
          f"{args.block} steps x {args.book_rounds} rounds; interleaved, medians of steps/s")
    threads = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS")}
    print("threads: " + ", ".join(f"{k}={v}" for k, v in threads.items())
          + ("" if "OPENBLAS_CORETYPE" not in os.environ else "  (OPENBLAS_CORETYPE is set: unset it)"))
    print("(this machine is shared with other jobs: compare ratios within one run only)")

    med = {}
    results = {}
    if not args.book_only:
        results = {"cli": [], "trainer": []}
        for _ in range(args.rounds):
            results["cli"].append(cli_steps_per_sec(args.cli, dataset, args.iters))
            results["trainer"].append(trainer_steps_per_sec(data, args.iters))
        med = {k: statistics.median(v) for k, v in results.items()}
        print(f"backprop train (f32)                {med['cli']:10.1f} steps/s")
        print(f"Trainer, library loop (f32)         {med['trainer']:10.1f} steps/s   "
              f"= {med['trainer'] / med['cli']:.2f} x backprop train")
    book = book_loops(data, args.book_rounds, args.block)
    results.update(book)
    for key, label, _ in BOOK_RUNNERS:
        med[key] = statistics.median(book[key])
        print(f"{label:52s} {med[key]:8.1f} steps/s")
    print(f"backprop f64 / NumPy f64 (the book as written)       {med['ours_f64'] / med['numpy_f64']:8.2f} x")
    print(f"backprop f32 / NumPy f64 (the book as written)       {med['ours_f32'] / med['numpy_f64']:8.2f} x")
    print(f"backprop f32 / NumPy f32                             {med['ours_f32'] / med['numpy_f32']:8.2f} x")
    print(json.dumps({"dataset": dataset, "median_steps_per_sec": med, "rounds": results}))

if __name__ == "__main__":
    main()
