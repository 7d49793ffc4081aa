#!/usr/bin/env bash
# backprop against the book's NumPy code, PyTorch and JAX, in one run, interleaved.
#
#   bench/compare.sh [ROUNDS]      (default 3 rounds; medians are reported)
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
done

"$py" - "$out" <<'PY'
import collections, json, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    d = json.loads(line)
    value = d.get("steps_per_sec", d.get("per_sec")) if d["workload"] != "gemm" else d["gflops"]
    rows[(d["workload"], d["runner"])].append(value)
med = {k: statistics.median(v) for k, v in rows.items()}
unit = {"mlp": "steps/s", "conv": "steps/s", "gemm": "GFLOP/s"}
for w in ("mlp", "conv", "gemm"):
    print(f"\n{w} ({unit[w]}, median of {len(next(iter(rows.values())))} rounds)")
    for (ww, runner), v in sorted(med.items()):
        if ww == w:
            print(f"  {runner:<16} {v:10.1f}")
    bp = {r: v for (ww, r), v in med.items() if ww == w and r.startswith("backprop")}
    peers = {r: v for (ww, r), v in med.items() if ww == w and not r.startswith("backprop")}
    if bp and peers:
        best_bp = max(bp.values())
        for r, v in sorted(peers.items()):
            print(f"  backprop best / {r:<14} {best_bp / v:6.2f}x")
PY
