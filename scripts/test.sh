#!/usr/bin/env bash
# The README's test command: the Rust tests and doctests, then the Python package (python/)
# built into a fresh virtual environment and its pytest suite.
#
#   bash scripts/test.sh            # everything
#   BACKPROP_SKIP_PYTHON=1 bash scripts/test.sh   # the Rust part only
#   BACKPROP_SKIP_WHEEL=1 bash scripts/test.sh    # all but the release wheel (python/build_wheels.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --all-targets --locked
cargo test --doc --locked

if [ "${BACKPROP_SKIP_PYTHON:-0}" = 1 ]; then
  echo "BACKPROP_SKIP_PYTHON=1: the Python package was not tested" >&2
  exit 0
fi

# `pip install ./python` as a reader runs it: pip fetches maturin from PyPI and builds the
# extension in release mode (into this workspace's target/).
venv=target/python-test-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# The tune extra (Ray) too: the Ray tests (python/tests/test_tune.py) run in CI.
"$venv/bin/python" -m pip install --quiet "./python[test,tune]"
# Run from the tests folder so that `import backprop` is the installed package, not python/backprop.
(cd python/tests && "../../$venv/bin/python" -m pytest -q -p no:cacheprovider .)

# The release wheel (python/build_wheels.sh) in a venv without cargo or rustc (issue 22).
if [ "${BACKPROP_SKIP_WHEEL:-0}" = 1 ]; then
  echo "BACKPROP_SKIP_WHEEL=1: the wheel was not built or tested" >&2
else
  bash scripts/test_wheel.sh
fi
