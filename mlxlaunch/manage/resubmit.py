"""``mlxlaunch resubmit`` and ``mlxlaunch start``: run existing run folders, in place.

``resubmit`` reruns failed, interrupted or lost runs; ``start`` runs prepared
runs (``--prepare-only``, Thunder's build-then-run; or the QUEUED rest of a
stopped local sweep) that no scheduler holds. Both are one operation on other
statuses: each run runs in **its own folder** from its frozen config, as a new
attempt (``attempt`` + 1, the previous attempt kept in ``metadata/attempts``).

``+launcher.<setting>=value`` arguments change where and how they run
(``+launcher.n_workers=4``, ``+launcher.use_scheduler=true``,
``+launcher.backend=NAME``); the new settings are frozen in each run's
``launcher.yaml`` first. Runs for a scheduler are submitted as job arrays (one per
job settings and command); local runs run here in fresh interpreters, on
``n_workers`` workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import UsageError
from mlxlaunch.executors.base import LaunchSpec, PreparedRun
from mlxlaunch.executors.parallel import ParallelExecutor
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.executors.scheduler import JobCommand
from mlxlaunch.jobenv import job_command
from mlxlaunch.launching import hydra_shim
from mlxlaunch.launching.compose import parse_overrides
from mlxlaunch.launching.presets import resolve_preset
from mlxlaunch.launching.settings import NAMESPACE, Settings, load_settings, settings_to_dict
from mlxlaunch.manage.status import RunView, load_runs, reconcile, select_runs
from mlxlaunch.runfolder.attempts import mark_requeued
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.vcs import snapshot_pythonpath, snapshot_workdir

#: Statuses a run may be resubmitted from.
RESUBMITTABLE = (Status.FAILED, Status.INTERRUPTED, Status.LOST, Status.SUBMIT_FAILED)


def _snapshot_env(env: dict[str, str], git: Any) -> None:
    """Point ``env``'s ``PYTHONPATH`` at the code snapshot of a version-managed run."""
    if env.get("PYTHONPATH") and isinstance(git, dict) and git.get("snapshot"):
        root, snapshot = Path(git["repository"]), Path(git["snapshot"])
        env["PYTHONPATH"] = snapshot_pythonpath(env["PYTHONPATH"], root, snapshot)


#: Statuses ``mlxlaunch start`` takes (QUEUED runs that no scheduler job holds).
STARTABLE = (Status.QUEUED,)


def launcher_overrides(args: list[str]) -> list[tuple[str, Any]]:
    """``(path, value)`` of ``+launcher.<setting>=value`` arguments (Hydra's value grammar)."""
    out = []
    for override in parse_overrides(hydra_shim.override_parser(), args):
        key = override.key_or_group
        if not key.startswith(NAMESPACE + ".") or override.is_sweep_override():
            raise UsageError(
                f"'{override.input_line}': only launcher settings can be changed here, one "
                "value each, e.g. +launcher.n_workers=4 or +launcher.backend=cluster."
            )
        out.append((key[len(NAMESPACE) + 1 :], override.value()))
    return out


def rerun_settings(run_dir: Path, overrides: list[tuple[str, Any]]) -> Settings:
    """The run's frozen settings with ``overrides`` (and the preset ``backend=`` names)."""
    frozen = runfolder.metadata_path(run_dir, runfolder.LAUNCHER_FILE)
    settings = load_settings(frozen, overrides)
    if any(path == "backend" for path, _ in overrides):  # never the default preset: frozen wins
        preset = resolve_preset(settings.backend)
        if preset is not None:
            settings = load_settings(frozen, overrides, preset)
    return settings


def resubmit_runs(
    logdir: Path, query: list[str], overrides: Optional[list[tuple[str, Any]]] = None
) -> tuple[list[int], list[int], list[int]]:
    """Rerun the selected FAILED/INTERRUPTED/LOST/SUBMIT_FAILED runs; see ``rerun_runs``."""
    return rerun_runs(logdir, query, RESUBMITTABLE, overrides or [])


def start_runs(
    logdir: Path, query: list[str], overrides: Optional[list[tuple[str, Any]]] = None
) -> tuple[list[int], list[int], list[int]]:
    """Run the selected prepared (QUEUED, never submitted) runs; see ``rerun_runs``."""
    return rerun_runs(logdir, query, STARTABLE, overrides or [])


