"""Launcher settings: the one source of truth for every option mlxlaunch takes.

Settings come, lowest priority first, from the dataclass defaults below, the
optional ``configs/launcher.yaml`` next to the user's config, and the
``+launcher.<path>=value`` overrides of the command line. Every key is checked
against these dataclasses: an unknown key at any depth is an error that names
where it came from and the closest valid key (MLXP silently skipped the file).
``docs/settings.md`` documents each field; keep the two in step.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import BadSettingChoice, SettingsError, UnknownSetting, did_you_mean
from mlxlaunch.launching import hydra_shim

#: The namespace of launcher settings on the command line: ``+launcher.n_workers=4``.
NAMESPACE = "launcher"
#: The file, next to the user's main config, that holds project-wide settings.
SETTINGS_FILE = "launcher.yaml"


@dataclass
class LoggerSettings:
    """Where and how runs are recorded."""

    # folder holding the numbered run folders; relative paths start at the script's folder
    parent_log_dir: str = "./logs"
    # reopen (resume) this run id instead of allocating a new one; -1 allocates a new id
    forced_log_id: int = -1
    # copy the run's stdout/stderr into log.stdout / log.stderr of its run folder (mlxlaunch logs)
    log_streams_to_file: bool = True

    def __post_init__(self) -> None:
        if not str(self.parent_log_dir).strip():  # '' would put run folders next to main.py
            raise SettingsError(
                "Bad value for launcher setting 'logger.parent_log_dir': it is empty. "
                "Give a folder (the default is ./logs; '.' means the script's own folder)."
            )


@dataclass
class SchedulerSettings:
    """Cluster job settings (used when ``use_scheduler`` is true)."""

    # scheduler kind: slurm | oar | pbs | sge | lsf ("" = the one found on PATH)
    name: str = ""
    # wall-clock limit, e.g. "01:00:00" (Slurm/PBS syntax; converted for the others)
    time: str = ""
    # CPUs per run
    cpus: int = 1
    # memory per run, e.g. "4G" ("" = the cluster's default)
    mem: str = ""
    # GPUs per run
    gpus: int = 0
    # partition (Slurm) or queue (OAR, PBS, SGE, LSF)
    partition: str = ""
    # account to charge
    account: str = ""
    # quality of service
    qos: str = ""
    # raw directive lines added to the job script as they are
    extra: list[str] = field(default_factory=list)
    # shell lines run in the job before the task (module load, venv activation); never run here
    env: list[str] = field(default_factory=list)
    # at most this many runs of one array at once (the %k throttle); 0 = no limit
    max_concurrent: int = 0
    # requeue the job when it is preempted or reaches its time limit
    requeue: bool = False
    # seconds before the time limit at which the job gets its preemption signal
    signal_delay_s: int = 120
    # with requeue: requeue a run at most this many times, then record it FAILED
    max_requeues: int = 10
    # job name shown by the scheduler
    job_name: str = "mlxlaunch"


#: What the version manager may do with uncommitted changes (docs/version-manager.md).
DIRTY_POLICIES = ("ask", "fail", "commit", "snapshot_dirty", "ignore")


@dataclass
class VersionManagerSettings:
    """How runs are tied to committed code (used when ``use_version_manager`` is true)."""

    # what to do with uncommitted changes: ask | fail | commit | snapshot_dirty | ignore
    on_dirty: str = "ask"
    # the policy 'ask' falls back to when stdin is not a terminal (any policy but ask)
    non_interactive: str = "fail"
    # folder holding code snapshots; relative paths start at the script's folder
    parent_work_dir: str = "./.mlxlaunch-work"

    def __post_init__(self) -> None:
        for name, valid in (
            ("on_dirty", DIRTY_POLICIES),
            ("non_interactive", tuple(p for p in DIRTY_POLICIES if p != "ask")),
        ):
            value = getattr(self, name)
            if value not in valid:
                raise BadSettingChoice(f"version_manager.{name}", value, valid)


@dataclass
class Settings:
    """Every launcher setting, with its default."""

    # give each run a Logger (ctx.logger); false runs the task with ctx.logger = None
    use_logger: bool = True
    # submit the sweep to a cluster scheduler instead of running it here
    use_scheduler: bool = False
    # run from a snapshot of the committed code and record commit and diff
    use_version_manager: bool = False
    # stop launching new points after the first failed one
    fail_fast: bool = False
    # seconds between two touches of the run's heartbeat file while it runs
    heartbeat_interval: float = 30.0
    # run the points in this many local worker processes (1 = in this process)
    n_workers: int = 1
    # GPU ids handed out one per local worker through CUDA_VISIBLE_DEVICES
    gpus: list[int] = field(default_factory=list)
    # a backend preset from ~/.config/mlxlaunch/backends.yaml ("" = the default preset, if any)
    backend: str = ""
    # ask before submitting more than this many scheduler jobs (never asked without a terminal)
    confirm_above: int = 100
    # a name for this command's runs, recorded in each run's info (info.name) and ${mlx:name}
    name: str = ""
    # refuse a sweep of more points than this before expanding it (a typo'd range)
    max_points: int = 100000
    # settings of the run folders and the logger
    logger: LoggerSettings = field(default_factory=LoggerSettings)
    # settings of cluster jobs
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    # settings of the version manager
    version_manager: VersionManagerSettings = field(default_factory=VersionManagerSettings)

    def __post_init__(self) -> None:
        beat = self.heartbeat_interval
        if not (isinstance(beat, (int, float)) and math.isfinite(beat) and beat > 0):
            # 0 or less would spin, nan or inf would never let a killed run turn LOST
            raise SettingsError(
                f"Bad value for launcher setting 'heartbeat_interval': {beat}. It must be a "
                "finite number of seconds greater than 0 (default 30); readers call a RUNNING run "
                "LOST once its heartbeat is several intervals old."
            )


def _nested_settings_types(cls: type) -> dict[str, type]:
    """Map each field of a settings dataclass to its dataclass type, when it is one."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if dataclasses.is_dataclass(hints[f.name])
    }


