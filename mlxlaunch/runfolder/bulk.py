"""Writing the metadata of many run folders at once: every write first, then one barrier.

``atomic_write`` fsyncs each file: 10,000 run folders then cost 30,000 fsyncs,
each waiting for the disk, and 30,000 renames (~2.5 ms a folder, most of a large
sweep's launch). A :class:`Batch` writes without an fsync each and makes all its
writes durable at once (:meth:`Batch.sync`: one ``syncfs(2)`` of the file system
on Linux, else an fsync of every file and folder, from threads so the file system
commits them together). A file of a new run folder that nothing reads yet as a
run is created in place (:meth:`Batch.create`: no temporary file, no rename);
others are replaced atomically (:meth:`Batch.write`).

Crash guarantee of a launch (``launching/prepare.py``): a run's ``info.yaml``
(status QUEUED) is renamed into place only after the barrier that made its
``config.yaml`` and ``launcher.yaml`` durable, so after a crash, even a power
loss, a folder that says QUEUED is complete, and one that was not finished has
no ``info.yaml``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path
from typing import Any, Callable, Optional

from mlxlaunch.runfolder.metadata import atomic_write
from mlxlaunch.runfolder.safefiles import write_all

#: Up to this many files and folders, fsync each rather than flush the whole file
#: system (which also waits for other programs' pending writes).
FEW_PATHS = 8

#: a new file, never an existing one nor through a link (``O_EXCL``), closed in children
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)

#: Threads for the fsync fallback: the writes wait on the device, not on the CPU.
SYNC_THREADS = 16


def _libc_syncfs() -> Optional[Callable[[int], int]]:
    """libc's ``syncfs``, or None where there is none (not Linux, no glibc/musl)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs: Any = libc.syncfs
    except (OSError, AttributeError):
        return None
    syncfs.argtypes = [ctypes.c_int]
    syncfs.restype = ctypes.c_int
    return syncfs


def syncfs(path: Path) -> bool:
    """Flush every pending write of the file system holding ``path``; False if unsupported.

    Raises ``OSError`` if the file system reports a write error (Linux >= 5.8).
    """
    call = _libc_syncfs()
    if call is None:
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        if call(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno), str(path))
    finally:
        os.close(fd)
    return True


def fsync_path(path: Path) -> None:
    """fsync the file or folder ``path`` (a folder: its entries, e.g. a rename into it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Batch:
    """Writes made durable together by :meth:`sync`.

    Between a write and the next ``sync`` the file is visible to every process
    but may be lost in a power cut.
    """

    def __init__(self, root: Path) -> None:
        #: a folder on the file system written to (``syncfs`` flushes that one)
        self.root = root
        self._paths: list[Path] = []  # files and folders to make durable
        self._lock = threading.Lock()

    def _written(self, *paths: Path) -> None:
        with self._lock:
            self._paths.extend(paths)

    def write(self, path: Path, data: str | bytes) -> None:
        """Write ``data`` to ``path`` through a temporary file renamed over it, no fsync.

        ``metadata.atomic_write``: a fresh ``O_EXCL | O_NOFOLLOW`` temporary, so a
        link planted in a shared logs folder is never written through.
        """
        atomic_write(path, data, fsync=False)
        self._written(path, path.parent)

    def create(self, path: Path, data: str | bytes) -> None:
        """Create the new file ``path`` with ``data`` in one ``write`` (no rename, no fsync).

        For the first files of a new run folder: a reader that lists the folder
        meanwhile may see the file empty, as it sees a run without ``info.yaml``
        (the Reader keeps what it can read and reads again when the size changes).
        """
        # os.open, not open(path, "xb"): the same file (mode 0o666 less the umask), without
        # a buffered file object around one write (10,000 runs create 20,000 files)
        fd = os.open(path, _CREATE, 0o666)
        try:
            write_all(fd, data.encode("utf-8") if isinstance(data, str) else data)
        finally:
            os.close(fd)
        self._written(path, path.parent)

    def sync(self) -> None:
        """Make every write, stage and publish since the last ``sync`` durable; one barrier."""
        with self._lock:
            paths, self._paths = list(dict.fromkeys(self._paths)), []
        if not paths:
            return
        if len(paths) > FEW_PATHS and syncfs(self.root):
            return
        # imported here: concurrent.futures registers an atexit hook (import mlxlaunch must not)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(SYNC_THREADS, len(paths))) as pool:
            list(pool.map(fsync_path, paths))  # list() re-raises the first error