def _takes(run: RunView, statuses: tuple[str, ...]) -> bool:
    if run.status not in statuses:
        return False
    # a QUEUED run a scheduler holds is not prepared: it will run, or `status` says LOST
    return run.status != Status.QUEUED or not run.job_id


def rerun_runs(
    logdir: Path, query: list[str], statuses: tuple[str, ...], overrides: list[tuple[str, Any]]
) -> tuple[list[int], list[int], list[int]]:
    """Run the selected runs in one of ``statuses``; ``(run, skipped, failed locally)`` ids."""

    # absolute: jobs and local reruns start in the run's working folder, not here
    logdir = Path(logdir).resolve()
    runs = load_runs(logdir)
    reconcile(runs)
    selected = select_runs(runs, query)
    todo = [r for r in selected if _takes(r, statuses)]
    skipped = [r.log_id for r in selected if not _takes(r, statuses) and query]

    # runs with the same job settings and command are submitted together
    groups: dict[tuple, tuple[Any, list[RunView]]] = {}
    local: dict[tuple, tuple[Settings, list[RunView]]] = {}
    for run in todo:
        settings = rerun_settings(run.run_dir, overrides)
        if overrides:  # frozen first: the job reads its settings from the run folder
            runfolder.write_settings(run.run_dir, settings_to_dict(settings))
        sched = run.info.get("scheduler") or {}
        if settings.use_scheduler:
            key = (
                repr(settings.scheduler),
                sched.get("python") or run.info.get("python_executable"),
                run.info.get("script"),
                sched.get("workdir") or run.info.get("cwd"),
            )
            groups.setdefault(key, (settings.scheduler, []))[1].append(run)
        else:
            key = (
                repr(settings),
                run.info.get("python_executable") or "python",
                run.info.get("script"),
                run.info.get("cwd"),
            )
            local.setdefault(key, (settings, []))[1].append(run)

    for (_, python, script, workdir), (scheduler, group) in groups.items():
        executor = scheduler_executor(scheduler.name)
        argv, env = job_command(python, Path(str(script)), group[0].run_dir)
        command = JobCommand.from_job_command(argv, env, workdir)
        _snapshot_env(command.env, group[0].info.get("git"))
        for run in group:
            mark_requeued(run.run_dir)
        submitted = executor.submit([r.run_dir for r in group], scheduler, command, logdir)
        print(executor.describe(submitted, logdir), flush=True)

    failed = []
    for (_, python, script, cwd), (settings, group) in local.items():
        for run in group:
            mark_requeued(run.run_dir)
        failed.extend(_run_here(group, settings, python, Path(str(script)), cwd, logdir))
    return [r.log_id for r in todo], skipped, failed


def _not_here(ctx: Any) -> None:  # pragma: no cover - workers run the runs, never this process
    raise AssertionError("start/resubmit run every run in a worker process")


def _run_here(
    group: list[RunView], settings: Settings, python: str, script: Path, cwd: Any, logdir: Path
) -> list[int]:
    """Run ``group`` on this machine in fresh interpreters; the ids that did not complete."""
    workdir = Path(cwd) if cwd else Path.cwd()
    git = group[0].info.get("git")
    saved = os.environ.get("PYTHONPATH")
    if cwd and isinstance(git, dict) and git.get("snapshot") and git.get("repository"):
        # a version-managed run: start in its snapshot, never in the developer's tree
        env = dict(os.environ)
        _snapshot_env(env, git)
        if env.get("PYTHONPATH"):
            os.environ["PYTHONPATH"] = env["PYTHONPATH"]
        workdir = snapshot_workdir(git, Path(cwd), script)
    spec = LaunchSpec(
        task=_not_here,
        settings=settings,
        seeding_function=None,
        script=script,
        parent_log_dir=logdir,
        workdir=workdir,
        python=python,
    )
    runs = [PreparedRun(r.log_id, r.run_dir, runfolder.read_config(r.run_dir), []) for r in group]
    try:
        results = ParallelExecutor.from_settings(settings).launch(runs, spec)
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    return [r.log_id for r in results if r.status != Status.COMPLETE]
