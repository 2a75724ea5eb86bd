"""``mlxlaunch plot LOGDIR METRIC [QUERY]``: draw a metric's curves for the matching runs.

Examples::

    mlxlaunch plot logs train.loss -o curves.png
    mlxlaunch plot logs train.loss "info.status == 'COMPLETE'" --by config.optimizer.lr -o lr.png
    mlxlaunch plot logs train.loss --by config.optimizer.lr --agg mean --logy -o lr.svg

One curve per run, coloured by the value of ``--by`` (sorted legend), or with ``--agg
mean|median`` one curve per ``--by`` value with a band over its runs; needs matplotlib
(``pip install 'mlxlaunch[plot]'``). The Reader has the same as ``reader.plot``.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

from mlxlaunch.cli.runs import add_reader_options, open_reader, print_warnings
from mlxlaunch.errors import UnknownColumn, UsageError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a metric's curves for the runs matching a query",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "logdir", metavar="LOGDIR", help="the folder holding the numbered run folders"
    )
    parser.add_argument("metric", metavar="METRIC", help="<log>.<key>, e.g. train.loss")
    parser.add_argument(
        "query", metavar="QUERY", nargs="?", default="", help="a query (default: all runs)"
    )
    parser.add_argument(
        "--by", metavar="KEY", help="colour the curves by this column, e.g. config.optimizer.lr"
    )
    parser.add_argument(
        "-x", default="step", metavar="KEY", help="x axis: step (default) or a key of the log"
    )
    parser.add_argument("--logy", action="store_true", help="log-scale y axis")
    parser.add_argument("--logx", action="store_true", help="log-scale x axis")
    parser.add_argument(
        "--agg",
        choices=("mean", "median"),
        help="one curve per --by value over its runs (the seeds): mean with a ±std band, "
        "or median with a min-max band",
    )
    parser.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="image file (default: METRIC.png)"
    )
    add_reader_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    reader = open_reader(args)
    output = args.output or f"{args.metric}.png"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = reader.search(args.query)
        if not len(runs):
            raise UsageError(f"No run of {args.logdir} matches {args.query!r}: nothing to plot.")
        known = set().union(*(run.row for run in runs))
        if args.by and args.by not in known:
            raise UnknownColumn(args.by, sorted(known), kind="--by column", list_valid=False)
        try:
            import matplotlib

            matplotlib.use("Agg")  # a file is the output: no window, no display needed
        except ImportError:
            pass  # runs.plot explains how to install it
        runs.plot(
            args.metric,
            by=args.by,
            x=args.x,
            output=output,
            logy=args.logy,
            logx=args.logx,
            agg=args.agg,
            title=f"{args.metric}: {args.query}" if args.query else None,
        )
    print_warnings(caught)
    print(f"wrote {output} ({len(runs)} runs)")
    return 0
