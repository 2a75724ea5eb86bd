"""Submitting a 1,000-point sweep to Slurm: mlxlaunch's job arrays vs one sbatch per point.

    bash tests/cluster/start-slurm.sh start          # a local Slurm (root), if none runs
    .venv/bin/python benchmarks/bench_submit.py [--points 1000]
    .venv/bin/python benchmarks/bench_submit.py --fake-slurm --points 10000 [--baseline DIR] [--strace]

``--fake-slurm`` puts 5 ms stand-ins for ``sbatch``/``scontrol``/``scancel`` first
on PATH (a real Slurm holds at most ``MaxJobCount``, 10,000 jobs by default), and
measures issue 17's figures: the whole 10,000-point command against its bare
limit (its ``N / MaxArraySize`` sbatch calls, timed in the same run), and the
``--dry-run`` of the same sweep; each as wall time and CPU time (user + system,
what a loaded machine does not inflate). ``--baseline DIR`` runs the same
commands with ``PYTHONPATH=DIR`` (e.g. a checkout of main) in the same run, for
a before/after ratio; ``--strace`` counts the syscalls of each (``strace -c -f``).

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
import itertools
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


FAKE = {
    "sbatch": 'n=$(($(cat "{state}") + 1)); echo $n > "{state}"; sleep 0.005; echo $n',
    "scontrol": 'if [ "$1" = show ]; then echo "MaxArraySize            = 1001"; fi; sleep 0.005',
    "scancel": "exit 0",
    "squeue": "exit 0",
}


def fake_programs(bin_dir: Path, log: Path) -> None:
    """Stand-ins for Slurm's programs taking 5 ms a call, each call logged."""
    bin_dir.mkdir()
    state = bin_dir / "last-job-id"
    state.write_text("1000\n")
    for name in PROGRAMS:
        wrapper = bin_dir / name
        body = FAKE[name].format(state=state)
        wrapper.write_text(f'#!/bin/sh\necho {name} >> "{log}"\n{body}\n')
        wrapper.chmod(0o755)


def timed_command(
    cmd: list[str], cwd: Path, env: dict[str, str], strace: bool = False
) -> tuple[float, float, str, float]:
    """``(wall s, CPU s of the process and its children, strace summary, system CPU s)``.

    The system share is the kernel's work (file creations, renames, mkdirs): on a
    loaded disk it grows with the other programs' file-system traffic."""
    import resource

    summary = cwd / "strace.txt"
    if strace:
        cmd = ["strace", "-c", "-f", "-o", str(summary), *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    system = after.ru_stime - before.ru_stime
    cpu = (after.ru_utime - before.ru_utime) + system
    return wall, cpu, summary.read_text() if strace else "", system


def syscall_counts(summary: str, names: tuple[str, ...]) -> str:
    """``fsync 20001, openat 30512, ...`` from an ``strace -c`` table."""
    counts = {}
    for line in summary.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1] in names and parts[3].isdigit():
            counts[parts[-1]] = int(parts[3])
    total = next(
        (ln.split()[3] for ln in summary.splitlines() if ln.strip().endswith("total")), "?"
    )
    return ", ".join(f"{n} {counts.get(n, 0)}" for n in names) + f" (all syscalls {total})"


def fake_main(args: argparse.Namespace, repo: Path) -> None:
    """Issue 17's figures on 5 ms fake Slurm programs (see the module docstring)."""
    n = args.points
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp:
        root = Path(tmp)
        (root / "configs").mkdir()
        (root / "configs" / "config.yaml").write_text("seed: 0\n")
        (root / "main.py").write_text(TASK)
        log = root / "calls.log"
        fake_programs(root / "bin", log)
        env = dict(os.environ, PATH=f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}")
        sweep = [
            sys.executable, "main.py", f"+i=range(0,{n})",
            "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm",
        ]  # fmt: skip
        contestants = [("this checkout", repo)]
        if args.baseline:
            contestants.append(("baseline", Path(args.baseline).resolve()))

        # the bare limit: the sbatch calls alone (one per array of at most 1,001 runs)
        arrays = -(-n // 1001)
        start = time.perf_counter()
        for _ in range(arrays):
            subprocess.run(["sbatch", "--parsable", "x.sh"], env=env, capture_output=True)
        bare = time.perf_counter() - start

        # Each command writes a logs folder of its own, all deleted at the end only: on
        # ext4 without a journal (this VM), a new inode is not taken from those deleted in
        # the last 60-360 s, and skipping each costs a read, so a deletion between two
        # commands would slow the next one's 50,000 file creations severalfold.
        fresh = (f"+launcher.logger.parent_log_dir=logs-{k}" for k in itertools.count())
        rows = []
        for label, where in contestants:
            cenv = dict(env, PYTHONPATH=str(where))
            for what, extra in (("submission", []), ("--dry-run", ["--dry-run"])):
                times = []
                for _ in range(args.repeat):
                    log.unlink(missing_ok=True)
                    times.append(timed_command(sweep + extra + [next(fresh)], root, cenv))
                wall, cpu, _, system = min(times)
                calls = count_calls(log)
                syscalls = ""
                if args.strace:
                    command = sweep + extra + [next(fresh)]
                    _, _, summary, _ = timed_command(command, root, cenv, strace=True)
                    names = ("fsync", "syncfs", "openat", "rename", "write", "mkdir")
                    syscalls = syscall_counts(summary, names)
                rows.append((label, what, wall, cpu, calls, syscalls, system))

    print(f"{n}-point sweep, fake Slurm (5 ms a call); best of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"bare limit: the {arrays} sbatch calls take {bare:.2f} s")
    print(
        "| contestant | command | wall | CPU (of it system) | vs bare limit (wall) "
        "| scheduler calls | syscalls |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, what, wall, cpu, calls, syscalls, system in rows:
        ratio = f"{wall / bare:.0f}x" if what == "submission" else ""
        print(
            f"| {label} | {what} | {wall:.2f} s | {cpu:.2f} s ({system:.2f} s) | {ratio} "
            f"| {calls} | {syscalls} |"
        )
    if args.baseline:
        for what in ("submission", "--dry-run"):
            ours, base = (r for r in rows if r[1] == what)
            print(f"{what}: {ours[2] / base[2]:.2f}x the baseline's wall time, "
                  f"{ours[3] / base[3]:.2f}x its CPU time")  # fmt: skip
    goals = {"submission": 5.0 if n >= 10000 else 0.6, "--dry-run": 2.0}
    for label, what, wall, cpu, *_ in rows:
        if label == "this checkout" and what in goals:
            met = "met" if wall <= goals[what] else "NOT met"
            print(f"{what}: {wall:.2f} s wall (CPU {cpu:.2f} s), goal <= {goals[what]} s: {met}")


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
    parser.add_argument("--fake-slurm", action="store_true", help="5 ms stand-ins, no Slurm")
    parser.add_argument("--baseline", help="another checkout to measure in the same run")
    parser.add_argument("--repeat", type=int, default=1, help="(--fake-slurm) best of")
    parser.add_argument("--strace", action="store_true", help="(--fake-slurm) count syscalls")
    args = parser.parse_args()
    n = args.points
    repo = Path(__file__).resolve().parent.parent
    if args.fake_slurm:
        fake_main(args, repo)
        return

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
