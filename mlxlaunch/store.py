"""The run folder on disk: id allocation, atomic metadata, status, heartbeat and lock.

Everything that reads or writes ``logs/<id>/metadata`` goes through here, so the
on-disk contract (``docs/run-folder.md``) has one implementation. The Reader uses
``effective_status`` to tell a live run from a lost one.

Layout of one run folder::

    <parent>/<id>/metadata/config.yaml      resolved user config, frozen before the run
    <parent>/<id>/metadata/info.yaml        status, attempt, times, host, ... (see docs)
    <parent>/<id>/metadata/launcher.yaml    launcher settings used
    <parent>/<id>/metadata/attempts/<n>.yaml  the final record of every attempt
    <parent>/<id>/heartbeat                 touched while RUNNING
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Optional

from .errors import RunFolderError, RunLockedError

METADATA = "metadata"
CONFIG_FILE = "config.yaml"
INFO_FILE = "info.yaml"
LAUNCHER_FILE = "launcher.yaml"
ATTEMPTS_DIR = "attempts"
HEARTBEAT_FILE = "heartbeat"
LOCK_FILE = ".lock"


class Status:
    """Run status values, as written in ``info.yaml`` (``LOST`` is only ever derived)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    LOST = "LOST"

    FINISHED = (COMPLETE, FAILED, INTERRUPTED, SUBMIT_FAILED)


#: A run id is a positive decimal number without leading zeros: ``1``, ``2``, ``10``.
RUN_ID = re.compile(r"[1-9][0-9]*\Z")


# ---------------------------------------------------------------- YAML, atomic writes


def _yaml():
    import yaml

    return yaml


#: Strings that PyYAML writes unquoted but OmegaConf/Hydra read back as floats
#: (YAML 1.2 style exponents without a dot, e.g. '1e3', '-2E-4').
_FLOAT_LIKE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)\Z")
_dumper_class: Any = None


def _dumper() -> Any:
    """libyaml's C dumper when it is there, quoting strings a config loader would misread."""
    global _dumper_class
    if _dumper_class is None:
        yaml = _yaml()

        class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
            pass

        def represent_str(dumper: Any, value: str) -> Any:
            style = "'" if _FLOAT_LIKE.match(value) else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        Dumper.add_representer(str, represent_str)
        _dumper_class = Dumper
    return _dumper_class


def dump_yaml(data: Any) -> str:
    """YAML text of plain data that reads back the same with PyYAML, OmegaConf and Hydra."""
    return _yaml().dump(data, Dumper=_dumper(), sort_keys=False, default_flow_style=False)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file with libyaml's C loader when it is there."""
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as f:
        return yaml.load(f, Loader=loader)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a temporary file.

    The temporary file is in the same folder, so a reader sees the old file or
    the new one, never a half-written one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def now_iso() -> str:
    """The current time in ISO 8601, UTC, to the microsecond."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


# ---------------------------------------------------------------- run ids


def is_run_dir(path: Path) -> bool:
    """A numeric folder is a run once it has its ``metadata`` folder."""
    return (path / METADATA).is_dir()


def _highest_run_id(parent: Path) -> int:
    """The largest id among numeric folders of ``parent`` that are runs.

    One directory listing; only the few highest candidates are stat-ed, so the
    cost is one ``scandir`` whatever the number of runs. Numeric folders that
    are not runs (``2024/`` made by hand) are skipped here; allocation still
    never reuses them, because ``os.mkdir`` fails on any existing name.
    """
    try:
        with os.scandir(parent) as it:
            ids = sorted((int(e.name) for e in it if RUN_ID.match(e.name)), reverse=True)
    except FileNotFoundError:
        return 0
    for run_id in ids:
        if is_run_dir(parent / str(run_id)):
            return run_id
    return 0


#: A hint of the next free id, kept in the parent folder to avoid listing it.
NEXT_ID_HINT = ".mlxlaunch-next-id"


def _read_hint(parent: Path) -> Optional[int]:
    """The next-id hint, if it is there and still describes the folder.

    The hint is only trusted when nothing was added to or removed from ``parent``
    since it was written (its mtime is not older than the folder's): a run made
    by another tool, a stray ``2024/`` or a deleted run makes it stale, and the
    caller lists the folder instead. It is a hint only: ``os.mkdir`` decides.
    """
    hint = parent / NEXT_ID_HINT
    try:
        if os.stat(hint).st_mtime_ns < os.stat(parent).st_mtime_ns:
            return None
        with open(hint, "rb") as f:
            value = int(f.read(32) or b"0")
    except (OSError, ValueError):
        return None
    return value if value >= 1 else None


def _write_hint(parent: Path, next_id: int) -> None:
    # Written in place, not renamed: a rename would touch the folder's mtime and
    # make the hint look stale. Fixed width, so that two writers racing at offset 0
    # cannot leave a mix of both numbers; a reader that sees it empty lists instead.
    try:
        fd = os.open(parent / NEXT_ID_HINT, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"%020d" % next_id)
        finally:
            os.close(fd)
    except OSError:
        pass  # a read-only or odd file system: allocation still works, just lists


def _make_parent(parent: Path) -> None:
    """Create the logs folder ``parent``; a clear ``RunFolderError`` if it cannot be one."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise RunFolderError(
            f"The logs folder {parent} is a file, not a folder: point "
            "logger.parent_log_dir at a folder."
        ) from None
    except OSError as exc:
        raise RunFolderError(
            f"Cannot create the logs folder {parent}: {exc.strerror or exc}. Point "
            "logger.parent_log_dir at a folder you can write to."
        ) from None


