"""``mlxlaunch migrate configs/mlxp.yaml``: write the equivalent ``configs/launcher.yaml``.

Every MLXP setting is translated (``docs/migrating-from-mlxp.md`` lists how);
a setting with no meaning here is left out with a note. An existing
``launcher.yaml`` is kept unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mlxlaunch.launching import mlxp
from mlxlaunch.launching.settings import SETTINGS_FILE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help=f"write the {SETTINGS_FILE} equivalent to an MLXP mlxp.yaml",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("mlxp_file", metavar="FILE", help="MLXP's settings, e.g. configs/mlxp.yaml")
    parser.add_argument("--force", action="store_true", help=f"replace an existing {SETTINGS_FILE}")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    target, notes = mlxp.migrate(Path(args.mlxp_file), force=args.force)
    for text in notes:
        print(f"mlxlaunch: note: {text}", file=sys.stderr)
    print(f"wrote {target}")
    return 0
