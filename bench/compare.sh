#!/usr/bin/env bash
# backprop against the book's NumPy code, PyTorch and JAX, in one run, interleaved.
#
#   bench/compare.sh [ROUNDS]      (default 3 rounds; medians are reported)
#   BENCH_OUT=FILE bench/compare.sh  also keeps every measurement, one JSON line each
#
# Creates bench/.venv (pip: numpy, threadpoolctl, torch, jax — PyPI's torch is the CUDA build
# and pulls ≈ 5 GB of nvidia packages even for CPU use; PyPI's jax brings the CPU jaxlib) on
# first run, and adds jax to a venv made before it was a runner. NumPy runs with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset: set, they force OpenBLAS onto its AVX2 kernels.
# JAX has no thread-count call: jax_nets.py sets PJRT_NPROC (and for 1 thread
# XLA_FLAGS=--xla_cpu_multi_thread_eigen=false) before importing jax; see limit_threads there.
# MNIST is read from backprop's cache when present (backprop data fetch/import mnist), else all
# runners use the same-sized random data.
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-3}
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy threadpoolctl torch jax
fi
"$venv/bin/python" -c 'import jax' 2>/dev/null || "$venv/bin/pip" install -q jax
py="$venv/bin/python"
(cd .. && cargo build --release -q)
bp=../target/release/backprop
out=$(mktemp)
trap 'rm -f "$out"' EXIT

numpy() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$1" OMP_NUM_THREADS="$1" "$py" numpy_nets.py "${@:2}"; }
label() { sed "s/\"runner\": *\"\\([^\"]*\\)\"/\"runner\": \"\\1$1\"/"; }

cpu_field() { grep -m1 "^$1" /proc/cpuinfo | cut -d: -f2 | xargs; }
family=$(cpu_field 'cpu family'); model=$(cpu_field 'model\s*:'); model_name=$(cpu_field 'model name')
features=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16)$' | xargs)
echo "machine: $(nproc) cores, $model_name (cpu family $family, model $model; $features)" >&2
echo "numpy kernel: $(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" -c 'import threadpoolctl, numpy; print([i.get("architecture") for i in threadpoolctl.threadpool_info()], numpy.__version__)')" >&2
# a peer that is not installed (torch can fail to install) is skipped with a note
have_torch=1; have_jax=1
"$py" -c 'import torch' 2>/dev/null || { have_torch=0; echo "note: torch is not installed in $venv: PyTorch is skipped" >&2; }
JAX_PLATFORMS=cpu "$py" -c 'import jax' 2>/dev/null || { have_jax=0; echo "note: jax is not installed in $venv: JAX is skipped" >&2; }
[ "$have_torch" = 1 ] && echo "torch: $("$py" -c 'import torch; print(torch.__version__)')" >&2
[ "$have_jax" = 1 ] && echo "jax: $(JAX_PLATFORMS=cpu "$py" -c 'import jax; print(jax.__version__)')" >&2
torch() { if [ "$have_torch" = 1 ]; then "$py" torch_nets.py "$@"; fi; }
jax() { if [ "$have_jax" = 1 ]; then "$py" jax_nets.py "$@"; fi; }
# backprop train on MNIST (the ch05 schedule: 10,000 steps of 100, SGD lr 0.1, both sets
# evaluated every epoch), as steps per second of wall time, when MNIST is in the cache
train_mlp() {
  "$bp" train --dataset mnist --model two-layer --optimizer sgd --lr 0.1 --batch-size 100 \
    --iters 10000 --json 2>/dev/null | tail -1 | "$py" -c '
import json, sys
d = json.loads(sys.stdin.read())
print(json.dumps({"runner": "backprop-train-1t", "workload": "mlp",
                  "steps_per_sec": d["iters"] / d["seconds"]}))
# the same run, counting only the time in its training steps (not the evaluations)
print(json.dumps({"runner": "backprop-train-steps-1t", "workload": "mlp",
                  "steps_per_sec": d["session_steps"] / d["train_seconds"]}))' 2>/dev/null ||
    echo "note: backprop train on MNIST failed (not in the cache? backprop data fetch mnist): skipped" >&2
}

