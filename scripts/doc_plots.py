"""Draw the pictures of docs/reader.md (docs/img/plot-*.png) from a made-up sweep.

    .venv/bin/python scripts/doc_plots.py

The sweep is the tutorial's shape (4 learning rates x 3 seeds, 10 epochs) with
deterministic, made-up losses, so the pictures only change when the plotting does.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mlxlaunch import Logger, store  # noqa: E402
from mlxlaunch.reader import Reader  # noqa: E402

OUT = REPO / "docs" / "img"


def make_logs(root: Path) -> Path:
    logs = root / "logs"
    points = [(lr, seed) for lr in (0.003, 0.01, 0.03, 0.1) for seed in (1, 2, 3)]
    for (log_id, run_dir), (lr, seed) in zip(store.allocate_run_dirs(logs, len(points)), points):
        store.write_config(run_dir, {"seed": seed, "optimizer": {"lr": lr}})
        store.write_info(run_dir, {"log_id": log_id, "status": "COMPLETE"})
        logger = Logger(run_dir, log_id)
        for epoch in range(10):
            floor = 0.035 + 0.1 * lr + 0.002 * math.sin(seed * 3 + epoch)
            loss = floor + 0.4 * math.exp(-epoch * 30 * lr) * (1 + 0.05 * seed)
            logger.log_metrics({"loss": loss, "epoch": epoch}, log_name="train")
        logger.close()
    return logs


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        reader = Reader(str(make_logs(Path(tmp))), progress=False, cache_dir=False)
        query = "info.status == 'COMPLETE'"
        for name, kwargs in {
            "plot-runs": {},
            "plot-by": {"by": "config.optimizer.lr"},
            "plot-agg": {"by": "config.optimizer.lr", "agg": "mean", "logy": True},
        }.items():
            ax = reader.plot("train.loss", query, output=OUT / f"{name}.png", **kwargs)
            matplotlib.pyplot.close(ax.figure)
            print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
