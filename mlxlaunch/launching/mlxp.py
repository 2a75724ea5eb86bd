"""MLXP's settings spellings, read as launcher settings (docs/migrating-from-mlxp.md).

MLXP users keep their settings in ``configs/mlxp.yaml`` (``mlxpy.yaml`` in older
versions) and override them with ``+mlxp.<key>=`` (``+mlxpy.<key>=``). Both are
read here and translated, key by key, into the launcher's own settings
(``settings.py``), so an MLXP project runs unchanged. A key with no meaning here
(MLXP's logger class name, ``resolve``, ...) is accepted with a one-line note,
never an error: an MLXP project must not stop on a setting it never needed.

``mlxlaunch migrate configs/mlxp.yaml`` writes the translation as a ``launcher.yaml``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Optional

from mlxlaunch.errors import SettingsError, UnknownSetting, UsageError, did_you_mean
from mlxlaunch.launching.settings import (
    SETTINGS_FILE,
    load_settings,
    read_mapping,
    set_path,
    valid_keys,
)
from mlxlaunch.runfolder.metadata import atomic_write

#: MLXP's command-line namespaces (``+mlxp.use_scheduler=True``) and settings files.
NAMESPACES = ("mlxp", "mlxpy")
FILES = tuple(f"{name}.yaml" for name in NAMESPACES)

#: MLXP's scheduler names (class names, and the directives ``mlxpsub`` records) to ours.
SCHEDULERS = {
    "SLURMScheduler": "slurm",
    "OARScheduler": "oar",
    "PBSScheduler": "pbs",
    "SGEScheduler": "sge",
    "LSFScheduler": "lsf",
    "#SBATCH": "slurm",
    "#OAR": "oar",
    "#PBS": "pbs",
    "#$": "sge",
    "#BSUB": "lsf",
}


def _lines(value: Any) -> list[str]:
    """An MLXP command setting (a string, possibly multi-line, or a list) as shell lines."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [line for item in items for line in str(item).splitlines() if line.strip()]


def _scheduler_name(value: Any) -> str:
    name = str(value).strip()
    short = name.rsplit(".", 1)[-1] if not name.startswith("#") else name
    if not name or name.lower() in SCHEDULERS.values():
        return name.lower()
    if short in SCHEDULERS:
        return SCHEDULERS[short]
    raise SettingsError(
        f"MLXP scheduler {name!r} is not supported here.{did_you_mean(short, list(SCHEDULERS))} "
        f"Supported: {', '.join(k for k in SCHEDULERS if not k.startswith('#'))}."
    )


#: MLXP key -> (launcher key, value conversion). Keys MLXP and mlxlaunch share map to themselves.
RENAMED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "logger.parent_log_dir": ("logger.parent_log_dir", str),
    "logger.forced_log_id": ("logger.forced_log_id", int),
    "logger.log_streams_to_file": ("logger.log_streams_to_file", bool),
    "use_logger": ("use_logger", bool),
    "use_scheduler": ("use_scheduler", bool),
    "use_version_manager": ("use_version_manager", bool),
    # MLXP asks about uncommitted changes when interactive; otherwise it runs the last commit
    "interactive_mode": ("version_manager.on_dirty", lambda v: "ask" if v else "ignore"),
    "scheduler.name": ("scheduler.name", _scheduler_name),
    # MLXP's option_cmd items are directives without their prefix, as our ``extra`` takes them
    "scheduler.option_cmd": ("scheduler.extra", _lines),
    "scheduler.shell_config_cmd": ("scheduler.env", _lines),
    "scheduler.env_cmd": ("scheduler.env", _lines),
    "version_manager.parent_work_dir": ("version_manager.parent_work_dir", str),
}

#: MLXP keys with no meaning here, with the values that need no note and why they are ignored.
IGNORED: dict[str, tuple[tuple[Any, ...], str]] = {
    "logger.name": (
        ("DefaultLogger", "mlxp.DefaultLogger", "mlxp.logger.DefaultLogger"),
        "runs always get mlxlaunch's Logger",
    ),
    "version_manager.name": (
        ("GitVM", "mlxp.GitVM", "mlxp.version_manager.GitVM"),
        "git is the version manager",
    ),
    "version_manager.compute_requirements": (
        (False,),
        "the run records python_version and the code's commit; pip freeze is not run",
    ),
    "scheduler.shell_path": (("/bin/bash", ""), "job scripts run under /bin/bash"),
    "scheduler.cleanup_cmd": (("", None), "nothing runs after the task in a job"),
    "scheduler.before_cmd": (("", None), "the job runs the script with its own Python"),
    "scheduler.post_cmd": (([], None), "nothing runs after the task in a job"),
    "resolve": ((True,), "configs are always resolved before the run"),
    "as_ConfigDict": ((True,), "ctx.config is always a dict with attribute access"),
    "config_read_only": ((False,), "ctx.config is the run's own copy"),
}


