"""Backend presets: named bundles of launcher settings kept per user (Thunder's model).

A preset is a short mapping such as ``{scheduler: slurm, cpus: 8, mem: 64G}``,
stored in ``$XDG_CONFIG_HOME/mlxlaunch/backends.yaml`` (``~/.config/...`` by
default) and managed with ``mlxlaunch backend add|list|set|remove``. At launch,
``+launcher.backend=NAME`` picks a preset, or the default preset applies when no
backend is named; its values sit between ``configs/launcher.yaml`` and the
``+launcher.*`` overrides, so anything given explicitly on the command line wins.

Preset keys are ``scheduler`` (``local`` or a scheduler name) plus:

- for ``scheduler: local``: ``n_workers`` and ``gpus`` (the GPU ids handed out
  to workers), which map to the top-level settings of the same names;
- for a scheduler: the fields of ``SchedulerSettings`` (``cpus``, ``mem``,
  ``gpus`` per job, ``time``, ``partition`` ...), which map to ``scheduler.*``.

The built-in names ``local``, ``slurm`` and ``oar`` are presets with only a
``scheduler`` key; they can be made the default but not redefined or removed.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import (
    SettingsError,
    UnknownBackend,
    UnknownPresetField,
    UnknownScheduler,
    UsageError,
)
from mlxlaunch.executors.parallel import ParallelExecutor
from mlxlaunch.executors.registry import LOCAL, backend_kinds, executor_for
from mlxlaunch.launching.settings import SchedulerSettings, load_settings
from mlxlaunch.runfolder.metadata import atomic_write, dump_yaml
from mlxlaunch.runfolder.safefiles import locked

#: Presets that always exist: just the scheduler, with every other setting at its default.
#: (The schedulers a preset may name are ``executors.registry.backend_kinds()``.)
BUILTIN: dict[str, dict[str, Any]] = {name: {"scheduler": name} for name in (LOCAL, "slurm", "oar")}
#: Preset keys of a local preset, mapped to top-level settings.
LOCAL_KEYS = ("n_workers", "gpus")
#: Preset keys of a scheduler preset, mapped to ``scheduler.<key>``.
SCHEDULER_KEYS = tuple(f.name for f in dataclasses.fields(SchedulerSettings) if f.name != "name")


def backends_file() -> Path:
    """``$XDG_CONFIG_HOME/mlxlaunch/backends.yaml``, or ``~/.config/mlxlaunch/backends.yaml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mlxlaunch" / "backends.yaml"


@dataclasses.dataclass
class Presets:
    """The content of the backends file: the user's presets and the default's name."""

    backends: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    default: str = ""

    def names(self) -> list[str]:
        """Every name a launch may use: the built-ins, then the user's presets."""
        return list(BUILTIN) + [n for n in self.backends if n not in BUILTIN]

    def get(self, name: str) -> dict[str, Any]:
        """The preset ``name``; an error listing the valid names if there is none."""
        if name in self.backends:
            return self.backends[name]
        if name in BUILTIN:
            return BUILTIN[name]
        raise UnknownBackend(
            name,
            self.names(),
            how=f"Add one with: mlxlaunch backend add {name} scheduler=slurm cpus=4 ...",
        )


def read_presets(path: Optional[Path] = None) -> Presets:
    """Read the backends file; a missing file means no user presets."""
    path = path or backends_file()
    if not path.is_file():
        return Presets()
    import yaml

    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}\nFix or remove the file.") from None
    except OSError as exc:
        raise SettingsError(
            f"Cannot read the backend presets {path}: {exc.strerror}. Fix its permissions, "
            "or point XDG_CONFIG_HOME at a folder you can read."
        ) from None
    backends = content.get("backends", {}) if isinstance(content, dict) else None
    if not isinstance(backends, dict) or not all(isinstance(b, dict) for b in backends.values()):
        raise SettingsError(
            f"{path} must hold 'backends: {{NAME: {{scheduler: slurm, ...}}}}' and "
            f"optionally 'default: NAME'. Fix or remove the file."
        )
    return Presets({str(k): v for k, v in backends.items()}, str(content.get("default") or ""))


