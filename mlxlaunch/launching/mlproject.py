"""Entry points for any command: MLflow's ``MLproject``, run by ``mlxlaunch run [ENTRY] k=v``.

An ``MLproject`` file (as MLflow defines it, and as Dioptra uses it) names
entry points, each a shell command template with typed parameters::

    name: demo
    entry_points:
      main:
        parameters:
          lr: {type: float, default: 0.1}
          data: path
        command: "python train.py --lr {lr} --data {data}"

``mlxlaunch run main lr=0.01,0.1 data=train.csv`` gives the parameters the
decorator's grammar: they are composed by the same ``Composer`` (sweeps,
``range()``, operations like ``lr*=2``, did-you-mean on an unknown parameter),
every point is typed and checked before anything runs, ``path`` values become
absolute, ``uri`` values stay as given, and the values are shell-quoted into the
template. ``+name=value`` passes a parameter the entry point does not declare,
appended as ``--name value`` (as MLflow does). Like MLflow, an entry point may
also be a ``.py`` or ``.sh`` file of the project folder, with no MLproject needed.

Each point then goes through the launch flow of ``decorator.py``: one run folder
(its parameters as ``config.yaml``, the rendered command in ``info.entry_point``),
any executor (local, workers, Slurm/OAR arrays), the version manager, resume
(``+launcher.logger.forced_log_id``) and ``mlxlaunch resubmit``. The run's task
(``run_command``) runs the frozen command in the project folder with the run
folder in ``MLXLAUNCH_LOG_DIR``, so a Python command can log metrics with
``mlxlaunch.Logger.from_env()``; jobs and workers run ``entry_job.py``, which
runs that same task. ``python`` in a command is the interpreter running mlxlaunch.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import string
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import ConfigError, ProjectError, UsageError, did_you_mean
from mlxlaunch.executors.base import LaunchSpec
from mlxlaunch.jobenv import ENV_LOG_DIR, ENV_LOG_ID, ENV_RUN_DIR
from mlxlaunch.launching import placeholders, repl
from mlxlaunch.launching.argv import VALUE_FLAGS, parse_command_line
from mlxlaunch.launching.compose import Composer, Plan, Point, describe_point
from mlxlaunch.launching.decorator import (
    execute,
    existing_run,
    load_command_settings,
    resumed_point,
    show_or_export,
    version_line,
)
from mlxlaunch.launching.dryrun import dry_run
from mlxlaunch.launching.schema import MISSING, fit
from mlxlaunch.launching.settings import resolve_path
from mlxlaunch.render import Table, Text, print_blocks
from mlxlaunch.running.context import Context

#: The project file, in the project folder (the current folder of ``mlxlaunch run``).
MLPROJECT = "MLproject"
#: MLflow's parameter types, and the two it lacks (``int``, ``bool``); path/uri are strings.
TYPES: dict[str, type] = {
    "string": str,
    "str": str,
    "float": float,
    "int": int,
    "bool": bool,
    "path": str,
    "uri": str,
}
#: The program jobs and workers run (``python entry_job.py`` with MLXLAUNCH_RUN_DIR set).
JOB_PROGRAM = Path(__file__).resolve().parent / "entry_job.py"
#: Seconds a command gets to exit after SIGTERM when its run is interrupted, before SIGKILL.
STOP_GRACE_S = 10.0


@dataclass
class Parameter:
    """One typed parameter of an entry point (``default`` is ``'???'`` when required)."""

    name: str
    type: str = "string"
    default: Any = MISSING


@dataclass
class EntryPoint:
    """A command template and its parameters."""

    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters.values()}

    def check(self, config: dict[str, Any], where: str) -> dict[str, Any]:
        """The point's parameters typed (``path`` made absolute); a ``ConfigError`` if one is bad."""
        checked: dict[str, Any] = {}
        for name, param in self.parameters.items():
            value = config.get(name, MISSING)
            if value == MISSING:
                raise ConfigError(
                    f"Parameter '{name}' ({param.type}) of entry point '{self.name}' has no "
                    f"default and no value in {where}: pass {name}=<value>."
                )
            try:
                value = fit(value, TYPES[param.type])
            except ValueError as exc:
                raise ConfigError(
                    f"Parameter '{name}' of entry point '{self.name}' {exc} in {where}."
                ) from None
            if param.type == "path":
                value = str(Path(value).expanduser().absolute())
            checked[name] = value
        extra = {k: v for k, v in config.items() if k not in self.parameters}
        return {**checked, **extra}

    def render(self, config: dict[str, Any]) -> str:
        """The shell command of a checked point: values shell-quoted into the template,
        undeclared parameters appended as ``--name value``."""
        quoted = {k: shlex.quote(_text(v)) for k, v in config.items()}
        command = self.command.format(**{k: quoted[k] for k in self.parameters})
        extra = [f"--{k} {quoted[k]}" for k in config if k not in self.parameters]
        return " ".join([command, *extra])


