#!/usr/bin/env bash
# Issue 22: the release wheel installs and runs where there is no Rust toolchain.
# Builds it (python/build_wheels.sh), installs it into a fresh venv whose PATH has no cargo or
# rustc (pip may only take binary packages), runs the seed's apple example and a short
# training run, checks the wheel's platform tag against the glibc versions the extension
# needs, and runs `auditwheel show` on it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash python/build_wheels.sh
wheel=$(ls python/dist/backprop-*-cp39-abi3-*x86_64*.whl)
echo "wheel: $wheel ($(stat -c %s "$wheel") bytes)"

venv="$PWD/target/wheel-test-venv"
rm -rf "$venv"
python3 -m venv "$venv"
# Only the venv's own tools on PATH: no cargo, no rustc, no compiler.
clean_path="$venv/bin"
if PATH="$clean_path" command -v cargo >/dev/null || PATH="$clean_path" command -v rustc >/dev/null; then
  echo "cargo or rustc is still on the test PATH" >&2
  exit 1
fi
PATH="$clean_path" "$venv/bin/python" -m pip install --quiet --only-binary=:all: "$wheel" auditwheel

# Run from an empty directory so that python/backprop cannot be imported by mistake.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$wheel" "$scratch/"
objdump=$(command -v objdump)  # binutils, for the glibc symbol versions
(cd "$scratch" && PATH="$clean_path" OBJDUMP="$objdump" "$venv/bin/python" - "$(basename "$wheel")" <<'PY'
import re
import subprocess
import sys
import zipfile

import numpy as np

import backprop
from backprop.layers import MulLayer
from backprop.dataset.mnist import load_digits
from backprop.two_layer_net import TwoLayerNet

wheel = sys.argv[1]
assert "site-packages" in backprop.__file__, backprop.__file__

# The seed's apple example (buy_apple.py): 220, then 2.2, 110, 200.
mul_apple_layer, mul_tax_layer = MulLayer(), MulLayer()
price = mul_tax_layer.forward(mul_apple_layer.forward(100, 2), 1.1)
dapple_price, dtax = mul_tax_layer.backward(1)
dapple, dapple_num = mul_apple_layer.backward(dapple_price)
print("price:", price, "dapple:", dapple, "dapple_num:", dapple_num, "dtax:", dtax)
assert abs(price - 220) < 1e-9 and abs(dapple - 2.2) < 1e-9 and abs(dapple_num - 110) < 1e-9 and abs(dtax - 200) < 1e-9

# A short training run on the embedded digits.
(x_train, t_train), (x_test, t_test) = load_digits()
np.random.seed(0)
net = TwoLayerNet(64, 50, 10)
for i in range(1000):
    m = np.random.choice(len(x_train), 100)
    grad = net.gradient(x_train[m], t_train[m])
    for k in ("W1", "b1", "W2", "b2"):
        net.params[k] -= 0.1 * grad[k]
acc = net.accuracy(x_test, t_test)
print("test acc after 1000 steps:", acc, "SIMD kernels:", backprop.SIMD)
assert acc > 0.9, acc

# A CPU without AVX2 gets the plain x86-64 kernels (src/cpu.rs dispatches at run time):
# force them and check the same run still learns.
import os
code = ("import numpy as np, backprop\n"
        "from backprop.dataset.mnist import load_digits\n"
        "from backprop.two_layer_net import TwoLayerNet\n"
        "(x, t), (xs, ts) = load_digits()\n"
        "np.random.seed(0); net = TwoLayerNet(64, 50, 10)\n"
        "for i in range(1000):\n"
        "    m = np.random.choice(len(x), 100); g = net.gradient(x[m], t[m])\n"
        "    for k in g: net.params[k] -= 0.1 * g[k]\n"
        "print(backprop.SIMD, net.accuracy(xs, ts))\n")
out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, BACKPROP_SIMD="baseline"),
                     capture_output=True, text=True, check=True).stdout.split()
print("with BACKPROP_SIMD=baseline (no AVX2):", out)
assert out[0] == "baseline" and float(out[1]) > 0.9, out

# The platform tag's glibc bound against the symbol versions the extension needs.
tags = re.findall(r"manylinux_(\d+)_(\d+)_x86_64", wheel)
legacy = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
bounds = [tuple(map(int, t)) for t in tags] + [v for k, v in legacy.items() if k + "_x86_64" in wheel]
assert bounds, f"no manylinux tag in {wheel}"
bound = min(bounds)
with zipfile.ZipFile(wheel) as z:
    so = [n for n in z.namelist() if n.endswith(".so")]
    assert len(so) == 1, so
    z.extract(so[0], ".")
dyn = subprocess.run([os.environ["OBJDUMP"], "-T", so[0]], capture_output=True, text=True, check=True).stdout
needed = sorted({tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", dyn)})
print("glibc symbol versions:", ", ".join("GLIBC_" + ".".join(map(str, v)) for v in needed))
assert needed and max(v[:2] for v in needed) <= bound, (needed, bound)
print(f"platform tag allows glibc >= {bound[0]}.{bound[1]}; the extension needs at most {'.'.join(map(str, max(needed)))}")
PY
)
show=$(PATH="$clean_path" "$venv/bin/auditwheel" show "$wheel")
echo "$show"
echo "$show" | tr '\n' ' ' | grep -q 'consistent with the following platform tag: *"manylinux_2_17_x86_64"' \
  || { echo "auditwheel does not confirm manylinux_2_17 (manylinux2014)" >&2; exit 1; }
echo "wheel test: OK"
