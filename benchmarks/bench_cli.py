"""Command-line latency against Hydra, measured in one run on this machine.

    .venv/bin/python benchmarks/bench_cli.py [--repeat 5] [--points 100]

Prints, each as a ratio against the peer measured in the same run:
- ``python main.py --help`` vs an equivalent ``@hydra.main`` app's ``--help``;
- ``--dry-run`` of an N-point sweep (every point composed and checked, nothing
  created) vs the cheapest way Hydra composes every point of a sweep: running
  the N no-op points with ``-m`` (Hydra has no dry run);
- ``--to-yaml`` of one point vs Hydra's ``--cfg job`` (both print/write one config).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = "seed: 0\nnum_epoch: 1\nmodel:\n  num_layers: 2\noptimizer:\n  lr: 0.1\n"

OURS = '''\
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    """Do nothing."""

if __name__ == "__main__":
    main()
'''

HYDRA = '''\
import hydra

@hydra.main(config_path="configs", config_name="config", version_base=None)
def main(cfg):
    """Do nothing."""

if __name__ == "__main__":
    main()
'''


def timed(args: list[str], cwd: Path, repeat: int) -> float:
    """Median wall time of the command, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--points", type=int, default=100)
    args = parser.parse_args()
    py = sys.executable
    sweep = f"seed=range(0,{args.points})"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "configs").mkdir()
        (root / "configs/config.yaml").write_text(CONFIG)
        (root / "ours.py").write_text(OURS)
        (root / "peer.py").write_text(HYDRA)
        rows = [
            (
                "--help",
                timed([py, "ours.py", "--help"], root, args.repeat),
                timed([py, "peer.py", "--help"], root, args.repeat),
            ),
            (
                f"--dry-run, {args.points} points (Hydra: -m run)",
                timed([py, "ours.py", sweep, "--dry-run"], root, args.repeat),
                timed(
                    [py, "peer.py", "-m", sweep, "hydra.sweep.dir=multirun"],
                    root,
                    max(1, args.repeat // 2),
                ),
            ),
            (
                "--to-yaml (Hydra: --cfg job)",
                timed([py, "ours.py", "--to-yaml", "x.yaml"], root, args.repeat),
                timed([py, "peer.py", "--cfg", "job"], root, args.repeat),
            ),
        ]
    for name, ours, peer in rows:
        print(f"{name:45s} ours {ours:6.3f} s   hydra {peer:6.3f} s   ratio {ours / peer:5.2f}x")


if __name__ == "__main__":
    main()