for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  # each line: one JSON measurement; the order within a round is fixed, rounds interleave
  numpy 1 mlp f64 300 | label "-1t" >>"$out"
  "$bp" bench mlp --threads 1 --json | label "-1t" >>"$out"
  torch mlp 1 1000 >>"$out"
  torch mlp 2 1000 >>"$out"
  jax mlp 1 1000 >>"$out"
  jax mlp 2 1000 >>"$out"
  numpy 1 mlp f32 300 | label "-1t" >>"$out"
  "$bp" bench mlp --threads 2 --json | label "-2t" >>"$out"
  # the step's matrix products alone: the ceiling of the TwoLayerNet figure
  "$bp" bench mlp-products --threads 1 --json | label "-1t" >>"$out"
  train_mlp >>"$out"

  numpy 1 conv f64 10 | label "-1t" >>"$out"
  "$bp" bench conv --threads 1 --json | label "-1t" >>"$out"
  torch conv 1 40 >>"$out"
  torch conv 2 60 >>"$out"
  jax conv 1 40 >>"$out"
  jax conv 2 60 >>"$out"
  numpy 1 conv f32 10 | label "-1t" >>"$out"
  "$bp" bench conv --threads 2 --json | label "-2t" >>"$out"
  # the step's matrix products alone: the ceiling of the SimpleConvNet figure
  "$bp" bench conv-products --threads 1 --json | label "-1t" >>"$out"

  numpy 1 deep f64 2 | label "-1t" >>"$out"
  "$bp" bench deep --threads 1 --json | label "-1t" >>"$out"
  torch deep 1 10 >>"$out"
  torch deep 2 15 >>"$out"
  jax deep 1 5 >>"$out"
  jax deep 2 5 >>"$out"
  numpy 1 deep f32 2 | label "-1t" >>"$out"
  "$bp" bench deep --threads 2 --json | label "-2t" >>"$out"

  numpy 1 gemm f32 10 | label "-1t" >>"$out"
  numpy 2 gemm f32 20 | label "-2t" >>"$out"
  "$bp" bench gemm --threads 1 --json | label "-1t" >>"$out"
  torch gemm 1 10 >>"$out"
  torch gemm 2 20 >>"$out"
  jax gemm 1 10 >>"$out"
  jax gemm 2 20 >>"$out"
  "$bp" bench gemm --threads 2 --json | label "-2t" >>"$out"

  # the machine's f32 multiply-add ceiling, on one core and on both
  "$bp" bench peak --threads 1 --seconds 1 --json | label "-1t" >>"$out"
  "$bp" bench peak --threads 2 --seconds 1 --json | label "-2t" >>"$out"
done

# kept before the summary, so that a failing summary loses no measurement
if [ -n "${BENCH_OUT:-}" ]; then cp "$out" "$BENCH_OUT"; fi
"$py" - "$out" "$family" "$model" "$model_name" <<'PY'
import collections, json, statistics, sys
family, model, model_name = sys.argv[2:5]
rows = collections.defaultdict(list)
flops = {}
kernels = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    w, r = d["workload"], d["runner"]
    value = d["gflops"] if w in ("gemm", "peak", "mlp-products", "conv-products") else d.get("steps_per_sec", d.get("per_sec"))
    rows[(w, r)].append(value)
    if r.startswith("backprop") and w in ("mlp", "conv", "deep") and "flops_per_rep" in d:
        flops[w] = d["flops_per_rep"]
    if r.startswith("backprop") and d.get("kernels"):
        kernels[(w, r)] = d["kernels"]
