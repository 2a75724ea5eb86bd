#!/usr/bin/env bash
# Set up, then run the whole test suite (in parallel with pytest-xdist).
# Cluster tests (real Slurm/OAR daemons) run only with MLXLAUNCH_CLUSTER_TESTS=1, as
# root; they apt-get install the Debian packages only with LOCAL_CLUSTER_INSTALL=1.
# Otherwise they skip with a message. The README says what they do to the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
.venv/bin/ruff check mlxlaunch tests benchmarks
.venv/bin/ruff format --check -q mlxlaunch tests benchmarks
.venv/bin/mypy  # settings in setup.cfg [mypy]: the package, type-checked
# --dist loadgroup: the tests of one cluster (xdist_group "slurm"/"oar") share a worker
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-auto}" --dist loadgroup -q -ra "$@"
