"""``mlxlaunch resubmit LOGDIR [QUERY] [KEY=VALUE ...] [--settings FILE]``: rerun runs in place.

The command-line face of ``mlxlaunch.manage.resubmit``: arguments in, a table or a line out.
A word ``KEY=VALUE`` (one ``=``; queries compare with ``==``) is a launcher setting
override, as ``+launcher.KEY=VALUE`` is on a task's command line."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from mlxlaunch.launching.settings import parse_setting_overrides
from mlxlaunch.manage.resubmit import RESUBMITTABLE, resubmit_runs

#: ``scheduler.partition=gpu`` or ``+launcher.scheduler.partition=gpu``, not ``a==b``
_SETTING = re.compile(r"^\+?[A-Za-z_][\w.]*=(?!=)")


def run(args: argparse.Namespace) -> int:
    query = [w for w in args.query if not _SETTING.match(w)]
    overrides = parse_setting_overrides([w for w in args.query if _SETTING.match(w)])
    settings_file = Path(args.settings) if args.settings else None
    done, skipped, failed = resubmit_runs(Path(args.logdir), query, overrides, settings_file)
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
    p.add_argument(
        "query",
        metavar="QUERY",
        nargs="*",
        help="run ids (3 5-7) or a query, and settings to change (scheduler.partition=gpu)",
    )
    p.add_argument(
        "--settings",
        metavar="FILE",
        help="take the settings of this launcher.yaml (e.g. the project's configs/launcher.yaml "
        "as it is now) over the runs' saved ones",
    )
    p.set_defaults(func=run)
