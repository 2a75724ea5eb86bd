"""``mlxlaunch status LOGDIR [QUERY] [-c COLUMN] [--watch N]``: the runs, reconciled with their scheduler.

The command-line face of ``mlxlaunch.manage.status``: one row per run with its status,
attempt, runtime, job (and the scheduler's state for it), chosen metric summaries and
its overrides; FAILED and LOST rows stand out on a terminal; ``--watch N`` redraws
the table every N seconds, in place on a terminal."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import UsageError
from mlxlaunch.manage.status import (
    RunView,
    check_columns,
    column_value,
    default_metric_columns,
    find_held,
    load_runs,
    reconcile,
    runtime_s,
    select_runs,
)
from mlxlaunch.render import (
    Table,
    format_seconds,
    render_plain,
    rich_renderables,
    use_rich,
)
from mlxlaunch.runfolder.layout import Status

#: How a row looks on a terminal, by status (a pipe gets plain text).
STATUS_STYLES = {
    Status.FAILED: "bold red",
    Status.LOST: "bold red",
    Status.SUBMIT_FAILED: "bold red",
    Status.INTERRUPTED: "yellow",
    Status.RUNNING: "green",
}


def show_value(value: Any) -> str:
    """A metric or config value in a table cell: 4 significant digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def format_table(runs: list[RunView], columns: Optional[list[str]] = None) -> Table:
    """The status table: id, status, attempt, runtime, job (scheduler state), columns, overrides."""
    columns = columns or []
    reasons = [_reason(r) for r in runs]
    table = Table("", ["ID", "STATUS", "ATTEMPT", "RUNTIME", "JOB", *columns, "OVERRIDES"])
    if any(reasons):
        table.columns.append("REASON")
    now = time.time()
    for r in runs:
        job = r.job_id or "-"
        if r.job_state:
            reason = f": {r.job_reason}" if r.job_reason else ""  # why it waits
            job += f" ({r.job_state}{reason})"
        runtime = runtime_s(r, now)
        overrides = " ".join(shlex.quote(str(o)) for o in r.info.get("overrides") or [])
        table.rows.append(
            [
                str(r.log_id),
                r.status,
                str(r.info.get("attempt") or "-"),
                format_seconds(runtime) if runtime is not None else "-",
                job,
                *(show_value(column_value(r, c)) for c in columns),
                overrides,
                *([reasons[len(table.rows)]] if any(reasons) else []),
            ]
        )
        table.row_styles.append(STATUS_STYLES.get(r.status, ""))
    return table


def _reason(run: RunView) -> str:
    """Why a run did not complete: the last line of its recorded error (short)."""
    if run.status == Status.COMPLETE:
        return ""
    if run.held:
        return f"held as job {run.held.record.array_job_id}, never released (see below)"
    lines = str(run.info.get("error") or "").strip().splitlines()
    text = lines[-1] if lines else ""
    if run.status == Status.LOST and run.info.get("status") == Status.QUEUED:
        text = text or "not started, and nothing will start it"  # (e.g. its job exited 75)
    elif run.status == Status.LOST:
        text = "process gone (heartbeat stale or pid dead)"
    return text if len(text) <= 70 else text[:69] + "…"


def snapshot(args: argparse.Namespace) -> tuple[Table, str]:
    """One look at the runs: the table and the counts line."""
    runs = load_runs(Path(args.logdir))
    reconcile(runs)
    held = find_held(Path(args.logdir), runs)
    selected = select_runs(runs, args.query)
    columns = [c.strip() for spec in args.columns or [] for c in spec.split(",") if c.strip()]
    if columns:
        check_columns(selected, columns)
    else:
        columns = default_metric_columns(selected)
    counts: dict[str, int] = defaultdict(int)
    for r in selected:
        counts[r.status] += 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    line = f"{len(selected)} run(s){': ' + summary if summary else ''}"
    for array in held:  # a launcher stopped between submitting and releasing
        if any(r.held is array for r in selected):
            line += f"\nmlxlaunch: {array.note(Path(args.logdir))}"
    return format_table(selected, columns), line


def run(args: argparse.Namespace) -> int:
    if args.watch is None:
        _print(snapshot(args))
        return 0
    if args.watch <= 0:
        raise UsageError(f"--watch takes a number of seconds above 0, got {args.watch}.")
    try:
        if use_rich(sys.stdout):
            _watch_live(args)
        else:
            while True:  # a pipe or a file: one table after another, each with its time
                sys.stdout.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                _print(snapshot(args))
                time.sleep(args.watch)
    except KeyboardInterrupt:  # Ctrl-C ends watching, as with `watch`
        return 0
    return 0


def _print(view: tuple[Table, str]) -> None:
    table, line = view
    if use_rich(sys.stdout):
        from rich.console import Console  # optional (the cli extra), checked by use_rich

        console = Console()
        for renderable in _rich(view):
            console.print(renderable)
    else:
        # the plain renderer indents a table by two spaces: not this command's output
        text = render_plain([table])
        sys.stdout.write("".join(row[2:] + "\n" for row in text.splitlines()) + line + "\n")
    sys.stdout.flush()


def _rich(view: tuple[Table, str]) -> list[Any]:
    """The table (without the two-space margin of ``rich_renderables``) and the counts line."""
    from rich.padding import Padding  # optional (the cli extra), checked by use_rich
    from rich.text import Text as RichText

    table, line = view
    rendered = rich_renderables([table])[0][0]
    if isinstance(rendered, Padding):
        rendered = rendered.renderable
    return [rendered, RichText(line)]


def _watch_live(args: argparse.Namespace) -> None:
    """Redraw the table in place every ``args.watch`` seconds (rich's Live display)."""
    from rich.console import Group  # optional (the cli extra), checked by use_rich
    from rich.live import Live
    from rich.text import Text as RichText

    def frame() -> Any:
        stamp = RichText(
            f"every {args.watch:g}s, {time.strftime('%H:%M:%S')} (Ctrl-C to stop)", style="dim"
        )
        return Group(stamp, *_rich(snapshot(args)))

    with Live(frame(), auto_refresh=False, screen=False) as live:
        while True:
            time.sleep(args.watch)
            live.update(frame(), refresh=True)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "status",
        help="show runs (status, attempt, runtime, job, metrics, reason), reconciled with their "
        "scheduler",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("logdir", metavar="LOGDIR", help="the parent folder of the run folders")
    p.add_argument(
        "query",
        metavar="QUERY",
        nargs="*",
        help="run ids (3 5-7) or a query, e.g. \"info.status == 'FAILED'\"",
    )
    p.add_argument(
        "-c",
        "--columns",
        metavar="COLUMN",
        action="append",
        help="a column to show (repeat it, or separate with commas): a metric summary "
        "such as train.loss.last or val.acc.max, config.<key> or info.<key>; default: "
        "the last value of each metric log's first key",
    )
    p.add_argument(
        "-w",
        "--watch",
        metavar="N",
        type=float,
        help="redraw every N seconds (in place on a terminal) until Ctrl-C",
    )
    p.set_defaults(func=run)
