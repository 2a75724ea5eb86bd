"""``mlxlaunch resubmit LOGDIR [QUERY]``: rerun failed, interrupted or lost runs in place.

Each run reruns in **its own folder** from its frozen config and settings, as a
new attempt (``attempt`` + 1, the previous attempt kept in ``metadata/attempts``).
Runs that were submitted to a scheduler are submitted again as job arrays with
the same job settings; local runs rerun here, one after another. Without a query,
every FAILED, INTERRUPTED, LOST and SUBMIT_FAILED run is taken.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from mlxlaunch import runfolder
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.executors.scheduler import JobCommand
from mlxlaunch.jobenv import job_command
from mlxlaunch.launching.settings import load_settings
from mlxlaunch.manage.status import RunView, load_runs, reconcile, select_runs
from mlxlaunch.runfolder.attempts import mark_requeued
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.vcs import snapshot_pythonpath, snapshot_workdir

#: Statuses a run may be resubmitted from.
RESUBMITTABLE = (Status.FAILED, Status.INTERRUPTED, Status.LOST, Status.SUBMIT_FAILED)


def _snapshot_env(env: dict[str, str], git: Any) -> None:
    """Point ``env``'s ``PYTHONPATH`` at the code snapshot of a version-managed run."""
    if env.get("PYTHONPATH") and isinstance(git, dict) and git.get("snapshot"):
        root, snapshot = Path(git["repository"]), Path(git["snapshot"])
        env["PYTHONPATH"] = snapshot_pythonpath(env["PYTHONPATH"], root, snapshot)


def resubmit_runs(logdir: Path, query: list[str]) -> tuple[list[int], list[int], list[int]]:
    """Resubmit the selected runs; return ``(resubmitted, skipped, failed local reruns)`` ids."""

    # absolute: jobs and local reruns start in the run's working folder, not here
    logdir = Path(logdir).resolve()
    runs = load_runs(logdir)
    reconcile(runs)
    selected = select_runs(runs, query)
    todo = [r for r in selected if r.status in RESUBMITTABLE]
    skipped = [r.log_id for r in selected if r.status not in RESUBMITTABLE and query]

    # runs with the same job settings and command are submitted together
    groups: dict[tuple, tuple[Any, list[RunView]]] = {}
    local: list[RunView] = []
    for run in todo:
        settings = load_settings(runfolder.metadata_path(run.run_dir, runfolder.LAUNCHER_FILE))
        sched = run.info.get("scheduler") or {}
        if settings.use_scheduler:
            key = (
                repr(settings.scheduler),
                sched.get("python") or run.info.get("python_executable"),
                run.info.get("script"),
                sched.get("workdir") or run.info.get("cwd"),
            )
            groups.setdefault(key, (settings.scheduler, []))[1].append(run)
        else:
            local.append(run)

    for (_, python, script, workdir), (scheduler, group) in groups.items():
        executor = scheduler_executor(scheduler.name)
        argv, env = job_command(python, Path(str(script)), group[0].run_dir)
        command = JobCommand.from_job_command(argv, env, workdir)
        _snapshot_env(command.env, group[0].info.get("git"))
        for run in group:
            mark_requeued(run.run_dir)
        submitted = executor.submit([r.run_dir for r in group], scheduler, command, logdir)
        print(executor.describe(submitted, logdir), flush=True)

    failed = []
    for run in local:
        mark_requeued(run.run_dir)
        python = run.info.get("python_executable") or "python"
        argv, job_env = job_command(python, Path(str(run.info.get("script"))), run.run_dir)
        env = {**os.environ, **job_env}
        cwd = run.info.get("cwd") or None
        git = run.info.get("git")
        if cwd and isinstance(git, dict) and git.get("snapshot") and git.get("repository"):
            # a version-managed run: start in its snapshot, never in the developer's tree
            _snapshot_env(env, git)
            cwd = str(snapshot_workdir(git, Path(cwd), Path(argv[1])))
        proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            failed.append(run.log_id)
    return [r.log_id for r in todo], skipped, failed
