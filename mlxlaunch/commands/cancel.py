"""``mlxlaunch cancel LOGDIR QUERY``: stop the selected runs' jobs (one call per scheduler).

Queued runs are recorded INTERRUPTED at once, since their job will never start;
running ones get the scheduler's SIGTERM and record INTERRUPTED themselves. A run
that is running locally (not on a scheduler) on this host gets SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

from .. import store
from ..errors import RunLockedError, UsageError
from ..store import Status
from .status import load_runs, reconcile, select_runs


def cancel_runs(logdir: Path, query: list[str]) -> list[int]:
    """Cancel the selected queued/running runs; return their ids."""
    from ..executors.scheduler import scheduler_executor

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
        with store.RunLock(run_dir):
            info = store.read_info(run_dir)
            if info.get("status") == Status.QUEUED:
                info.update(
                    status=Status.INTERRUPTED,
                    error="cancelled with mlxlaunch cancel before it started",
                    end_time=store.now_iso(),
                )
                store.write_info(run_dir, info)
    except RunLockedError:
        pass  # it just started: the job's SIGTERM makes it record INTERRUPTED itself


def run(args: argparse.Namespace) -> int:
    if not args.query:
        raise UsageError(
            "Say which runs to cancel: run ids (3 5-7) or a query such as "
            "\"info.status == 'QUEUED'\"."
        )
    ids = cancel_runs(Path(args.logdir), args.query)
    if not ids:
        print("mlxlaunch: no queued or running run matches; nothing cancelled.")
        return 0
    print(f"mlxlaunch: cancelled {len(ids)} run(s): {', '.join(map(str, ids))}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "cancel", help="cancel the jobs of queued/running runs", description=__doc__.splitlines()[0]
    )
    p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
    p.add_argument("query", metavar="QUERY", nargs="*", help="run ids (3 5-7) or a query")
    p.set_defaults(func=run)
