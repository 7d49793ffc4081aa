#!/usr/bin/env python3
"""Speed of the Python package, measured in one run, interleaved (issue 15, item 3).

1. `Trainer` on one of backprop's networks (the library's loop) against `backprop train`
   with the same work: TwoLayerNet 784-50-10 (MNIST) or 64-50-10 (the embedded digits), SGD
   lr 0.1, batches of 100 drawn with replacement, float32. Both report training samples per
   second with evaluations excluded; steps/s = samples/s / 100.
2. The book's ch05 training loop (`network.gradient` + a per-key `params[key] -= lr * grad`)
   on backprop's TwoLayerNet against the same loop on a plain NumPy implementation of the
   book's classes (numpy_book.py), both float64 as in the book.

    python python/bench/bench.py [--cli target/release/backprop] [--rounds 5] [--digits]

Run it with NumPy's own kernels: unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE if set.
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


def book_loop_steps_per_sec(make_net, data, iters):
    (x, t), _ = data
    np.random.seed(0)
    net = make_net(x.shape[1])
    batches = [np.random.choice(x.shape[0], 100) for _ in range(iters)]
    x = x.astype(np.float64)
    start = time.perf_counter()
    for m in batches:
        x_batch, t_batch = x[m], t[m]
        grad = net.gradient(x_batch, t_batch)
        for key in ("W1", "b1", "W2", "b2"):
            net.params[key] -= 0.1 * grad[key]
    return iters / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="target/release/backprop")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--digits", action="store_true", help="use the embedded digits even if MNIST is there")
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
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, dataset {dataset}, "
          f"{args.iters} steps of 100, {args.rounds} interleaved rounds; medians of steps/s")
    print("(this machine is shared with other jobs: compare ratios within one run only)")

    results = {"cli": [], "trainer": [], "ours": [], "numpy": []}
    for _ in range(args.rounds):
        results["cli"].append(cli_steps_per_sec(args.cli, dataset, args.iters))
        results["trainer"].append(trainer_steps_per_sec(data, args.iters))
        results["ours"].append(book_loop_steps_per_sec(lambda n: TwoLayerNet(n, 50, 10, seed=2), data, args.iters // 2))
        results["numpy"].append(book_loop_steps_per_sec(lambda n: numpy_book.TwoLayerNet(n, 50, 10), data, args.iters // 2))
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"backprop train (f32)                {med['cli']:10.1f} steps/s")
    print(f"Trainer, library loop (f32)         {med['trainer']:10.1f} steps/s   "
          f"= {med['trainer'] / med['cli']:.2f} x backprop train")
    print(f"book loop on backprop (f64)         {med['ours']:10.1f} steps/s")
    print(f"book loop on NumPy classes (f64)    {med['numpy']:10.1f} steps/s   "
          f"backprop / NumPy = {med['ours'] / med['numpy']:.2f} x")
    print(json.dumps({"dataset": dataset, "median_steps_per_sec": med, "rounds": results}))


if __name__ == "__main__":
    main()
