"""``mlxlaunch cache [info|prune|clear]``: where the Reader's cache is, how big, and cleaning it.

The cache (``mlxlaunch.reader.cache``) holds one index per logs folder read; it is
rebuilt from the run folders whenever needed, so removing it only costs speed."""

from __future__ import annotations

import argparse
from typing import Any

from mlxlaunch.reader.cache import cache_usage, clear, default_cache_dir, prune


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


def run(args: argparse.Namespace) -> int:
    folder = default_cache_dir()
    if folder is None:
        print("The Reader's cache is off (MLXLAUNCH_CACHE_DIR=off).")
        return 0
    action = args.cache_command or "info"
    if action == "prune":
        removed, freed = prune(folder)
        print(f"{folder}: removed {removed} stale index(es), freed {_size(freed)}")
    elif action == "clear":
        print(f"{folder}: cleared, freed {_size(clear(folder))}")
    else:
        usage = cache_usage(folder)
        total = sum(size for _, _, size in usage)
        print(f"{folder}: {len(usage)} index(es), {_size(total)}")
        for logs, _, size in usage:
            print(f"  {_size(size):>9}  {logs or '(unreadable index)'}")
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "cache",
        help="show the Reader's cache (one index per logs folder); prune or clear it",
        description=__doc__.splitlines()[0],
    )
    sub = p.add_subparsers(dest="cache_command", metavar="ACTION")
    sub.add_parser("info", help="where the cache is and the size of each index (the default)")
    sub.add_parser(
        "prune", help="drop the indexes of logs folders that are gone and entries of deleted runs"
    )
    sub.add_parser("clear", help="remove every index (it is rebuilt when next needed)")
    p.set_defaults(func=run)