def _text(value: Any) -> str:
    """A parameter value as the command line gets it (booleans as YAML writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


@dataclass
class Project:
    """An ``MLproject`` file: a name and entry points."""

    name: str
    folder: Path
    #: the MLproject file (None: a folder without one, whose entry points are its files)
    path: Optional[Path]
    entry_points: dict[str, EntryPoint]

    def entry(self, name: str) -> tuple[EntryPoint, Path]:
        """The entry point ``name`` and the file the version manager snapshots with it.

        ``name`` may be a ``.py``/``.sh`` file of the folder, run with its
        parameters as ``--name value`` (MLflow's rule).
        """
        if name in self.entry_points:
            assert self.path is not None
            return self.entry_points[name], self.path
        script = self.folder / name
        if name.endswith((".py", ".sh")) and script.is_file():
            program = "python" if name.endswith(".py") else "bash"
            return EntryPoint(name, f"{program} {shlex.quote(name)}"), script
        where = f"{self.path}" if self.path else f"{self.folder} (no {MLPROJECT} file)"
        known = list(self.entry_points)
        raise ProjectError(
            f"No entry point '{name}' in {where}.{did_you_mean(name, known)} "
            f"Entry points: {', '.join(known) or 'none'}; a .py or .sh file of the folder "
            "also runs as one."
        )


def read_project(folder: Path) -> Project:
    """Read ``folder/MLproject`` (a folder without one has only file entry points)."""
    import yaml  # deferred: heavy, and only a launch needs it

    path = folder / MLPROJECT
    if not path.is_file():
        return Project(folder.name, folder, None, {})
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProjectError(f"Cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("entry_points") or {}, dict):
        raise ProjectError(
            f"{path} is not an MLproject: it needs 'entry_points: {{NAME: {{command: ...}}}}'."
        )
    entries = {}
    for name, spec in (data.get("entry_points") or {}).items():
        entries[str(name)] = _entry_point(path, str(name), spec)
    return Project(str(data.get("name") or folder.name), folder, path, entries)


def _entry_point(path: Path, name: str, spec: Any) -> EntryPoint:
    where = f"{path}, entry point '{name}'"
    if not isinstance(spec, dict) or not isinstance(spec.get("command"), str):
        raise ProjectError(f"{where}: needs a 'command' (a string).")
    params = {}
    raw = spec.get("parameters") or {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{where}: 'parameters' must map names to types.")
    for pname, pspec in raw.items():
        if isinstance(pspec, str):  # MLflow's short form: `data: path`
            pspec = {"type": pspec}
        if not isinstance(pspec, dict):
            raise ProjectError(f"{where}: parameter '{pname}' needs a type, e.g. {{type: float}}.")
        ptype = str(pspec.get("type", "string"))
        if ptype not in TYPES:
            raise ProjectError(
                f"{where}: parameter '{pname}' has type '{ptype}'.{did_you_mean(ptype, TYPES)} "
                f"Types: {', '.join(TYPES)}."
            )
        default = pspec.get("default", MISSING)
        params[str(pname)] = Parameter(str(pname), ptype, MISSING if default is None else default)
    command = spec["command"]
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(command) if f is not None]
    except ValueError as exc:
        raise ProjectError(f"{where}: bad command template ({exc}).") from None
    for placeholder in fields:
        if placeholder not in params:
            raise ProjectError(
                f"{where}: the command uses {{{placeholder}}}, which is not a parameter."
                f"{did_you_mean(placeholder, list(params))}"
            )
    return EntryPoint(name, command, params)


class ParameterComposer(Composer):
    """The decorator's Composer, over an entry point's parameters instead of a config folder."""

    def __init__(self, entry: EntryPoint, folder: Path) -> None:
        super().__init__(folder / ".mlxlaunch-no-config", None)
        self.entry = entry

    def _base(self, group_overrides: list[str], where: str) -> Any:
        from omegaconf import OmegaConf

        if group_overrides:
            raise ConfigError(
                f"Entry point '{self.entry.name}' has no config groups: "
                f"'{group_overrides[0]}' in {where}."
            )
        cfg = OmegaConf.create(self.entry.defaults())
        OmegaConf.set_struct(cfg, True)  # an unknown parameter is a did-you-mean error
        return cfg

    def compose(self, point: Point, total: int, seed_required: bool = False) -> dict[str, Any]:
        try:
            config = super().compose(point, total, seed_required)
        except ConfigError as exc:
            message = str(exc)
            if message.startswith("Unknown config key"):  # say it in an entry point's words
                message = message.replace("Unknown config key", "Unknown parameter", 1).replace(
                    "To add a new key, write",
                    f"Entry point '{self.entry.name}' takes: "
                    f"{', '.join(self.entry.parameters) or 'no parameters'}. To pass it "
                    "anyway (appended as --name value), write",
                )
            raise ConfigError(message) from None
        return self.entry.check(config, describe_point(point.overrides, point.index, total))


# ------------------------------------------------------------------ running one point


def run_command(ctx: Context) -> None:
    """The task of an entry-point run: its frozen command, in its folder, with its run folder.

    A non-zero exit fails the run with that exit code; when the run is
    interrupted (SIGTERM, SIGINT, preemption), the command gets SIGTERM, then
    SIGKILL after ``STOP_GRACE_S``.
    """
    entry = ctx.info["entry_point"]
    env = dict(os.environ)
    env.pop(ENV_RUN_DIR, None)  # a decorated script started by the command launches normally
    env[ENV_LOG_DIR] = str(ctx.info["log_dir"])
    env[ENV_LOG_ID] = str(ctx.info["log_id"])
    # `python` in a command is the interpreter running mlxlaunch (its venv, even if not active)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    shell = shutil.which("bash") or "/bin/sh"
    proc = subprocess.Popen([shell, "-c", entry["command"]], cwd=entry["cwd"], env=env)
    try:
        code = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    if code:
        raise SystemExit(code if code > 0 else 128 - code)  # -N: killed by signal N


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ the command


def split_entry(argv: list[str]) -> tuple[str, list[str]]:
    """``(entry point name, the rest)``: the first bare word names it, else ``main``."""
    for i, arg in enumerate(argv):
        if arg.startswith(("-", "+", "~", "@")) or "=" in arg:
            continue
        if i > 0 and argv[i - 1].split("=")[0] in _VALUE_FLAGS:
            continue  # the value of --to-yaml FILE
        return arg, argv[:i] + argv[i + 1 :]
    return "main", list(argv)


#: flags of ``argv.py`` whose value is the next word (never an entry point's name)
_VALUE_FLAGS = ("--cfg", "-c", *VALUE_FLAGS)


def run_entry_point(argv: list[str], folder: Optional[Path] = None) -> int:
    """``mlxlaunch run [ENTRY] key=value ... [flags]`` in the project ``folder`` (cwd)."""
    folder = (folder or Path.cwd()).absolute()
    name, rest = split_entry(argv)
    cmd = parse_command_line(rest)
    if cmd.version:
        print(version_line())
        return 0
    if cmd.config_path or cmd.config_name or cmd.config_file:
        raise UsageError("An entry point has no config files: pass its parameters as key=value.")
    project = read_project(folder)
    entry, project_file = project.entry(name)
    with ParameterComposer(entry, folder) as composer:
        if cmd.help:
            print_blocks(entry_help(project, entry))
            return 0
        user, launcher_overrides = composer.split(cmd.overrides)
        # an entry point's output is all there is to see of it: capture it unless told not to
        launcher_overrides.insert(0, ("logger.log_streams_to_file", True))
        settings = load_command_settings(folder, launcher_overrides)
        resumed = existing_run(folder, settings)
        if resumed is not None:
            point = resumed_point(resumed, user, None, None)
            point.config = entry.check(point.config, f"run {resumed.name}")
            points = [point]
        else:
            points = composer.points(user)
    plan = Plan(points)
    if cmd.repl:
        plan = repl.edit(plan, entry.check)
    if show_or_export(plan, cmd):
        return 0
    spec = LaunchSpec(
        task=run_command,
        settings=settings,
        seeding_function=None,
        script=JOB_PROGRAM,
        parent_log_dir=resolve_path(folder, settings.logger.parent_log_dir),
        project_file=project_file,
    )

    def run_info(config: dict[str, Any]) -> dict[str, Any]:
        # after the version manager ran: project_file is then the snapshot's copy
        cwd = Path(spec.project_file or project_file).parent
        return {
            "entry_point": {
                "project": project.name,
                "name": entry.name,
                "command": entry.render(config),
                "cwd": str(cwd),
            }
        }

    spec.run_info = run_info
    if cmd.dry_run:
        for point in plan.points:
            print(f"point {point.index + 1}: {entry.render(placeholders.shown(point.config))}")
        return dry_run(plan, spec)
    return execute(plan, spec, assume_yes=cmd.yes, prepare_only=cmd.prepare_only, quiet=cmd.quiet)


def entry_help(project: Project, entry: EntryPoint) -> list[Any]:
    """``mlxlaunch run ENTRY --help``: the command, the parameters, the other entry points."""
    rows = [
        [p.name, p.type, "(required)" if p.default == MISSING else _text(p.default)]
        for p in entry.parameters.values()
    ]
    blocks: list[Any] = [
        Text(f"{project.name}: entry point '{entry.name}'", entry.command),
        Text(
            "Usage:",
            f"mlxlaunch run {entry.name} [param=value ...] [param=a,b ...] [+extra=value ...] "
            "[+launcher.<setting>=value ...] [--dry-run] [-y]",
        ),
    ]
    if rows:
        blocks.append(Table("Parameters:", ["name", "type", "default"], rows))
    others = [n for n in project.entry_points if n != entry.name]
    if others:
        blocks.append(Text("Other entry points:", ", ".join(others)))
    return blocks
