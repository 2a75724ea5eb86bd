"""Configs in and out of files: ``--to-yaml/--to-json/--to-toml`` and ``@file`` arguments.

Out: ``python main.py lr=0.1 --to-yaml cfg.yaml`` writes the resolved config of
the point and runs nothing. A sweep writes one file per point and so needs
``{i}`` in the file name (the point's number, from 1, as ``--dry-run`` shows
it): ``--to-json 'out/point_{i}.json'``.

In: an exported file gives the same config back, three ways:

- ``python main.py @cfg.toml``: a bare ``@FILE`` argument is the whole config
  (instead of the main YAML); value overrides still apply on top;
- ``python main.py --config-path out --config-name cfg`` (YAML, Hydra's flags);
- ``python main.py model=@configs/model_big.yaml``: ``KEY=@FILE`` sets one key
  (or a whole config group) to the file's content. Quote the value
  (``key='@text'``) to pass a string that starts with ``@``.

Files are read by extension: ``.yaml``/``.yml``, ``.json``, ``.toml``. Paths are
relative to the current folder, like any path typed in a shell.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mlxlaunch.errors import ConfigError, UsageError, did_you_mean
from mlxlaunch.launching import hydra_shim
from mlxlaunch.runfolder.metadata import atomic_write, dump_yaml

if TYPE_CHECKING:  # annotations only: importing hydra takes ~0.3 s
    from hydra.core.override_parser.types import Override

#: Extensions a config file may have, and the format each one means.
EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}


# ---------------------------------------------------------------- reading


def load_config_file(path: str | Path) -> Any:
    """The content of a YAML, JSON or TOML file, as plain data."""
    path = Path(path).expanduser()
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"Cannot read '{path}': unknown extension '{path.suffix}'. "
            f"Use one of {', '.join(EXTENSIONS)}."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = ""
        if path.parent.is_dir():
            hint = did_you_mean(path.name, [p.name for p in path.parent.iterdir()])
        raise UsageError(f"Config file '{path}' does not exist.{hint}") from None
    except OSError as exc:
        raise UsageError(f"Cannot read config file '{path}': {exc.strerror}.") from None
    try:
        if fmt == "json":
            return json.loads(text)
        if fmt == "toml":
            return _toml_loads(text)
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - each parser has its own error type
        raise UsageError(f"Config file '{path}' is not valid {fmt.upper()}: {exc}") from None


def _toml_loads(text: str) -> Any:
    try:
        import tomllib  # Python 3.11+
    except ImportError:  # pragma: no cover - older Pythons
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise UsageError(
                "Reading TOML needs Python 3.11+ or the 'tomli' package: pip install tomli."
            ) from None
    return tomllib.loads(text)


def is_file_reference(override: Override) -> bool:
    """Whether a parsed Hydra override is ``KEY=@FILE`` (unquoted, not a sweep)."""
    value = hydra_shim.raw_value(override)
    return isinstance(value, str) and value.startswith("@") and len(value) > 1


def base_from_file(path: Path, groups: tuple[str, ...] = ()) -> Any:
    """The whole config read from ``path`` (a bare ``@FILE``), as a struct OmegaConf config."""
    from omegaconf import OmegaConf

    if groups:
        raise ConfigError(
            f"The config comes from '{path}', which has no config groups: "
            f"{', '.join(groups)} cannot be applied. Set its keys instead (e.g. model.size=2)."
        )
    data = load_config_file(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(
            f"Config file '{path}' must hold a mapping of keys, not a {type(data).__name__}."
        )
    cfg = OmegaConf.create(data)
    OmegaConf.set_struct(cfg, True)
    return cfg


def apply_file_override(cfg: Any, override: Override, where: str) -> None:
    """Set ``override``'s key in the OmegaConf ``cfg`` to the content of its ``@FILE``.

    The value replaces the key's content (it is not merged), so the key ends up
    exactly equal to the file: ``model=@big.yaml`` gives ``cfg.model == big.yaml``.
    The caller (``compose``) has checked that the key exists, or that ``+`` adds it.
    """
    from omegaconf import OmegaConf, open_dict

    key = override.key_or_group
    value = load_config_file(hydra_shim.raw_value(override)[1:])
    with open_dict(cfg):
        OmegaConf.update(cfg, key, value, merge=False, force_add=True)


# ---------------------------------------------------------------- writing


def dumps(config: dict[str, Any], fmt: str) -> str:
    """``config`` as YAML, JSON or TOML text."""
    if fmt == "yaml":
        return dump_yaml(config)
    if fmt in ("json", "toml"):
        key = _first_non_string_key(config)
        if key is not None:  # JSON would turn it into a string, TOML refuses it
            raise UsageError(
                f"{fmt.upper()} keys are strings: the config key '{key}' is not. "
                "Export with --to-yaml, or use string keys."
            )
    if fmt == "json":
        return json.dumps(config, indent=2, allow_nan=True) + "\n"
    try:
        import tomli_w
    except ImportError:
        raise UsageError(
            "--to-toml needs the 'tomli-w' package: pip install 'mlxlaunch[cli]' (or tomli-w)."
        ) from None
    null = _first_null(config)
    if null is not None:
        raise UsageError(
            f"TOML has no null: config key '{null}' is null. "
            "Export with --to-yaml or --to-json, or give the key a value."
        )
    return tomli_w.dumps(config)


def _entries(value: Any, prefix: str = "") -> Iterator[tuple[Any, Any, str]]:
    """``(key, child, path)`` of each dict entry and list item under ``value``, depth first;
    ``path`` is the child's dotted path followed by '.', ``key`` is ``""`` for a list item."""
    if isinstance(value, dict):
        items = [(key, child, f"{prefix}{key}.") for key, child in value.items()]
    elif isinstance(value, list):
        items = [("", child, f"{prefix.rstrip('.')}[{i}].") for i, child in enumerate(value)]
    else:
        return
    for key, child, path in items:
        yield key, child, path
        yield from _entries(child, path)


def _first_null(config: Any) -> Optional[str]:
    if config is None:
        return "(root)"
    nulls = (path.rstrip(".") or "(root)" for _, child, path in _entries(config) if child is None)
    return next(nulls, None)


def _first_non_string_key(config: Any) -> Optional[str]:
    bad = (path[:-1] for key, _, path in _entries(config) if not isinstance(key, str))
    return next(bad, None)


def export_paths(pattern: str, n_points: int) -> list[Path]:
    """The file of each point: ``pattern`` with ``{i}`` replaced by the point number (from 1)."""
    if n_points > 1 and "{i}" not in pattern:
        raise UsageError(
            f"The command is a sweep of {n_points} points: put '{{i}}' in the file name to "
            f"write one file per point, e.g. '{_with_i(pattern)}'."
        )
    return [Path(pattern.replace("{i}", str(i + 1))) for i in range(n_points)]


def _with_i(pattern: str) -> str:
    path = Path(pattern)
    return str(path.with_name(f"{path.stem}_{{i}}{path.suffix}"))


def export_points(configs: list[dict[str, Any]], fmt: str, pattern: str) -> list[Path]:
    """Write each config to its file (atomically); return the paths written."""

    paths = export_paths(pattern, len(configs))
    texts = [dumps(config, fmt) for config in configs]  # fail before writing anything
    for path, text in zip(paths, texts):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, text)
        except OSError as exc:
            raise UsageError(f"Cannot write '{path}': {exc.strerror or exc}.") from None
    return paths
