"""``mlxlaunch resubmit LOGDIR [QUERY]``: rerun failed, interrupted or lost runs in place.

The command-line face of ``mlxlaunch.manage.resubmit``: arguments in, a table or a line out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlxlaunch.manage.resubmit import RESUBMITTABLE, resubmit_runs


def run(args: argparse.Namespace) -> int:
    done, skipped, failed = resubmit_runs(Path(args.logdir), args.query)
    if skipped:
        print(
            f"mlxlaunch: skipped {len(skipped)} run(s) that are not "
            f"{'/'.join(RESUBMITTABLE)}: {', '.join(map(str, skipped))}"
        )
    print(f"mlxlaunch: resubmitted {len(done)} run(s): {', '.join(map(str, done)) or '-'}")
    if failed:
        print(
            f"mlxlaunch: {len(failed)} rerun(s) did not complete: {', '.join(map(str, failed))}",
            file=sys.stderr,
        )
        return 1
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "resubmit",
        help="rerun failed/interrupted/lost runs in their own folders",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
    p.add_argument("query", metavar="QUERY", nargs="*", help="run ids (3 5-7) or a query")
    p.set_defaults(func=run)
