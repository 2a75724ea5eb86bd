"""``mlxlaunch status LOGDIR [QUERY]``: the runs' status, reconciled with their scheduler.

A run submitted to a cluster says QUEUED in its ``info.yaml`` until its job starts.
To tell a waiting job from one the scheduler already ended (cancelled, killed at
its time limit before Python could record it, failed to start), this command asks
the scheduler about every such run in **one** batched call per scheduler
(``squeue -j A,B,...``, ``oarstat -j A -j B ...``). A job the scheduler says has
ended while its run never recorded an end is written back to ``info.yaml``
(INTERRUPTED for a cancelled or timed-out job, FAILED otherwise), except a job
that exited 75 before its run started (no room for the run's disk reserve): that
run stays QUEUED and shows LOST, for ``mlxlaunch start``. This module
also holds the run selection shared by ``cancel`` and ``resubmit``.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import (
    NotStartedError,
    RunFolderError,
    RunLockedError,
    StorageError,
    SubmitError,
    UsageError,
    did_you_mean,
)
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.executors.scheduler import HeldArray, id_ranges
from mlxlaunch.reader.metrics import SUMMARIES, log_names, logged_keys, read_log, split_metric_key
from mlxlaunch.reader.query import evaluate, parse
from mlxlaunch.reader.scan import flatten
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
    #: the array a stopped launcher left held with this run in it (see :func:`find_held`)
    held: Optional[HeldRuns] = None
    _config: Optional[dict[str, Any]] = field(default=None, repr=False)
    #: log name -> its summary (``{"loss.last": ...}``), read once when a column needs it
    metric_logs: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

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
        if not runfolder.RUN_ID.match(entry.name):
            continue
        try:  # one odd entry (a link loop, a folder we may not enter, a FIFO as info.yaml,
            # a damaged info.yaml) costs that run only: shown UNKNOWN, the cause on stderr
            if not runfolder.is_run_dir(entry):
                continue
            info = runfolder.read_info(entry)
        except (RunFolderError, OSError) as exc:
            why = exc if isinstance(exc, RunFolderError) else f"{entry}: {exc.strerror}"
            print(f"mlxlaunch: warning: {why}", file=sys.stderr)
            info = {}
        runs.append(RunView(int(entry.name), entry, info, runfolder.effective_status(entry, info)))
    return sorted(runs, key=lambda r: r.log_id)


_IDS = re.compile(r"^(\d+)(?:-(\d+))?$")


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
        flatten(dict(run.info, status=run.status), "info.", row)
        if "config." in text:
            flatten(run.config(), "config.", row)
        if evaluate(node, row):
            selected.append(run)
    return selected


# ---------------------------------------------------------------- what a row shows


def runtime_s(run: RunView, now: Optional[float] = None) -> Optional[float]:
    """Seconds the run's last attempt ran: its recorded duration, or so far while RUNNING."""
    duration = run.info.get("duration_s")
    if isinstance(duration, (int, float)):
        return float(duration)
    start = run.info.get("start_time")
    if run.status != Status.RUNNING or not start:
        return None
    try:
        started = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return max(0.0, (now if now is not None else time.time()) - started.timestamp())


def default_metric_columns(runs: list[RunView]) -> list[str]:
    """``<log>.<first key>.last`` for each metric log of the runs, in first-seen order."""
    columns: list[str] = []
    for run in runs:
        for name in log_names(str(run.run_dir)):
            keys = logged_keys(str(run.run_dir), name)
            if keys and f"{name}.{keys[0]}.last" not in columns:
                columns.append(f"{name}.{keys[0]}.last")
    return columns


