"""Liveness of a run: heartbeat, lock, and the status a reader should show (LOST)."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import RunLockedError
from mlxlaunch.runfolder.layout import HEARTBEAT_FILE, LOCK_FILE, Status, metadata_path
from mlxlaunch.runfolder.metadata import atomic_write, read_info
from mlxlaunch.runfolder.safefiles import open_existing, write_all


def touch_heartbeat(run_dir: Path, fresh: bool = False) -> None:
    """Set the heartbeat's mtime to now; ``fresh`` (or a missing file) makes a new file.

    Never through a link: a new heartbeat is renamed into place (``atomic_write``)
    and the beats touch the name itself (``follow_symlinks=False``).
    """
    path = run_dir / HEARTBEAT_FILE
    if not fresh:
        try:
            os.utime(path, follow_symlinks=False)
            return
        except FileNotFoundError:
            pass
    atomic_write(path, b"", fsync=False)


class Heartbeat:
    """A daemon thread that touches the run's heartbeat file every ``interval`` s."""

    def __init__(self, run_dir: Path, interval: float) -> None:
        self.run_dir = run_dir
        self.interval = max(0.05, float(interval))
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        touch_heartbeat(self.run_dir, fresh=True)  # whatever was there, the heartbeat is ours
        self._thread = threading.Thread(target=self._beat, name="mlxlaunch-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                touch_heartbeat(self.run_dir)
            except OSError:
                pass  # the folder may be on a flaky file system; the next beat retries

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


#: A heartbeat older than this many intervals (plus a grace) means the run is lost.
STALE_INTERVALS = 3
STALE_GRACE_S = 10.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start(pid: int) -> Optional[int]:
    """When process ``pid`` started (clock ticks after boot, from /proc); None if unknown.

    With the pid, it names a process for good: a pid alone is reused by the system.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        return int(text[text.rindex(")") + 2 :].split()[19])  # field 22, after "(comm)"
    except (OSError, ValueError, IndexError):
        return None


def same_process(pid: int, started: Any) -> bool:
    """Whether the live process ``pid`` is the one that started at ``started`` (if recorded)."""
    if not isinstance(started, int):
        return True  # not recorded (an older run, no /proc): the pid is all we know
    now = process_start(pid)
    return now is None or now == started


#: ``launched_by()`` of this process, by pid (a forked child is another process)
_LAUNCHER: dict[int, dict[str, Any]] = {}


def launched_by() -> dict[str, Any]:
    """Who prepared a QUEUED run (this process): recorded so readers can tell an abandoned one.

    Asked once per process (a sweep records it in each of its 10,000 runs).
    """
    pid = os.getpid()
    if pid not in _LAUNCHER:
        _LAUNCHER[pid] = {
            "host": socket.gethostname(),
            "pid": pid,
            "pid_start": process_start(pid),
        }
    return dict(_LAUNCHER[pid])


def _abandoned(info: dict[str, Any]) -> bool:
    """A QUEUED run nobody will start: no job, and the process that queued it (here) is gone."""
    return not info.get("scheduler") and launcher_gone(info.get("launched_by"))


def launcher_gone(by: Any) -> bool:
    """Whether the process ``by`` (``launched_by()``) ran on this host and is gone now."""
    if not isinstance(by, dict) or by.get("host") != socket.gethostname():
        return False
    pid = by.get("pid")
    return isinstance(pid, int) and (
        not _pid_alive(pid) or not same_process(pid, by.get("pid_start"))
    )


def effective_status(
    run_dir: Path, info: Optional[dict[str, Any]] = None, now: Optional[float] = None
) -> str:
    """The status a reader should show: ``info.yaml``'s, or ``LOST`` for a dead RUNNING run.

    A RUNNING run is LOST when its heartbeat is older than
    ``STALE_INTERVALS * heartbeat_interval + STALE_GRACE_S`` seconds, or at once
    when it ran on this host and its process is gone (SIGKILL, OOM killer).
    """
    if info is None:
        info = read_info(run_dir)
    status = str(info.get("status", "")) or "UNKNOWN"
    if status == Status.QUEUED:
        # a point of a local sweep that was stopped (signal, fail_fast) or killed
        return Status.LOST if _abandoned(info) else status
    if status != Status.RUNNING:
        return status
    pid = info.get("pid")
    if info.get("hostname") == socket.gethostname() and isinstance(pid, int):
        if not _pid_alive(pid) or not same_process(pid, info.get("pid_start")):
            return Status.LOST  # its process is gone (its pid may be another's by now)
    try:
        beat = os.lstat(run_dir / HEARTBEAT_FILE).st_mtime
    except FileNotFoundError:
        beat = None
    try:
        interval = float(info.get("heartbeat_interval") or 30.0)
    except (TypeError, ValueError):  # a damaged or hand-edited info.yaml
        interval = 30.0
    limit = STALE_INTERVALS * interval + STALE_GRACE_S
    now = time.time() if now is None else now
    if beat is None:
        return Status.RUNNING
    return Status.LOST if now - beat > limit else Status.RUNNING


class RunLock:
    """An exclusive lock on a run folder, held by the process running it.

    ``fcntl.flock`` on ``metadata/.lock``: the kernel releases it when the holder
    dies, so a killed run never leaves a stale lock behind.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        import fcntl

        path = metadata_path(self.run_dir, LOCK_FILE)
        fd = open_existing(path, os.O_RDWR | os.O_CREAT)  # never a planted link or FIFO
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunLockedError(
                f"Run folder {self.run_dir} is in use by {holder}. Wait for it to finish, "
                f"or stop it, before reopening this run."
            ) from None
        try:  # who holds it, for the message above; the lock holds without it
            os.ftruncate(fd, 0)
            write_all(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        except OSError:  # a full disk: a job must still get to say its run did not start
            pass
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
