"""``mlxlaunch status LOGDIR [QUERY]``: the runs' status, reconciled with their scheduler.

The command-line face of ``mlxlaunch.manage.status``: arguments in, a table or a line out."""

from __future__ import annotations

import argparse
import shlex
from collections import defaultdict
from pathlib import Path
from typing import Any

from mlxlaunch.manage.status import RunView, load_runs, reconcile, select_runs


def format_table(runs: list[RunView]) -> str:
    """A plain table: id, status, attempt, job id and scheduler state, overrides."""
    rows = [("ID", "STATUS", "ATTEMPT", "JOB", "OVERRIDES")]
    for r in runs:
        job = r.job_id or "-"
        if r.job_state:
            reason = f": {r.job_reason}" if r.job_reason else ""  # why it waits
            job += f" ({r.job_state}{reason})"
        overrides = " ".join(shlex.quote(str(o)) for o in r.info.get("overrides") or [])
        rows.append((str(r.log_id), r.status, str(r.info.get("attempt", "")), job, overrides))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def run(args: argparse.Namespace) -> int:
    runs = load_runs(Path(args.logdir))
    reconcile(runs)
    selected = select_runs(runs, args.query)
    print(format_table(selected))
    counts: dict[str, int] = defaultdict(int)
    for r in selected:
        counts[r.status] += 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(selected)} run(s){': ' + summary if summary else ''}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status",
        help="show runs, reconciling queued/running ones with their scheduler",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
    p.add_argument(
        "query",
        metavar="QUERY",
        nargs="*",
        help="run ids (3 5-7) or a query, e.g. \"info.status == 'FAILED'\"",
    )
    p.set_defaults(func=run)
