"""Step 2 of a launch: one run folder per point, with frozen config, settings and info.

From here on the run folder is the job's only input: no job recomposes its
config from the live ``configs/`` tree (editing a config cannot change a sweep
that is already queued).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from mlxlaunch import runfolder
from mlxlaunch.errors import UsageError
from mlxlaunch.executors.base import LaunchSpec, PreparedRun
from mlxlaunch.launching import placeholders
from mlxlaunch.launching.compose import Plan
from mlxlaunch.launching.settings import settings_to_dict
from mlxlaunch.runfolder.attempts import queued_info, reopened_info

#: Threads writing the metadata of a large sweep: each file is fsync-ed, and on a
#: busy or network disk the writes wait on the device, not on the CPU.
WRITE_THREADS = 16


def prepare_runs(plan: Plan, spec: LaunchSpec, sweep_id: str) -> list[PreparedRun]:
    """Create (or, for a forced id, reopen) the run folders of ``plan``'s points."""
    settings = spec.settings
    parent = spec.parent_log_dir
    forced = settings.logger.forced_log_id
    settings_data = settings_to_dict(settings)
    if forced != -1:
        return [_prepare_forced(plan, spec, sweep_id, forced, settings_data)]

    total = len(plan.points)
    runs = [
        PreparedRun(
            log_id, log_dir, _filled(point.config, spec, sweep_id, log_id, log_dir), point.overrides
        )
        for point, (log_id, log_dir) in zip(plan.points, runfolder.allocate_run_dirs(parent, total))
    ]

    def write(index: int, run: PreparedRun) -> None:
        runfolder.write_config(run.log_dir, run.config)
        runfolder.write_settings(run.log_dir, settings_data)
        info = queued_info(
            run.log_id,
            run.log_dir,
            run.overrides,
            sweep_id,
            index,
            total,
            script=spec.script,
            heartbeat_interval=settings.heartbeat_interval,
        )
        info["name"] = settings.name or None  # +launcher.name: queryable as info.name
        if spec.run_info is not None:
            info.update(spec.run_info(run.config))
        runfolder.write_info(run.log_dir, info)

    if total <= 4:
        for index, run in enumerate(runs):
            write(index, run)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(WRITE_THREADS, total)) as pool:
            list(pool.map(write, range(total), runs))  # list() re-raises the first write error
    return runs


def _filled(
    config: dict[str, Any], spec: LaunchSpec, sweep_id: str, log_id: int, log_dir: Path
) -> dict[str, Any]:
    """``config`` with its ``${mlx:...}`` placeholders (``placeholders.py``) filled in."""
    values = {
        "name": spec.settings.name or sweep_id,
        "run_id": log_id,
        "sweep_id": sweep_id,
        "log_dir": str(log_dir),
    }
    return cast(dict[str, Any], placeholders.fill(config, values))


def _prepare_forced(
    plan: Plan, spec: LaunchSpec, sweep_id: str, forced: int, settings_data: dict[str, Any]
) -> PreparedRun:
    if len(plan.points) != 1:
        raise UsageError(
            f"+launcher.logger.forced_log_id={forced} reopens one run, but the command is a "
            f"sweep of {len(plan.points)} points. Drop the sweep, or the forced id."
        )
    if forced < 1:
        raise UsageError(
            f"forced_log_id must be a positive run id (or -1 for a new run), got {forced}."
        )
    point = plan.points[0]
    log_dir, existed = runfolder.claim_run_dir(spec.parent_log_dir, forced)
    config_file = runfolder.metadata_path(log_dir, runfolder.CONFIG_FILE)
    # for a resume: the frozen config (its placeholders filled long ago) with the new overrides
    config = _filled(point.config, spec, sweep_id, forced, log_dir)
    if existed and config_file.exists():
        # refuse early (before touching anything) if a live process holds the run
        with runfolder.RunLock(log_dir):
            info = reopened_info(log_dir, forced, point.overrides, spec.script)
    else:
        info = queued_info(
            forced,
            log_dir,
            point.overrides,
            sweep_id,
            0,
            1,
            script=spec.script,
            heartbeat_interval=spec.settings.heartbeat_interval,
        )
        info["name"] = spec.settings.name or None
    if spec.run_info is not None:
        info.update(spec.run_info(config))
    runfolder.write_config(log_dir, config)
    runfolder.write_settings(log_dir, settings_data)
    runfolder.write_info(log_dir, info)
    return PreparedRun(forced, log_dir, config, point.overrides)
