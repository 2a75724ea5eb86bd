"""Submitting a 1,000-point sweep to Slurm: mlxlaunch's job arrays vs one sbatch per point.

    bash tests/cluster/start-slurm.sh start          # a local Slurm (root), if none runs
    .venv/bin/python benchmarks/bench_submit.py [--points 1000]

Measures, in one run against the same Slurm:
- mlxlaunch: the whole command ``python main.py +i=range(0,N) +launcher.use_scheduler=true
  ...`` from process start until it returns (everything submitted), goal <= 10 s;
- the peer, MLXP's way: one job script and one ``sbatch`` call per point (the scripts
  are written beforehand and not timed, which favours the peer).

Both submit jobs that start in an hour (``--begin=now+1hour``) that are cancelled at the end, so the 2-core
machine measures submission, not 2,000 jobs running. Scheduler calls are counted
by wrappers put first on PATH that log each call, then run the real program.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = """\
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    pass

if __name__ == "__main__":
    main()
"""

PROGRAMS = ("sbatch", "scontrol", "squeue", "scancel")


def wrap_programs(bin_dir: Path, log: Path) -> None:
    """A logging wrapper for each Slurm program, so every call is counted."""
    bin_dir.mkdir()
    for name in PROGRAMS:
        real = subprocess.run(["which", name], capture_output=True, text=True).stdout.strip()
        if not real:
            sys.exit(f"{name} not found: start a local Slurm first (tests/cluster/start-slurm.sh)")
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\necho {name} >> "{log}"\nexec {real} "$@"\n')
        wrapper.chmod(0o755)


def count_calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def submit_step(root: Path, n: int, env: dict[str, str]) -> tuple[float, int, list[str]]:
    """Time ``SlurmExecutor.submit`` alone on ``n`` prepared run folders."""
    from mlxlaunch import runfolder
    from mlxlaunch.executors.scheduler import JobCommand
    from mlxlaunch.executors.slurm import SlurmExecutor
    from mlxlaunch.launching.settings import SchedulerSettings

    parent = root / "step-logs"
    dirs = [d for _, d in runfolder.allocate_run_dirs(parent, n)]
    for i, d in enumerate(dirs):
        runfolder.write_info(d, {"status": "QUEUED", "log_id": i + 1})
    settings = SchedulerSettings(name="slurm", extra=["--begin=now+1hour"])
    command = JobCommand(python=sys.executable, script=str(root / "main.py"), workdir=str(root))
    old = os.environ["PATH"]
    os.environ["PATH"] = env["PATH"]
    try:
        executor = SlurmExecutor()
        start = time.perf_counter()
        subs = executor.submit(dirs, settings, command, parent)
        elapsed = time.perf_counter() - start
    finally:
        os.environ["PATH"] = old
    return elapsed, executor.calls, [s.array_job_id for s in subs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    n = args.points
    repo = Path(__file__).resolve().parent.parent

    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        root = Path(tmp)
        (root / "configs").mkdir()
        (root / "configs" / "config.yaml").write_text("seed: 0\n")
        (root / "main.py").write_text(TASK)
        log = root / "calls.log"
        wrap_programs(root / "bin", log)
        env = dict(os.environ, PATH=f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}")
        env["PYTHONPATH"] = f"{repo}{os.pathsep}{env.get('PYTHONPATH', '')}"

        # mlxlaunch: the whole command, process start to return
        cmd = [
            sys.executable, "main.py", f"+i=range(0,{n})",
            "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm",
            "+launcher.scheduler.extra=['--begin=now+1hour']",
        ]  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        ours = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"mlxlaunch failed:\n{proc.stdout}\n{proc.stderr}")
        our_calls = count_calls(log)
        arrays = proc.stdout.split("job array")[-1].split(".")[0].replace("s", "").strip()

        # mlxlaunch's submit step alone, in process, on N prepared folders
        step, step_calls, step_arrays = submit_step(root, n, env)
        arrays += "," + ",".join(step_arrays)

        # the peer: one script and one sbatch per point (MLXP's model)
        scripts = root / "peer"
        scripts.mkdir()
        for i in range(n):
            (scripts / f"{i}.sh").write_text(
                f"#!/bin/bash\n#SBATCH --job-name=peer\n#SBATCH --begin=now+1hour\n"
                f"#SBATCH --output=/dev/null\n{sys.executable} main.py +i={i}\n"
            )
        log.unlink()
        start = time.perf_counter()
        peer_ids = []
        for i in range(n):
            out = subprocess.run(
                ["sbatch", "--parsable", str(scripts / f"{i}.sh")],
                cwd=root, env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            peer_ids.append(out.stdout.strip())
        peer = time.perf_counter() - start
        peer_calls = count_calls(log)

        subprocess.run(["scancel", *[a.strip() for a in arrays.split(",")], *peer_ids])

    print(f"{n}-point sweep submitted to Slurm (jobs start in 1 h; cancelled afterwards)")
    print("| what | time to all submitted | scheduler calls |")
    print("|---|---|---|")
    print(f"| mlxlaunch (job arrays), whole command | {ours:.2f} s | {our_calls} |")
    print(f"| mlxlaunch submit step only (folders prepared) | {step:.2f} s | {step_calls} |")
    print(f"| one sbatch per point (MLXP), loop only | {peer:.2f} s | {peer_calls} |")
    print(f"submit step: {peer / step:.1f}x faster than the peer's sbatch loop")
    print(f"mlxlaunch takes {ours / peer:.2f}x the peer's time ({peer / ours:.1f}x faster); "
          f"goal <= 10 s: {'met' if ours <= 10 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