med = {k: statistics.median(v) for k, v in rows.items()}
peak = {t: med.get(("peak", f"backprop-{t}")) for t in ("1t", "2t")}
unit = {"mlp": "steps/s", "conv": "steps/s", "deep": "steps/s", "gemm": "GFLOP/s"}
names = {"mlp": "TwoLayerNet", "conv": "SimpleConvNet", "deep": "DeepConvNet", "gemm": "GEMM 1024³"}
rounds = max(len(v) for v in rows.values())
print(f"\nmedians of {rounds} interleaved rounds; spread = (max - min) / median across rounds")
print(f"host: {model_name}, cpu family {family}, model {model}")
if peak["1t"]:
    print(f"f32 multiply-add peak (backprop bench peak): {peak['1t']:.1f} GFLOP/s on one core, "
          f"{peak['2t']:.1f} on two")


def spread(key):
    v = rows[key]
    return (max(v) - min(v)) / statistics.median(v) if len(v) > 1 else 0.0


def gflops(w, runner):
    v = med.get((w, runner))
    if v is None:
        return None
    return v if w == "gemm" else v * flops[w] / 1e9


for w in ("mlp", "conv", "deep", "gemm"):
    print(f"\n{names[w]} ({unit[w]})")
    for (ww, runner), v in sorted(med.items()):
        if ww != w:
            continue
        note = ""
        t = runner.rsplit("-", 1)[-1]
        if runner.startswith("backprop") and peak.get(t) and w in flops or w == "gemm" and runner.startswith("backprop"):
            gf = gflops(w, runner)
            note = f"   ({gf:.1f} GFLOP/s = {100 * gf / peak[t]:.0f} % of the {t} peak)"
        print(f"  {runner:<18} {v:10.1f}  ±{100 * spread((ww, runner)):3.0f} %{note}")
    # like for like: each peer against backprop on the same number of threads
    for (ww, r), v in sorted(med.items()):
        mine = med.get((w, "backprop-" + r.rsplit("-", 1)[-1]))
        if ww == w and not r.startswith("backprop") and mine:
            print(f"  backprop-{r.rsplit('-', 1)[-1]} / {r:<14} {mine / v:6.2f}x")
for (w, r), ks in sorted(kernels.items()):
    if w == "gemm":
        print(f"  planned kernels ({r}): {', '.join(ks)}")


def get(w, r):
    return med.get((w, r), float("nan"))


def peers_of(w, threads=None):
    return {r: v for (ww, r), v in med.items() if ww == w and not r.startswith("backprop")
            and (threads is None or r.endswith("-" + threads))}


def check(label, value, target, unit="x"):
    ok = value >= target
    print(f"  {'met    ' if ok else 'NOT met'}  {label}: {value:.2f}{unit} (target ≥ {target:g}{unit})")


def pct(w, t):
    g = gflops(w, f"backprop-{t}")
    return 100 * g / peak[t] if g is not None and peak.get(t) else float("nan")


print(f"\ntargets (issue 17), cpu family {family} model {model}")
check("GEMM 1024³ 1 thread, % of the 1-core peak", pct("gemm", "1t"), 85, " %")
check("GEMM 1024³ 2 threads, % of the 2-core peak", pct("gemm", "2t"), 80, " %")
for t in ("1t", "2t"):
    for peer in ("numpy-f32", "jax"):
        r = f"{peer}-{t}"
        if (("gemm", r)) in med:
            check(f"GEMM {t} ÷ {r}", get("gemm", f"backprop-{t}") / get("gemm", r), 1.0)
check("TwoLayerNet 1 thread, % of the 1-core peak", pct("mlp", "1t"), 75, " %")
check("TwoLayerNet 1 thread ÷ book NumPy (f64, 1 thread)",
      get("mlp", "backprop-1t") / get("mlp", "numpy-f64-1t"), 10)
# like for like: the best peer on one thread (the book's f64 code is the line above)
if peers_of("mlp", "1t"):
    best = max(((r, v) for r, v in peers_of("mlp", "1t").items() if "f64" not in r),
               key=lambda kv: kv[1])
    check(f"TwoLayerNet 1 thread ÷ best peer on 1 thread ({best[0]})",
          get("mlp", "backprop-1t") / best[1], 2.5)
