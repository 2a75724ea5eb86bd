"""``--dry-run``: everything a launch would do, shown instead of done.

The command line is parsed, every point is composed and validated and the
settings are loaded exactly as for a real launch; then, instead of preparing
run folders, this module prints the points (their overrides and the config keys
that differ between them), the run ids that would be allocated, the executor
and, for a scheduler, the job script(s). It creates no folder, writes no file
and submits nothing.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import UsageError
from mlxlaunch.executors import get_executor
from mlxlaunch.executors.base import Executor, LaunchSpec, PreparedRun
from mlxlaunch.executors.scheduler import (
    JobCommand,
    SchedulerExecutor,
    id_ranges,
    user_name,
    validate,
)
from mlxlaunch.launching.compose import Plan
from mlxlaunch.launching.help import leaves, show
from mlxlaunch.launching.settings import Settings, settings_to_dict
from mlxlaunch.render import Block, Table, Text, print_blocks
from mlxlaunch.runfolder.layout import JOBS_DIR
from mlxlaunch.vcs import planned_code

#: Points shown in full; longer sweeps show the first and last few.
MAX_ROWS = 30
HEAD_ROWS, TAIL_ROWS = 20, 5


def _leaves(config: Any) -> dict[str, Any]:

    return dict(leaves(config))


def _override_keys(overrides: list[str]) -> list[str]:
    keys = []
    for text in overrides:
        key = text.split("=", 1)[0].lstrip("+~").split("@")[0]
        if key and not text.startswith("~"):
            keys.append(key)
    return keys


def differing_keys(points: list[Any]) -> list[str]:
    """Leaf keys worth a column: those an override sets (in the command's order), then
    those that vary between points (in config order). Linear in points x keys."""
    leaves = [_leaves(p.config) for p in points]
    keys: dict[str, None] = {}  # an ordered set
    for point, flat in zip(points, leaves):
        for named in _override_keys(point.overrides):
            for key in flat:
                if key == named or key.startswith(named + "."):
                    keys.setdefault(key)
    every: dict[str, None] = {}
    for flat in leaves:
        every.update(dict.fromkeys(flat))
    for key in every:
        if key not in keys:
            first = leaves[0].get(key, KeyError)
            if any(flat.get(key, KeyError) != first for flat in leaves):
                keys.setdefault(key)
    return list(keys)


def points_block(points: list[Any], ids: list[str]) -> Table:
    """The table of points: number, run id, overrides and the differing keys."""

    keys = differing_keys(points)
    rows = []
    shown = list(range(len(points)))
    if len(points) > MAX_ROWS:
        shown = shown[:HEAD_ROWS] + [-1] + shown[-TAIL_ROWS:]
    for i in shown:
        if i == -1:
            rows.append(["...", "", f"({len(points) - HEAD_ROWS - TAIL_ROWS} more points)"])
            continue
        point = points[i]
        flat = _leaves(point.config)
        values = [show(flat[k]) if k in flat else "-" for k in keys]
        rows.append([str(i + 1), ids[i], " ".join(point.overrides) or "(none)", *values])
    title = f"Points ({len(points)}):"
    return Table(title, ["#", "run id", "overrides", *keys], rows)


def _compress(ids: list[int]) -> str:
    """``[3, 4, 5, 9]`` -> ``"3-5, 9"`` (the ranges the resubmit hint prints, comma-separated)."""

    return ", ".join(id_ranges(ids).split())


def planned_ids(spec: LaunchSpec, n_points: int) -> tuple[list[int], str]:
    """The run ids the launch would use, and a sentence saying so (read-only)."""

    parent: Path = spec.parent_log_dir
    forced = spec.settings.logger.forced_log_id
    if forced != -1:
        existing = runfolder.metadata_path(parent / str(forced), runfolder.CONFIG_FILE).is_file()
        what = "reopened (resume)" if existing else "created (forced id)"
        return [forced], f"run {forced} in {parent}, {what}"
    ids = runfolder.peek_next_run_ids(parent, n_points)
    return ids, f"{_compress(ids)} in {parent} (if no other launch takes them first)"


def _settings_changes(settings: Settings) -> list[list[str]]:

    now = _leaves(settings_to_dict(settings))
    default = _leaves(settings_to_dict(Settings()))
    return [[k, show(v)] for k, v in now.items() if default.get(k, KeyError) != v]


def _describe_executor(executor: Executor) -> str:
    doc = inspect.getdoc(type(executor)) or ""
    first = doc.split("\n\n")[0].replace("\n", " ")
    name = getattr(executor, "name", "") or type(executor).__name__
    return f"{name}: {first}" if first else name


def job_scripts(
    executor: Executor, runs: list[PreparedRun], spec: LaunchSpec
) -> Optional[list[str]]:
    """The job script(s) ``executor`` would submit for ``runs``, or None if it cannot say.

    Uses the scheduler template's own pieces (``executors/scheduler.py``): its
    settings check, its chunking at the cluster's array limit and its
    ``job_script``, so the text shown is the text that would be submitted
    (only the script's own file name, chosen at submission, is not shown).
    """
    if not runs or not isinstance(executor, SchedulerExecutor):
        return None

    s = spec.settings.scheduler
    validate(s, executor.unsupported)
    command = JobCommand.from_spec(spec, runs[0].log_dir)
    size = max(1, executor.max_array_size())
    dirs = [run.log_dir for run in runs]
    output = spec.parent_log_dir / JOBS_DIR / user_name()
    return [
        executor.job_script(dirs[i : i + size], s, command, output)
        for i in range(0, len(dirs), size)
    ]


def dry_run_blocks(plan: Plan, spec: LaunchSpec) -> list[Block]:
    """What ``--dry-run`` prints for ``plan`` launched with ``spec``."""

    points = plan.points
    ids, ids_text = planned_ids(spec, len(points))
    if len(ids) < len(points):  # a forced id with a sweep: the real launch refuses it
        raise UsageError(
            f"+launcher.logger.forced_log_id={ids[0]} reopens one run, but the command is a "
            f"sweep of {len(points)} points. Drop the sweep, or the forced id."
        )
    blocks: list[Block] = [points_block(points, [str(i) for i in ids])]
    blocks.append(Text("Run ids:", ids_text))
    executor = get_executor(spec)
    blocks.append(Text("Executor:", _describe_executor(executor)))
    if spec.settings.use_version_manager:
        # the snapshot's paths, as the job scripts below will hold them (nothing is made)
        blocks.append(Text("Code:", planned_code(spec)))
    changes = _settings_changes(spec.settings)
    if changes:
        blocks.append(Table("Settings (differing from the defaults):", [], changes))
    if spec.settings.use_scheduler:
        runs = [
            PreparedRun(run_id, spec.parent_log_dir / str(run_id), p.config, p.overrides)
            for run_id, p in zip(ids, points)
        ]
        scripts = job_scripts(executor, runs, spec)
        if scripts is None:
            blocks.append(
                Text(
                    "Job script:",
                    f"(the '{getattr(executor, 'name', '?')}' executor cannot show its job "
                    "script without submitting; the scheduler settings above are what it uses)",
                )
            )
        for i, script in enumerate(scripts or []):
            title = "Job script:" if len(scripts or []) == 1 else f"Job script {i + 1}:"
            blocks.append(Text(title, script, indent=False))
    blocks.append(Text("Dry run: no run folder was created, nothing ran or was submitted.", ""))
    return blocks


def dry_run(plan: Plan, spec: LaunchSpec) -> int:
    """Print the dry run of ``plan``; return the exit code (0)."""

    print_blocks(dry_run_blocks(plan, spec))
    return 0
