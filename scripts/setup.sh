#!/usr/bin/env bash
# Create ./.venv (if missing) and install mlxlaunch into it, editable.
#   bash scripts/setup.sh          # the package and its base dependencies
#   bash scripts/setup.sh test     # plus what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
extra=""
[ "${1:-}" = test ] && extra="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import mlxlaunch" || { echo "install failed" >&2; exit 1; }
