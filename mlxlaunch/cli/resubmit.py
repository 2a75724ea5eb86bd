"""``mlxlaunch resubmit LOGDIR [QUERY] [+launcher.k=v ...]``: rerun failed, interrupted or lost runs.

The command-line face of ``mlxlaunch.manage.resubmit``: arguments in, a table or a line out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from mlxlaunch.manage.resubmit import (
    RESUBMITTABLE,
    STARTABLE,
    launcher_overrides,
    resubmit_runs,
    start_runs,
)


def split_query(words: list[str]) -> tuple[list[str], list[tuple[str, Any]]]:
    """The query words, and the ``+launcher.*`` settings among them."""
    settings = [w for w in words if w.startswith("+launcher.")]
    return [w for w in words if w not in settings], launcher_overrides(settings)


def report(
    action: Callable[..., tuple[list[int], list[int], list[int]]],
    statuses: tuple[str, ...],
    verb: str,
    args: argparse.Namespace,
) -> int:
    query, overrides = split_query(list(args.query))
    done, skipped, failed = action(Path(args.logdir), query, overrides)
    if skipped:
        print(
            f"mlxlaunch: skipped {len(skipped)} run(s) that are not "
            f"{'/'.join(statuses)}: {', '.join(map(str, skipped))}"
        )
    print(f"mlxlaunch: {verb} {len(done)} run(s): {', '.join(map(str, done)) or '-'}")
    if failed:
        print(
            f"mlxlaunch: {len(failed)} {'re' if verb == 'resubmitted' else ''}run(s) did not "
            f"complete: {', '.join(map(str, failed))}",
            file=sys.stderr,
        )
        return 1
    return 0


def run(args: argparse.Namespace) -> int:
    return report(resubmit_runs, RESUBMITTABLE, "resubmitted", args)


def run_start(args: argparse.Namespace) -> int:
    return report(start_runs, STARTABLE, "started", args)


def register(subparsers: Any) -> None:
    for name, func, help_text in (
        ("resubmit", run, "rerun failed/interrupted/lost runs in their own folders"),
        ("start", run_start, "run prepared runs (--prepare-only) on any executor or backend"),
    ):
        p = subparsers.add_parser(name, help=help_text, description=help_text)
        p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
        p.add_argument(
            "query",
            metavar="QUERY",
            nargs="*",
            help="run ids (3 5-7) or a query; +launcher.<setting>=value changes where they run",
        )
        p.set_defaults(func=func)