def column_value(run: RunView, column: str) -> Any:
    """The value of ``column`` for ``run`` (None when it has none).

    ``config.<key>`` and ``info.<key>`` read the run's config and info;
    ``<log>.<key>.<summary>`` (``train.loss.last``) a summary of a metric log.
    """
    if column.startswith(("config.", "info.")):
        source, _, key = column.partition(".")
        data: Any = run.config() if source == "config" else run.info
        for part in key.split("."):
            if not isinstance(data, dict) or part not in data:
                return None
            data = data[part]
        return data
    metric, _, summary = column.rpartition(".")
    if summary not in SUMMARIES:
        return None
    where = split_metric_key(metric, log_names(str(run.run_dir)))
    if where is None:
        return None
    log = run.metric_logs.get(where[0])
    if log is None:
        log = run.metric_logs[where[0]] = read_log(
            str(run.run_dir), where[0], live=run.status == Status.RUNNING
        ).summary()
    return log.get(f"{where[1]}.{summary}")


def check_columns(runs: list[RunView], columns: list[str]) -> None:
    """A one-line error for a column no run has (a typo), with what there is instead."""
    for column in columns:
        if any(column_value(run, column) is not None for run in runs) or not runs:
            continue
        metric, _, summary = column.rpartition(".")
        known = default_metric_columns(runs)
        if not column.startswith(("config.", "info.")) and summary not in SUMMARIES:
            raise UsageError(
                f"Column '{column}' ends with '{summary}', not a summary: use one of "
                f"{', '.join(SUMMARIES)}, e.g. {known[0] if known else 'train.loss.last'}."
            )
        raise UsageError(
            f"No run has '{column}'.{did_you_mean(column, known)} "
            f"Metric columns there: {', '.join(known) or 'none'}; "
            "config.<key> and info.<key> work too."
        )


# ---------------------------------------------------------------- held arrays


@dataclass
class HeldRuns:
    """An array a stopped launcher submitted held and never released, and its runs."""

    record: HeldArray
    #: the run folders of the array still held, by id, and their job ids
    job_ids: dict[int, str]

    def note(self, logdir: Path) -> str:
        """One line: what happened, and the two ways out."""
        ids = id_ranges(sorted(self.job_ids))
        where = f"{shlex.quote(str(logdir))} {ids}"
        return (
            f"run(s) {ids} were submitted held as {self.record.scheduler} job "
            f"{self.record.array_job_id} but never released (the launcher was stopped): "
            f"mlxlaunch cancel {where} to withdraw it, or mlxlaunch resubmit {where}"
        )


def find_held(logdir: Path, runs: list[RunView]) -> list[HeldRuns]:
    """The arrays of ``logdir`` submitted held by a launcher that stopped before releasing them.

    Found from their records (``HeldArray``, this user's), asked about in one
    call per scheduler: a job is counted only while the scheduler still holds it.
    A record with no job held any more (released, withdrawn, forgotten) is removed;
    one whose launcher is still running on this host is not looked at (it is
    releasing it now). Each run of a held array gets ``held`` set.
    """
    by_scheduler: dict[str, list[HeldArray]] = defaultdict(list)
    for record in HeldArray.read_all(logdir):
        by = record.launched_by
        if not (by.get("host") == socket.gethostname() and not runfolder.launcher_gone(by)):
            by_scheduler[record.scheduler].append(record)
    by_name = {r.run_dir.name: r for r in runs}
    found = []
    for name, records in by_scheduler.items():
        executor = scheduler_executor(name)
        try:
            states = executor.query([j for record in records for j in record.job_ids])
        except SubmitError as exc:  # e.g. not on the cluster's login node
            print(f"mlxlaunch: warning: cannot ask {name}: {exc}", file=sys.stderr)
            continue
        for record in records:
            jobs = {
                int(run): job
                for job, run in zip(record.job_ids, record.runs)
                if executor.is_held(job, states.get(job)) and run.isdigit()
            }
            if not jobs:
                with contextlib.suppress(OSError):
                    record.path.unlink(missing_ok=True)
                continue
            held = HeldRuns(record, jobs)
            for run_id in jobs:
                if str(run_id) in by_name:
                    by_name[str(run_id)].held = held
            found.append(held)
    return found


# ---------------------------------------------------------------- reconciling


