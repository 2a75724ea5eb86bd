"""A sweep's progress while it runs: a live bar on a terminal, one line per point on a pipe.

The local and parallel executors call ``started(run)`` and ``finished(run, result)``
(the ``Progress`` interface of ``executors/base.py``); this module decides how
that is shown:

- on a pipe or a file (CI, ``nohup``, ``| tee``), one plain line per finished point,
  ``[7/18] run 23 COMPLETE lr=0.1 seed=2 12.3s``, easy to grep and to follow with ``tail -f``;
- on a terminal, with ``tqdm`` installed (``pip install 'mlxlaunch[cli]'``), a live bar
  (done/failed/running, elapsed, ETA) and the same lines above it, for failed points only;
- with ``--quiet``, nothing (the final summary line still ends the command).

A single run shows no progress: its own output and the summary say it all.

The bar and the lines go to a duplicate of the launcher's stderr taken before any run
starts, so a run's captured ``log.stderr`` never contains them.
"""

from __future__ import annotations

import os
import selectors
import sys
import threading
import time
from typing import Any, Optional, TextIO

from mlxlaunch.executors.base import PreparedRun, Progress
from mlxlaunch.render import format_seconds, terminal_with
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.running.runner import RunResult


def point_label(overrides: list[str]) -> str:
    """The point: its overrides (as recorded in its info), space-separated."""
    return " ".join(str(o) for o in overrides)


class SweepProgress(Progress):
    """Shows the progress of a sweep of ``total`` points on ``stream`` (stderr by default).

    ``live``: draw a bar (None: when ``stream`` is a terminal and tqdm is installed).
    While the bar is drawn, the runs' output reaches the terminal through a
    ``_TerminalPump``, which clears the bar, writes the output and draws the bar again
    below it, so the bar and the runs' lines never share a line.
    """

    def __init__(
        self, total: int, stream: Optional[TextIO] = None, live: Optional[bool] = None
    ) -> None:
        self.total = total
        self.done = 0
        self.counts: dict[str, int] = {}
        self._started: dict[int, float] = {}  # log id -> time.monotonic() at its start
        self._stream = stream if stream is not None else _private_stderr()
        self._bar: Any = None
        self._pump: Optional[_TerminalPump] = None
        if live is None:
            live = terminal_with(self._stream, "tqdm")  # a bar, or plain lines
        if live:
            self._bar = _make_bar(total, self._stream)
            self._pump = _TerminalPump(self._bar).start()

    # -- the executor's side

    def started(self, run: PreparedRun) -> None:
        self._started[run.log_id] = time.monotonic()
        self._refresh()

    def finished(self, run: PreparedRun, result: RunResult) -> None:
        self.done += 1
        self.counts[result.status] = self.counts.get(result.status, 0) + 1
        began = self._started.pop(run.log_id, None)
        took = format_seconds(time.monotonic() - began) if began is not None else ""
        line = " ".join(
            part
            for part in (
                f"[{self.done}/{self.total}] run {run.log_id} {result.status}",
                point_label(run.overrides),
                took,
            )
            if part
        )
        if self._bar is None:
            self._write(line)
            return
        if self._pump is not None:
            self._pump.drain()  # the run's last lines first, then its result
        if result.status != Status.COMPLETE:  # on a terminal the bar counts the complete ones
            self._print_above(line)
        with _LOCK:
            self._bar.n = self.done  # drawn by _refresh (update() would draw mid-line)
        self._refresh()

    def close(self) -> None:
        if self._pump is not None:
            self._pump.stop()
            self._pump = None
        if self._bar is not None:
            with _LOCK:
                self._bar.close()
            self._bar = None
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    # -- drawing

    def _postfix(self) -> str:
        complete = self.counts.get(Status.COMPLETE, 0)
        parts = [f"{complete} complete"]
        if self.done - complete:
            parts.append(f"{self.done - complete} failed")
        if self._started:
            parts.append(f"{len(self._started)} running")
        return ", ".join(parts)

    def _refresh(self) -> None:
        if self._bar is None:
            return
        with _LOCK:
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            if self._pump is None or self._pump.at_line_start:
                self._bar.refresh()

    def _print_above(self, line: str) -> None:
        with _LOCK:
            self._bar.clear()
            self._stream.write(line + "\n")
            self._stream.flush()

    def _write(self, line: str) -> None:
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: the runs go on
            pass


