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
# pip's output (and setuptools' editable-install notice) is shown only if it fails
log=.venv/install.log
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}" >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" >&2
    echo "scripts/setup.sh: pip install failed (full log: $log)" >&2
    exit 1
fi
.venv/bin/python -c "import mlxlaunch" || { echo "install failed" >&2; exit 1; }
