#!/usr/bin/env bash
# Provisions the Python environment of the conformance run (tests/conformance/run.py):
#
#   .ci/provision-conformance.sh     -> target/conformance-venv (onnx, onnxruntime, numpy, ml_dtypes)
#
# Versions are pinned in tests/conformance/requirements.txt; the wheels come from PyPI. Idempotent:
# an environment whose installed versions match the requirements is kept, so a second run works
# with the network cut.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${INFERKIT_CONFORMANCE_VENV:-$root/target/conformance-venv}
req=$root/tests/conformance/requirements.txt
stamp=$venv/.requirements

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$req" "$stamp"; then
  exit 0
fi
echo "provision-conformance: creating $venv" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$req"
cp "$req" "$stamp"
echo "provision-conformance: ready" >&2
