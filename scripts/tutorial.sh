#!/usr/bin/env bash
# Set up, then run the tutorial's 4-point sweep and show the run folders it made.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cd tutorials/regression
../../.venv/bin/python main.py optimizer.lr=0.01,0.1 seed=1,2
echo
echo "Run folders in tutorials/regression/logs:"
for d in logs/*/; do
    id=$(basename "$d")
    status=$(sed -n 's/^status: //p' "$d/metadata/info.yaml")
    overrides=$(sed -n '/^overrides:/,/^[a-z_]*:/p' "$d/metadata/info.yaml" | sed -n 's/^- //p' | tr '\n' ' ')
    echo "  logs/$id  $status  $overrides"
done
echo
echo "One run folder:"
find logs/1 -type f | sort | sed 's/^/  /'
