"""``mlxlaunch status LOGDIR [QUERY]``: the runs' status, reconciled with their scheduler.

A run submitted to a cluster says QUEUED in its ``info.yaml`` until its job starts.
To tell a waiting job from one the scheduler already ended (cancelled, killed at
its time limit before Python could record it, failed to start), this command asks
the scheduler about every such run in **one** batched call per scheduler
(``squeue -j A,B,...``, ``oarstat -j A -j B ...``). A job the scheduler says has
ended while its run never recorded an end is written back to ``info.yaml``
(INTERRUPTED for a cancelled or timed-out job, FAILED otherwise). This module
also holds the run selection shared by ``cancel`` and ``resubmit``.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import RunFolderError, RunLockedError, SubmitError, UsageError
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.reader.query import evaluate, parse
from mlxlaunch.runfolder.layout import Status

#: info.status values the scheduler is asked about (INTERRUPTED: it may have been requeued)
RECONCILED = (Status.QUEUED, Status.RUNNING, Status.INTERRUPTED)


@dataclass
class RunView:
    """One run folder as the commands see it: its info and its current status."""

    log_id: int
    run_dir: Path
    info: dict[str, Any]
    #: the status to show: info's, the scheduler's view of it, or LOST
    status: str = ""
    #: the scheduler's own state for the run's job, when it was asked
    job_state: Optional[str] = None
    #: why the scheduler keeps the job waiting (Slurm's reason: Resources, BeginTime, ...)
    job_reason: Optional[str] = None
    _config: Optional[dict[str, Any]] = field(default=None, repr=False)

    @property
    def job_id(self) -> Optional[str]:
        sched = self.info.get("scheduler")
        return str(sched.get("job_id")) if isinstance(sched, dict) else None

    @property
    def scheduler(self) -> Optional[str]:
        sched = self.info.get("scheduler")
        return sched.get("name") if isinstance(sched, dict) else None

    def config(self) -> dict[str, Any]:
        if self._config is None:
            try:
                self._config = runfolder.read_config(self.run_dir)
            except Exception:  # noqa: BLE001 - a damaged folder just has no config keys
                self._config = {}
        return self._config


# ---------------------------------------------------------------- loading and selecting


def load_runs(logdir: Path) -> list[RunView]:
    """Every run folder of ``logdir``, by id, with its effective status.

    A run whose ``info.yaml`` cannot be read (damaged, unreadable) is left out with
    a warning on stderr: one bad folder must not stop status, cancel or resubmit
    from working on every other run.
    """
    if not logdir.is_dir():
        raise UsageError(f"{logdir} is not a folder: give the parent folder of the run folders.")
    runs = []
    for entry in logdir.iterdir():
        if runfolder.RUN_ID.match(entry.name) and runfolder.is_run_dir(entry):
            try:
                info = runfolder.read_info(entry)
                status = runfolder.effective_status(entry, info)
            except (RunFolderError, OSError) as exc:
                print(f"mlxlaunch: warning: run {entry.name} left out: {exc}", file=sys.stderr)
                continue
            runs.append(RunView(int(entry.name), entry, info, status))
    return sorted(runs, key=lambda r: r.log_id)


_IDS = re.compile(r"^(\d+)(?:-(\d+))?$")


def _flatten(prefix: str, data: Any, row: dict[str, Any]) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            _flatten(f"{prefix}.{key}", value, row)
    else:
        row[prefix] = data


def select_runs(runs: list[RunView], query: list[str]) -> list[RunView]:
    """The runs matching ``query``: run ids (``3 5-7``) or a Reader query.

    A query compares ``info.<key>`` and ``config.<key>`` values, e.g.
    ``"info.status == 'FAILED' & config.optimizer.lr > 0.01"``; ``info.status`` is
    the reconciled status. No query selects every run.
    """
    if not query:
        return list(runs)
    matches = [_IDS.match(q) for q in query]
    if all(matches):
        wanted: set[int] = set()
        for m in filter(None, matches):
            lo = int(m.group(1))
            hi = int(m.group(2) or lo)
            wanted.update(range(lo, hi + 1))
        return [r for r in runs if r.log_id in wanted]

    text = " ".join(query)
    node = parse(text)
    selected = []
    for run in runs:
        row: dict[str, Any] = {}
        _flatten("info", dict(run.info, status=run.status), row)
        if "config." in text:
            _flatten("config", run.config(), row)
        if evaluate(node, row):
            selected.append(run)
    return selected


# ---------------------------------------------------------------- reconciling


def reconcile(runs: list[RunView]) -> int:
    """Ask each scheduler, once, about the runs whose info may be stale; update them.

    Returns the number of scheduler calls made.
    """

    by_scheduler: dict[str, list[RunView]] = defaultdict(list)
    for run in runs:
        if run.scheduler and run.job_id and run.info.get("status") in RECONCILED:
            by_scheduler[run.scheduler].append(run)
    calls = 0
    for name, group in by_scheduler.items():
        executor = scheduler_executor(name)
        try:
            states = executor.query([r.job_id for r in group if r.job_id])
        except SubmitError as exc:  # e.g. not on the cluster's login node
            print(f"mlxlaunch: warning: cannot ask {name}: {exc}", file=sys.stderr)
            continue
        finally:
            calls += executor.calls
        missing = [r.job_id for r in group if r.job_id and r.job_id not in states]
        if missing:  # ended long ago: the scheduler's accounting may still say how
            before = executor.calls
            states.update(executor.ended_states(missing, dict(states)))
            calls += executor.calls - before
        for run in group:
            run.job_state = states.get(run.job_id or "")
            run.job_reason = executor.reasons.get(run.job_id or "")
            implied = executor.run_status(run.job_state)
            recorded = run.info.get("status")
            if implied in (Status.QUEUED, Status.RUNNING):
                if recorded != Status.RUNNING or implied == Status.QUEUED:
                    run.status = implied  # waiting, starting, or requeued after INTERRUPTED
            elif recorded == Status.QUEUED and implied is None:
                run.status = Status.LOST  # the scheduler forgot a job that never started
            elif recorded in (Status.QUEUED, Status.RUNNING) and implied is not None:
                # the job is over; a live run would hold its lock, a dead one is recorded
                _record_end(run, implied, f"job {run.job_id} ended {run.job_state}")
    return calls


def _record_end(run: RunView, status: str, why: str) -> None:
    """Write ``status`` to a run that never recorded its end (only if nobody holds it)."""
    try:
        with runfolder.RunLock(run.run_dir):
            info = runfolder.read_info(run.run_dir)
            if info.get("status") not in (Status.QUEUED, Status.RUNNING):
                run.info, run.status = info, str(info.get("status"))
                return
            info.update(status=status, error=f"{why} before the run recorded its end")
            info["end_time"] = info.get("end_time") or runfolder.now_iso()
            runfolder.write_info(run.run_dir, info)
            run.info, run.status = info, status
    except RunLockedError:
        pass  # a live process holds it: it will record its own end


# ---------------------------------------------------------------- the command