def reconcile(runs: list[RunView]) -> int:
    """Ask each scheduler, once, about the runs whose info may be stale; update them.

    A run still QUEUED whose job ended with ``NotStartedError.job_exit_code`` (75)
    never started: its job found no room for the run's disk reserve. Nothing is
    recorded against it (its ``info.yaml`` stays QUEUED, with the cause in
    ``error``): it shows LOST, like any prepared run nobody will start, and
    ``mlxlaunch start`` or ``resubmit`` runs it. Returns the number of scheduler calls made.
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
        # a job over while its run is still QUEUED: did it exit 75 (never started)?
        over = [
            r.job_id
            for r in group
            if r.job_id
            and r.info.get("status") == Status.QUEUED
            and executor.run_status(states.get(r.job_id)) == Status.FAILED
        ]
        codes: Optional[dict[str, int]] = {}
        if over:
            before = executor.calls
            try:
                codes = executor.ended_exit_codes(over)
            except SubmitError as exc:  # how they ended is unknown: nothing is written
                print(f"mlxlaunch: warning: cannot ask {name}: {exc}", file=sys.stderr)
                codes = None
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
            elif run.job_id in over and codes is None:
                pass  # the scheduler did not say how the job ended: shown as recorded
            elif run.job_id in over and (codes or {}).get(run.job_id or "") == NOT_STARTED:
                _record_not_started(run)
            elif recorded in (Status.QUEUED, Status.RUNNING) and implied is not None:
                # the job is over; a live run would hold its lock, a dead one is recorded
                _record_end(run, implied, f"job {run.job_id} ended {run.job_state}")
    return calls


#: The exit code of a job whose run could not take its disk reserve (it never started).
NOT_STARTED = NotStartedError.job_exit_code


def _record_not_started(run: RunView) -> None:
    """Show ``run`` LOST, its job having exited 75 before the run started; note why.

    The run stays QUEUED in its ``info.yaml``: nothing ran, so nothing failed.
    The cause goes to ``info.error`` (kept once the scheduler forgets the job);
    on a disk still full that note is not written, and the table shows it anyway.
    """
    why = (
        f"not started: no room for its disk reserve (job {run.job_id} exited {NOT_STARTED}); "
        f"free space, then: mlxlaunch start {shlex.quote(str(run.run_dir.parent))}"
    )
    if run.info.get("error") == why or _update_unfinished(run, (Status.QUEUED,), error=why):
        run.status = Status.LOST  # prepared, and no job will start it
        run.info = dict(run.info, error=why)


def _record_end(run: RunView, status: str, why: str) -> None:
    """Write ``status`` to a run that never recorded its end (only if nobody holds it)."""
    error = f"{why} before the run recorded its end"
    if _update_unfinished(run, (Status.QUEUED, Status.RUNNING), status=status, error=error):
        run.status = status


def _update_unfinished(run: RunView, statuses: tuple[str, ...], **changes: Any) -> bool:
    """Write ``changes`` to the run's ``info.yaml`` if it still has one of ``statuses``
    and the same job, under its lock; whether it did (or would, on a disk with room).

    False for a run that moved on meanwhile (it ended, or was resubmitted as another
    job: then shown as it now is) or that a live process holds (it records its own
    end). A write the disk refuses (full) is skipped with a warning: the table
    still shows the reconciled status, and the next status call writes it.
    """
    try:
        with runfolder.RunLock(run.run_dir):
            info = runfolder.read_info(run.run_dir)
            sched = info.get("scheduler")
            job = str(sched.get("job_id")) if isinstance(sched, dict) else None
            if info.get("status") not in statuses or job != run.job_id:
                run.info, run.status = info, runfolder.effective_status(run.run_dir, info)
                return False
            info.update(changes)
            if changes.get("status") in Status.FINISHED:
                info["end_time"] = info.get("end_time") or runfolder.now_iso()
            run.info = info  # shown so, written or not
            runfolder.write_info(run.run_dir, info)
    except RunLockedError:
        return False
    except OSError as exc:
        where = runfolder.metadata_path(run.run_dir, runfolder.INFO_FILE)
        print(f"mlxlaunch: warning: cannot update {where}: {StorageError(exc)}", file=sys.stderr)
    return True


# ---------------------------------------------------------------- the command
