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
from mlxlaunch.executors.scheduler import PASSED_ENV, JobCommand, scheduler_executor
from mlxlaunch.jobenv import ENV_RUN_DIR
from mlxlaunch.launching.settings import load_settings
from mlxlaunch.manage.status import RunView, load_runs, reconcile, select_runs
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.vcs import snapshot_pythonpath, snapshot_workdir

#: Statuses a run may be resubmitted from.
RESUBMITTABLE = (Status.FAILED, Status.INTERRUPTED, Status.LOST, Status.SUBMIT_FAILED)


def _requeue_info(run: RunView) -> None:
    info = runfolder.read_info(run.run_dir)
    info.update(status=Status.QUEUED, error=None, queued_time=runfolder.now_iso())
    runfolder.write_info(run.run_dir, info)


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
        command = JobCommand(python=python, script=script, workdir=workdir)
        for name in PASSED_ENV:
            if os.environ.get(name):
                command.env[name] = os.environ[name]
        git = group[0].info.get("git")
        if command.env.get("PYTHONPATH") and isinstance(git, dict) and git.get("snapshot"):
            command.env["PYTHONPATH"] = snapshot_pythonpath(
                command.env["PYTHONPATH"], Path(git["repository"]), Path(git["snapshot"])
            )
        for run in group:
            _requeue_info(run)
        submitted = executor.submit([r.run_dir for r in group], scheduler, command, logdir)
        print(executor.describe(submitted, logdir), flush=True)

    failed = []
    for run in local:
        _requeue_info(run)
        env = {**os.environ, ENV_RUN_DIR: str(run.run_dir)}
        cwd = run.info.get("cwd") or None
        git = run.info.get("git")
        if cwd and isinstance(git, dict) and git.get("snapshot") and git.get("repository"):
            # a version-managed run: start in its snapshot, never in the developer's tree

            root, snapshot = Path(git["repository"]), Path(git["snapshot"])
            if env.get("PYTHONPATH"):
                env["PYTHONPATH"] = snapshot_pythonpath(env["PYTHONPATH"], root, snapshot)
            cwd = str(snapshot_workdir(git, Path(cwd), Path(str(run.info.get("script")))))
        proc = subprocess.run(
            [run.info.get("python_executable") or "python", str(run.info.get("script"))],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            failed.append(run.log_id)
    return [r.log_id for r in todo], skipped, failed
