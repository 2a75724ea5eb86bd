"""``mlxlaunch cancel LOGDIR QUERY``: stop the selected runs' jobs (one call per scheduler).

What happens to each selected run:

* a run queued on a scheduler: its job is cancelled and the run recorded INTERRUPTED
  at once, since its job will never start; a running one gets the scheduler's
  SIGTERM and records INTERRUPTED itself (one call per scheduler for all of them);
* a local run not started yet (a later point of a sequential or parallel sweep): it
  is recorded INTERRUPTED (``cancelled: true``), and the sweep skips it;
* a local run running on this host: it gets SIGTERM, after ``metadata/cancel_requested``
  says the signal is for that run alone, so a sequential sweep goes on with its next
  point. The pid is signalled only if it still belongs to the run (same process start
  time): pids are reused, and a run whose process is gone is not running any more.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

from mlxlaunch import runfolder
from mlxlaunch.errors import RunFolderError, RunLockedError
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.manage.status import HeldRuns, RunView, find_held, load_runs, reconcile, select_runs
from mlxlaunch.runfolder.layout import Status


def cancel_runs(logdir: Path, query: list[str]) -> tuple[list[int], list[str]]:
    """Cancel the selected queued/running runs; return their ids, and notes on the others."""

    runs = load_runs(logdir)
    reconcile(runs)
    selected = select_runs(runs, query)
    cancelled = withdraw_held(find_held(logdir, runs), selected)
    active = [r for r in selected if r.status in (Status.QUEUED, Status.RUNNING) and not r.held]
    by_scheduler: dict[str, list[Any]] = defaultdict(list)
    notes: list[str] = []
    for run in active:
        if run.scheduler and run.job_id:
            by_scheduler[run.scheduler].append(run)
        elif run.status == Status.QUEUED and _mark_cancelled(run.run_dir):
            cancelled.append(run.log_id)
        else:  # running (or it started just now)
            note = _stop_local(run)
            if note:
                notes.append(note)
            else:
                cancelled.append(run.log_id)
    for name, group in by_scheduler.items():
        scheduler_executor(name).cancel([r.job_id for r in group])
        for run in group:
            if run.info.get("status") == Status.QUEUED:
                _mark_cancelled(run.run_dir)
        cancelled += [r.log_id for r in group]
    return sorted(cancelled), notes


def withdraw_held(held: list[HeldRuns], selected: list[RunView]) -> list[int]:
    """Cancel the held jobs of the ``selected`` runs (one call per scheduler); their ids.

    Nothing of a held array ran. A run whose ``info.yaml`` names the job is recorded
    INTERRUPTED (``cancelled: true``), like any queued run cancelled; one whose
    launcher stopped before writing it gets a short one, INTERRUPTED too, with what
    ``resubmit`` needs to run it (from the array's record). A record left with no
    held job is removed.
    """
    chosen = {r.log_id: r for r in selected if r.held}
    by_scheduler: dict[str, list[tuple[HeldRuns, int]]] = defaultdict(list)
    for array in held:
        for run_id in array.job_ids:
            if run_id in chosen:
                by_scheduler[array.record.scheduler].append((array, run_id))
    for name, group in by_scheduler.items():
        scheduler_executor(name).cancel([array.job_ids[run_id] for array, run_id in group])
        for array, run_id in group:
            run = chosen[run_id]
            why = f"submitted held as job {array.record.array_job_id}, withdrawn with mlxlaunch cancel"
            if run.info.get("status") == Status.QUEUED:
                _mark_cancelled(run.run_dir)
            elif not run.info:
                with contextlib.suppress(RunFolderError):  # a damaged one: left as it is
                    _mark_withdrawn(run.run_dir, array, why)
    for array in held:
        if all(run_id in chosen for run_id in array.job_ids):
            array.record.path.unlink(missing_ok=True)
    return sorted(run_id for group in by_scheduler.values() for _, run_id in group)


def _mark_withdrawn(run_dir: Path, array: HeldRuns, why: str) -> None:
    """Give a run its first ``info.yaml``: INTERRUPTED, never started, rerunnable."""
    command = array.record.command
    with runfolder.RunLock(run_dir):
        if runfolder.read_info(run_dir):
            return  # written meanwhile
        runfolder.write_info(
            run_dir,
            {
                "log_id": int(run_dir.name),
                "status": Status.INTERRUPTED,
                "cancelled": True,
                "error": why,
                "end_time": runfolder.now_iso(),
                "script": command.get("script"),
                "module": command.get("module"),
                "python_executable": command.get("python"),
                "cwd": command.get("workdir"),
            },
        )


def _stop_local(run: RunView) -> str:
    """SIGTERM to the local process of ``run``; a note saying why not, or ``""``."""
    info = runfolder.read_info(run.run_dir)
    if info.get("status") != Status.RUNNING:
        return f"run {run.log_id} is {info.get('status')} now: nothing to cancel"
    host, pid = info.get("hostname"), info.get("pid")
    if host != socket.gethostname():
        return f"run {run.log_id} runs on {host}: cancel it from there"
    if not isinstance(pid, int) or not runfolder.same_process(pid, info.get("pid_start")):
        return (
            f"run {run.log_id} is not running any more (pid {pid} now belongs to another "
            f"process, which was not signalled): it shows as LOST"
        )
    runfolder.atomic_write(
        runfolder.metadata_path(run.run_dir, runfolder.CANCEL_FILE), runfolder.now_iso()
    )
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        runfolder.metadata_path(run.run_dir, runfolder.CANCEL_FILE).unlink(missing_ok=True)
        return f"run {run.log_id} ended before it could be cancelled"
    return ""


def _mark_cancelled(run_dir: Path) -> bool:
    """Record a QUEUED run INTERRUPTED (it will never start); False if it started meanwhile."""
    try:
        with runfolder.RunLock(run_dir):
            info = runfolder.read_info(run_dir)
            if info.get("status") != Status.QUEUED:
                return False
            info.update(
                status=Status.INTERRUPTED,
                cancelled=True,
                error="cancelled with mlxlaunch cancel before it started",
                end_time=runfolder.now_iso(),
            )
            runfolder.write_info(run_dir, info)
            return True
    except RunLockedError:
        return False  # it just started: a scheduler's SIGTERM, or _stop_local, stops it
