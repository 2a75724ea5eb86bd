"""Artifact types, their import paths, the run's artifact index, and atomic saves.

An *artifact type* is a pair of functions ``save(obj, path)`` and ``load(path)``.
Four are built in (``pickle``, ``numpy``, ``torch``, ``image``); users add theirs
with ``Logger.register_artifact_type``. A custom type is recorded in the run folder
by the *import path* of its functions (``module:qualname``), never as marshalled
bytecode, so every run of a sweep and any later reader can load it (MLXP stored
bytecode for the first run only). Lambdas and functions defined inside other
functions have no import path, so they are refused.

On disk (see ``docs/logging.md``)::

    artifacts/<type>/<sub/dirs>/<name>      the artifact
    artifacts/.keys/artifacts.yaml          index: {type: {dir_key: {basename: ""}}}  (MLXP's)
    artifacts/.keys/types.yaml              custom types: {name: {save, load, file}}

Every save goes to a temporary name in the destination folder and is then
renamed over the final name (``os.replace``): a reader, or the next attempt
after a crash, sees the previous artifact or the new one, never half of one.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Optional

from mlxlaunch.errors import ArtifactError, UnknownArtifactType
from mlxlaunch.runfolder.layout import (
    ARTIFACT_INDEX_FILE,
    ARTIFACT_TYPES_FILE,
    ARTIFACTS_DIR,
    KEYS_DIR,
    TMP_PREFIX,
)
from mlxlaunch.runfolder.metadata import atomic_write, dump_yaml, load_yaml
from mlxlaunch.runfolder.safefiles import locked

# ---------------------------------------------------------------- names


def check_artifact_name(name: str, what: str = "artifact_name") -> PurePosixPath:
    """``name`` as a relative path (``'x.pkl'``, ``'epoch_3/x.pkl'``), or ``ArtifactError``.

    Sub-folders are allowed; absolute paths, ``..``, empty parts and names starting
    with ``.`` (kept for the index and temporary files) are not.
    """
    if not isinstance(name, str) or not name:
        raise ArtifactError(f"{what} must be a non-empty string such as 'model.pkl', got {name!r}.")
    path = PurePosixPath(name)
    bad = (
        name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("", ".", "..") or part.startswith(".") for part in name.split("/"))
    )
    if bad:
        raise ArtifactError(
            f"Invalid {what} {name!r}: use a relative path of names separated by '/', with no "
            "'..', no empty part and no part starting with '.' (e.g. 'model.pkl', 'epoch_3/w.npy')."
        )
    return path


def check_type_name(name: str) -> None:
    """A type name is one folder name: letters, digits, '_', '-' (``'npz_dict'``)."""
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ArtifactError(
            f"Invalid artifact type name {name!r}: use letters, digits, '_' and '-' "
            f"(it names the folder {ARTIFACTS_DIR}/<type>/)."
        )


# ---------------------------------------------------------------- import paths


@dataclass(frozen=True)
class ImportPath:
    """Where a function lives: ``module:qualname``, and the module's file when it is a script."""

    module: str
    qualname: str
    #: the script's file when the module is ``__main__`` (so a reader can import it by path)
    file: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.module}:{self.qualname}"


