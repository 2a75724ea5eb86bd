"""Launch overhead against Hydra, measured in one run on this machine.

    .venv/bin/python benchmarks/bench_launch.py [--repeat 7] [--points 100]

Prints, each as a ratio against the peer measured in the same run:
- ``import mlxlaunch`` vs ``import hydra`` (goal <= 1.2x);
- a do-nothing run, whole process, vs an equivalent ``@hydra.main`` app (goal <= 0.5x: a
  config without config groups is composed without Hydra, ``launching/plain.py``), with
  ``python -c pass`` for the floor;
- a 100-point no-op sweep, per point, vs Hydra multirun with its basic launcher (goal <= 0.5x);
- a new run id with 10,000 existing runs (goal <= 2 ms; MLXP 1.0.5 takes ~54 ms);
- 200 processes allocating an id at the same instant: all unique, slowest <= 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = "seed: 0\nnum_epoch: 1\nmodel:\n  num_layers: 2\noptimizer:\n  lr: 0.1\n"

OURS = """\
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    pass

if __name__ == "__main__":
    main()
"""

HYDRA = """\
import hydra

@hydra.main(config_path="configs", config_name="config", version_base=None)
def main(cfg):
    pass

if __name__ == "__main__":
    main()
"""


def _time(cmd: list[str], cwd: Path, repeat: int) -> float:
    """Median wall-clock seconds of ``cmd`` over ``repeat`` runs (after one warm-up)."""
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(what: str, ours: float, peer: float, peer_name: str, goal: str) -> None:
    print(
        f"{what:<34} ours {ours * 1000:8.1f} ms   {peer_name} {peer * 1000:8.1f} ms   "
        f"ratio {ours / peer:5.2f}x   (goal {goal})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--existing-runs", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "configs").mkdir()
        (root / "configs" / "config.yaml").write_text(CONFIG)
        (root / "ours.py").write_text(OURS)
        (root / "peer.py").write_text(HYDRA)
        py = sys.executable

        ours = _time([py, "-c", "import mlxlaunch"], root, args.repeat)
        peer = _time([py, "-c", "import hydra"], root, args.repeat)
        _row("import", ours, peer, "hydra", "<= 1.2x")

        ours = _time([py, "ours.py"], root, args.repeat)
        peer = _time(
            [
                py,
                "peer.py",
                "hydra.run.dir=hydra_out",
                "hydra/job_logging=none",
                "hydra/hydra_logging=none",
            ],
            root,
            args.repeat,
        )
        _row("do-nothing run (whole process)", ours, peer, "@hydra.main", "<= 0.5x")
        floor = _time([py, "-c", "pass"], root, args.repeat)
        print(f"{'':<34} (python -c pass {floor * 1000:.1f} ms)")

        sweep = [f"num_epoch=range(0,{args.points})"]
        n = args.points
        ours = _time([py, "ours.py", *sweep], root, max(1, args.repeat // 3)) / n
        peer = (
            _time(
                [
                    py,
                    "peer.py",
                    "-m",
                    *sweep,
                    "hydra.sweep.dir=hydra_multi",
                    "hydra/job_logging=none",
                    "hydra/hydra_logging=none",
                ],
                root,
                max(1, args.repeat // 3),
            )
            / n
        )
        _row(f"{n}-point no-op sweep, per point", ours, peer, "hydra -m", "<= 0.5x")

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from mlxlaunch import runfolder

    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        for run_id in range(1, args.existing_runs + 1):
            (parent / str(run_id) / "metadata").mkdir(parents=True)
        times = []
        for _ in range(50):
            start = time.perf_counter()
            runfolder.allocate_run_dirs(parent, 1)
            times.append(time.perf_counter() - start)
        print(
            f"new run id, {args.existing_runs} runs (hint)  median {statistics.median(times) * 1000:.2f} ms, "
            f"max {max(times) * 1000:.2f} ms   (goal <= 2 ms; MLXP 1.0.5: ~54 ms)"
        )
        (parent / runfolder.NEXT_ID_HINT).unlink()
        start = time.perf_counter()
        runfolder.allocate_run_dirs(parent, 1)
        print(
            f"new run id, {args.existing_runs} runs (listing)      "
            f"{(time.perf_counter() - start) * 1000:.2f} ms   (first allocation, or after another tool wrote runs)"
        )
    bench_simultaneous()


def _allocate_timed(parent, barrier, queue):  # runs in a forked child
    from mlxlaunch import runfolder

    barrier.wait()
    start = time.perf_counter()
    [(run_id, _)] = runfolder.allocate_run_dirs(parent, 1)
    queue.put((run_id, time.perf_counter() - start))


def bench_simultaneous(n: int = 200) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as tmp:
        barrier, queue = ctx.Barrier(n), ctx.Queue()
        procs = [
            ctx.Process(target=_allocate_timed, args=(Path(tmp), barrier, queue)) for _ in range(n)
        ]
        for p in procs:
            p.start()
        results = [queue.get(timeout=120) for _ in range(n)]
        for p in procs:
            p.join()
    ids = sorted(r[0] for r in results)
    slowest = max(r[1] for r in results)
    print(
        f"{n} simultaneous starts              unique: {ids == list(range(1, n + 1))}, "
        f"slowest {slowest * 1000:.1f} ms   (goal <= 500 ms; MLXP 1.0.5: 2-7 s)"
    )


if __name__ == "__main__":
    main()
