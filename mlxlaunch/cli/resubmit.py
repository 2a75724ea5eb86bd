"""``mlxlaunch resubmit|start LOGDIR [QUERY] [KEY=VALUE ...] [--settings FILE]``: rerun runs in place.

The command-line face of ``mlxlaunch.manage.resubmit``: arguments in, a table or a line out.
A word ``KEY=VALUE`` (one ``=``; queries compare with ``==``) is a launcher setting
override, as ``+launcher.KEY=VALUE`` is on a task's command line (both spellings work)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Callable

from mlxlaunch.launching.settings import SETTINGS_FILE, parse_setting_overrides
from mlxlaunch.manage.resubmit import RESUBMITTABLE, STARTABLE, resubmit_runs, start_runs

#: ``scheduler.partition=gpu`` or ``+launcher.scheduler.partition=gpu``, not ``a==b``
_SETTING = re.compile(r"^\+?[A-Za-z_][\w.]*=(?!=)")


def split_query(words: list[str]) -> tuple[list[str], list[tuple[str, Any]]]:
    """The query words, and the ``(path, value)`` settings among them."""
    query = [w for w in words if not _SETTING.match(w)]
    return query, parse_setting_overrides([w for w in words if _SETTING.match(w)])


def report(
    action: Callable[..., tuple[list[int], list[int], list[int]]],
    statuses: tuple[str, ...],
    verb: str,
    args: argparse.Namespace,
) -> int:
    query, overrides = split_query(list(args.query))
    settings_file = Path(args.settings) if args.settings else None
    done, skipped, failed = action(Path(args.logdir), query, overrides, settings_file)
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
            help="run ids (3 5-7) or a query, and settings to change (scheduler.partition=gpu, "
            "+launcher.n_workers=4)",
        )
        p.add_argument(
            "--settings",
            metavar="FILE",
            help=f"take the settings of this {SETTINGS_FILE} (e.g. the project's "
            f"configs/{SETTINGS_FILE} as it is now) over the runs' saved ones",
        )
        p.set_defaults(func=func)
