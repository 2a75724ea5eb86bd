#!/usr/bin/env bash
# Set up, then run the whole test suite (in parallel with pytest-xdist).
# Cluster tests start real Slurm/OAR daemons: they need root, and install the
# Debian packages when LOCAL_CLUSTER_INSTALL=1; otherwise they skip with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check mlxlaunch tests benchmarks
.venv/bin/ruff format --check -q mlxlaunch tests benchmarks
.venv/bin/mypy  # settings in setup.cfg [mypy]: the package, type-checked
# --dist loadgroup: the tests of one cluster (xdist_group "slurm"/"oar") share a worker
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadgroup -q -ra "$@"