def valid_keys(cls: type = Settings, prefix: str = "") -> list[str]:
    """All dotted setting paths (leaves and sections), e.g. ``logger.forced_log_id``."""
    nested = _nested_settings_types(cls)
    keys = []
    for f in dataclasses.fields(cls):
        path = prefix + f.name
        keys.append(path)
        if f.name in nested:
            keys.extend(valid_keys(nested[f.name], path + "."))
    return keys


def check_keys(values: dict[str, Any], source: str, cls: type = Settings, prefix: str = "") -> None:
    """Raise ``SettingsError`` for the first key of ``values`` that ``cls`` does not have."""
    nested = _nested_settings_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key, value in values.items():
        path = prefix + str(key)
        if key not in names:
            every = valid_keys()
            raise UnknownSetting(
                path,
                every,
                where=f" in {source}",
                how="\nValid settings are listed in docs/settings.md.",
                list_valid=False,  # dozens: docs/settings.md lists them with their meaning
                # the full path when it is close to one, else the last part among its siblings
                suggest_from=every if did_you_mean(path, every) else names,
            )
        if key in nested:
            if not isinstance(value, dict):
                raise SettingsError(
                    f"Launcher setting '{path}' in {source} is a section: give it a mapping "
                    f"(e.g. {path}: {{...}}) or set its keys one by one ({path}.<key>=...)."
                )
            check_keys(value, source, nested[key], path + ".")


def set_path(tree: dict[str, Any], path: str, value: Any) -> None:
    """Set the dotted ``path`` of the nested mapping ``tree`` to ``value``."""
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SettingsError(f"Launcher setting '{path}' is set both as a value and a section.")
    node[parts[-1]] = value


def read_mapping(path: Path, what: str) -> dict[str, Any]:
    """The YAML mapping in ``path`` (empty for an empty file); ``what`` says what it should hold."""
    import yaml  # heavy third-party import, only when a settings file is read

    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"Cannot read {path}: {exc.strerror}.") from None
    if not isinstance(content, dict):
        raise SettingsError(f"{path} must hold a mapping of {what}.")
    return content


