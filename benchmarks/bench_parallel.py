"""Local parallel speed-up: a sweep of sleeping points, 4 workers vs one after another.

    .venv/bin/python benchmarks/bench_parallel.py [--points 20] [--sleep 1] [--workers 4]

Measures whole commands (process start to exit), in one run on this machine:
- mlxlaunch, sequential (the default local executor);
- mlxlaunch with ``+launcher.n_workers=4`` (the parallel executor), goal >= 3.5x faster;
- the peer: Hydra multirun with its joblib launcher, ``n_jobs=4``, when
  ``hydra-joblib-launcher`` is installed (``pip install -e .[bench]``).

Each point sleeps, so the figures measure what the executor adds around the
work (worker start-up, scheduling), not CPU contention.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OURS = """\
import time
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    time.sleep(ctx.config.sleep)

if __name__ == "__main__":
    main()
"""

HYDRA = """\
import time
import hydra

@hydra.main(version_base=None, config_path="configs", config_name="config")
def main(cfg):
    time.sleep(cfg.sleep)

if __name__ == "__main__":
    main()
"""


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def has_joblib_launcher() -> bool:
    try:
        import hydra_plugins.hydra_joblib_launcher  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--sleep", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    sweep = f"+p=range({args.points})"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "configs").mkdir()
        (root / "configs" / "config.yaml").write_text(f"sleep: {args.sleep}\n")
        (root / "ours.py").write_text(OURS)
        (root / "hydra_app.py").write_text(HYDRA)
        py = sys.executable
        ideal_par = args.sleep * -(-args.points // args.workers)
        print(
            f"{args.points} points sleeping {args.sleep:g} s, {args.workers} workers "
            f"(ideal: {args.sleep * args.points:.1f} s sequential, {ideal_par:.1f} s parallel); "
            f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        sequential = timed([py, "ours.py", sweep], root)
        print(f"mlxlaunch sequential            {sequential:6.2f} s")
        parallel = timed([py, "ours.py", sweep, f"+launcher.n_workers={args.workers}"], root)
        speedup = sequential / parallel
        print(
            f"mlxlaunch n_workers={args.workers}           {parallel:6.2f} s   "
            f"speed-up {speedup:.2f}x vs sequential (goal >= 3.5x)"
        )
        if has_joblib_launcher():
            peer = timed(
                [
                    py,
                    "hydra_app.py",
                    "-m",
                    sweep,
                    "hydra/launcher=joblib",
                    f"hydra.launcher.n_jobs={args.workers}",
                    "hydra.sweep.dir=multirun",
                ],
                root,
            )
            print(
                f"hydra joblib n_jobs={args.workers}          {peer:6.2f} s   "
                f"speed-up {sequential / peer:.2f}x; mlxlaunch/hydra-joblib time "
                f"{parallel / peer:.2f}x (lower is better)"
            )
        else:
            print("hydra joblib launcher not installed: pip install -e .[bench] to compare")


if __name__ == "__main__":
    main()
