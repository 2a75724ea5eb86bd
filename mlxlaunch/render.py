"""Printing ``--help`` and ``--dry-run``: plain text, or ``rich`` tables on a terminal.

Commands build a list of blocks (a ``Table`` or a ``Text``) and hand it to
``print_blocks``. On a terminal that supports it, and when ``rich`` (the ``cli``
extra) is installed, the blocks are drawn with rich; otherwise (a pipe, a file,
``TERM=dumb``, ``MLXLAUNCH_PLAIN=1``, no rich) they are printed as aligned plain
text, which is also what tests and ``docs/cli.md`` show.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO, Union


@dataclass
class Table:
    """A titled table; ``columns`` are the headers (empty: no header line)."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    #: a rich style per row ("" for none), e.g. "bold red" for a failed run; plain text ignores it
    row_styles: list[str] = field(default_factory=list)


@dataclass
class Text:
    """A titled block of preformatted text, indented by two spaces unless ``indent`` is false.

    ``indent=False`` is for text meant to be copied as it is (a job script).
    """

    title: str
    body: str
    indent: bool = True


Block = Union[Table, Text]


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a real terminal worth drawing on: not dumb, not opted out
    (``MLXLAUNCH_PLAIN=1``). Pipes and files get plain text."""
    if os.environ.get("MLXLAUNCH_PLAIN") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def terminal_with(stream: TextIO, package: str) -> bool:
    """Whether ``stream`` is a real terminal (``is_terminal``) and the optional ``package``
    that draws on it (rich, tqdm: the cli extra) is installed. Nothing is imported."""
    return is_terminal(stream) and importlib.util.find_spec(package) is not None


def use_rich(stream: TextIO) -> bool:
    """Whether to draw with rich: a real terminal and rich installed."""
    return terminal_with(stream, "rich")


_RST_LITERAL = re.compile(r"``([^`]+)``")


def _unmark(text: str) -> str:
    """Docstring markup (``ask``) as a terminal user reads it: 'ask'."""
    return _RST_LITERAL.sub(r"'\1'", text)


def _plain_table(table: Table) -> list[str]:
    rows = [table.columns, *table.rows] if table.columns else list(table.rows)
    rows = [[_unmark(cell) for cell in row] for row in rows]
    if not rows:
        return []
    n = max(len(r) for r in rows)
    widths = [max((len(r[i]) for r in rows if i < len(r)), default=0) for i in range(n)]
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def render_plain(blocks: list[Block]) -> str:
    """The blocks as plain text: a title line, then the content indented by two spaces."""
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("")
        if block.title:
            out.append(block.title)
        if isinstance(block, Table):
            out.extend(_plain_table(block))
        else:
            pad = "  " if block.indent else ""
            body = _unmark(block.body) if block.indent else block.body  # a script stays as is
            out.extend((pad + line).rstrip() for line in body.splitlines())
    return "\n".join(out) + "\n"


def rich_renderables(blocks: list[Block]) -> list[tuple[Any, bool]]:
    """The blocks as rich renderables, each with its ``soft_wrap`` flag (rich must be installed)."""
    from rich.padding import Padding
    from rich.table import Table as RichTable
    from rich.text import Text as RichText

    out: list[tuple[Any, bool]] = []
    for i, block in enumerate(blocks):
        if i:
            out.append((RichText(""), False))
        if block.title:
            out.append((RichText(block.title, style="bold"), False))
        if isinstance(block, Table):
            table = RichTable(
                show_header=bool(block.columns), box=None, padding=(0, 2, 0, 0), pad_edge=False
            )
            names = block.columns or [""] * max((len(r) for r in block.rows), default=0)
            rows = [[_unmark(cell) for cell in row] for row in block.rows]
            for i, name in enumerate(names):
                last = i == len(names) - 1
                # every column but the last (the description) keeps its full width: a
                # setting's name must never be cut; the last one wraps at the terminal's edge
                width = max([len(name)] + [len(r[i]) for r in rows if i < len(r)])
                table.add_column(
                    name,
                    style="cyan" if i == 0 and not block.columns else None,
                    no_wrap=not last,
                    min_width=None if last else width,
                    overflow="fold",
                )
            for j, row in enumerate(rows):
                style = block.row_styles[j] if j < len(block.row_styles) else ""
                table.add_row(*(RichText(cell) for cell in row), style=style or None)
            out.append((Padding(table, (0, 0, 0, 2), expand=False), False))
        else:
            pad = "  " if block.indent else ""
            body = _unmark(block.body) if block.indent else block.body  # a script stays as is
            text = RichText("\n".join(pad + line for line in body.splitlines()))
            # text to copy as it is (a job script) must not get newlines at the terminal's width
            out.append((text, not block.indent))
    return out


def _print_rich(blocks: list[Block], stream: TextIO) -> None:
    from rich.console import Console

    console = Console(file=stream)
    for renderable, soft_wrap in rich_renderables(blocks):
        console.print(renderable, soft_wrap=soft_wrap)


def format_seconds(seconds: float) -> str:
    """``12.3s``, ``4m05s``, ``2h03m``: a duration short and readable at a glance."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def print_blocks(blocks: list[Block], stream: Any = None) -> None:
    """Print the blocks to ``stream`` (stdout by default), with rich when it fits."""
    stream = stream or sys.stdout
    if use_rich(stream):
        _print_rich(blocks, stream)
    else:
        stream.write(render_plain(blocks))
    stream.flush()
