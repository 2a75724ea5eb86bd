"""Step 2 of a launch: one run folder per point, with frozen config, settings and info.

From here on the run folder is the job's only input: no job recomposes its
config from the live ``configs/`` tree (editing a config cannot change a sweep
that is already queued).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from mlxlaunch import runfolder
from mlxlaunch.errors import StorageError, UsageError
from mlxlaunch.executors.base import LaunchSpec, PreparedRun
from mlxlaunch.launching import placeholders
from mlxlaunch.launching.compose import Plan
from mlxlaunch.launching.settings import settings_to_dict
from mlxlaunch.runfolder import bulk
from mlxlaunch.runfolder.attempts import queued_info, reopened_info
from mlxlaunch.runfolder.ids import remove_run_dirs
from mlxlaunch.runfolder.layout import CONFIG_FILE, INFO_FILE, LAUNCHER_FILE, Status


def prepare_runs(
    plan: Plan,
    spec: LaunchSpec,
    sweep_id: str,
    prepare_only: bool = False,
    defer_info: bool = False,
) -> list[PreparedRun]:
    """Create (or, for a forced id, reopen) the run folders of ``plan``'s points.

    A run folder says QUEUED (its ``info.yaml``) only once its config and settings
    are durable: after a crash, a QUEUED folder is complete, an unfinished one has
    no ``info.yaml``. A few points are written one file after another, each
    fsync-ed; a sweep is written in bulk (:func:`_write_in_bulk`). ``prepare_only``
    (``--prepare-only``): the runs wait for ``mlxlaunch start``, so they record no
    launching process whose end would make them read LOST. ``defer_info``: the new
    runs' ``info.yaml`` files are not written here but handed to the executor
    (``PreparedRun.info_pending``), which writes each once with its job record.
    """
    settings = spec.settings
    parent = spec.parent_log_dir
    forced = settings.logger.forced_log_id
    settings_data = settings_to_dict(settings)
    if forced != -1:
        return [_prepare_forced(plan, spec, sweep_id, forced, settings_data, prepare_only)]

    total = len(plan.points)
    runs = [
        PreparedRun(
            log_id, log_dir, _filled(point.config, spec, sweep_id, log_id, log_dir), point.overrides
        )
        for point, (log_id, log_dir) in zip(plan.points, runfolder.allocate_run_dirs(parent, total))
    ]
    try:
        if total > FEW_POINTS:
            settings_text = runfolder.dump_yaml(settings_data)
            _write_in_bulk(runs, spec, sweep_id, settings_text, prepare_only, defer_info)
            return runs
        for index, run in enumerate(runs):
            runfolder.write_config(run.log_dir, run.config)
            runfolder.write_settings(run.log_dir, settings_data)
            info = _queued(run, index, total, spec, sweep_id, prepare_only)
            if defer_info and _appendable(info):
                run.info_text, run.info_pending = runfolder.dump_yaml(info).encode(), True
            else:
                runfolder.write_info(run.log_dir, info)
    except OSError as exc:  # full disk, quota...: no half-made run folder is left behind
        remove_run_dirs([run.log_dir for run in runs])
        raise StorageError(
            exc, f"Cannot prepare {total} run folder(s) in {parent} (none was kept)"
        ) from None
    return runs


def _queued(
    run: PreparedRun,
    index: int,
    total: int,
    spec: LaunchSpec,
    sweep_id: str,
    prepare_only: bool = False,
) -> dict[str, Any]:
    """The QUEUED ``info.yaml`` of point ``index`` of ``total``."""
    info = queued_info(
        run.log_id,
        run.log_dir,
        run.overrides,
        sweep_id,
        index,
        total,
        script=spec.script,
        heartbeat_interval=spec.settings.heartbeat_interval,
        module=spec.module,
    )
    info["name"] = spec.settings.name or None  # +launcher.name: queryable as info.name
    if spec.run_info is not None:
        info.update(spec.run_info(run.config))
    if prepare_only:
        info["launched_by"] = None  # waits for `mlxlaunch start`: never abandoned
    return info


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


#: Up to this many points, each file is written and fsync-ed on its own (a single
#: run pays 3 fsyncs, not a file-system-wide flush); beyond, in bulk.
FEW_POINTS = 4


def _write_in_bulk(
    runs: list[PreparedRun],
    spec: LaunchSpec,
    sweep_id: str,
    settings: str,
    prepare_only: bool = False,
    defer_info: bool = False,
) -> None:
    """Every config and settings file, one barrier, every ``info.yaml``, one barrier.

    ``runfolder.bulk``: for 10,000 runs, 2 ``syncfs`` and 10,000 renames instead of
    30,000 ``fsync`` and 30,000 renames. Config and settings are created in place in
    the new, empty ``metadata/`` folders; ``info.yaml``, which makes the folder a
    QUEUED run, is renamed into place after they are durable. ``defer_info``: the
    ``info.yaml`` texts are only made (``run.info_text``, ``run.info_pending``), for
    the executor to write with its job record: each file is then written once, and
    no folder says QUEUED before its job exists (see ``executors/scheduler.py``).
    """
    batch = bulk.Batch(spec.parent_log_dir)
    for run in runs:
        batch.create(
            runfolder.metadata_path(run.log_dir, CONFIG_FILE), runfolder.dump_yaml(run.config)
        )
        batch.create(runfolder.metadata_path(run.log_dir, LAUNCHER_FILE), settings)
    batch.sync()  # config and settings durable before any info.yaml says QUEUED
    total = len(runs)
    for index, run in enumerate(runs):
        info = _queued(run, index, total, spec, sweep_id, prepare_only)
        text = runfolder.dump_yaml(info).encode()
        if defer_info and _appendable(info):
            run.info_text, run.info_pending = text, True
            continue
        batch.write(runfolder.metadata_path(run.log_dir, INFO_FILE), text)
        if _appendable(info):
            run.info_text = text  # a scheduler appends its job record to it
    batch.sync()


def _appendable(info: dict[str, Any]) -> bool:
    """Whether a scheduler may append its job record to ``info``'s text (``run_info``
    may have set a status or a ``scheduler`` key of its own: then it is written as is)."""
    return info.get("status") == Status.QUEUED and "scheduler" not in info


def _prepare_forced(
    plan: Plan,
    spec: LaunchSpec,
    sweep_id: str,
    forced: int,
    settings_data: dict[str, Any],
    prepare_only: bool = False,
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
        # for a resume: the frozen config (its placeholders filled long ago) with the new
        # overrides
        config = _filled(point.config, spec, sweep_id, forced, log_dir)
        if existed and config_file.exists():
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
                module=spec.module,
            )
            info["name"] = spec.settings.name or None
        if spec.run_info is not None:
            info.update(spec.run_info(config))
        if prepare_only:
            info["launched_by"] = None  # waits for `mlxlaunch start`: never abandoned
        runfolder.write_config(log_dir, config)
        runfolder.write_settings(log_dir, settings_data)
        runfolder.write_info(log_dir, info)
    except BaseException:
        lock.release()
        raise
    return PreparedRun(forced, log_dir, config, point.overrides, lock=lock)