def _main_module_name() -> tuple[str, Optional[str]]:
    """The importable name of the running script and its file (``'main'``, ``'/x/main.py'``)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    file = getattr(main, "__file__", None)
    file = os.path.abspath(file) if file else None
    if spec is not None and spec.name and spec.name != "__main__":
        return spec.name, file  # python -m package.module
    if file:
        return Path(file).stem, file
    return "__main__", None


def import_path_of(func: Any, role: str) -> ImportPath:
    """The import path of ``func``, or ``ArtifactError`` saying why it has none.

    ``role`` (``'save'``/``'load'``) only serves the message.
    """
    if isinstance(func, str):
        module, sep, qualname = func.partition(":")
        if not sep or not module or not qualname:
            raise ArtifactError(
                f"The {role} function {func!r} is not an import path: write 'module:function'."
            )
        resolve_import_path(func)  # fail now, not when the first artifact is saved
        return ImportPath(module, qualname)
    qualname = str(getattr(func, "__qualname__", None) or "")
    module = str(getattr(func, "__module__", None) or "")
    if not callable(func) or not qualname or not module:
        raise ArtifactError(
            f"The {role} function {func!r} has no import path (it is a "
            f"{type(func).__name__}): pass a function defined with 'def' at the top level of "
            "a module, or its path as a string 'module:function'."
        )
    why = None
    if "<lambda>" in qualname:
        why = "it is a lambda"
    elif "<locals>" in qualname:
        why = "it is defined inside another function"
    if why:
        raise ArtifactError(
            f"The {role} function {qualname} cannot be registered: {why}, so it has no import "
            "path that other runs of the sweep or a later reader could load it from. Define it "
            "with 'def' at the top level of a module (your script is fine)."
        )
    file = None
    if module == "__main__":
        module, file = _main_module_name()
        if file is None:
            raise ArtifactError(
                f"The {role} function {qualname} cannot be registered: it is defined in an "
                "interactive session (a notebook, 'python -c'), which no other process can "
                "import it from. Put it in a .py file and import it from there."
            )
        found = _resolve_qualname(sys.modules["__main__"], qualname)
    else:
        found = resolve_import_path(f"{module}:{qualname}")
    if found is not func:
        raise ArtifactError(
            f"The {role} function {qualname} is not reachable as {module}:{qualname} (was the "
            "name rebound, or the function wrapped by a decorator?). Register the function "
            "that the module exposes under that name."
        )
    return ImportPath(module, qualname, file)


def _resolve_qualname(obj: Any, qualname: str) -> Any:
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _same_file(a: Optional[str], b: Optional[str]) -> bool:
    if not a or not b:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class _OnSysPath:
    """Put ``folder`` on ``sys.path`` (first or last) for the duration of a ``with`` block."""

    def __init__(self, folder: Optional[str], first: bool) -> None:
        self.folder = folder if folder and folder not in sys.path else None
        self.first = first

    def __enter__(self) -> None:
        if self.folder and self.first:
            sys.path.insert(0, self.folder)
        elif self.folder:
            sys.path.append(self.folder)

    def __exit__(self, *exc: object) -> None:
        if self.folder:
            try:
                sys.path.remove(self.folder)
            except ValueError:
                pass


def _import_module(module: str, script: Optional[str], folder: Optional[str]) -> Any:
    """Import ``module``: from the file ``script`` if given, else normally.

    ``folder`` (the recorded script's folder) is searched last, so modules that
    sat next to the script (``from helpers import load``) are found from anywhere.
    """
    main = sys.modules.get("__main__")
    if script and _same_file(getattr(main, "__file__", None), script):
        return main  # the running script itself: never import it a second time
    if module in sys.modules:
        return sys.modules[module]
    import importlib
    import importlib.util

    if script and os.path.isfile(script):
        spec = importlib.util.spec_from_file_location(module, script)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {script}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        try:
            with _OnSysPath(folder, first=True):  # as when the script ran
                spec.loader.exec_module(mod)
        except BaseException:
            sys.modules.pop(module, None)
            raise
        return mod
    with _OnSysPath(folder, first=False):
        return importlib.import_module(module)


def resolve_import_path(path: str, file: Optional[str] = None) -> Callable[..., Any]:
    """The function at ``'module:qualname'``.

    ``file`` is the script recorded with the type: it is imported from that file
    for the module of its name (``main`` for ``main.py``, ``pkg.train`` for
    ``pkg/train.py``), and its folder is searched for the other modules, so a
    type may mix a script and the modules next to it.
    """
    module, _, qualname = path.partition(":")
    script = file if file and Path(file).stem == module.rsplit(".", 1)[-1] else None
    folder = os.path.dirname(file) if file else None
    try:
        return _resolve_qualname(_import_module(module, script, folder), qualname)
    except (ImportError, AttributeError) as exc:
        where = f" (recorded with {file})" if file else ""
        raise ArtifactError(
            f"Cannot load the function {path}{where}: {type(exc).__name__}: {exc}. "
            "Make that module importable here (same environment, PYTHONPATH) to use this "
            "artifact type."
        ) from exc


# ---------------------------------------------------------------- types


@dataclass(frozen=True)
class ArtifactType:
    """How to save and load one kind of artifact."""

    name: str
    save: Callable[[Any, Path], None]
    load: Callable[[Path], Any]
    #: import paths of ``save``/``load`` for custom types (None for built-ins)
    save_path: Optional[ImportPath] = None
    load_path: Optional[ImportPath] = None

    def to_index(self) -> dict[str, Any]:
        """The entry of this type in ``types.yaml``."""
        assert self.save_path is not None and self.load_path is not None
        entry: dict[str, Any] = {"save": str(self.save_path), "load": str(self.load_path)}
        file = self.save_path.file or self.load_path.file
        if file:
            entry["file"] = file
        return entry

    @classmethod
    def from_index(cls, name: str, entry: dict[str, Any]) -> ArtifactType:
        """Rebuild a custom type from its ``types.yaml`` entry (imports its module)."""
        if not isinstance(entry, dict) or not isinstance(entry.get("save"), str):
            raise ArtifactError(
                f"The entry of artifact type {name!r} in {ARTIFACT_TYPES_FILE} is not an import path "
                f"record ({entry!r:.80}); it may come from MLXP, which stored bytecode. "
                "Register the type again with logger.register_artifact_type."
            )
        file = entry.get("file")
        save_path, load_path = entry["save"], entry["load"]

        def lazy(path: str) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                return resolve_import_path(path, file)(*args)

            return call

        return cls(
            name,
            lazy(save_path),
            lazy(load_path),
            ImportPath(*save_path.split(":", 1), file=file),  # type: ignore[misc]
            ImportPath(*load_path.split(":", 1), file=file),  # type: ignore[misc]
        )


def _save_pickle(obj: Any, path: Path) -> None:
    import dill

    with open(path, "xb") as f:
        dill.dump(obj, f)


def _load_pickle(path: Path) -> Any:
    import dill

    with open(path, "rb") as f:
        return dill.load(f)


def _numpy_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise ArtifactError(
            f"A numpy artifact name ends in '.npy' (one array) or '.npz' (a dict of arrays); "
            f"got {path.name!r}."
        )
    return suffix


def _save_numpy(obj: Any, path: Path) -> None:
    from collections.abc import Mapping

    import numpy as np

    with open(path, "xb") as f:
        if _numpy_kind(path) == ".npy":
            np.save(f, np.asarray(obj), allow_pickle=False)
        elif isinstance(obj, Mapping):
            np.savez(f, **{str(k): np.asarray(v) for k, v in obj.items()})  # type: ignore[arg-type]
        elif isinstance(obj, (list, tuple)):
            np.savez(f, *[np.asarray(v) for v in obj])
        else:
            raise ArtifactError(
                f"A '.npz' artifact holds a dict (or list) of arrays, got {type(obj).__name__}; "
                "use a '.npy' name for one array."
            )


def _load_numpy(path: Path) -> Any:
    import numpy as np

    if _numpy_kind(path) == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ArtifactError(
            "The 'torch' artifact type needs PyTorch, which is not installed here "
            "(pip install torch); or save with artifact_type='pickle'."
        ) from None
    return torch


def _save_torch(obj: Any, path: Path) -> None:
    torch = _import_torch()
    with open(path, "xb") as f:
        torch.save(obj, f)


def _load_torch(path: Path) -> Any:
    return _import_torch().load(path)


#: Image formats by file suffix; the first group PIL can read back as an image.
_RASTER = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".bmp": "bmp", ".tif": "tiff",
           ".tiff": "tiff", ".webp": "webp", ".gif": "gif"}  # fmt: skip
_VECTOR = {".pdf": "pdf", ".svg": "svg", ".eps": "eps", ".ps": "ps"}


def _image_format(path: Path) -> str:
    suffix = path.suffix.lower()
    fmt = _RASTER.get(suffix) or _VECTOR.get(suffix)
    if fmt is None:
        raise ArtifactError(
            f"An image artifact name ends in one of {', '.join(sorted(_RASTER) + sorted(_VECTOR))} "
            f"(it picks the format); got {path.name!r}."
        )
    return fmt


def _save_image(obj: Any, path: Path) -> None:
    fmt = _image_format(path)
    if callable(getattr(obj, "savefig", None)):  # a matplotlib Figure
        with open(path, "xb") as f:
            obj.savefig(f, format=fmt, bbox_inches="tight")
        return
    try:
        from PIL import Image
    except ImportError:
        Image = None  # type: ignore[assignment]  # noqa: N806
    if Image is not None and isinstance(obj, Image.Image):
        if fmt in _VECTOR.values():
            raise ArtifactError(f"A PIL image cannot be saved as {fmt}; use e.g. '.png'.")
        with open(path, "xb") as f:
            obj.save(f, format=fmt.upper())
        return
    raise ArtifactError(
        f"The 'image' artifact type saves a matplotlib Figure or a PIL image, got "
        f"{type(obj).__module__}.{type(obj).__qualname__}. (pip install 'mlxlaunch[image]')"
    )


def _load_image(path: Path) -> Any:
    """A PIL image for raster formats; the file's bytes for vector formats (pdf, svg ...)."""
    if _image_format(path) in _VECTOR.values():
        return path.read_bytes()
    try:
        from PIL import Image
    except ImportError:
        raise ArtifactError(
            "Loading an image artifact needs Pillow (pip install 'mlxlaunch[image]')."
        ) from None
    img = Image.open(path)
    img.load()  # reads the pixels and closes the file
    return img


BUILTIN_TYPES: dict[str, ArtifactType] = {
    t.name: t
    for t in (
        ArtifactType("pickle", _save_pickle, _load_pickle),
        ArtifactType("numpy", _save_numpy, _load_numpy),
        ArtifactType("torch", _save_torch, _load_torch),
        ArtifactType("image", _save_image, _load_image),
    )
}


# ---------------------------------------------------------------- index


def dir_key(name: PurePosixPath) -> str:
    """MLXP's key of an artifact's folder: ``''`` at the top, ``'.a.b'`` for ``a/b/``."""
    parent = name.parent.as_posix()
    return "" if parent == "." else "." + ".".join(name.parent.parts)


def key_dir(key: str) -> str:
    """The folder of MLXP's key ``dir_key`` makes: ``''`` at the top, ``'a/b'`` for ``'.a.b'``."""
    return "/".join(key.split(".")[1:])


class ArtifactIndex:
    """``artifacts/.keys/artifacts.yaml`` and ``types.yaml`` of one run, cached in memory.

    Processes sharing the run's Logger (workers) may update them at once: each
    update re-reads the file and merges into it under a lock on ``.keys/``, then
    rewrites it atomically, so no process's entries are lost.
    """

    def __init__(self, run_dir: Path) -> None:
        self.keys_dir = Path(run_dir) / ARTIFACTS_DIR / KEYS_DIR
        self._artifacts: Optional[dict[str, dict[str, dict[str, str]]]] = None
        self._types: Optional[dict[str, dict[str, Any]]] = None

    def _load(self, file: str) -> dict[str, Any]:
        import yaml

        path = self.keys_dir / file
        try:
            data = load_yaml(path)
        except FileNotFoundError:
            return {}
        except yaml.YAMLError:
            raise ArtifactError(
                f"The artifact index {path} is damaged (not valid YAML). Repair it, or remove "
                "it: the artifacts stay on disk and load with an explicit artifact_type=."
            ) from None
        return data if isinstance(data, dict) else {}

    def _save(self, file: str, data: dict[str, Any]) -> None:

        self.keys_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.keys_dir / file, dump_yaml(data))

    @property
    def artifacts(self) -> dict[str, dict[str, dict[str, str]]]:
        if self._artifacts is None:
            self._artifacts = self._load(ARTIFACT_INDEX_FILE)
        return self._artifacts

    @property
    def types(self) -> dict[str, dict[str, Any]]:
        if self._types is None:
            self._types = self._load(ARTIFACT_TYPES_FILE)
        return self._types

    def _merge(self, file: str, entries: dict[str, Any], deep: bool = True) -> dict[str, Any]:
        """``file`` as on disk now with ``entries`` merged in (two levels deep), saved."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        with locked(self.keys_dir):
            data = self._load(file)
            for key, value in entries.items():
                if deep and isinstance(value, dict) and isinstance(data.get(key), dict):
                    for sub, names in value.items():
                        old = data[key].get(sub)
                        data[key][sub] = {**old, **names} if isinstance(old, dict) else names
                else:
                    data[key] = value
            self._save(file, data)
        return data

    def add(self, artifact_type: str, name: PurePosixPath) -> None:
        names = self.artifacts.get(artifact_type, {}).get(dir_key(name)) or {}
        if name.name not in names:
            entry = {artifact_type: {dir_key(name): {name.name: ""}}}
            self._artifacts = self._merge(ARTIFACT_INDEX_FILE, entry)

    def types_of(self, name: PurePosixPath) -> list[str]:
        """The types under which an artifact called ``name`` was logged."""
        key = dir_key(name)
        return [
            t
            for t, folders in self.artifacts.items()
            if isinstance(folders, dict) and name.name in (folders.get(key) or {})
        ]

    def names(self) -> list[str]:
        """Every indexed artifact as ``'<type>/<name>'``."""
        out = []
        for t, folders in self.artifacts.items():
            for key, names in (folders or {}).items():
                prefix = key_dir(key)
                for base in names or {}:
                    out.append(f"{t}/{prefix}/{base}" if prefix else f"{t}/{base}")
        return out

    def add_type(self, artifact_type: ArtifactType) -> None:
        entry = artifact_type.to_index()
        if self.types.get(artifact_type.name) != entry:
            self._types = self._merge(ARTIFACT_TYPES_FILE, {artifact_type.name: entry}, deep=False)


def unknown_type_error(name: str, known: list[str]) -> ArtifactError:
    return UnknownArtifactType(
        name,
        sorted(known),
        how="Add your own with logger.register_artifact_type(name, save, load).",
    )


# ---------------------------------------------------------------- atomic save


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def temporary_name(path: Path) -> Path:
    """A unique temporary name next to ``path`` that keeps its suffix (``np.save`` adds one)."""
    return path.with_name(f"{TMP_PREFIX}{os.getpid()}.{os.urandom(4).hex()}.{path.name}")


def save_atomically(artifact_type: ArtifactType, obj: Any, path: Path) -> None:
    """Save ``obj`` with ``artifact_type`` to ``path``: temporary name, fsync, ``os.replace``.

    Raises (and leaves ``path`` as it was) if the save function fails or does not
    write the file it was given. A save function may also write a folder; a
    folder artifact is swapped in with two renames.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        artifact_type.save(obj, tmp)
        if not tmp.exists():
            raise ArtifactError(
                f"The save function of artifact type {artifact_type.name!r} returned without "
                f"writing the path it was given ({tmp}); it must write exactly that path."
            )
        if tmp.is_dir():
            _replace_dir(tmp, path)
        else:
            _fsync(tmp)
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _replace_dir(tmp: Path, path: Path) -> None:
    old = None
    if path.exists():
        old = path.with_name(f"{TMP_PREFIX}old.{os.getpid()}.{os.urandom(4).hex()}.{path.name}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        _remove(old)


def remove_stale_temporaries(folder: Path, name: str) -> None:
    """Delete temporaries of ``name`` left in ``folder`` by killed processes (not this one)."""
    mine = f"{TMP_PREFIX}{os.getpid()}."
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(TMP_PREFIX) and entry.name.endswith("." + name):
            if not entry.name.startswith(mine):
                _remove(Path(entry.path))
