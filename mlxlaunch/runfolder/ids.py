"""Run ids: exclusive ``mkdir`` allocation, the next-id hint, forced ids."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Optional

from mlxlaunch.errors import RunFolderError, StorageError
from mlxlaunch.runfolder.layout import METADATA, NEXT_ID_HINT, RUN_ID, is_run_dir
from mlxlaunch.runfolder.safefiles import create_temp, write_all


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


def _read_hint(parent: Path) -> Optional[int]:
    """The next-id hint, if it is there and still describes the folder.

    The hint is only trusted when nothing was added to or removed from ``parent``
    since it was written (its mtime is not older than the folder's): a run made
    by another tool, a stray ``2024/`` or a deleted run makes it stale, and the
    caller lists the folder instead. It is a hint only: ``os.mkdir`` decides.
    """
    hint = parent / NEXT_ID_HINT
    try:
        st = os.lstat(hint)
        if not stat.S_ISREG(st.st_mode) or st.st_mtime_ns < os.stat(parent).st_mtime_ns:
            return None  # a link or a FIFO planted there is not a hint
        fd = os.open(hint, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            value = int(os.read(fd, 32) or b"0")
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None
    return value if value >= 1 else None


def _write_hint(parent: Path, next_id: int) -> None:
    """Leave the next-id hint: a fresh file renamed over the old one, never written in place.

    Writing in place would follow a link planted at that name (``ln -s
    ~victim/.bashrc logs/.mlxlaunch-next-id``) and overwrite its target. The rename
    touches the folder's mtime, so the new hint's mtime is set after it (through
    its fd, so even a hint swapped for a link meanwhile is not touched).
    """
    try:
        fd, tmp = create_temp(parent / NEXT_ID_HINT)
        try:
            write_all(fd, b"%d" % next_id)
            os.replace(tmp, parent / NEXT_ID_HINT)
            os.utime(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
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
    allocated: list[tuple[int, Path]] = []
    try:
        while len(allocated) < count:
            path = parent / str(candidate)
            try:
                os.mkdir(path)
            except FileExistsError:
                candidate += 1
                continue
            allocated.append((candidate, path))
            (path / METADATA).mkdir()
            candidate += 1
    except OSError as exc:  # full disk, read-only, no permission: leave no half-made runs
        remove_run_dirs([made for _, made in allocated])
        raise StorageError(exc, f"Cannot create run folders in {parent}") from None
    _write_hint(parent, candidate)
    return allocated


def remove_run_dirs(paths: list[Path]) -> None:
    """Delete run folders this command made but could not finish (never raises)."""
    import shutil

    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


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
    """The folder of ``run_id`` (a forced id), created if missing; ``(path, existed)``.

    An existing folder is reopened only if it is a run folder (it has ``metadata/``)
    or is empty: a folder someone made by hand with other things in it is refused,
    never turned into a run.
    """
    if run_id < 1:
        raise RunFolderError(f"A forced log id must be a positive integer, got {run_id}.")
    _make_parent(parent)
    path = parent / str(run_id)
    try:
        os.mkdir(path)
        existed = False
    except FileExistsError:
        existed = True
        if not os.path.isdir(path / METADATA) and os.listdir(path):
            raise RunFolderError(
                f"{path} is not a run folder (it has no {METADATA}/ folder, and other "
                "things in it): a forced id reopens a run, it does not turn a folder into "
                "one. Move that folder away, or choose another forced_log_id."
            ) from None
    (path / METADATA).mkdir(exist_ok=True)
    return path, existed
