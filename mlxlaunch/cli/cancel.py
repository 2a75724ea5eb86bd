"""``mlxlaunch cancel LOGDIR QUERY``: stop the selected runs' jobs (one call per scheduler).

The command-line face of ``mlxlaunch.manage.cancel``: arguments in, a table or a line out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlxlaunch.errors import UsageError
from mlxlaunch.manage.cancel import cancel_runs


def run(args: argparse.Namespace) -> int:
    if not args.query:
        raise UsageError(
            "Say which runs to cancel: run ids (3 5-7) or a query such as "
            "\"info.status == 'QUEUED'\"."
        )
    ids, notes = cancel_runs(Path(args.logdir), args.query)
    for note in notes:
        print(f"mlxlaunch: {note}", file=sys.stderr)
    if not ids:
        print("mlxlaunch: no queued or running run matches; nothing cancelled.")
        return 0
    print(f"mlxlaunch: cancelled {len(ids)} run(s): {', '.join(map(str, ids))}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "cancel", help="cancel the jobs of queued/running runs", description=__doc__.splitlines()[0]
    )
    p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
    p.add_argument("query", metavar="QUERY", nargs="*", help="run ids (3 5-7) or a query")
    p.set_defaults(func=run)
