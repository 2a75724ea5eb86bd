"""Metadata I/O: one YAML dump/load, one atomic write, info/config/settings."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from pathlib import Path
from typing import Any

from mlxlaunch.errors import NotRegularFile, RunFolderError
from mlxlaunch.runfolder import fastdump, fastyaml
from mlxlaunch.runfolder.layout import (
    CONFIG_FILE,
    INFO_FILE,
    LAUNCHER_FILE,
    metadata_path,
)
from mlxlaunch.runfolder.safefiles import create_temp, read_regular_file, write_all

#: A metadata file larger than this is not parsed (mlxlaunch's are a few KB).
MAX_METADATA_BYTES = 16 * 1024 * 1024


def _yaml():
    import yaml

    return yaml


_dumper_class: Any = None


def _dumper() -> Any:
    """libyaml's C dumper when it is there, quoting strings a config loader would misread."""
    global _dumper_class
    if _dumper_class is None:
        yaml = _yaml()

        class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
            pass

        def represent_str(dumper: Any, value: str) -> Any:
            style = "'" if fastdump.FLOAT_LIKE.match(value) else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, represent_str)
        _dumper_class = Dumper
    return _dumper_class


def dump_yaml(data: Any) -> str:
    """YAML text of plain data that reads back the same with PyYAML, OmegaConf and Hydra.

    The plain trees mlxlaunch writes go through ``fastdump`` (the same text, several
    times faster); anything else through :func:`pyyaml_dump`.
    """
    text = fastdump.dump(data)
    return pyyaml_dump(data) if text is None else text


def pyyaml_dump(data: Any) -> str:
    """``dump_yaml`` by PyYAML itself (libyaml's emitter): the reference ``fastdump`` matches."""
    return _yaml().dump(data, Dumper=_dumper(), sort_keys=False, default_flow_style=False)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file with libyaml's C loader when it is there."""
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as f:
        return yaml.load(f, Loader=loader)


def atomic_write(path: Path, data: str | bytes, fsync: bool = True, mode: int = 0o644) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a temporary file.

    The temporary file is in the same folder, so a reader sees the old file or
    the new one, never a half-written one. It is a fresh file made with
    ``O_EXCL | O_NOFOLLOW`` (``safefiles.create_temp``) and renamed over ``path``,
    so a link planted at ``path`` is replaced, never written through. If writing
    fails (a full disk), the temporary file is removed and ``path`` is left as it
    was. ``fsync=False`` is for files that may be lost in a crash (a cache, a hint).
    """
    fd, tmp = create_temp(path, mode)
    try:
        try:
            write_all(fd, data.encode("utf-8") if isinstance(data, str) else data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def now_iso() -> str:
    """The current time in ISO 8601, UTC, to the microsecond."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def _load_metadata(path: Path) -> Any:
    """The YAML of ``path``, a file mlxlaunch wrote (``fastyaml``, else libyaml).

    A file that is not valid YAML is a ``RunFolderError`` naming it.
    """
    yaml = _yaml()
    try:
        text = read_regular_file(str(path), MAX_METADATA_BYTES)  # never blocks on a FIFO
    except NotRegularFile as exc:
        raise RunFolderError(
            f"{path}: {exc}; mlxlaunch reads only regular files there. Remove it "
            f"({path.parent.parent} cannot be used until then)."
        ) from None
    try:
        return fastyaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise RunFolderError(
            f"{path} is damaged: not valid YAML{line}. Repair or remove it "
            f"({path.parent.parent} cannot be used until then)."
        ) from None


def read_info(run_dir: Path) -> dict[str, Any]:
    """The run's ``info.yaml`` as a dict (empty if missing or empty).

    Raises ``RunFolderError`` if the file is not valid YAML.
    """
    path = metadata_path(run_dir, INFO_FILE)
    try:
        data = _load_metadata(path)
    except FileNotFoundError:
        return {}
    return data if isinstance(data, dict) else {}


def write_info(run_dir: Path, info: dict[str, Any]) -> None:
    atomic_write(metadata_path(run_dir, INFO_FILE), dump_yaml(info))


def read_config(run_dir: Path) -> dict[str, Any]:
    path = metadata_path(run_dir, CONFIG_FILE)
    try:
        data = _load_metadata(path)
    except FileNotFoundError:
        raise RunFolderError(
            f"{path} is missing: {run_dir} is not a prepared run folder."
        ) from None
    if not isinstance(data, dict):  # written by mlxlaunch, it is always a mapping ({} if empty)
        held = "nothing" if data is None else f"a {type(data).__name__}"
        raise RunFolderError(
            f"{path} is damaged: it holds {held}, not a mapping of config keys. "
            f"Repair or remove it ({run_dir} cannot be used until then)."
        )
    return data


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    atomic_write(metadata_path(run_dir, CONFIG_FILE), dump_yaml(config))


def write_settings(run_dir: Path, settings: dict[str, Any]) -> None:
    atomic_write(metadata_path(run_dir, LAUNCHER_FILE), dump_yaml(settings))


def read_settings(run_dir: Path) -> dict[str, Any]:
    data = _load_metadata(metadata_path(run_dir, LAUNCHER_FILE))
    return data if isinstance(data, dict) else {}