def allocate_run_dirs(parent: Path, count: int) -> list[tuple[int, Path]]:
    """Create ``count`` new run folders under ``parent``; return their ``(id, path)``.

    The next id is ``1 +`` the highest existing run (a numeric folder with a
    ``metadata`` folder), found from a validated hint file or, failing that, one
    listing of the folder. Ids are then claimed upward with exclusive
    ``os.mkdir``: concurrent launchers (even on NFS, where listings are stale)
    never share an id, and a collision costs one failed ``mkdir``, not a new
    listing. Existing folders, runs or not, are never reused. The ``metadata``
    folder is created at once so the new folder counts as a run for the next
    allocator.
    """
    _make_parent(parent)
    candidate = _read_hint(parent) or _highest_run_id(parent) + 1
    allocated = []
    while len(allocated) < count:
        path = parent / str(candidate)
        try:
            os.mkdir(path)
        except FileExistsError:
            candidate += 1
            continue
        (path / METADATA).mkdir()
        allocated.append((candidate, path))
        candidate += 1
    _write_hint(parent, candidate)
    return allocated


def peek_next_run_ids(parent: Path, count: int) -> list[int]:
    """The ids ``allocate_run_dirs(parent, count)`` would give now, creating nothing.

    Read-only (for ``--dry-run``): one listing, then the names that already
    exist are skipped as ``os.mkdir`` would skip them. Another launcher may take
    some of these ids before the real launch does.
    """
    candidate = _highest_run_id(parent) + 1
    ids: list[int] = []
    while len(ids) < count:
        if not (parent / str(candidate)).exists():
            ids.append(candidate)
        candidate += 1
    return ids


def claim_run_dir(parent: Path, run_id: int) -> tuple[Path, bool]:
    """The folder of ``run_id`` (a forced id), created if missing; ``(path, existed)``."""
    if run_id < 1:
        raise RunFolderError(f"A forced log id must be a positive integer, got {run_id}.")
    _make_parent(parent)
    path = parent / str(run_id)
    try:
        os.mkdir(path)
        existed = False
    except FileExistsError:
        existed = True
    (path / METADATA).mkdir(exist_ok=True)
    return path, existed


# ---------------------------------------------------------------- metadata


def metadata_path(run_dir: Path, name: str) -> Path:
    return run_dir / METADATA / name


def _load_metadata(path: Path) -> Any:
    """``load_yaml(path)``; a file that is not valid YAML is a ``RunFolderError`` naming it."""
    yaml = _yaml()
    try:
        return load_yaml(path)
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


def save_attempt(run_dir: Path, info: dict[str, Any]) -> None:
    """Keep the final record of attempt ``info['attempt']`` under ``metadata/attempts/``."""
    folder = run_dir / METADATA / ATTEMPTS_DIR
    folder.mkdir(exist_ok=True)
    atomic_write(folder / f"{info.get('attempt', 0)}.yaml", dump_yaml(info))


# ---------------------------------------------------------------- liveness


def touch_heartbeat(run_dir: Path) -> None:
    path = run_dir / HEARTBEAT_FILE
    try:
        os.utime(path)
    except FileNotFoundError:
        path.touch()


class Heartbeat:
    """A daemon thread that touches the run's heartbeat file every ``interval`` s."""

    def __init__(self, run_dir: Path, interval: float) -> None:
        self.run_dir = run_dir
        self.interval = max(0.05, float(interval))
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        touch_heartbeat(self.run_dir)
        self._thread = threading.Thread(target=self._beat, name="mlxlaunch-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                touch_heartbeat(self.run_dir)
            except OSError:
                pass  # the folder may be on a flaky file system; the next beat retries

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


#: A heartbeat older than this many intervals (plus a grace) means the run is lost.
STALE_INTERVALS = 3
STALE_GRACE_S = 10.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_status(
    run_dir: Path, info: Optional[dict[str, Any]] = None, now: Optional[float] = None
) -> str:
    """The status a reader should show: ``info.yaml``'s, or ``LOST`` for a dead RUNNING run.

    A RUNNING run is LOST when its heartbeat is older than
    ``STALE_INTERVALS * heartbeat_interval + STALE_GRACE_S`` seconds, or at once
    when it ran on this host and its process is gone (SIGKILL, OOM killer).
    """
    if info is None:
        info = read_info(run_dir)
    status = str(info.get("status", "")) or "UNKNOWN"
    if status != Status.RUNNING:
        return status
    pid = info.get("pid")
    if info.get("hostname") == socket.gethostname() and isinstance(pid, int):
        if not _pid_alive(pid):
            return Status.LOST
    try:
        beat = os.stat(run_dir / HEARTBEAT_FILE).st_mtime
    except FileNotFoundError:
        beat = None
    try:
        interval = float(info.get("heartbeat_interval") or 30.0)
    except (TypeError, ValueError):  # a damaged or hand-edited info.yaml
        interval = 30.0
    limit = STALE_INTERVALS * interval + STALE_GRACE_S
    now = time.time() if now is None else now
    if beat is None:
        return Status.RUNNING
    return Status.LOST if now - beat > limit else Status.RUNNING


class RunLock:
    """An exclusive lock on a run folder, held by the process running it.

    ``fcntl.flock`` on ``metadata/.lock``: the kernel releases it when the holder
    dies, so a killed run never leaves a stale lock behind.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._fd: Optional[int] = None

    def acquire(self) -> None:
        import fcntl

        path = metadata_path(self.run_dir, LOCK_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunLockedError(
                f"Run folder {self.run_dir} is in use by {holder}. Wait for it to finish, "
                f"or stop it, before reopening this run."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
