"""``mlxlaunch run [ENTRY] key=value ...``: run an MLproject entry point, swept like a script.

The command-line face of ``mlxlaunch.launching.mlproject`` (see docs/entry-points.md)."""

from __future__ import annotations

import argparse
from typing import Any

from mlxlaunch.launching.mlproject import run_entry_point


def run(args: argparse.Namespace) -> int:
    return run_entry_point(list(args.args))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run an MLproject entry point (any command) over a sweep of its parameters",
        description=__doc__.splitlines()[0],
        add_help=False,  # `mlxlaunch run ENTRY --help` describes the entry point
    )
    p.add_argument(
        "args", nargs=argparse.REMAINDER, help="[ENTRY] key=value ... and the flags of a script"
    )
    p.set_defaults(func=run)
