"""Step 2 of a launch: one run folder per point, with frozen config, settings and info.

From here on the run folder is the job's only input: no job recomposes its
config from the live ``configs/`` tree (editing a config cannot change a sweep
that is already queued).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mlxlaunch import runfolder
from mlxlaunch.errors import UsageError
from mlxlaunch.executors.base import LaunchSpec, PreparedRun
from mlxlaunch.launching.compose import Plan
from mlxlaunch.launching.settings import settings_to_dict
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.running.runner import _user, close_previous_attempt


def queued_info(
    log_id: int,
    log_dir: Path,
    overrides: list[str],
    sweep_id: str,
    index: int,
    total: int,
    spec: LaunchSpec,
) -> dict[str, Any]:
    """The ``info.yaml`` of a run that is prepared but not started."""
    return {
        "status": Status.QUEUED,
        "log_id": log_id,
        "log_dir": str(log_dir),
        "attempt": 0,
        "sweep_id": sweep_id,
        "point_index": index,
        "n_points": total,
        "overrides": list(overrides),
        "queued_time": runfolder.now_iso(),
        "start_time": None,
        "end_time": None,
        "duration_s": None,
        "hostname": None,
        "pid": None,
        "user": _user(),
        "python_executable": sys.executable,
        "python_version": sys.version.split()[0],
        "script": str(spec.script),
        "module": spec.module,  # started as python -m <module>: reruns start the same way
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "exit_code": None,
        "error": None,
        "heartbeat_interval": spec.settings.heartbeat_interval,
        # if this process is gone while the run is still QUEUED (no job), nobody will run it
        "launched_by": runfolder.launched_by(),
    }


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
        PreparedRun(log_id, log_dir, point.config, point.overrides)
        for point, (log_id, log_dir) in zip(plan.points, runfolder.allocate_run_dirs(parent, total))
    ]

    def write(index: int, run: PreparedRun) -> None:
        runfolder.write_config(run.log_dir, run.config)
        runfolder.write_settings(run.log_dir, settings_data)
        info = queued_info(run.log_id, run.log_dir, run.overrides, sweep_id, index, total, spec)
        runfolder.write_info(run.log_dir, info)

    if total <= 4:
        for index, run in enumerate(runs):
            write(index, run)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(WRITE_THREADS, total)) as pool:
            list(pool.map(write, range(total), runs))  # list() re-raises the first write error
    return runs


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
    # Refused before anything is written if a live process holds the run, and held from
    # here on: by an in-process run until it ends, so a second resume started meanwhile is
    # refused before it can write its config over this one's (PreparedRun.release_lock).
    lock = runfolder.RunLock(log_dir)
    lock.acquire()
    try:
        config_file = runfolder.metadata_path(log_dir, runfolder.CONFIG_FILE)
        config = point.config  # for a resume: the frozen config with this command's overrides
        if existed and config_file.exists():
            info, _ = close_previous_attempt(log_dir)  # its record keeps its own command
            if point.overrides:
                info.setdefault("resume_overrides", []).append(list(point.overrides))
            info.pop("requeues", None)  # a resume is a new submission: max_requeues afresh
            info.pop("cancelled", None)
            info.update(
                status=Status.QUEUED,  # to run again, even if COMPLETE (the runner skips those)
                log_id=forced,
                log_dir=str(log_dir),
                script=str(spec.script),
                argv=list(sys.argv),  # the command of this attempt; earlier ones in attempts/
                cwd=os.getcwd(),
                launched_by=runfolder.launched_by(),
            )
        else:
            info = queued_info(forced, log_dir, point.overrides, sweep_id, 0, 1, spec)
        runfolder.write_config(log_dir, config)
        runfolder.write_settings(log_dir, settings_data)
        runfolder.write_info(log_dir, info)
    except BaseException:
        lock.release()
        raise
    return PreparedRun(forced, log_dir, config, point.overrides, lock=lock)
