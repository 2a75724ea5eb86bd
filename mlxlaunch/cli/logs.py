"""``mlxlaunch logs LOGDIR ID [--follow] [--stderr]``: print a run's captured output.

The command-line face of ``mlxlaunch.manage.logs``: like ``tail -f`` / ``kubectl logs -f``,
``--follow`` keeps printing as the run writes, and returns when it has ended."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlxlaunch.manage.logs import follow_stream, print_stream, run_folder
from mlxlaunch.runfolder.layout import STDERR_FILE, STDOUT_FILE


def run(args: argparse.Namespace) -> int:
    run_dir = run_folder(Path(args.logdir), args.id)
    out = sys.stdout.buffer
    sys.stdout.flush()
    if not args.follow:
        print_stream(run_dir, args.stderr, out)
        return 0
    try:
        follow_stream(run_dir, args.stderr, out)
    except KeyboardInterrupt:  # Ctrl-C stops following, not the run
        return 130
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "logs",
        help="print a run's captured stdout (or stderr); --follow it as it is written",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
    p.add_argument("id", metavar="ID", help="the run id")
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing as the run writes, until it ends (waits for a queued run to start)",
    )
    p.add_argument(
        "--stderr",
        action="store_true",
        help=f"print {STDERR_FILE} (tracebacks) instead of {STDOUT_FILE}",
    )
    p.set_defaults(func=run)
