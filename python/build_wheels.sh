#!/usr/bin/env bash
# Builds the release wheel into python/dist/: one abi3 wheel (every CPython >= 3.9) for
# manylinux2014 (glibc >= 2.17) on x86_64, stripped. zig (PyPI's `ziglang`) links against an
# old glibc, so no Docker image or old machine is needed: only a Rust toolchain and python3.
#
#   bash python/build_wheels.sh          # → python/dist/backprop-*-cp39-abi3-manylinux*.whl
#   BACKPROP_WHEEL_AARCH64=1 bash python/build_wheels.sh   # also try aarch64 (needs its rustup target)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

# maturin and zig in a venv of their own (kept in target/ between runs).
venv="$here/../target/wheel-build-venv"
if ! "$venv/bin/python" -c "import ziglang" 2>/dev/null || [ ! -x "$venv/bin/maturin" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "maturin>=1.7,<2" ziglang
fi
# maturin finds zig as `python -m ziglang` through the python on PATH.
export PATH="$venv/bin:$PATH"

rm -rf dist
maturin build --release --strip --zig --compatibility manylinux2014 \
  --out dist

if [ "${BACKPROP_WHEEL_AARCH64:-0}" = 1 ]; then
  rustup target add aarch64-unknown-linux-gnu
  maturin build --release --strip --zig --compatibility manylinux2014 \
    --target aarch64-unknown-linux-gnu --out dist
fi
ls -l dist