#: Serializes drawing the bar and writing the runs' output (main thread and pump thread).
_LOCK = threading.RLock()


class _TerminalPump:
    """Routes fds 1 and 2 through pipes so that the runs' output is written above the bar.

    Everything written to stdout/stderr while the sweep runs (by a task in this
    process, by worker processes, which inherit fds 1 and 2, and by their stream
    capture) arrives in a pipe; a thread writes it to the real terminal, taking
    the bar off before and drawing it again after a complete line. While a run
    writes a partial line (its own ``\r`` progress bar), the sweep's bar stays off.
    The thread also redraws the bar every second, so elapsed time and ETA move.
    """

    TICK_S = 1.0

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.at_line_start = True
        self._saved: dict[int, int] = {}  # pipe read end -> duplicate of the original fd
        self._restore: dict[int, int] = {}  # stream fd -> duplicate to put back
        self._thread: Optional[threading.Thread] = None
        self._idle = threading.Event()

    def start(self) -> _TerminalPump:
        _flush_python_streams()
        for fd in (1, 2):
            try:
                original = os.dup(fd)
            except OSError:
                continue  # closed: nothing to show it on
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            self._saved[read_end] = original
            self._restore[fd] = os.dup(original)
        self._thread = threading.Thread(target=self._run, name="mlxlaunch-progress", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        for read_end, original in self._saved.items():
            sel.register(read_end, selectors.EVENT_READ, original)
        while sel.get_map():
            events = sel.select(self.TICK_S)
            if not events:
                self._idle.set()
                with _LOCK:
                    if self.at_line_start:
                        self.bar.refresh()
                continue
            self._idle.clear()
            for key, _ in events:
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fd)
                    os.close(key.fd)
                    os.close(key.data)
                    continue
                with _LOCK:
                    if self.at_line_start:
                        self.bar.clear()
                    try:
                        _write_all(key.data, data)
                    except OSError:
                        pass  # the terminal went away: the runs go on
                    self.at_line_start = data.endswith(b"\n")
                    if self.at_line_start:
                        self.bar.refresh()
        self._idle.set()

    def drain(self, timeout: float = 0.2) -> None:
        """Let the thread write what is already in the pipes (a finished run's last lines)."""
        _flush_python_streams()
        self._idle.clear()
        self._idle.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Put fds 1 and 2 back; the thread ends when the last writer (a worker) is gone."""
        _flush_python_streams()
        for fd, original in self._restore.items():
            os.dup2(original, fd)
            os.close(original)
        self._restore.clear()
        if self._thread is not None:
            self._thread.join(timeout)
        with _LOCK:
            if not self.at_line_start:
                self.bar.fp.write("\n")  # the bar's last draw starts on a line of its own
            self.at_line_start = True


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass


def sweep_progress(total: int, quiet: bool) -> Progress:
    """The progress display for a sweep of ``total`` points (none for one point, or quiet)."""
    if quiet or total < 2:
        return Progress()
    return SweepProgress(total)


def _private_stderr() -> TextIO:
    """A text stream on a duplicate of fd 2: a run's stream capture (which swaps fd 2) skips it."""
    try:
        sys.stderr.flush()
        return os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return sys.stderr


def _make_bar(total: int, stream: TextIO) -> Any:
    from tqdm import tqdm  # optional dependency (the cli extra), checked by terminal_with

    return tqdm(
        total=total,
        file=stream,
        desc="sweep",
        unit="run",
        dynamic_ncols=True,
        mininterval=0,
        bar_format="{desc} {percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}]{postfix}",
    )