def write_presets(presets: Presets, path: Optional[Path] = None) -> None:
    """Write the backends file atomically (temporary file, then ``os.replace``)."""

    path = path or backends_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"default": presets.default or None, "backends": presets.backends}
    header = "# mlxlaunch backend presets; edit with `mlxlaunch backend add|set|remove`\n"
    atomic_write(path, header + dump_yaml(data))


@contextmanager
def editing(path: Optional[Path] = None) -> Iterator[Presets]:
    """Read, let the caller change, and write back the presets, under an exclusive lock.

    Two ``mlxlaunch backend add`` at once both land; nothing is written if the
    caller raises.
    """
    path = path or backends_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with locked(path.parent, f".{path.name}.lock"):
        presets = read_presets(path)
        yield presets
        write_presets(presets, path)


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Turn ``["scheduler=slurm", "cpus=4", "extra=[--exclusive]"]`` into a preset.

    Text fields keep the value as typed (``time=24:00:00`` stays a string, where
    YAML would read a number), and so does a single line of a list of lines
    (``env=module load cuda`` is ``["module load cuda"]``); the others are read as
    YAML (``gpus=[0,1]``, ``requeue=true``). Types are checked later, by ``check_preset``.
    """
    import yaml

    hints = typing.get_type_hints(SchedulerSettings)
    text_keys = {"scheduler"} | {key for key in SCHEDULER_KEYS if hints[key] is str}
    # lists of lines: one line may be given as is (env=module load cuda), a list as [a, b]
    line_keys = {key for key in SCHEDULER_KEYS if hints[key] == list[str]}
    preset: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(
                f"Expected KEY=VALUE, got '{item}' (e.g. scheduler=slurm cpus=4 mem=100G)."
            )
        if key in text_keys:
            preset[key] = text
            continue
        if key in line_keys and not text.lstrip().startswith("["):
            preset[key] = [text]
            continue
        try:
            preset[key] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UsageError(f"Cannot read the value of '{item}' as YAML.") from None
    return preset


def preset_settings(name: str, preset: dict[str, Any]) -> dict[str, Any]:
    """The settings tree (paths as in ``launcher.yaml``) that the preset ``name`` stands for."""
    scheduler = preset.get("scheduler", LOCAL)
    kinds = backend_kinds()
    if scheduler not in kinds:
        raise UnknownScheduler(str(scheduler), kinds, context=f"Backend '{name}'")
    valid = LOCAL_KEYS if scheduler == LOCAL else SCHEDULER_KEYS
    for key in preset:
        if key != "scheduler" and key not in valid:
            where = "a local backend" if scheduler == LOCAL else f"a {scheduler} backend"
            raise UnknownPresetField(
                str(key),
                ["scheduler", *valid],
                where=f" for {where}",
                context=f"Backend '{name}'",
                suggest_from=valid,
            )
    values = {k: v for k, v in preset.items() if k != "scheduler"}
    if scheduler == LOCAL:
        return {"use_scheduler": False, **values}
    return {"use_scheduler": True, "scheduler": {"name": scheduler, **values}}


def check_preset(name: str, preset: dict[str, Any]) -> None:
    """Raise a ``SettingsError`` if the preset has an unknown field or a bad value.

    Values are checked as a launch would check them: types, then what the job
    script could not express (a malformed ``time``, ``mem`` on OAR, ...).
    """

    settings = load_settings(preset=(f"backend '{name}'", preset_settings(name, preset)))
    try:
        if settings.use_scheduler:
            executor_for(settings.scheduler)
        else:
            ParallelExecutor.from_settings(settings)
    except SettingsError as exc:
        raise SettingsError(f"Backend '{name}': {exc}") from None


def resolve_preset(
    backend: str, path: Optional[Path] = None
) -> Optional[tuple[str, dict[str, Any]]]:
    """The preset layer of a launch: ``(source, settings tree)``, or None without a preset.

    ``backend`` is ``settings.backend``; ``""`` means the default preset, if one is set.
    """
    presets = read_presets(path)
    name = backend or presets.default
    if not name:
        return None
    return (f"backend '{name}'", preset_settings(name, presets.get(name)))


def format_preset(preset: dict[str, Any]) -> str:
    """A preset as the ``KEY=VALUE`` words that would add it: ``scheduler=slurm cpus=8``."""
    import json

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    return " ".join(f"{key}={text(value)}" for key, value in preset.items())
