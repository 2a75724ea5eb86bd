"""The run's Logger: metrics, artifacts and checkpoints, written so that no data is lost.

* ``log_metrics(dict, log_name)`` appends one JSON object per call to
  ``metrics/<log_name>.json``, as one complete line written with one ``write``
  system call, so a reader of a live run sees every finished record and a crash
  never leaves half a record followed by good ones. Append handles stay open (at
  most ``max_open_files`` at once, least recently used closed first), which is
  what makes logging as fast as a hand-written ``f.write(json.dumps(r) + "\\n")``.
  ``metrics/.keys/<log_name>.yaml`` lists the keys ever logged (MLXP's format).
* ``log_artifacts`` / ``load_artifacts`` save and load objects under
  ``artifacts/<type>/<name>`` through a temporary file and ``os.replace``.
* ``log_checkpoint`` / ``load_checkpoint`` are pickle artifacts with a history
  option; a missing checkpoint raises ``CheckpointNotFound`` (a
  ``FileNotFoundError``), which is the resume pattern::

      try:
          ckpt = ctx.logger.load_checkpoint("last_ckpt"); start = ckpt["epoch"] + 1
      except FileNotFoundError:
          start = 0

The file formats are specified in ``docs/logging.md``.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Optional, Union

from mlxlaunch.errors import (
    ArtifactError,
    ArtifactNotFound,
    CheckpointNotFound,
    UsageError,
    did_you_mean,
)
from mlxlaunch.jobenv import ENV_LOG_DIR, ENV_LOG_ID
from mlxlaunch.logger.artifacts import (
    BUILTIN_TYPES,
    ArtifactIndex,
    ArtifactType,
    check_artifact_name,
    check_type_name,
    import_path_of,
    remove_stale_temporaries,
    resolve_import_path,
    save_atomically,
    unknown_type_error,
)
from mlxlaunch.logger.jsonify import encode_record
from mlxlaunch.runfolder.ids import allocate_run_dirs, claim_run_dir
from mlxlaunch.runfolder.layout import (
    ARTIFACTS_DIR,
    KEYS_DIR,
    METADATA,
    METRICS_DIR,
    STDERR_FILE,
    STDOUT_FILE,
    TMP_PREFIX,
)
from mlxlaunch.runfolder.metadata import atomic_write, dump_yaml, load_yaml
from mlxlaunch.runfolder.safefiles import locked, open_existing

#: Names a metrics log may not take: they are used by the run folder (or by MLXP's).
RESERVED_LOG_NAMES = frozenset(
    {"info", "config", "launcher", ARTIFACTS_DIR, METADATA, METRICS_DIR, "mlxp"}
)
_VALID_LOG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")

#: Field added to a record by ``log_metrics(..., step=n)``.
STEP_FIELD = "_step"
#: Field added by ``log_metrics(..., timestamp=True)``: seconds since the Unix epoch (UTC).
TIME_FIELD = "_time"
#: The artifact type, and so the folder (``artifacts/pickle/``), of checkpoints (as in MLXP).
CHECKPOINT_TYPE = "pickle"
#: Suffix of the folder that keeps older checkpoints with ``log_checkpoint(..., keep=N)``.
HISTORY_SUFFIX = ".history"


def check_log_name(log_name: str) -> None:
    """Raise ``ValueError`` unless ``log_name`` can name ``metrics/<log_name>.json``."""
    if not isinstance(log_name, str) or not _VALID_LOG_NAME.match(log_name):
        raise ValueError(
            f"Invalid log_name {log_name!r}: use letters, digits, '_', '-' and '.', "
            "with no path separator (e.g. 'train', 'eval_clean')."
        )
    if log_name in RESERVED_LOG_NAMES:
        raise ValueError(
            f"log_name {log_name!r} is reserved by the run folder; reserved names are "
            f"{', '.join(sorted(RESERVED_LOG_NAMES))}. Pick another one, e.g. 'train'."
        )


def default_max_open_files() -> int:
    """How many metrics files a Logger keeps open: 128, or less under a low ``ulimit -n``."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return 32
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 128
    return max(4, min(128, soft // 8))


class AppendFiles:
    """Append-only files of one folder, kept open: at most ``max_open`` at once.

    Each ``write`` is one ``os.write`` on an ``O_APPEND`` descriptor, so a line
    reaches the file whole (the kernel's page cache) as soon as the call returns.
    When more than ``max_open`` files are in use, the least recently written one
    is closed. When a file is first opened and does not end with a newline (a
    previous process died mid-write, or the disk filled up), a newline is written
    first, so the damaged line stays alone and every later record is a line of
    its own.
    """

    def __init__(self, folder: Path, suffix: str, max_open: Optional[int] = None) -> None:
        if max_open is None:
            max_open = default_max_open_files()
        if max_open < 1:
            raise ValueError(f"max_open must be at least 1, got {max_open}.")
        self.folder = folder
        self.suffix = suffix
        self.max_open = max_open
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._complete: set[str] = set()  # files known to end with a newline (we wrote them)

    def write(self, name: str, data: bytes) -> None:
        """Append ``data`` (one or more complete lines) to ``<folder>/<name><suffix>``."""
        fd = self._fds.get(name)
        if fd is None:
            fd = self._open(name)
        else:
            self._fds.move_to_end(name)
        try:
            written = os.write(fd, data)
            while written < len(data):  # short writes happen only on full disks or signals
                written += os.write(fd, data[written:])
        except BaseException:
            self._close(name)
            self._complete.discard(name)  # the next open ends a partial line with a newline
            raise

    def _open(self, name: str) -> int:
        path = self.folder / f"{name}{self.suffix}"
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT  # never through a planted link:
        try:
            fd = open_existing(path, flags)
        except FileNotFoundError:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = open_existing(path, flags)
        if name not in self._complete:
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    os.write(fd, b"\n")
            except BaseException:
                os.close(fd)
                raise
            self._complete.add(name)
        while len(self._fds) >= self.max_open:
            _, old = self._fds.popitem(last=False)
            os.close(old)
        self._fds[name] = fd
        return fd

    def _close(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        """Close every open file (writing again reopens them)."""
        while self._fds:
            _, fd = self._fds.popitem()
            os.close(fd)


class LogDir(type(Path())):  # type: ignore[misc]  # PosixPath or WindowsPath, as Path() makes
    """A run folder's path that also compares equal to its string, as MLXP's ``log_dir`` (a str).

    So notebooks written for MLXP (``logger.log_dir == "/abs/logs/3"``,
    ``logger.log_dir + "/file"``) keep working while ``logger.log_dir / "file"``
    and every ``Path`` method work too. Its hash is its string's, so it finds
    the same entries as its string in a dict keyed by paths as strings.
    """

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str(self) == os.path.normpath(other) or str(self) == other
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)


class _Tee:
    """A text stream writing to a file and to the stream it replaces (``log_streams_to_file``)."""

    def __init__(self, path: Path, stream: Any) -> None:
        self._file = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process
        self._stream = stream

    def write(self, text: str) -> int:
        self._file.write(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._file.flush()
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Logger:
    """Writes one run's metrics, artifacts and checkpoints into its folder.

    ``Logger(log_dir, log_id)`` is what the runner gives the task as ``ctx.logger``;
    it also works on any existing run folder, e.g. to load a run's artifacts from
    a notebook. ``Logger(parent_log_dir)`` is MLXP's standalone form: it allocates
    a new numbered run folder under ``parent_log_dir`` (``forced_log_id=N`` opens
    ``parent_log_dir/N`` instead) and sets ``parent_log_dir``, ``log_id`` and
    ``log_dir`` as MLXP does; ``log_streams_to_file=True`` then copies this
    process's ``sys.stdout``/``sys.stderr`` to ``log.stdout``/``log.stderr``.
    ``forced_log_id`` is keyword-only: a second positional argument is the
    ``log_id`` of the run folder given first.

    Safe to use from several threads of one process. Call ``close()``
    (the runner does) to release the open metrics files. ``max_open_files``
    bounds how many metrics files stay open at once (default: 128, or an eighth
    of ``ulimit -n`` when that is lower).
    """

    def __init__(
        self,
        log_dir: Union[str, Path],
        log_id: Optional[int] = None,
        log_streams_to_file: bool = False,
        *,
        forced_log_id: Optional[int] = None,
        max_open_files: Optional[int] = None,
    ) -> None:
        path = Path(log_dir)
        self.parent_log_dir = str(path.absolute().parent)
        if forced_log_id is not None and log_id is not None:
            raise TypeError("Give Logger a log_id (the run folder's) or a forced_log_id, not both.")
        if log_id is None:
            path, log_id = _standalone_run_dir(path, -1 if forced_log_id is None else forced_log_id)
            self.parent_log_dir = str(path.parent)
        self.log_dir = LogDir(path)
        self.log_id = log_id
        self.metrics_dir = self.log_dir / METRICS_DIR
        self.artifacts_dir = self.log_dir / ARTIFACTS_DIR
        self._files = AppendFiles(self.metrics_dir, ".json", max_open_files)
        self._keys: dict[str, dict[str, str]] = {}
        self._valid_names: set[str] = set()
        self._lock = threading.RLock()
        self._types: dict[str, ArtifactType] = dict(BUILTIN_TYPES)
        self._index = ArtifactIndex(self.log_dir)
        if log_streams_to_file:
            sys.stdout = _Tee(self.log_dir / STDOUT_FILE, sys.stdout)
            sys.stderr = _Tee(self.log_dir / STDERR_FILE, sys.stderr)

    @classmethod
    def from_env(cls, *, max_open_files: Optional[int] = None) -> Logger:
        """The Logger of the run folder this process was started for by ``mlxlaunch run``.

        An entry point's command (``docs/entry-points.md``) finds its run folder in
        ``MLXLAUNCH_LOG_DIR``; what it logs here the Reader sees like any run's metrics.
        """
        log_dir = os.environ.get(ENV_LOG_DIR)
        if not log_dir:
            raise UsageError(
                f"Logger.from_env(): {ENV_LOG_DIR} is not set, so this process was not started "
                "by 'mlxlaunch run'. Run it through an MLproject entry point, or use "
                "Logger(run_folder, log_id)."
            )
        log_id = os.environ.get(ENV_LOG_ID) or Path(log_dir).name
        return cls(log_dir, int(log_id) if log_id.isdigit() else 0, max_open_files=max_open_files)

    def __repr__(self) -> str:
        return f"Logger({str(self.log_dir)!r}, {self.log_id})"

    def __getstate__(self) -> dict[str, Any]:
        # picklable (to hand ctx.logger to worker processes): open files and the lock stay here
        return {"log_dir": self.log_dir, "log_id": self.log_id, "max_open": self._files.max_open}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["log_dir"], state["log_id"], max_open_files=state["max_open"])  # type: ignore[misc]

    def __enter__(self) -> Logger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the open metrics files. Logging again afterwards reopens them."""
        with self._lock:
            self._files.close()

    # ------------------------------------------------------------ metrics

    def log_metrics(
        self,
        metrics: Mapping[str, Any],
        log_name: str = "metrics_default",
        *,
        step: Optional[int] = None,
        timestamp: bool = False,
    ) -> None:
        """Append ``metrics`` as one JSON line to ``metrics/<log_name>.json``.

        Values are converted first (numpy/torch scalars and arrays, Path, Enum,
        datetime); one that cannot be raises ``TypeError`` naming the key, and
        nothing is written. ``step=n`` adds the field ``"_step": n`` and
        ``timestamp=True`` the field ``"_time"`` (Unix time, seconds); both are off
        by default so the record is exactly the dict given.
        """
        if log_name not in self._valid_names:
            check_log_name(log_name)
            self._valid_names.add(log_name)
        if step is not None or timestamp:
            metrics = _with_fields(metrics, step, timestamp)
        record, line = encode_record(metrics)
        with self._lock:
            known = self._keys.get(log_name)
            if known is None or not record.keys() <= known.keys():
                self._update_keys(log_name, record)  # first: the keys file lists every key
            self._files.write(log_name, line)

    def _update_keys(self, log_name: str, record: dict[str, Any]) -> None:
        """Add ``record``'s keys to ``metrics/.keys/<log_name>.yaml``, losing none.

        Other processes may share this run's Logger (workers): the file is re-read
        and merged under a lock on ``.keys/``, so keys another process added since
        are kept (each process's memory alone would drop them).
        """
        keys_dir = self.metrics_dir / KEYS_DIR
        path = keys_dir / f"{log_name}.yaml"
        known = self._keys.get(log_name)
        if known is not None and record.keys() <= known.keys() and path.exists():
            return
        keys_dir.mkdir(parents=True, exist_ok=True)
        with locked(keys_dir):
            merged: dict[str, str] = {}
            try:
                previous = load_yaml(path)  # earlier attempts' and other processes' keys
            except Exception:  # missing, or damaged: rebuilt from what is logged now
                previous = None
            if isinstance(previous, (dict, list)):
                merged.update((str(k), "") for k in previous)
            merged.update(known or {})
            merged.update((k, "") for k in record)
            self._keys[log_name] = merged
            if merged.keys() != (previous.keys() if isinstance(previous, dict) else set()):
                atomic_write(path, dump_yaml(dict(merged)))

    # ------------------------------------------------------------ artifacts

    def register_artifact_type(
        self,
        name: str,
        save: Union[Callable[[Any, Path], None], str],
        load: Union[Callable[[Path], Any], str],
    ) -> None:
        """Add the artifact type ``name``: ``save(obj, path)`` writes ``path``, ``load(path)``.

        The functions must be importable (defined with ``def`` at a module's top
        level, or given as ``'module:function'`` strings): the run records their
        import paths in ``artifacts/.keys/types.yaml``, so any later process can
        load these artifacts. Lambdas and nested functions are refused.
        """
        check_type_name(name)
        if name in BUILTIN_TYPES:
            raise ArtifactError(
                f"{name!r} is a built-in artifact type ({', '.join(BUILTIN_TYPES)}); "
                "give your type another name."
            )
        save_path = import_path_of(save, "save")
        load_path = import_path_of(load, "load")
        save_fn = save if callable(save) else resolve_import_path(save)
        load_fn = load if callable(load) else resolve_import_path(load)
        artifact_type = ArtifactType(name, save_fn, load_fn, save_path, load_path)
        with self._lock:
            self._index.add_type(artifact_type)
            self._types[name] = artifact_type

    def _artifact_type(self, name: str) -> ArtifactType:
        found = self._types.get(name)
        if found is None:
            entry = self._index.types.get(name)
            if entry is None:
                raise unknown_type_error(name, list(self._types) + list(self._index.types))
            found = self._types[name] = ArtifactType.from_index(name, entry)
        return found

    def log_artifacts(self, artifact: Any, artifact_name: str, artifact_type: str) -> Path:
        """Save ``artifact`` to ``artifacts/<artifact_type>/<artifact_name>``; return the path.

        Built-in types: ``pickle`` (dill), ``numpy`` (``.npy`` one array, ``.npz`` a dict
        of arrays), ``torch`` (needs PyTorch), ``image`` (matplotlib Figure or PIL
        image; the suffix picks the format). ``artifact_name`` may hold sub-folders
        (``'epoch_3/weights.npy'``). The write is atomic; on any failure this raises
        and neither the file nor the index changes.
        """
        name = check_artifact_name(artifact_name)
        kind = self._artifact_type(artifact_type)
        path = self.artifacts_dir / artifact_type / name
        save_atomically(kind, artifact, path)  # not under the lock: metrics go on meanwhile
        with self._lock:
            self._index.add(artifact_type, name)
        return path

    def load_artifacts(self, artifact_name: str, artifact_type: Optional[str] = None) -> Any:
        """Load the artifact ``artifact_name``; its type comes from the index when not given."""
        name = check_artifact_name(artifact_name)
        if artifact_type is None:
            artifact_type = self._infer_type(artifact_name)
        kind = self._artifact_type(artifact_type)
        path = self.artifacts_dir / artifact_type / name
        if not path.exists():
            raise ArtifactNotFound(
                f"Run {self.log_dir} has no {artifact_type} artifact {artifact_name!r} "
                f"({path} does not exist).{self._known_artifacts_hint(artifact_name)}"
            )
        return kind.load(path)

    def _infer_type(self, artifact_name: str) -> str:
        name = check_artifact_name(artifact_name)
        types = self._index.types_of(name)
        if not types:  # not indexed (an index lost, or files copied in): look on disk
            try:
                folders = sorted(p.name for p in self.artifacts_dir.iterdir() if p.is_dir())
            except FileNotFoundError:
                folders = []
            types = [
                t
                for t in folders
                if not t.startswith(".") and (self.artifacts_dir / t / name).exists()
            ]
        if not types:
            raise ArtifactNotFound(
                f"Run {self.log_dir} has no artifact {artifact_name!r}."
                f"{self._known_artifacts_hint(artifact_name)}"
            )
        if len(types) > 1:
            raise ArtifactError(
                f"Run {self.log_dir} has an artifact {artifact_name!r} of several types "
                f"({', '.join(types)}): pass artifact_type=..."
            )
        return types[0]

    def _known_artifacts_hint(self, artifact_name: str) -> str:
        known = self._index.names()
        if not known:
            return " It has no indexed artifacts."
        bases = {k.split("/", 1)[1]: k for k in known}
        hint = did_you_mean(artifact_name, list(bases))
        shown = ", ".join(sorted(bases)[:10]) + (" ..." if len(bases) > 10 else "")
        return f"{hint} Artifacts of this run: {shown}."

    # ------------------------------------------------------------ checkpoints

    def _checkpoint_path(self, log_name: str) -> Path:
        name = check_artifact_name(log_name, "log_name")
        return self.artifacts_dir / CHECKPOINT_TYPE / name

    def log_checkpoint(
        self, checkpoint: Any, log_name: str = "checkpoint", keep: Optional[int] = None
    ) -> Path:
        """Save ``checkpoint`` (any dill-picklable object) as ``artifacts/pickle/<log_name>``.

        The previous checkpoint stays loadable until the new one is complete
        (temporary file, fsync, ``os.replace``). With ``keep=N`` the N most recent
        checkpoints are also kept in ``artifacts/pickle/<log_name>.history/<n>``
        (``n`` counts checkpoints: 1, 2, ...), for ``load_checkpoint(version=n)``.
        """
        if keep is not None and (not isinstance(keep, int) or isinstance(keep, bool) or keep < 1):
            raise ValueError(f"keep must be a positive number of checkpoints, got {keep!r}.")
        path = self._checkpoint_path(log_name)
        remove_stale_temporaries(path.parent, path.name)
        save_atomically(BUILTIN_TYPES[CHECKPOINT_TYPE], checkpoint, path)
        with self._lock:
            self._index.add(CHECKPOINT_TYPE, check_artifact_name(log_name, "log_name"))
            if keep is not None:
                self._keep_history(path, keep)
        return path

    def checkpoint_versions(self, log_name: str = "checkpoint") -> list[int]:
        """The versions kept by ``log_checkpoint(..., keep=N)``, oldest first."""
        return _versions(_history_dir(self._checkpoint_path(log_name)))

    def _keep_history(self, path: Path, keep: int) -> None:
        history = _history_dir(path)
        history.mkdir(exist_ok=True)
        versions = _versions(history)
        version = (versions[-1] if versions else 0) + 1
        target = history / str(version)
        tmp = history / f"{TMP_PREFIX}{os.getpid()}.{version}"
        try:
            os.link(path, tmp)  # a second name for the same file: no copy
        except OSError:
            import shutil

            shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        for old in (versions + [version])[:-keep]:
            try:
                (history / str(old)).unlink()
            except FileNotFoundError:
                pass

    def load_checkpoint(self, log_name: str = "checkpoint", version: Optional[int] = None) -> Any:
        """Load the last checkpoint saved as ``log_name`` (or its kept ``version``).

        Raises ``CheckpointNotFound`` (a ``FileNotFoundError``) when there is none.
        Unpickling runs code from the file: load only checkpoints of runs you trust.
        """
        path = self._checkpoint_path(log_name)
        if version is not None:
            path = _history_dir(path) / str(version)
        if not path.is_file():
            which = f"version {version} of checkpoint" if version is not None else "checkpoint"
            raise CheckpointNotFound(
                f"Run {self.log_dir} has no {which} {log_name!r} ({path} does not exist). "
                "Save one with logger.log_checkpoint(obj, log_name); catch FileNotFoundError "
                "to start from scratch."
            )
        return BUILTIN_TYPES[CHECKPOINT_TYPE].load(path)


def _standalone_run_dir(parent: Path, forced_log_id: int) -> tuple[Path, int]:
    """MLXP's standalone logger: a new run folder under ``parent``, or ``parent/<forced id>``."""
    parent = parent.absolute()
    if forced_log_id >= 1:
        path, _ = claim_run_dir(parent, forced_log_id)
        return path, forced_log_id
    ((log_id, path),) = allocate_run_dirs(parent, 1)
    return path, log_id


def _history_dir(path: Path) -> Path:
    """Where ``log_checkpoint(..., keep=N)`` keeps the checkpoint ``path``'s older versions."""
    return path.with_name(path.name + HISTORY_SUFFIX)


def _versions(history: Path) -> list[int]:
    """The versions kept in ``history``, oldest first (none when it does not exist)."""
    try:
        return sorted(int(p.name) for p in history.iterdir() if p.name.isdigit())
    except FileNotFoundError:
        return []


def _with_fields(
    metrics: Mapping[str, Any], step: Optional[int], timestamp: bool
) -> dict[str, Any]:
    record = dict(metrics)
    for field, wanted in ((STEP_FIELD, step is not None), (TIME_FIELD, timestamp)):
        if wanted and field in record:
            raise ValueError(
                f"The record already has a {field!r} key, which log_metrics(step=/timestamp=) "
                "would overwrite: rename that key or drop the option."
            )
    if step is not None:
        record[STEP_FIELD] = step
    if timestamp:
        record[TIME_FIELD] = time.time()
    return record
