"""Copying a run's stdout and stderr into ``log.stdout`` / ``log.stderr`` of its folder.

``StreamTee(run_dir)`` works at the file-descriptor level, like the ``tee``
command: while it is active, file descriptors 1 and 2 of this process are pipes
read by a small helper process that appends everything to the run's files and
passes it on to the original stdout/stderr. So ``print``, C extensions and child
processes (which inherit fds 1 and 2) are all captured, and the terminal still
shows everything. ``stop()`` puts the original descriptors back.

Why a helper process rather than a thread: it outlives this one. When the run
dies of SIGKILL, a segfault or the OOM killer, the helper still copies what was
already written to the pipe (a crash's traceback included) and exits when the
last writer is gone. It runs in its own session, so the Ctrl-C or SIGTERM that
stops the run's process group does not stop the copying.

While the copy is active, Python's ``sys.stdout``/``sys.stderr`` write line by line
(Python buffers a pipe or a file in 8 KiB blocks), so ``mlxlaunch logs --follow``
and the launcher's progress display see each line when it is printed.

Files are opened in append mode: a resumed run adds to the previous attempt's
output. A stream that already goes to that very file (a scheduler job script's
redirection) is left alone, so nothing is written twice.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Optional

from mlxlaunch.runfolder.layout import STDERR_FILE, STDOUT_FILE
from mlxlaunch.runfolder.safefiles import open_existing

#: Seconds ``stop()`` waits for the helper to copy the last output (it is usually instant;
#: it waits longer only while a child process that inherited the pipe is still running).
STOP_TIMEOUT_S = 5.0

#: The helper: copy each pipe to its log file, then to the original stream, until all close.
#: A log file that cannot be written (full disk) is given up with a note on the stream; the
#: stream keeps its copy, so the task's prints never fail for it.
_PUMP = r"""
import os, selectors, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
args = [int(a) for a in sys.argv[1:]]
sel = selectors.DefaultSelector()
for i in range(0, len(args), 3):
    sel.register(args[i], selectors.EVENT_READ, [args[i + 1], args[i + 2]])

def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]

while sel.get_map():
    for key, _ in sel.select():
        data = os.read(key.fd, 65536)
        if not data:
            sel.unregister(key.fd)
            os.close(key.fd)
            continue
        log, out = key.data
        if log >= 0:
            try:
                write_all(log, data)
            except OSError as exc:  # a full disk: say so once, keep the terminal's copy
                key.data[0] = -1
                note = f"\nmlxlaunch: stopped copying this stream to its log file: {exc}\n"
                data += note.encode()
        if out >= 0:
            try:
                write_all(out, data)
            except OSError:
                key.data[1] = -1  # the terminal went away: keep logging
"""


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class StreamTee:
    """Tee fds 1 and 2 into ``<run_dir>/log.stdout`` and ``log.stderr`` between start and stop."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._saved: dict[int, int] = {}  # stream fd -> duplicate of the original
        self._helper: Optional[subprocess.Popen[bytes]] = None
        self._line_buffering: dict[int, bool] = {}  # id(stream) -> its setting before start

    def start(self) -> StreamTee:
        """Redirect fds 1 and 2 through the helper. A second call does nothing."""
        if self._helper is not None or self._saved:
            return self
        _flush_python_streams()
        args: list[int] = []
        to_close: list[int] = []
        to_install: list[tuple[int, int]] = []  # (stream fd, pipe write end)
        try:
            for stream_fd, name in ((1, STDOUT_FILE), (2, STDERR_FILE)):
                path = self.run_dir / name
                if _same_file(stream_fd, path):
                    continue  # already redirected there by a job script
                # never a link or FIFO someone planted in the run folder
                log = open_existing(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
                to_close.append(log)
                try:
                    original = os.dup(stream_fd)
                except OSError:  # the stream is closed: log only
                    original = -1
                self._saved[stream_fd] = original
                read_end, write_end = os.pipe()
                to_close.append(read_end)
                to_install.append((stream_fd, write_end))
                args += [read_end, log, original]
            if not args:
                return self
            self._helper = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _PUMP, *map(str, args)],
                pass_fds=[a for a in args if a >= 0],
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        except BaseException:
            for _, write_end in to_install:
                os.close(write_end)
            for original in self._saved.values():
                if original >= 0:
                    os.close(original)
            self._saved.clear()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        for stream_fd, write_end in to_install:
            os.dup2(write_end, stream_fd)
            os.close(write_end)
        self._set_line_buffering()
        return self

    def _set_line_buffering(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None and not getattr(stream, "line_buffering", True):
                self._line_buffering[id(stream)] = False
                reconfigure(line_buffering=True)

    def _restore_line_buffering(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            if self._line_buffering.pop(id(stream), True) is False:
                getattr(stream, "reconfigure")(line_buffering=False)  # noqa: B009
        self._line_buffering.clear()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Restore fds 1 and 2 and wait (up to ``timeout`` s) for the copy to finish."""
        _flush_python_streams()
        self._restore_line_buffering()
        self._restore_saved()
        helper, self._helper = self._helper, None
        if helper is not None and _wait_exit(helper, timeout) is None:
            pass  # a child still holds the pipe: the helper keeps copying until it exits

    def _restore_saved(self) -> None:
        for stream_fd, original in self._saved.items():
            if original >= 0:
                os.dup2(original, stream_fd)
                os.close(original)
            else:
                os.close(stream_fd)  # it was closed before start: close the pipe end again
        self._saved.clear()

    def __enter__(self) -> StreamTee:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> Optional[int]:
    """``process.wait(timeout)``, woken the moment the process exits; None on timeout.

    ``Popen.wait`` with a timeout polls with sleeps of up to 50 ms, which a
    sequential sweep pays once per point; a pidfd (Linux 5.3+) wakes at once.
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux, an old kernel, or already reaped
        pidfd = -1
    if pidfd >= 0:
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
        finally:
            os.close(pidfd)
        if not ready:
            return None
    try:
        return process.wait(0 if pidfd >= 0 else timeout)
    except subprocess.TimeoutExpired:
        return None


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def start_tee(run_dir: Path) -> Optional[StreamTee]:
    """Start teeing into ``run_dir``; on failure warn on stderr and return None.

    Losing the copy of the streams is not a reason to lose the run itself.
    """
    try:
        return StreamTee(run_dir).start()
    except OSError as exc:
        sys.stderr.write(
            f"mlxlaunch: warning: cannot copy stdout/stderr to {run_dir}: {exc}; "
            f"the run goes on without {STDOUT_FILE}/{STDERR_FILE}.\n"
        )
        sys.stderr.flush()
        return None