def _leaves(tree: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted path, value)`` for every leaf of a nested mapping (lists are leaves)."""
    if not isinstance(tree, dict) or (prefix and not tree):
        return [(prefix, tree)]
    pairs = []
    for key, value in tree.items():
        pairs.extend(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
    return pairs


def translate(tree: dict[str, Any], source: str) -> tuple[list[tuple[str, Any]], list[str]]:
    """MLXP settings (nested) as launcher ``(path, value)`` pairs, and one note per ignored key.

    A key that is already a launcher setting (``n_workers``) passes through unchanged.
    """
    pairs: list[tuple[str, Any]] = []
    notes: list[str] = []
    env: list[str] = []
    for path, value in _leaves(tree):
        if path in RENAMED:
            target, convert = RENAMED[path]
            if target == "scheduler.env":
                env.extend(convert(value))
                continue
            pairs.append((target, convert(value)))
        elif path in IGNORED:
            harmless, why = IGNORED[path]
            if value not in harmless:
                notes.append(f"MLXP setting '{path}: {value}' in {source} is ignored: {why}.")
        elif path in valid_keys():
            pairs.append((path, value))
        else:
            known = dict.fromkeys([*RENAMED, *IGNORED, *valid_keys()])  # ordered, no repeats
            hint = did_you_mean(path, list(known))
            notes.append(f"'{path}' in {source} is not an MLXP setting; ignored.{hint}")
    if env:
        pairs.append(("scheduler.env", env))
    return pairs, notes


def as_tree(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Launcher ``(path, value)`` pairs as a nested mapping, as ``launcher.yaml`` holds them."""
    tree: dict[str, Any] = {}
    for path, value in pairs:
        set_path(tree, path, value)
    return tree


def settings_file(config_dir: Path) -> Optional[Path]:
    """The MLXP settings file of ``config_dir``, read only when there is no ``launcher.yaml``."""
    if (config_dir / SETTINGS_FILE).is_file():
        return None
    return next((config_dir / f for f in FILES if (config_dir / f).is_file()), None)


def read_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    """An MLXP settings file as a launcher settings tree, and its notes."""
    content = read_mapping(path, "MLXP settings, e.g. 'use_logger: true'")
    pairs, notes = translate(content, str(path))
    return as_tree(pairs), notes


def explain(exc: UnknownSetting) -> UnknownSetting:
    """``exc`` (a setting ``launcher.yaml`` lacks) saying what to write when it is MLXP's key."""
    word = exc.word
    if word in RENAMED:
        native = f"'{RENAMED[word][0]}'"
        exc.how = (
            f"\n'{word}' is MLXP's spelling of {native}: write that in {SETTINGS_FILE}, or keep "
            f"MLXP's keys in configs/mlxp.yaml (`mlxlaunch migrate` translates it).{exc.how}"
        )
    elif word in IGNORED:
        exc.how = (
            f"\n'{word}' is an MLXP setting with no meaning here ({IGNORED[word][1]}): remove "
            f"it (`mlxlaunch migrate` translates a configs/mlxp.yaml).{exc.how}"
        )
    return exc


def note(text: str) -> None:
    """Tell the user, in one line on stderr, how an MLXP spelling was read."""
    sys.stderr.write(f"mlxlaunch: note: {text}\n")
    sys.stderr.flush()


def migrate(mlxp_file: Path, force: bool = False) -> tuple[Path, list[str]]:
    """Write the ``launcher.yaml`` equivalent to ``mlxp_file`` next to it; its path and notes.

    The written file is checked by loading it as settings; an existing
    ``launcher.yaml`` is only replaced with ``force``.
    """
    import yaml  # heavy third-party import, only for this command

    if not mlxp_file.is_file():
        raise UsageError(f"No MLXP settings file {mlxp_file}.")
    target = mlxp_file.parent / SETTINGS_FILE
    if target.exists() and not force:
        raise UsageError(f"{target} exists already; pass --force to replace it.")
    tree, notes = read_file(mlxp_file)
    load_settings(file_layer=(str(mlxp_file), tree))  # the translation is valid settings
    header = (
        f"# Launcher settings, translated from MLXP's {mlxp_file.name} by `mlxlaunch migrate`.\n"
        f"# With this file present, {mlxp_file.name} is no longer read. Keys: docs/settings.md\n"
    )
    text = yaml.safe_dump(tree, sort_keys=False, default_flow_style=False) if tree else ""
    atomic_write(target, header + text)
    return target, notes
