"""The run's records: ``info.yaml`` across its life, and one record per attempt.

A run is prepared (``queued_info``), possibly reopened for a resume
(``reopened_info``) or requeued by ``mlxlaunch resubmit`` (``mark_requeued``),
then run once per attempt: ``start_attempt`` closes the previous attempt's
record and marks the run RUNNING, ``finish_attempt`` writes how it ended, in
``info.yaml`` and in ``metadata/attempts/<n>.yaml``. Every writer of these
records is here; the runner (``running/runner.py``) only decides *when*.

A run may fill the disk it writes to: ``start_attempt`` holds a small reserve
(``metadata/.reserve``) that ``finish_attempt`` frees first, so the end of a run
(FAILED, "No space left on device") is recorded even then. A run that cannot get
its reserve does not start and stays QUEUED.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import NotStartedError, StorageError
from mlxlaunch.jobenv import ENV_JOB_ID
from mlxlaunch.runfolder.layout import (
    ATTEMPTS_DIR,
    METADATA,
    RESERVE_FILE,
    TRACEBACK_FILE,
    Status,
)
from mlxlaunch.runfolder.liveness import launched_by, process_start
from mlxlaunch.runfolder.metadata import atomic_write, dump_yaml, now_iso, read_info, write_info

#: Bytes held in ``metadata/.reserve`` while a run runs: room for the final
#: ``info.yaml``, the attempt's record and the traceback, a few blocks each.
RESERVE_BYTES = 64 * 1024


#: ``current_user()`` by ``(pid, uid)``: a sweep records it in each of its 10,000 runs
_USER: dict[tuple[int, int], str] = {}


def current_user() -> str:
    """The login name, or the numeric uid where there is no passwd entry (containers).

    Asked once per process and uid (without ``$USER``, each ask reads ``/etc/passwd``).
    """
    key = (os.getpid(), os.getuid())
    if key not in _USER:
        try:
            _USER[key] = getpass.getuser()
        except Exception:  # no passwd entry (containers)
            _USER[key] = str(os.getuid())
    return _USER[key]


def _python() -> dict[str, Any]:
    return {"python_executable": sys.executable, "python_version": sys.version.split()[0]}


def queued_info(
    log_id: int,
    log_dir: Path,
    overrides: list[str],
    sweep_id: str,
    index: int,
    total: int,
    script: Path,
    heartbeat_interval: float,
    module: Optional[str] = None,
) -> dict[str, Any]:
    """The ``info.yaml`` of a run that is prepared but not started (point ``index`` of ``total``).

    ``module``: ``mypkg.train`` for a task started as ``python -m mypkg.train``
    (workers, jobs and reruns start it the same way).
    """
    return {
        "status": Status.QUEUED,
        "log_id": log_id,
        "log_dir": str(log_dir),
        "attempt": 0,
        "sweep_id": sweep_id,
        "point_index": index,
        "n_points": total,
        "overrides": list(overrides),
        "queued_time": now_iso(),
        "start_time": None,
        "end_time": None,
        "duration_s": None,
        "hostname": None,
        "pid": None,
        "user": current_user(),
        **_python(),
        "script": str(script),
        "module": module,
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "exit_code": None,
        "error": None,
        "heartbeat_interval": heartbeat_interval,
        # if this process is gone while the run is still QUEUED (no job), nobody will run it
        "launched_by": launched_by(),
    }


def save_attempt(run_dir: Path, info: dict[str, Any]) -> None:
    """Keep the final record of attempt ``info['attempt']`` under ``metadata/attempts/``."""
    folder = run_dir / METADATA / ATTEMPTS_DIR
    folder.mkdir(exist_ok=True)
    atomic_write(folder / f"{info.get('attempt', 0)}.yaml", dump_yaml(info))


def close_previous_attempt(run_dir: Path) -> tuple[dict[str, Any], int]:
    """Keep the record of the run's last attempt if it never wrote one; ``(info, attempt)``.

    Call it holding the run's lock (or knowing nothing runs it), before the
    run's info is changed for a new attempt.
    """
    info = read_info(run_dir)
    attempts = run_dir / METADATA / ATTEMPTS_DIR
    try:  # the records count too: a damaged info.yaml must not restart at 1 over them
        recorded = [int(p.stem) for p in attempts.glob("*.yaml") if p.stem.isdigit()]
    except OSError:
        recorded = []
    previous = max([int(info.get("attempt") or 0), *recorded])
    if previous >= 1 and not (attempts / f"{previous}.yaml").exists():
        # The previous attempt did not record its end: unless it wrote its final status
        # just before dying, it was killed (SIGKILL, OOM, node loss). We hold the run's
        # lock, so it is not running any more, even if its heartbeat is fresh (a requeue
        # on another node) or a resubmission has set the status back to QUEUED.
        status = info.get("status")
        lost = dict(info, status=status if status in Status.FINISHED else Status.LOST)
        save_attempt(run_dir, lost)
    if previous == 0 and _written_by_mlxp(info):
        # MLXP counts no attempts: its info is the record of the run's first one. The values
        # only that attempt had go with it, so the new info does not mix two attempts.
        save_attempt(run_dir, dict(info, attempt=1))
        info = {k: v for k, v in info.items() if k not in MLXP_ATTEMPT_KEYS}
        previous = 1
    return info, previous


#: Keys of MLXP's info.yaml that describe one attempt (its process, its dates).
MLXP_ATTEMPT_KEYS = ("process_id", "start_date", "end_date", "executable", "current_file_path")


def _written_by_mlxp(info: dict[str, Any]) -> bool:
    """Whether ``info`` is MLXP's (``process_id``, ``start_date``, no attempt count)."""
    return "attempt" not in info and ("process_id" in info or "start_date" in info)


