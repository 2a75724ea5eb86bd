"""``mlxlaunch submit script.sh``: submit a job script's sweeps as job arrays (MLXP's ``mlxpsub``).

The script's ``#SBATCH``/``#OAR``/``#PBS``/``#$``/``#BSUB`` lines give every job its
resources and its other lines before ``python`` set up the job's environment;
each ``python main.py <sweep>`` line becomes one job array, one run per point.
Arguments after the script are added to every python command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mlxlaunch.launching.submit import submit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="submit a job script's python sweeps as job arrays (MLXP's mlxpsub)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("script", metavar="SCRIPT", help="a job script, e.g. script.sh")
    parser.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="ARGS", help="added to each python command"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return submit(Path(args.script), list(args.args))