check("SimpleConvNet 1 thread, % of the 1-core peak", pct("conv", "1t"), 55, " %")
check("SimpleConvNet 2 threads ÷ 1 thread", get("conv", "backprop-2t") / get("conv", "backprop-1t"), 1.8)
check("DeepConvNet 1 thread, % of the 1-core peak", pct("deep", "1t"), 50, " %")
for t in ("1t", "2t"):
    if peers_of("deep", t):
        best = max(peers_of("deep", t).items(), key=lambda kv: kv[1])
        print(f"           DeepConvNet {t} ÷ best peer on {t} ({best[0]}): "
              f"{get('deep', f'backprop-{t}') / best[1]:.2f}x")
if ("mlp", "backprop-train-1t") in med:
    check("backprop train (MNIST, ch05 schedule) ÷ bench mlp, 1 thread",
          get("mlp", "backprop-train-1t") / get("mlp", "backprop-1t"), 0.9)

# What holds each figure, measured in this run (issue 17: "if a target is out of reach, say
# what bounds it, measured").
print("\nbounds, measured in this run")
# a net's products alone (bench W-products): the ceiling of its % of peak, and their share of a step
for w, rest in (("mlp", "batch gathering, bias, ReLU, softmax, SGD"),
                ("conv", "im2col, ReLU, pooling, Adam, softmax")):
    if (f"{w}-products", "backprop-1t") in med and peak.get("1t") and w in flops:
        gp = get(f"{w}-products", "backprop-1t")
        share = get(w, "backprop-1t") * flops[w] / (gp * 1e9)
        print(f"  {names[w]}: its matrix products alone (bench {w}-products) run at {gp:.1f} "
              f"GFLOP/s = {100 * gp / peak['1t']:.0f} % of the 1-core peak, the ceiling of the "
              f"step's %; they take {100 * share:.0f} % of a step, the rest ({rest}) "
              f"{100 * (1 - share):.0f} %")
if peers_of("mlp", "1t") and peak.get("1t"):
    best = max(((r, v) for r, v in peers_of("mlp", "1t").items() if "f64" not in r),
               key=lambda kv: kv[1])
    need = 2.5 * best[1] * flops["mlp"] / 1e9
    print(f"  2.5x the best peer on one thread ({best[0]}, {best[1]:.0f} steps/s) is "
          f"{need:.1f} GFLOP/s = {100 * need / peak['1t']:.0f} % of the 1-core peak")
if ("mlp", "numpy-f64-1t") in med and peak.get("1t"):
    book = get("mlp", "numpy-f64-1t") * flops["mlp"] / 1e9
    print(f"  the book's NumPy TwoLayerNet (f64, 1 thread) runs at {book:.1f} GFLOP/s; 10x it is "
          f"{10 * book:.1f} GFLOP/s = {1000 * book / peak['1t']:.0f} % of the f32 1-core peak")
if peak.get("1t") and peak.get("2t"):
    scale = peak["2t"] / peak["1t"]
    net = get("conv", "backprop-2t") / get("conv", "backprop-1t")
    print(f"  two threads: bench peak itself scales {scale:.2f}x from one core to two on this VM; "
          f"SimpleConvNet scales {net:.2f}x, {100 * net / scale:.0f} % of that")
if ("mlp", "backprop-train-steps-1t") in med:
    wall, steps = get("mlp", "backprop-train-1t"), get("mlp", "backprop-train-steps-1t")
    bench = get("mlp", "backprop-1t")
    # per step: evaluation seconds = 1/wall - 1/steps; at bench's step rate, the same
    # evaluations would leave train at most this fraction of bench
    evaluation = 1 / wall - 1 / steps
    print(f"  train: its training steps alone run at {steps / bench:.2f}x bench mlp (batches "
          f"drawn from MNIST); the book's schedule evaluates all 70,000 samples every epoch, "
          f"{100 * evaluation * wall:.0f} % of the wall time, so at bench's step rate and these "
          f"evaluations train would be at most {1 / (1 + evaluation * bench):.2f}x bench")
PY
