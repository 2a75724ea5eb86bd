"""The ``mlxlaunch`` console script: everything that is not one run.

Each subcommand lives in its own module under ``mlxlaunch/cli/`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the function
that runs it (``func(args) -> int``). Add a subcommand by adding its module name
to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional

from mlxlaunch.errors import MlxlaunchError
from mlxlaunch.launching.decorator import version_line

#: Subcommand modules, in the order ``mlxlaunch --help`` lists them.
COMMANDS: list[str] = [
    "run",
    "backend",
    "status",
    "logs",
    "cancel",
    "resubmit",
    "runs",
    "plot",
    "cache",
    "migrate",
    "submit",
    "completion",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlxlaunch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mlxlaunch.cli.{name}").register(sub)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``, with a subcommand's options and positionals in any order.

    ``mlxlaunch runs logs -c train.loss.last "info.status == 'FAILED'"`` puts the
    query after the options: argparse's plain parsing would have given the query
    no value before ``-c`` and then refused it as an "unrecognized argument";
    ``parse_intermixed_args`` takes positionals wherever they are. A subcommand
    with subcommands of its own (``backend add``) is parsed the plain way, and
    ``run``, which takes a script's whole command line, gets it untouched (flags
    anywhere).
    """
    commands: dict[str, argparse.ArgumentParser] = {}
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        commands.update(getattr(action, "choices", None) or {})
    if argv and argv[0] in commands:
        sub = commands[argv[0]]
        if sub._subparsers is None and not _takes_remainder(sub):
            args = sub.parse_intermixed_args(argv[1:])
            args.command = argv[0]
            return args
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        if not hasattr(args, "args"):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.args = [*unknown, *args.args]
    return args


def _takes_remainder(parser: argparse.ArgumentParser) -> bool:
    """Whether ``parser`` has an ``argparse.REMAINDER`` positional (a command line to pass on)."""
    return any(action.nargs == argparse.REMAINDER for action in parser._actions)


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    args = parse(parser, sys.argv[1:] if argv is None else list(argv))
    args.root_parser = parser  # `completion` describes the whole command
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MlxlaunchError as exc:
        print(f"mlxlaunch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `mlxlaunch runs logs | head`: the reader left, not an error
        # silence the flush at exit, which would raise again (Python's documented recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a command killed by the pipe


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
