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

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" >&2
echo "numpy kernel: $(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" -c 'import threadpoolctl, numpy; print([i.get("architecture") for i in threadpoolctl.threadpool_info()], numpy.__version__)')" >&2
echo "torch: $("$py" -c 'import torch; print(torch.__version__)')" >&2
echo "jax: $(JAX_PLATFORMS=cpu "$py" -c 'import jax; print(jax.__version__)')" >&2

for r in $(seq "$rounds"); do
  echo "round $r/$rounds" >&2
  # each line: one JSON measurement; the order within a round is fixed, rounds interleave
  numpy 1 mlp f64 300 | label "-1t" >>"$out"
  "$bp" bench mlp --threads 1 --json | label "-1t" >>"$out"
  "$py" torch_nets.py mlp 1 1000 >>"$out"
  "$py" torch_nets.py mlp 2 1000 >>"$out"
  "$py" jax_nets.py mlp 1 1000 >>"$out"
  "$py" jax_nets.py mlp 2 1000 >>"$out"
  numpy 1 mlp f32 300 | label "-1t" >>"$out"
  "$bp" bench mlp --threads 2 --json | label "-2t" >>"$out"

  numpy 1 conv f64 10 | label "-1t" >>"$out"
  "$bp" bench conv --threads 1 --json | label "-1t" >>"$out"
  "$py" torch_nets.py conv 1 40 >>"$out"
  "$py" torch_nets.py conv 2 60 >>"$out"
  "$py" jax_nets.py conv 1 40 >>"$out"
  "$py" jax_nets.py conv 2 60 >>"$out"
  numpy 1 conv f32 10 | label "-1t" >>"$out"
  "$bp" bench conv --threads 2 --json | label "-2t" >>"$out"

  numpy 1 gemm f32 10 | label "-1t" >>"$out"
  numpy 2 gemm f32 20 | label "-2t" >>"$out"
  "$bp" bench gemm --threads 1 --json | label "-1t" >>"$out"
  "$py" torch_nets.py gemm 1 10 >>"$out"
  "$py" torch_nets.py gemm 2 20 >>"$out"
  "$py" jax_nets.py gemm 1 10 >>"$out"
  "$py" jax_nets.py gemm 2 20 >>"$out"
  "$bp" bench gemm --threads 2 --json | label "-2t" >>"$out"

  # the machine's f32 multiply-add ceiling, on one core and on both
  "$bp" bench peak --threads 1 --seconds 1 --json | label "-1t" >>"$out"
  "$bp" bench peak --threads 2 --seconds 1 --json | label "-2t" >>"$out"
done

"$py" - "$out" <<'PY'
import collections, json, statistics, sys
rows = collections.defaultdict(list)
flops = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    w, r = d["workload"], d["runner"]
    value = d["gflops"] if w in ("gemm", "peak") else d.get("steps_per_sec", d.get("per_sec"))
    rows[(w, r)].append(value)
    if r.startswith("backprop") and w in ("mlp", "conv"):
        flops[w] = d["flops_per_rep"]
med = {k: statistics.median(v) for k, v in rows.items()}
peak = {t: med.get(("peak", f"backprop-{t}")) for t in ("1t", "2t")}
unit = {"mlp": "steps/s", "conv": "steps/s", "gemm": "GFLOP/s"}
rounds = max(len(v) for v in rows.values())
print(f"\nmedians of {rounds} interleaved rounds")
if peak["1t"]:
    print(f"f32 multiply-add peak (backprop bench peak): {peak['1t']:.1f} GFLOP/s on one core, "
          f"{peak['2t']:.1f} on two")
for w in ("mlp", "conv", "gemm"):
    print(f"\n{w} ({unit[w]})")
    for (ww, runner), v in sorted(med.items()):
        if ww != w:
            continue
        note = ""
        t = runner.rsplit("-", 1)[-1]
        if runner.startswith("backprop") and peak.get(t):
            gf = v if w == "gemm" else v * flops[w] / 1e9
            note = f"   ({gf:.1f} GFLOP/s = {100 * gf / peak[t]:.0f} % of the {t} peak)"
        print(f"  {runner:<16} {v:10.1f}{note}")
    # like for like: each peer against backprop on the same number of threads
    for (ww, r), v in sorted(med.items()):
        mine = med.get((w, "backprop-" + r.rsplit("-", 1)[-1]))
        if ww == w and not r.startswith("backprop") and mine:
            print(f"  backprop-{r.rsplit('-', 1)[-1]} / {r:<14} {mine / v:6.2f}x")

def get(w, r):
    return med.get((w, r), float("nan"))

def peers_of(w):
    return {r: v for (ww, r), v in med.items() if ww == w and not r.startswith("backprop")}

def check(label, value, target):
    print(f"  {'met    ' if value >= target else 'NOT met'}  {label}: {value:.2f} (target {target:g})")

print("\ntargets (issue 6)")
mlp_bp = max(get("mlp", "backprop-1t"), get("mlp", "backprop-2t"))
check("TwoLayerNet steps/s", mlp_bp, 7000)
check("TwoLayerNet ÷ book NumPy (f64, 1 thread)", mlp_bp / get("mlp", "numpy-f64-1t"), 10)
if peers_of("mlp"):
    best = max(peers_of("mlp").items(), key=lambda kv: kv[1])
    check(f"TwoLayerNet ÷ best peer ({best[0]})", mlp_bp / best[1], 4)
conv_bp = max(get("conv", "backprop-1t"), get("conv", "backprop-2t"))
check("SimpleConvNet steps/s", conv_bp, 150)
check("SimpleConvNet (2 threads) ÷ PyTorch on 2 threads", get("conv", "backprop-2t") / get("conv", "torch-2t"), 2)
check("GEMM 1024³ GFLOP/s, 1 thread", get("gemm", "backprop-1t"), 150)
check("GEMM 1024³ GFLOP/s, 2 threads", get("gemm", "backprop-2t"), 280)
if peak["1t"] and "mlp" in flops:
    need = 7000 * flops["mlp"] / 1e9
    print(f"\nwhat the targets ask of this machine's peak: TwoLayerNet 7,000 steps/s = {need:.0f} GFLOP/s "
          f"= {100 * need / peak['1t']:.0f} % of one core's multiply-add peak (its products alone, "
          f"before any other work); GEMM 150 and 280 GFLOP/s = {100 * 150 / peak['1t']:.0f} % and "
          f"{100 * 280 / peak['2t']:.0f} % of the 1- and 2-core peaks")
PY
if [ -n "${BENCH_OUT:-}" ]; then cp "$out" "$BENCH_OUT"; fi
