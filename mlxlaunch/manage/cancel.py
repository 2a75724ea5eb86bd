"""``mlxlaunch cancel LOGDIR QUERY``: stop the selected runs' jobs (one call per scheduler).

Queued runs are recorded INTERRUPTED at once, since their job will never start;
running ones get the scheduler's SIGTERM and record INTERRUPTED themselves. A run
that is running locally (not on a scheduler) on this host gets SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

from mlxlaunch import runfolder
from mlxlaunch.errors import RunLockedError
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.manage.status import load_runs, reconcile, select_runs
from mlxlaunch.runfolder.layout import Status


def cancel_runs(logdir: Path, query: list[str]) -> list[int]:
    """Cancel the selected queued/running runs; return their ids."""

    runs = load_runs(logdir)
    reconcile(runs)
    active = [r for r in select_runs(runs, query) if r.status in (Status.QUEUED, Status.RUNNING)]
    by_scheduler: dict[str, list[Any]] = defaultdict(list)
    for run in active:
        if run.scheduler and run.job_id:
            by_scheduler[run.scheduler].append(run)
        elif run.status == Status.RUNNING and run.info.get("hostname") == socket.gethostname():
            try:
                os.kill(int(run.info["pid"]), signal.SIGTERM)
            except (ProcessLookupError, KeyError, TypeError, ValueError):
                pass
    for name, group in by_scheduler.items():
        scheduler_executor(name).cancel([r.job_id for r in group])
        for run in group:
            if run.info.get("status") == Status.QUEUED:
                _mark_cancelled(run.run_dir)
    return [r.log_id for r in active]


def _mark_cancelled(run_dir: Path) -> None:
    try:
        with runfolder.RunLock(run_dir):
            info = runfolder.read_info(run_dir)
            if info.get("status") == Status.QUEUED:
                info.update(
                    status=Status.INTERRUPTED,
                    error="cancelled with mlxlaunch cancel before it started",
                    end_time=runfolder.now_iso(),
                )
                runfolder.write_info(run_dir, info)
    except RunLockedError:
        pass  # it just started: the job's SIGTERM makes it record INTERRUPTED itself
