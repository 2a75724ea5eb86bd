"""``@mlxlaunch.launch``: turn ``def task(ctx)`` into a command that runs sweeps.

A launch flows in four steps (see ``docs/launching.md``):

1. parse the command line, expand the sweep, compose and validate every point;
2. allocate one run folder per point and freeze its config, settings and info;
3. hand the prepared runs to an executor (local by default);
4. print a one-line summary and exit non-zero if any point did not complete.

When the environment names a prepared run folder (``MLXLAUNCH_RUN_DIR``), the
script is a job or a worker: it runs that folder and nothing else.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

from mlxlaunch import runfolder
from mlxlaunch._version import __version__
from mlxlaunch.errors import (
    MlxlaunchError,
    NotStartedError,
    StorageError,
    UnknownSetting,
    UsageError,
    did_you_mean,
)
from mlxlaunch.executors import LaunchSpec, get_executor
from mlxlaunch.executors.registry import detect_scheduler
from mlxlaunch.executors.scheduler import id_ranges
from mlxlaunch.jobenv import ENV_RUN_DIR, STANDBY_RUN_DIR
from mlxlaunch.launching import mlxp, placeholders, repl
from mlxlaunch.launching.argv import CommandLine, parse_command_line
from mlxlaunch.launching.compose import Composer, Plan, Point, apply_overrides, as_typed
from mlxlaunch.launching.configfiles import EXTENSIONS, export_points, is_file_reference
from mlxlaunch.launching.confirm import confirm_submission
from mlxlaunch.launching.dryrun import dry_run
from mlxlaunch.launching.help import print_help
from mlxlaunch.launching.prepare import prepare_runs
from mlxlaunch.launching.presets import resolve_preset
from mlxlaunch.launching.progress import sweep_progress
from mlxlaunch.launching.schema import check_schema, validate
from mlxlaunch.launching.settings import SETTINGS_FILE, Settings, load_settings, resolve_path
from mlxlaunch.launching.submit import settings_from_environment
from mlxlaunch.launching.summary import summarize
from mlxlaunch.runfolder.layout import CONFIG_FILE, LAUNCHER_FILE, metadata_path
from mlxlaunch.runfolder.metadata import dump_yaml, read_info
from mlxlaunch.running.runner import SeedingFunction, run_prepared
from mlxlaunch.vcs import prepare_code


def _script_dir(task: Callable[..., Any]) -> Path:
    try:
        return Path(inspect.getfile(task)).resolve().parent
    except TypeError:  # defined interactively
        return Path.cwd()


def launch(
    config_path: str = "configs",
    config_name: str = "config",
    seeding_function: Optional[Callable[[Any], Any]] = None,
    schema: Optional[type] = None,
) -> Callable[[Callable[..., Any]], Callable[[], None]]:
    """Decorate ``def task(ctx)`` so that calling it runs the command line's sweep.

    ``config_path`` (relative to the script's folder) holds ``<config_name>.yaml``
    and, optionally, ``launcher.yaml``. ``seeding_function(config.seed)`` is called
    before the task in each run. ``schema`` (a dataclass) types the config: every
    point is checked against it before anything runs (``docs/cli.md``).
    """
    if schema is not None:
        check_schema(schema)

    def decorator(task: Callable[..., Any]) -> Callable[[], None]:
        @functools.wraps(task)
        def main() -> None:
            _main(task, config_path, config_name, seeding_function, schema)

        main.__wrapped_task__ = task  # type: ignore[attr-defined]
        return main

    return decorator


def _main(
    task: Callable[..., Any],
    config_path: str,
    config_name: str,
    seeding_function: SeedingFunction,
    schema: Optional[type] = None,
) -> None:
    verbose = "--verbose" in sys.argv[1:]
    try:
        run_dir = os.environ.pop(ENV_RUN_DIR, None)
        if run_dir == STANDBY_RUN_DIR:
            run_dir = _wait_for_run_dir()
            if not run_dir:
                return  # the parallel executor no longer needs this worker
        if run_dir:
            code = _run_job(Path(run_dir), task, seeding_function)
        else:
            code = _run_command(
                task, config_path, config_name, seeding_function, sys.argv[1:], schema
            )
    except MlxlaunchError as exc:
        if verbose:
            raise
        sys.stderr.write(f"mlxlaunch: error: {exc}\n")
        sys.stderr.flush()
        code = exc.exit_code
    except OSError as exc:  # full disk, read-only folder, permission, quota: one line
        if verbose:
            raise
        sys.stderr.write(f"mlxlaunch: error: {StorageError(exc)}\n")
        sys.stderr.flush()
        code = StorageError.exit_code
    if code:
        sys.exit(code)


def _wait_for_run_dir() -> str:
    """Standby worker of the parallel executor: import what a run needs, then read its folder.

    The script's own imports are done by now too, so the worker starts its run
    at once when the point before it on the same worker slot ends.
    """
    import omegaconf  # noqa: F401

    return sys.stdin.readline().strip()


def _run_job(run_dir: Path, task: Callable[..., Any], seeding_function: SeedingFunction) -> int:
    """Job/worker mode: run the prepared folder ``run_dir`` exactly as frozen."""

    settings = load_settings(metadata_path(run_dir, LAUNCHER_FILE))
    try:
        result = run_prepared(run_dir, task, settings, seeding_function)
    except NotStartedError as exc:  # it stays QUEUED: tell the launcher it never started
        _say_not_started(exc)
        return NotStartedError.job_exit_code
    return result.exit_code or 0


def _say_not_started(exc: NotStartedError) -> None:
    """Print why the run did not start, even on a full disk; never fail.

    A job's output goes to its run's ``log.stdout``/``log.stderr``, maybe on the very
    disk that is full: the message is then lost, but the exit code must still say
    "not started" (75) to the scheduler, and so to ``mlxlaunch status``. What the disk
    refused stays in Python's buffers and would fail again when the interpreter
    exits, turning 75 into 120: such a stream is replaced by ``os.devnull``.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            if name == "stderr":
                stream.write(f"mlxlaunch: error: {exc}\n")
            stream.flush()
        except (OSError, ValueError):  # ValueError: a stream already closed
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 - until exit


def _run_command(
    task: Callable[..., Any],
    config_path: str,
    config_name: str,
    seeding_function: SeedingFunction,
    argv: list[str],
    schema: Optional[type] = None,
) -> int:
    """The command line of the decorated script: plan every point, then run or submit them."""

    cmd = parse_command_line(argv)
    if cmd.version:
        print(version_line())
        return 0
    script_dir = _script_dir(task)
    config_dir = resolve_path(script_dir, config_path)
    with _composer(cmd, script_dir, config_dir, config_name, schema) as composer:
        if cmd.help:
            print_help(task, composer, cmd.overrides)
            return 0
        user, launcher_overrides = composer.split(cmd.overrides)
        launcher_overrides = settings_from_environment() + launcher_overrides
        settings = load_command_settings(config_dir, launcher_overrides)
        resumed = existing_run(script_dir, settings)
        if resumed is not None:
            user = _drop_repeated_choices(composer, resumed, user)
            points = [resumed_point(resumed, user, schema, seeding_function)]
        else:
            points = composer.points(
                user, seed_required=seeding_function is not None, max_points=settings.max_points
            )
    plan = Plan(points)
    if cmd.repl:  # after every point is checked, before anything is made
        plan = repl.edit(plan, repl.checks(schema, seeding_function is not None))
    if show_or_export(plan, cmd):
        return 0

    spec = LaunchSpec(
        task=task,
        settings=settings,
        seeding_function=seeding_function,
        script=Path(inspect.getfile(task)).resolve() if _has_file(task) else Path(sys.argv[0]),
        parent_log_dir=resolve_path(script_dir, settings.logger.parent_log_dir),
        settings_file=_settings_file(config_dir),
        module=_main_module(),
        config_inputs=[p for p in (composer.config_dir, composer.config_file) if p is not None],
    )
    if cmd.dry_run:
        return dry_run(plan, spec)
    return execute(plan, spec, assume_yes=cmd.yes, prepare_only=cmd.prepare_only, quiet=cmd.quiet)


def version_line() -> str:
    """``mlxlaunch 0.1.0 (Python 3.11.7, hydra-core 1.3.2)``: what ``--version`` prints."""
    import platform

    try:
        from importlib.metadata import version

        hydra = f", hydra-core {version('hydra-core')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution: leave it out
        hydra = ""
    return f"mlxlaunch {__version__} (Python {platform.python_version()}{hydra})"


def load_command_settings(config_dir: Path, launcher_overrides: list[tuple[str, Any]]) -> Settings:
    """Settings from launcher.yaml, the backend preset, then ``+launcher.*`` overrides.

    Without a launcher.yaml, an MLXP ``mlxp.yaml``/``mlxpy.yaml`` is read in its place.
    """

    file_layer = None
    mlxp_file = mlxp.settings_file(config_dir)
    if mlxp_file is not None:
        tree, notes = mlxp.read_file(mlxp_file)
        file_layer = (f"{mlxp_file} (MLXP's settings)", tree)
        for text in notes:
            mlxp.note(text)
    try:
        settings = load_settings(
            config_dir / SETTINGS_FILE, launcher_overrides, file_layer=file_layer
        )
    except UnknownSetting as exc:  # an MLXP key copied into launcher.yaml: say what it is
        raise mlxp.explain(exc) from None
    # the preset's name may itself come from launcher.yaml or an override
    preset = resolve_preset(settings.backend)
    if preset is not None:
        settings = load_settings(
            config_dir / SETTINGS_FILE, launcher_overrides, preset, file_layer=file_layer
        )
    if settings.use_scheduler and not settings.scheduler.name:
        # before the settings are frozen in any run folder: resubmit reuses the choice
        settings.scheduler.name = detect_scheduler()
        print(
            f"mlxlaunch: note: submitting to {settings.scheduler.name}, the scheduler on "
            "this machine (+launcher.scheduler.name=... to choose).",
            file=sys.stderr,
        )
    return settings


def _drop_repeated_choices(composer: Composer, run_dir: Path, user: list[Any]) -> list[Any]:
    """``user`` without the config-group choices the run was made with; refuse another one.

    A resume applies value overrides to the run's frozen config: a group choice
    (``model=vit``) would write the string ``vit`` over the ``model`` node. Repeating the
    run's own choice (the original command line plus the forced id) is a no-op; a new
    choice cannot be composed from the frozen config and is refused.
    """
    groups = [o for o in user if not is_file_reference(o) and composer.is_group(o)]
    if not groups:
        return user
    recorded_lines = [str(x) for x in read_info(run_dir).get("overrides") or []]
    recorded = {
        (o.key_or_group, str(o.value()))
        for o in composer.parse(recorded_lines)
        if not is_file_reference(o) and composer.is_group(o)
    }
    for o in groups:
        if (o.key_or_group, str(o.value())) not in recorded:
            made = " ".join(recorded_lines) or "its config's defaults"
            raise UsageError(
                f"Run {run_dir.name} cannot change its config group '{o.key_or_group}' on "
                f"resume ('{o.input_line}'): a resume reuses the run's frozen config, which was "
                f"composed from: {made}. Repeat the run's own choice or leave it out; for "
                f"another choice start a new run (without logger.forced_log_id)."
            )
    return [o for o in user if all(o is not g for g in groups)]


def resumed_point(
    run_dir: Path, user: list[Any], schema: Optional[type], seeding_function: SeedingFunction
) -> Point:
    """The one point of a resume: the run's frozen config with this command's overrides."""

    overrides = [as_typed(o.input_line) for o in user]  # as typed (``lr*=2``)
    config = runfolder.read_config(run_dir)
    if overrides:
        config = apply_overrides(config, overrides, f"run {run_dir.name}")
    if schema is not None:
        config = validate(config, schema, f"run {run_dir.name}")
    if seeding_function is not None and "seed" not in config:
        raise UsageError(f"Run {run_dir.name} has no 'seed' in its config; pass +seed=<int>.")
    return Point(0, overrides, config)


def show_or_export(plan: Plan, cmd: CommandLine) -> bool:
    """``--cfg job`` prints the points' configs, ``--to-yaml/json/toml`` writes them: True if done."""
    if cmd.cfg:
        print_configs(plan)
        return True
    if cmd.export:
        for path in export_points([placeholders.shown(p.config) for p in plan.points], *cmd.export):
            print(f"wrote {path}")
        return True
    return False


def print_configs(plan: Any) -> None:
    """``--cfg job``: each point's resolved config, as YAML."""

    for point in plan.points:
        if len(plan.points) > 1:
            print(f"# point {point.index + 1}: {' '.join(point.overrides)}")
        print(dump_yaml(placeholders.shown(point.config)), end="")


def execute(
    plan: Plan,
    spec: LaunchSpec,
    assume_yes: bool,
    prepare_only: bool = False,
    quiet: bool = False,
) -> int:
    """Steps 2 to 4: prepare the run folders, hand them to the executor, summarize.

    ``prepare_only`` (Thunder's ``build``) stops after step 2: the run folders
    stay QUEUED, frozen, for ``mlxlaunch start`` to run on any executor later.
    """

    settings = spec.settings
    if not prepare_only:
        confirm_submission(len(plan.points), settings, assume_yes=assume_yes)
    executor = get_executor(spec)  # before any run folder exists: bad settings leave nothing
    code_version = None
    if settings.use_version_manager:
        # once per command: dirty-tree policy, code snapshot; spec now points at the snapshot
        code_version = prepare_code(spec)
    sweep_id = uuid.uuid4().hex[:12]
    # a scheduler writes each info.yaml once, with its job record (the version manager
    # records into the written info.yaml, so with it the launch writes them first)
    defer_info = executor.writes_info and code_version is None and not prepare_only
    runs = prepare_runs(plan, spec, sweep_id, prepare_only, defer_info)
    if settings.logger.forced_log_id != -1:  # a resumed run stays in the sweep it was made in
        sweep_id = read_info(runs[0].log_dir).get("sweep_id") or sweep_id
    if code_version is not None:
        code_version.record([run.log_dir for run in runs])
    if prepare_only:
        for run in runs:
            run.release_lock()
        print_prepared([run.log_id for run in runs], spec.parent_log_dir)
        return 0
    if not executor.in_process:
        for run in runs:  # a worker or a job takes the run's lock itself
            run.release_lock()
    if executor.runs_locally:
        spec.progress = sweep_progress(len(runs), quiet)
    try:
        results = executor.launch(runs, spec)
    finally:
        spec.progress.close()
        for run in runs:
            run.release_lock()
    code = summarize(results, spec.parent_log_dir, sweep_id)
    stopped_by = getattr(executor, "stopped_by", None)  # a signal, though no run was interrupted
    return code or (128 + stopped_by if stopped_by else 0)


def print_prepared(log_ids: list[int], parent: Path) -> None:
    """What ``--prepare-only`` made, and the command that runs it."""
    ids = id_ranges(log_ids)
    sys.stderr.write(
        f"mlxlaunch: prepared {len(log_ids)} run{'s' if len(log_ids) > 1 else ''} "
        f"(id{'s' if len(log_ids) > 1 else ''} {ids}) in {parent}; nothing ran.\n"
        f"Run them with: mlxlaunch start {parent} {ids}\n"
        "  (add +launcher.n_workers=N, +launcher.use_scheduler=true or +launcher.backend=NAME "
        "to choose where)\n"
    )
    sys.stderr.flush()


def _composer(
    cmd: CommandLine, script_dir: Path, config_dir: Path, config_name: str, schema: Optional[type]
) -> Composer:
    """The Composer for ``cmd``: --config-path/--config-name and a bare ``@FILE`` win."""

    config_file = Path(cmd.config_file) if cmd.config_file else None
    if cmd.config_path:
        config_dir = resolve_path(script_dir, cmd.config_path)
    name = cmd.config_name or config_name
    if name.endswith(".yaml"):
        name = name[: -len(".yaml")]
    elif name.endswith((".json", ".toml", ".yml")):  # Hydra reads .yaml only: load it ourselves
        config_file, name = config_file or config_dir / name, config_name
    if cmd.config_name and config_file is None and not (config_dir / f"{name}.yaml").is_file():
        found = [p.name for p in config_dir.glob("*") if p.suffix in EXTENSIONS]
        raise UsageError(
            f"No config '{name}' in {config_dir}.{did_you_mean(name + '.yaml', found)} "
            f"Config files there: {', '.join(sorted(found)) or 'none'}."
        )
    return Composer(config_dir, name, schema=schema, config_file=config_file)


def existing_run(script_dir: Path, settings: Settings) -> Optional[Path]:
    """The run folder a forced log id reopens, if it exists with a frozen config."""

    forced = settings.logger.forced_log_id
    if forced == -1:
        return None
    run_dir = resolve_path(script_dir, settings.logger.parent_log_dir) / str(forced)
    return run_dir if metadata_path(run_dir, CONFIG_FILE).is_file() else None


def _main_module() -> Optional[str]:
    """``mypkg.train`` when the user ran ``python -m mypkg.train`` (None for ``python file.py``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(spec, "name", None)
    return name if isinstance(name, str) and name != "__main__" else None


def _settings_file(config_dir: Path) -> Optional[Path]:
    """The project's launcher.yaml, if it has one."""
    path = config_dir / SETTINGS_FILE
    return path if path.is_file() else None


def _has_file(task: Callable[..., Any]) -> bool:
    try:
        inspect.getfile(task)
        return True
    except TypeError:
        return False