def reopened_info(run_dir: Path, log_id: int, overrides: list[str], script: Path) -> dict[str, Any]:
    """The info of a run reopened by a forced id (a resume), its last attempt closed.

    Call it holding the run's lock. The previous attempts' records keep their own
    command; ``argv``/``cwd`` become this one's, and ``overrides`` given for the
    resume are appended to ``resume_overrides``.
    """
    info, _ = close_previous_attempt(run_dir)
    if overrides:
        info.setdefault("resume_overrides", []).append(list(overrides))
    info.pop("requeues", None)  # a resume is a new submission: max_requeues afresh
    info.pop("cancelled", None)
    info.update(
        status=Status.QUEUED,  # to run again, even if COMPLETE (the runner skips those)
        log_id=log_id,
        log_dir=str(run_dir),
        script=str(script),
        argv=list(sys.argv),  # the command of this attempt; earlier ones are in attempts/
        cwd=os.getcwd(),
        launched_by=launched_by(),
    )
    return info


def mark_requeued(run_dir: Path) -> None:
    """Set a finished run back to QUEUED for another attempt (``mlxlaunch resubmit``)."""
    info = read_info(run_dir)
    info.update(status=Status.QUEUED, error=None, queued_time=now_iso())
    info.pop("requeues", None)  # a new submission gets scheduler.max_requeues afresh
    write_info(run_dir, info)


def start_attempt(run_dir: Path, heartbeat_interval: float) -> dict[str, Any]:
    """Mark the run RUNNING as a new attempt; keep the previous attempt's record."""
    info, previous = close_previous_attempt(run_dir)
    try:
        _reserve_room(run_dir)
    except OSError as exc:  # it stays QUEUED: it never ran (mlxlaunch start runs it later)
        where = exc.filename or str(run_dir / METADATA / RESERVE_FILE)  # a write has no name
        cause = OSError(exc.errno, exc.strerror, where)
        raise NotStartedError(cause, f"cannot start run {run_dir.name}") from None
    info.update(
        status=Status.RUNNING,
        attempt=previous + 1,
        start_time=now_iso(),
        end_time=None,
        duration_s=None,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        pid_start=process_start(os.getpid()),  # with pid: this process, not a reused pid
        user=current_user(),
        **_python(),
        exit_code=None,
        error=None,
        heartbeat_interval=heartbeat_interval,
    )
    job_id = os.environ.get(ENV_JOB_ID)  # set by scheduler job scripts
    if job_id and isinstance(info.get("scheduler"), dict):
        info["scheduler"]["job_id"] = job_id  # OAR gives a requeued job a new id
    try:
        write_info(run_dir, info)
    except BaseException:
        _release_room(run_dir)
        raise
    return info


def _reserve_room(run_dir: Path) -> None:
    """Hold ``RESERVE_BYTES`` of disk in ``metadata/.reserve``, or raise ``OSError``.

    Written through a fresh temporary file renamed into place (``atomic_write``), so
    a link planted there is replaced, never written through. A run that cannot have
    it does not start: on a disk that full it could not record how it ended.
    """
    atomic_write(run_dir / METADATA / RESERVE_FILE, bytes(RESERVE_BYTES), False, 0o600)


def _release_room(run_dir: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(run_dir / METADATA / RESERVE_FILE)


def finish_attempt(
    run_dir: Path,
    info: dict[str, Any],
    status: str,
    exit_code: int,
    error: Optional[str],
    started: float,
    traceback: Optional[str] = None,
) -> None:
    """Record how the attempt ``info`` (started at ``time.time()`` ``started``) ended.

    The reserve is freed first, so this works on a disk the run filled. The
    ``traceback`` of a failed task goes to ``metadata/traceback.txt`` if there is
    room; ``info.yaml`` and the attempt's record come before it. A record that
    cannot be written at all (a folder made read-only meanwhile) is a
    ``StorageError`` naming the run, its outcome and the cause.
    """
    _release_room(run_dir)
    info.update(
        status=status,
        end_time=now_iso(),
        duration_s=round(time.time() - started, 6),
        exit_code=exit_code,
        error=error,
    )
    try:
        write_info(run_dir, info)
        save_attempt(run_dir, info)
    except OSError as exc:
        outcome = f"{status}{f' ({error})' if error else ''}"
        what = f"cannot record that run {info.get('log_id')} ended {outcome}"
        raise StorageError(exc, what) from None
    if traceback:
        with contextlib.suppress(OSError):  # info.yaml has the error's last line already
            atomic_write(run_dir / METADATA / TRACEBACK_FILE, traceback)
