"""``mlxlaunch resubmit LOGDIR [QUERY]``: rerun failed, interrupted or lost runs in place.

Each run reruns in **its own folder** from its frozen config and settings, as a
new attempt (``attempt`` + 1, the previous attempt kept in ``metadata/attempts``).
Runs that were submitted to a scheduler are submitted again as job arrays with
the same job settings; local runs rerun here, one after another. Without a query,
every FAILED, INTERRUPTED, LOST and SUBMIT_FAILED run is taken.

The settings can be changed on the way (a submission that failed on a wrong
partition cannot succeed with the same settings): ``settings_file`` (the
project's ``configs/launcher.yaml`` as it is now) wins over the saved ones, and
``KEY=VALUE`` overrides win over both. The new settings replace the run's
``metadata/launcher.yaml``, and what changed is appended to ``info.resubmissions``
(so the next attempt's record in ``metadata/attempts`` keeps it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.executors.registry import executor_for
from mlxlaunch.executors.scheduler import JobCommand
from mlxlaunch.jobenv import job_command
from mlxlaunch.launching.settings import (
    Settings,
    load_settings,
    read_settings_file,
    settings_to_dict,
)
from mlxlaunch.manage.status import RunView, load_runs, reconcile, select_runs
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.vcs import snapshot_pythonpath, snapshot_workdir

#: Statuses a run may be resubmitted from.
RESUBMITTABLE = (Status.FAILED, Status.INTERRUPTED, Status.LOST, Status.SUBMIT_FAILED)


def _snapshot_env(env: dict[str, str], git: Any) -> None:
    """Point ``env``'s ``PYTHONPATH`` at the code snapshot of a version-managed run."""
    if env.get("PYTHONPATH") and isinstance(git, dict) and git.get("snapshot"):
        root, snapshot = Path(git["repository"]), Path(git["snapshot"])
        env["PYTHONPATH"] = snapshot_pythonpath(env["PYTHONPATH"], root, snapshot)


def _requeue_info(run: RunView, changed: dict[str, list[Any]]) -> None:
    info = runfolder.read_info(run.run_dir)
    now = runfolder.now_iso()
    info.update(status=Status.QUEUED, error=None, queued_time=now)
    info["launched_by"] = runfolder.launched_by()  # a local rerun starts from here
    info.pop("requeues", None)  # a new submission gets scheduler.max_requeues afresh
    info.pop("cancelled", None)
    info.setdefault("resubmissions", []).append({"time": now, "settings_changed": changed})
    runfolder.write_info(run.run_dir, info)


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
    """The run's settings for this resubmission, and what changed."""
    saved = runfolder.metadata_path(run.run_dir, runfolder.LAUNCHER_FILE)
    before = load_settings(saved)
    if not overrides and project is None:
        return before, {}
    after = load_settings(saved, overrides, preset=project)
    if after.use_scheduler:
        executor_for(after.scheduler)  # bad job settings: an error before anything changes
    return after, changed_settings(settings_to_dict(before), settings_to_dict(after))


def resubmit_runs(
    logdir: Path,
    query: list[str],
    overrides: Optional[list[tuple[str, Any]]] = None,
    settings_file: Optional[Path] = None,
) -> tuple[list[int], list[int], list[int]]:
    """Resubmit the selected runs; return ``(resubmitted, skipped, failed local reruns)`` ids.

    ``settings_file`` (a ``launcher.yaml``) and then ``overrides`` (``(path, value)``)
    change the runs' saved settings first.
    """

    # absolute: jobs and local reruns start in the run's working folder, not here
    logdir = Path(logdir).resolve()
    runs = load_runs(logdir)
    reconcile(runs)
    selected = select_runs(runs, query)
    todo = [r for r in selected if r.status in RESUBMITTABLE]
    skipped = [r.log_id for r in selected if r.status not in RESUBMITTABLE and query]

    project = None
    if settings_file is not None:
        project = (str(settings_file), read_settings_file(Path(settings_file)))
    # every run's new settings are checked before any run is changed
    planned = [(run, *_new_settings(run, overrides or [], project)) for run in todo]
    changes: dict[int, dict[str, list]] = {}
    for run, settings, changed in planned:
        changes[run.log_id] = changed
        if changed:
            runfolder.write_settings(run.run_dir, settings_to_dict(settings))
    changed_ids = [r.log_id for r, _, c in planned if c]
    if changed_ids:
        seen = {f"{k}: {v[0]!r} -> {v[1]!r}" for c in changes.values() for k, v in c.items()}
        print(
            f"mlxlaunch: changed the settings of {len(changed_ids)} run(s): "
            f"{'; '.join(sorted(seen))}",
            flush=True,
        )

    # runs with the same job settings and command are submitted together
    groups: dict[tuple, tuple[Any, list[RunView]]] = {}
    local: list[RunView] = []
    for run, settings, _ in planned:
        sched = run.info.get("scheduler") or {}
        if settings.use_scheduler:
            key = (
                repr(settings.scheduler),
                sched.get("python") or run.info.get("python_executable"),
                run.info.get("script"),
                sched.get("workdir") or run.info.get("cwd"),
                run.info.get("module"),
            )
            groups.setdefault(key, (settings.scheduler, []))[1].append(run)
        else:
            local.append(run)

    for (_, python, script, workdir, _), (scheduler, group) in groups.items():
        executor = executor_for(scheduler)
        module = group[0].info.get("module")
        argv, env = job_command(python, Path(str(script)), group[0].run_dir, module)
        command = JobCommand.from_job_command(argv, env, workdir)
        _snapshot_env(command.env, group[0].info.get("git"))
        for run in group:
            _requeue_info(run, changes[run.log_id])
        submitted = executor.submit([r.run_dir for r in group], scheduler, command, logdir)
        print(executor.describe(submitted, logdir), flush=True)

    failed = []
    for run in local:
        _requeue_info(run, changes[run.log_id])
        python = run.info.get("python_executable") or "python"
        script = Path(str(run.info.get("script")))
        argv, job_env = job_command(python, script, run.run_dir, run.info.get("module"))
        env = {**os.environ, **job_env}
        cwd = run.info.get("cwd") or None
        git = run.info.get("git")
        if cwd and isinstance(git, dict) and git.get("snapshot") and git.get("repository"):
            # a version-managed run: start in its snapshot, never in the developer's tree
            _snapshot_env(env, git)
            cwd = str(snapshot_workdir(git, Path(cwd), script))
        proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            failed.append(run.log_id)
    return [r.log_id for r in todo], skipped, failed
