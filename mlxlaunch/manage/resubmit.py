"""``mlxlaunch resubmit`` and ``mlxlaunch start``: run existing run folders, in place.

``resubmit`` reruns failed, interrupted or lost runs; ``start`` runs prepared
runs (``--prepare-only``, Thunder's build-then-run; the QUEUED rest of a
stopped local sweep; a run whose job ended without starting it, e.g. on a full
disk) that no scheduler holds. Both are one operation on other
statuses: each run runs in **its own folder** from its frozen config, as a new
attempt (``attempt`` + 1, the previous attempt kept in ``metadata/attempts``).

The settings can be changed on the way (a submission that failed on a wrong
partition cannot succeed with the same settings, and ``+launcher.n_workers=4``,
``+launcher.use_scheduler=true`` or ``+launcher.backend=NAME`` choose where they
run): ``settings_file`` (the project's ``configs/launcher.yaml`` as it is now)
wins over the saved ones, and ``KEY=VALUE`` overrides win over both. Every run's
new settings are checked before any run is changed; they replace the run's
``metadata/launcher.yaml``, and what changed is appended to ``info.resubmissions``
(so the next attempt's record in ``metadata/attempts`` keeps it). Runs for a
scheduler are submitted as job arrays (one per job settings and command); local
runs run here in fresh interpreters, on ``n_workers`` workers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.executors.base import LaunchSpec, PreparedRun
from mlxlaunch.executors.parallel import ParallelExecutor
from mlxlaunch.executors.registry import executor_for, scheduler_executor
from mlxlaunch.executors.scheduler import JobCommand, id_ranges
from mlxlaunch.jobenv import job_command
from mlxlaunch.launching.presets import resolve_preset
from mlxlaunch.launching.settings import (
    Settings,
    load_settings,
    read_settings_file,
    settings_to_dict,
)
from mlxlaunch.manage.cancel import withdraw_held
from mlxlaunch.manage.status import RunView, find_held, load_runs, reconcile, select_runs
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


def rerun_settings(
    run_dir: Path,
    overrides: list[tuple[str, Any]],
    project: Optional[tuple[str, dict[str, Any]]] = None,
) -> Settings:
    """The run's frozen settings, ``project``'s over them, then ``overrides``.

    A ``backend=`` override brings its preset (never the default preset: what
    the run was frozen with wins).
    """
    frozen = runfolder.metadata_path(run_dir, runfolder.LAUNCHER_FILE)
    settings = load_settings(frozen, overrides, file_layer=project)
    if any(path == "backend" for path, _ in overrides):
        preset = resolve_preset(settings.backend)
        if preset is not None:
            settings = load_settings(frozen, overrides, preset, file_layer=project)
    return settings


def changed_settings(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> dict[str, list]:
    """``{"scheduler.partition": [old, new], ...}``: the leaves that differ."""
    out: dict[str, list] = {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(changed_settings(a, b, f"{prefix}{key}."))
        elif a != b:
            out[f"{prefix}{key}"] = [a, b]
    return out


def _new_settings(
    run: RunView, overrides: list[tuple[str, Any]], project: Optional[tuple[str, dict]]
) -> tuple[Settings, dict[str, list]]:
    """The run's settings for this rerun, and what changed."""
    before = load_settings(runfolder.metadata_path(run.run_dir, runfolder.LAUNCHER_FILE))
    if not overrides and project is None:
        return before, {}
    after = rerun_settings(run.run_dir, overrides, project)
    if after.use_scheduler:
        executor_for(after.scheduler)  # bad job settings: an error before anything changes
    return after, changed_settings(settings_to_dict(before), settings_to_dict(after))


def _requeue_info(run: RunView, changed: dict[str, list[Any]]) -> None:
    """Set the run back to QUEUED for another attempt, recording what changed."""
    info = runfolder.read_info(run.run_dir)
    now = runfolder.now_iso()
    info.update(status=Status.QUEUED, error=None, queued_time=now)
    info["launched_by"] = runfolder.launched_by()  # a local rerun starts from here
    info.pop("requeues", None)  # a new submission gets scheduler.max_requeues afresh
    info.pop("cancelled", None)
    if changed:
        info.setdefault("resubmissions", []).append({"time": now, "settings_changed": changed})
    runfolder.write_info(run.run_dir, info)


def resubmit_runs(
    logdir: Path,
    query: list[str],
    overrides: Optional[list[tuple[str, Any]]] = None,
    settings_file: Optional[Path] = None,
) -> tuple[list[int], list[int], list[int]]:
    """Rerun the selected FAILED/INTERRUPTED/LOST/SUBMIT_FAILED runs; see ``rerun_runs``."""
    return rerun_runs(logdir, query, RESUBMITTABLE, overrides or [], settings_file)


def start_runs(
    logdir: Path,
    query: list[str],
    overrides: Optional[list[tuple[str, Any]]] = None,
    settings_file: Optional[Path] = None,
) -> tuple[list[int], list[int], list[int]]:
    """Run the selected prepared (QUEUED, never submitted) runs; see ``rerun_runs``."""
    return rerun_runs(logdir, query, STARTABLE, overrides or [], settings_file)