def read_settings_file(path: Path) -> dict[str, Any]:
    """The settings tree of a ``launcher.yaml``, its keys checked."""
    content = read_mapping(path, "settings, e.g. 'use_logger: false'")
    check_keys(content, str(path))
    return content


def parse_setting_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """``["scheduler.partition=gpu", "+launcher.requeue=true"]`` -> ``(path, value)`` pairs.

    Values are read with Hydra's override grammar, as ``+launcher.*`` on a task's
    command line are, so both spellings give the same value.
    """
    from hydra.errors import HydraException  # heavy, deferred

    parser = hydra_shim.override_parser()
    pairs = []
    for item in items:
        text = item.lstrip("+")
        if not text.startswith(NAMESPACE + "."):
            text = f"{NAMESPACE}.{text}"
        try:
            (override,) = parser.parse_overrides([text])
        except (HydraException, ValueError) as exc:
            raise SettingsError(f"Cannot read the setting '{item}': {str(exc).strip()}") from None
        if override.is_sweep_override() or override.is_delete():
            raise SettingsError(f"Give one value per setting: '{item}'.")
        path = override.key_or_group[len(NAMESPACE) + 1 :]
        check_keys(_tree(path, override.value()), f"'{item}'")
        pairs.append((path, override.value()))
    return pairs


def _tree(path: str, value: Any) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    set_path(tree, path, value)
    return tree


def load_settings(
    settings_file: Optional[Path] = None,
    overrides: Optional[list[tuple[str, Any]]] = None,
    preset: Optional[tuple[str, dict[str, Any]]] = None,
    file_layer: Optional[tuple[str, dict[str, Any]]] = None,
) -> Settings:
    """Build the settings from the defaults, ``settings_file`` and ``(path, value)`` overrides.

    ``overrides`` paths are relative to the launcher namespace (``logger.forced_log_id``).
    ``preset`` is a backend preset's ``(source, settings tree)`` (see ``presets.py``),
    applied after ``settings_file`` and before ``overrides``. ``file_layer`` is a
    ``(source, settings tree)`` read from another file (an MLXP ``mlxp.yaml``, see
    ``mlxp.py``), applied where ``settings_file`` would be.
    """
    layers: list[tuple[str, dict[str, Any]]] = []
    if settings_file is not None and settings_file.is_file():
        content = read_mapping(settings_file, "settings, e.g. 'use_logger: false'")
        check_keys(content, str(settings_file))
        layers.append((str(settings_file), content))
    if file_layer is not None:
        check_keys(file_layer[1], file_layer[0])
        layers.append(file_layer)
    if preset is not None:
        check_keys(preset[1], preset[0])
        layers.append(preset)
    for path, value in overrides or []:
        tree: dict[str, Any] = {}
        set_path(tree, path, value)
        source = f"the override '+{NAMESPACE}.{path}'"
        check_keys(tree, source)
        layers.append((source, tree))

    if not layers:  # the defaults, as OmegaConf gives them back (tested), ~6 ms sooner
        return Settings()
    from omegaconf import OmegaConf  # heavy third-party import, only to merge layers
    from omegaconf.errors import OmegaConfBaseException

    merged = OmegaConf.structured(Settings)
    for source, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", "") or ""
            raise SettingsError(
                f"Bad value for launcher setting '{key}' in {source}: {str(exc).splitlines()[0]}"
            ) from None
    return typing.cast(Settings, OmegaConf.to_object(merged))


def resolve_path(base: Path, path: str) -> Path:
    """A path setting as an absolute path: ``~`` expanded, relative paths start at ``base``.

    ``base`` is the script's folder, so ``python ~/proj/main.py`` run from anywhere
    uses ``~/proj/logs`` and ``~/proj/configs``.
    """
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else (base / p).resolve()


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """The settings as plain data, as written to ``metadata/launcher.yaml``."""
    return dataclasses.asdict(settings)
