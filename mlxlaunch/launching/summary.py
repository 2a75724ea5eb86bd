"""The one line printed at the end of a sweep, and the command's exit code."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from mlxlaunch.runfolder.layout import Status
from mlxlaunch.running.runner import RunResult


def _ids(results: list[RunResult], status: str) -> str:
    return ", ".join(str(r.log_id) for r in results if r.status == status)


def summarize(results: list[RunResult], parent: Path, sweep_id: str) -> int:
    """Print ``mlxlaunch: N runs: 3 COMPLETE, 1 FAILED (ids 2) ...``; return the exit code.

    The exit code is 0 when every run completed (or was queued on a scheduler),
    the interrupted run's code (130/143) when one was interrupted, 1 otherwise
    (a failure, or a run left QUEUED because it could not start).
    """
    counts = Counter(r.status for r in results)
    parts = []
    for status in (
        Status.COMPLETE,
        Status.QUEUED,
        Status.FAILED,
        Status.INTERRUPTED,
        Status.SUBMIT_FAILED,
    ):
        if counts[status]:
            detail = ""
            if status not in (Status.COMPLETE, Status.QUEUED) or (
                status == Status.QUEUED and counts[Status.INTERRUPTED]
            ):
                ids = _ids(results, status)
                detail = f" (id{'s' if counts[status] > 1 else ''} {ids})"
            parts.append(f"{counts[status]} {status}{detail}")
    noun = "run" if len(results) == 1 else "runs"
    line = (
        f"mlxlaunch: {len(results)} {noun}: {', '.join(parts)}; logs in {parent} (sweep {sweep_id})"
    )
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
    interrupted = [r for r in results if r.status == Status.INTERRUPTED]
    if interrupted:
        return interrupted[0].exit_code or 130
    if any(r.status in (Status.FAILED, Status.SUBMIT_FAILED) for r in results):
        return 1
    if any(r.status == Status.QUEUED and r.exit_code for r in results):
        return 1  # a worker's run could not start (no room on the disk): nothing ran
    return 0