def _takes(run: RunView, statuses: tuple[str, ...]) -> bool:
    if Status.QUEUED in statuses and _abandoned(run):
        return True  # the rest of a stopped local sweep: prepared, and nobody will run it
    if run.status not in statuses:
        return False
    # a QUEUED run a scheduler holds is not prepared: it will run, or `status` says LOST
    return run.status != Status.QUEUED or not run.job_id


def _abandoned(run: RunView) -> bool:
    """A prepared run nobody will start (LOST, ``info.yaml`` still QUEUED).

    Its launching process is gone (a stopped local sweep), or its job is: the
    scheduler forgot it, or it exited 75 (no room for the run's disk reserve).
    ``status`` derives LOST only from the scheduler's answer, so a job that may
    still start the run is never submitted twice.
    """
    return run.status == Status.LOST and run.info.get("status") == Status.QUEUED


def rerun_runs(
    logdir: Path,
    query: list[str],
    statuses: tuple[str, ...],
    overrides: list[tuple[str, Any]],
    settings_file: Optional[Path] = None,
) -> tuple[list[int], list[int], list[int]]:
    """Run the selected runs in one of ``statuses``; ``(run, skipped, failed locally)`` ids.

    ``settings_file`` (a ``launcher.yaml``) and then ``overrides`` (``(path, value)``)
    change the runs' saved settings first.
    """

    # absolute: jobs and local reruns start in the run's working folder, not here
    logdir = Path(logdir).resolve()
    runs = load_runs(logdir)
    reconcile(runs)
    selected = select_runs(runs, query)
    held = find_held(logdir, runs) if statuses == RESUBMITTABLE else []
    if any(r.held for r in selected):
        # an array a stopped launcher left held: withdrawn first, so nothing runs twice
        withdrawn = withdraw_held(held, selected)
        print(f"mlxlaunch: withdrew the held job(s) of run(s) {id_ranges(withdrawn)}", flush=True)
        runs = load_runs(logdir)
        reconcile(runs)
        selected = select_runs(runs, query)
    todo = [r for r in selected if _takes(r, statuses)]
    skipped = [r.log_id for r in selected if not _takes(r, statuses) and query]

    project = None
    if settings_file is not None:
        project = (str(settings_file), read_settings_file(Path(settings_file)))
    # every run's new settings are checked before any run is changed
    planned = [(run, *_new_settings(run, overrides, project)) for run in todo]
    changes: dict[int, dict[str, list]] = {}
    for run, settings, changed in planned:
        changes[run.log_id] = changed
        if changed:  # frozen first: the job reads its settings from the run folder
            runfolder.write_settings(run.run_dir, settings_to_dict(settings))
    if any(changes.values()):
        seen = {f"{k}: {v[0]!r} -> {v[1]!r}" for c in changes.values() for k, v in c.items()}
        print(
            f"mlxlaunch: changed the settings of {sum(map(bool, changes.values()))} run(s): "
            f"{'; '.join(sorted(seen))}",
            flush=True,
        )

    # runs with the same job settings and command are submitted together
    groups: dict[tuple, tuple[Any, list[RunView]]] = {}
    local: dict[tuple, tuple[Settings, list[RunView]]] = {}
    for run, settings, _ in planned:
        sched = run.info.get("scheduler") or {}
        module = run.info.get("module")  # started as python -m module: it reruns the same way
        if settings.use_scheduler:
            key = (
                repr(settings.scheduler),
                sched.get("python") or run.info.get("python_executable"),
                run.info.get("script"),
                sched.get("workdir") or run.info.get("cwd"),
                module,
            )
            groups.setdefault(key, (settings.scheduler, []))[1].append(run)
        else:
            key = (
                repr(settings),
                run.info.get("python_executable") or "python",
                run.info.get("script"),
                run.info.get("cwd"),
                module,
            )
            local.setdefault(key, (settings, []))[1].append(run)

    for (_, python, script, workdir, module), (scheduler, group) in groups.items():
        executor = scheduler_executor(scheduler.name)
        argv, env = job_command(python, Path(str(script)), group[0].run_dir, module)
        command = JobCommand.from_job_command(argv, env, workdir)
        _snapshot_env(command.env, group[0].info.get("git"))
        for run in group:
            _requeue_info(run, changes[run.log_id])
        submitted = executor.submit([r.run_dir for r in group], scheduler, command, logdir)
        print(executor.describe(submitted, logdir), flush=True)

    failed = []
    for (_, python, script, cwd, module), (settings, group) in local.items():
        for run in group:
            _requeue_info(run, changes[run.log_id])
        failed.extend(_run_here(group, settings, python, Path(str(script)), cwd, logdir, module))
    return [r.log_id for r in todo], skipped, failed


def _not_here(ctx: Any) -> None:  # pragma: no cover - workers run the runs, never this process
    raise AssertionError("start/resubmit run every run in a worker process")


def _run_here(
    group: list[RunView],
    settings: Settings,
    python: str,
    script: Path,
    cwd: Any,
    logdir: Path,
    module: Optional[str] = None,
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
        module=module,
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
