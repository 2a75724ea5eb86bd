"""``mlxlaunch runs LOGDIR [QUERY]``: list the runs of a logs folder that match a query.

Examples::

    mlxlaunch runs logs
    mlxlaunch runs logs "config.optimizer.lr <= 1e-2 & info.status == 'COMPLETE'"
    mlxlaunch runs logs "train.loss.last < 0.1" --columns config.optimizer.lr,train.loss.last
    mlxlaunch runs logs --format csv > runs.csv

The first line counts the matching runs by status; the table shows ``log_id``,
the status, and either ``--columns`` or the config columns that vary. The query
language is described in ``docs/reader.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Any

from mlxlaunch.errors import UnknownColumn
from mlxlaunch.reader import Reader

FORMATS = ("table", "csv", "json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runs",
        help="list the runs of a logs folder matching a query",
        description=__doc__.splitlines()[0],
        epilog="Query: == != < <= > >= in [..] & | ~ ( ) over config.*, info.*, <log>.<key>.last|min|max|...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "logdir", metavar="LOGDIR", help="the folder holding the numbered run folders"
    )
    parser.add_argument(
        "query", metavar="QUERY", nargs="?", default="", help="a query (default: all runs)"
    )
    add_reader_options(parser)
    parser.add_argument(
        "--columns",
        "-c",
        action="append",
        default=[],
        metavar="KEY[,KEY...]",
        help="columns to show (repeatable); default: the config columns that vary",
    )
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format")
    parser.set_defaults(func=run)


def add_reader_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``runs`` and ``plot``."""
    parser.add_argument(
        "--no-cache", action="store_true", help="do not use or fill the metadata cache"
    )


def open_reader(args: argparse.Namespace) -> Reader:
    """A Reader on ``args.logdir``; its warnings are printed as ``mlxlaunch: warning: ...``."""

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = Reader(args.logdir, cache_dir=False if args.no_cache else None)
    print_warnings(caught)
    return reader


def print_warnings(caught: list) -> None:
    for warning in caught:
        print(f"mlxlaunch: warning: {warning.message}", file=sys.stderr)


def _columns(args: argparse.Namespace, runs: Any, reader: Any) -> list[str]:
    wanted = [c.strip() for item in args.columns for c in item.split(",") if c.strip()]
    if not wanted:
        return list(runs.diff().columns) if len(runs) > 1 else []
    in_rows = set().union(*(run.row for run in runs))
    missing = [c for c in wanted if c not in in_rows]
    if not missing:
        return wanted
    known = in_rows | set(reader.searchable.index) | set(reader.fields.index)  # reads metrics/.keys
    for column in missing:
        if column not in known:
            raise UnknownColumn(
                column,
                sorted(known),
                how=f"'mlxlaunch runs {args.logdir} --format json' shows every field of the runs.",
                list_valid=False,  # every config key and metric of the runs: too many
            )
    return wanted


def _json_value(value: Any) -> Any:
    """``value`` as strict JSON data: numpy arrays and scalars as lists and numbers, NaN as null."""
    if hasattr(value, "tolist"):  # numpy arrays (a metric series) and scalars
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    reader = open_reader(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = reader.search(args.query)
        columns = _columns(args, runs, reader)
        if args.format == "json":
            # from the runs' values, not a DataFrame: pandas would turn ints into floats
            # next to a missing value, write NaN (not JSON) and print arrays as text
            if args.columns:
                keys = ["info.status", *columns]
                values = [[r.get(k) for k in keys] for r in runs]
            else:
                keys = [k for k in dict.fromkeys(k for r in runs for k in r.row) if k != "log_id"]
                values = [[r.row.get(k) for k in keys] for r in runs]
            records = [
                {"log_id": r.log_id, **{k: _json_value(v) for k, v in zip(keys, row)}}
                for r, row in zip(runs, values)
            ]
        else:
            frame = pd.DataFrame(
                {c: [r.get(c) for r in runs] for c in ["info.status", *columns]},
                index=pd.Index(runs.log_ids, name="log_id"),
            )
    print_warnings(caught)
    if args.format == "json":
        print(json.dumps(records, indent=2, default=str, allow_nan=False))
        return 0
    if args.format == "csv":
        frame.to_csv(sys.stdout)
        return 0
    counts = ", ".join(f"{n} {status}" for status, n in runs.status_counts().items())
    print(f"{len(runs)} of {len(reader)} runs" + (f": {counts}" if counts else ""))
    if len(runs):
        with pd.option_context(
            "display.max_rows", None, "display.max_columns", None, "display.width", 200
        ):
            print(frame.to_string())
    return 0
