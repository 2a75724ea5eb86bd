"""``mlxlaunch logs``: a run's captured stdout/stderr, printed once or followed as it grows.

A run's streams are in ``log.stdout`` / ``log.stderr`` of its folder: written by the
stream capture of a local run or a worker (``log_streams_to_file``, on by default),
or by the job script's redirection on a cluster. Following a file is ``tail -f``
made aware of the run: it waits for a queued run to start, and stops once the run
has ended (COMPLETE, FAILED, INTERRUPTED, or LOST when its process died) and the
file has stopped growing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import BinaryIO

from mlxlaunch import runfolder
from mlxlaunch.errors import UsageError
from mlxlaunch.runfolder.layout import STDERR_FILE, STDOUT_FILE, Status

#: Seconds between two looks at a followed file (``tail -f`` uses 1 s).
POLL_S = 0.25
#: A followed run that has ended is read this much longer: its stream copy may lag a little.
SETTLE_S = 1.0


def run_folder(logdir: Path, log_id: str) -> Path:
    """The folder of run ``log_id`` in ``logdir``, or a one-line error saying what exists."""
    if not logdir.is_dir():
        raise UsageError(f"{logdir} is not a folder: give the parent folder of the run folders.")
    run_dir = logdir / str(log_id).strip()
    if not (str(log_id).strip().isdigit() and runfolder.is_run_dir(run_dir)):
        ids = sorted(
            int(p.name)
            for p in logdir.iterdir()
            if runfolder.RUN_ID.match(p.name) and runfolder.is_run_dir(p)
        )
        known = f"runs {ids[0]} to {ids[-1]}" if ids else "no run"
        raise UsageError(f"No run {log_id!r} in {logdir} (it has {known}).")
    return run_dir


def stream_path(run_dir: Path, stderr: bool) -> Path:
    return run_dir / (STDERR_FILE if stderr else STDOUT_FILE)


def _status(run_dir: Path) -> str:
    info = runfolder.read_info(run_dir)
    return runfolder.effective_status(run_dir, info)


def missing_stream_error(run_dir: Path, stderr: bool) -> UsageError:
    """Why a run has no captured stream, and what to do about it."""
    name = STDERR_FILE if stderr else STDOUT_FILE
    status = _status(run_dir)
    if status == Status.QUEUED:
        return UsageError(
            f"Run {run_dir.name} has not started yet (QUEUED): no {name} so far. "
            f"Use --follow to wait for it."
        )
    return UsageError(
        f"Run {run_dir.name} has no {name}: its streams were not captured "
        "(log_streams_to_file: false when it ran). Set it to true to capture the next runs."
    )


def print_stream(run_dir: Path, stderr: bool, out: BinaryIO) -> None:
    """Copy the run's captured stream to ``out`` as it is now."""
    path = stream_path(run_dir, stderr)
    try:
        with open(path, "rb") as f:
            _copy(f, out)
    except FileNotFoundError:
        raise missing_stream_error(run_dir, stderr) from None


def follow_stream(
    run_dir: Path, stderr: bool, out: BinaryIO, poll: float = POLL_S, settle: float = SETTLE_S
) -> str:
    """Copy the run's stream to ``out`` as it is written, until the run ends; its final status.

    A run that has not started yet is waited for; a run that ended without ever
    writing the stream (capture switched off) gives the same error as without
    ``--follow``.
    """
    path = stream_path(run_dir, stderr)
    f = None
    ended_at = None
    try:
        while True:
            status = _status(run_dir)
            if f is None:
                try:
                    f = open(path, "rb")
                except FileNotFoundError:
                    if status in Status.FINISHED or status == Status.LOST:
                        raise missing_stream_error(run_dir, stderr) from None
            if f is not None and _copy(f, out):
                ended_at = None  # still growing: keep reading
                continue
            if status in Status.FINISHED or status == Status.LOST:
                if ended_at is None:
                    ended_at = time.monotonic()
                elif time.monotonic() - ended_at >= settle:
                    return status
            time.sleep(poll)
    finally:
        if f is not None:
            f.close()


def _copy(f: BinaryIO, out: BinaryIO) -> int:
    """Copy what ``f`` has from its position on to ``out``; the number of bytes copied."""
    copied = 0
    while True:
        data = f.read(65536)
        if not data:
            break
        out.write(data)
        copied += len(data)
    if copied:
        out.flush()
    return copied
