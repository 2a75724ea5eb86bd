"""``mlxlaunch backend add|list|set|remove``: manage the user's backend presets.

Examples::

    mlxlaunch backend add gpu_long scheduler=slurm cpus=8 mem=64G gpus=1 time=24:00:00
    mlxlaunch backend set gpu_long      # the default when a launch names no backend
    mlxlaunch backend list
    mlxlaunch backend remove gpu_long

The presets live in ``backends.yaml`` (see ``mlxlaunch/launching/presets.py``).
"""

from __future__ import annotations

import argparse
from typing import Any

from mlxlaunch.errors import UsageError
from mlxlaunch.executors.registry import LOCAL
from mlxlaunch.launching import presets as backends
from mlxlaunch.launching.settings import SETTINGS_FILE


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "backend",
        help="manage backend presets (where and with what resources runs go)",
        description=__doc__.splitlines()[0],
        epilog=f"Presets are stored in {backends.backends_file()}.",
    )
    sub = parser.add_subparsers(dest="backend_command", metavar="ACTION", required=True)

    add = sub.add_parser("add", help="add a preset: NAME scheduler=slurm cpus=4 mem=100G ...")
    add.add_argument("name", metavar="NAME")
    add.add_argument("fields", metavar="KEY=VALUE", nargs="+")
    add.add_argument("--force", action="store_true", help="replace an existing preset")
    add.set_defaults(func=add_backend)

    show = sub.add_parser("list", help="list the presets (all, or the ones named)")
    show.add_argument("names", metavar="NAME", nargs="*")
    show.set_defaults(func=list_backends)

    default = sub.add_parser("set", help="make NAME the default backend")
    default.add_argument("name", metavar="NAME")
    default.set_defaults(func=set_default)

    remove = sub.add_parser("remove", help="remove a preset")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=remove_backend)


def _check_name(name: str) -> None:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise UsageError(
            f"Backend name '{name}' may only hold letters, digits, '_' and '-' (e.g. gpu_long)."
        )
    if name in backends.BUILTIN:
        raise UsageError(
            f"'{name}' is a built-in backend and cannot be redefined; "
            f"choose another name (e.g. {name}_gpu)."
        )


def add_backend(args: argparse.Namespace) -> int:
    _check_name(args.name)
    fields = backends.parse_assignments(args.fields)
    preset = {"scheduler": fields.pop("scheduler", LOCAL), **fields}
    backends.check_preset(args.name, preset)
    with backends.editing() as presets:
        if args.name in presets.backends and not args.force:
            raise UsageError(
                f"Backend '{args.name}' already exists: "
                f"{backends.format_preset(presets.backends[args.name])}. "
                f"Add --force to replace it."
            )
        presets.backends[args.name] = preset
    print(f"Added backend '{args.name}': {backends.format_preset(preset)}")
    return 0


def list_backends(args: argparse.Namespace) -> int:
    presets = backends.read_presets()
    names = args.names or presets.names()
    rows = [(name, presets.get(name)) for name in names]  # unknown names raise, with suggestions
    width = max(len(name) for name, _ in rows)
    for name, preset in rows:
        mark = "*" if name == presets.default else " "
        builtin = (
            "  (built-in)" if name in backends.BUILTIN and name not in presets.backends else ""
        )
        print(f"{mark} {name:<{width}}  {backends.format_preset(preset)}{builtin}")
    if not args.names:
        default = presets.default or (
            f"none (a launch uses its configs/{SETTINGS_FILE} and +launcher.* settings: local "
            "unless they set use_scheduler: true)"
        )
        print(f"default: {default}; file: {backends.backends_file()}")
    return 0


def set_default(args: argparse.Namespace) -> int:
    with backends.editing() as presets:
        presets.get(args.name)  # unknown names raise, with suggestions
        presets.default = args.name
    print(f"Default backend: '{args.name}'")
    return 0


def remove_backend(args: argparse.Namespace) -> int:
    with backends.editing() as presets:
        if args.name not in presets.backends:
            if args.name in backends.BUILTIN:
                raise UsageError(f"'{args.name}' is a built-in backend; it cannot be removed.")
            presets.get(args.name)  # raises, with suggestions
        del presets.backends[args.name]
        was_default = presets.default == args.name
        if was_default:
            presets.default = ""
    note = (
        f" It was the default: a launch now uses its configs/{SETTINGS_FILE} and +launcher.* "
        "settings (local unless they set use_scheduler: true), or the backend it names."
    ) * was_default
    print(f"Removed backend '{args.name}'.{note}")
    return 0
