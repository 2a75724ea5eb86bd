"""Writing files in a shared logs folder without following what someone else planted there.

A logs folder is often shared by a Unix group (``chmod 2775``): any member may
create names in it, e.g. ``ln -s ~victim/.bashrc logs/.mlxlaunch-next-id``. Every
file mlxlaunch writes in a logs folder therefore goes through this module:

* :func:`create_temp` makes a new file under a random name with
  ``O_CREAT | O_EXCL | O_NOFOLLOW``: it cannot be a link or an existing file;
  whole files are written there and renamed over their final name
  (``os.replace`` replaces a link, it never writes through it);
* :func:`open_existing` opens a file that is written in place (append-only logs,
  lock files) with ``O_NOFOLLOW | O_NONBLOCK`` and refuses anything but a regular
  file owned by this user (a FIFO, a device, another user's file);
* :func:`check_private_dir` checks that a folder only its owner can change is one;
* :func:`open_regular_file` is the readers' side (the Reader, ``mlxlaunch status``):
  a FIFO planted as ``info.yaml`` is reported, never waited on.

Git's object store and SQLite's journals follow the same rules: new files by
exclusive create, in the folder where they will live, then rename.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Optional

from mlxlaunch.errors import NotRegularFile, UnsafeFileError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
#: ``os.open`` flags of the readers' side: a FIFO cannot block the open (see ``_open_regular``).
READ_FLAGS = os.O_RDONLY | _NONBLOCK | _CLOEXEC


def _owner(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def unsafe_link_error(path: Path) -> UnsafeFileError:
    return UnsafeFileError(
        f"{path} is a symbolic link: mlxlaunch never writes through a link in a logs folder "
        "(someone with write access to it may have planted it). Remove it, then retry."
    )


def create_temp(path: Path, mode: int = 0o644) -> tuple[int, Path]:
    """A new, empty file next to ``path`` under a random name: ``(fd, its path)``.

    Created with ``O_EXCL | O_NOFOLLOW``, so it is a fresh regular file of this
    user whatever else is in the folder. The caller writes it, then renames it
    over ``path`` (or removes it).
    """
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path.parent))


def open_existing(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags)`` that refuses links, non-regular files and others' files.

    For files written in place (appended logs, lock files). ``O_NONBLOCK`` keeps a
    planted FIFO from blocking the open; the fd is then checked with ``fstat``.
    Raises ``UnsafeFileError`` naming the file for anything but a regular file
    owned by this user; ``OSError`` as ``os.open`` does otherwise.
    """
    try:
        fd = os.open(path, flags | _NOFOLLOW | _CLOEXEC | _NONBLOCK, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise unsafe_link_error(path) from None
        if exc.errno == errno.ENXIO:  # a FIFO opened for writing with no reader
            raise UnsafeFileError(
                f"{path} is a named pipe, not a file: mlxlaunch does not write to it. "
                "Remove it, then retry."
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeFileError(
                f"{path} is not a regular file: mlxlaunch does not write to it. "
                "Remove it, then retry."
            )
        if st.st_uid != os.geteuid():
            raise UnsafeFileError(
                f"{path} belongs to {_owner(st.st_uid)}, not to you: mlxlaunch does not write "
                "into another user's file. Remove it (or ask its owner to), then retry."
            )
        if _NONBLOCK:
            import fcntl  # POSIX only, like O_NONBLOCK

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def locked(folder: Path, name: str = ".lock") -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<folder>/<name>`` (made if missing) for the block.

    For read-merge-write updates of a file several processes share (a Logger's
    index handed to workers, the Reader's cache, the backend presets): the kernel
    releases the lock if the holder dies.
    """
    import fcntl  # POSIX only

    fd = open_existing(folder / name, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (short writes happen on full disks)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def check_private_dir(path: Path) -> None:
    """Raise ``UnsafeFileError`` unless ``path`` is a real folder of this user that
    neither its group nor others may change (no link, mode without ``g+w``/``o+w``)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise unsafe_link_error(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(f"{path} is not a folder. Remove it, then retry.")
    if st.st_uid != os.geteuid():
        raise UnsafeFileError(
            f"{path} belongs to {_owner(st.st_uid)}, not to you: it could change what your "
            "jobs run. Remove it (or ask its owner to), then retry."
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeFileError(
            f"{path} is writable by its group or others (mode {stat.filemode(st.st_mode)}): "
            f"they could change what your jobs run. Make it private: chmod go-w {path}"
        )


def _open_regular(path: str, limit: Optional[int]) -> tuple[int, os.stat_result]:
    """``(fd, fstat)`` of ``path`` opened for reading, if it is a regular file of at most
    ``limit`` bytes: opened with ``O_NONBLOCK``, so a FIFO planted under that name cannot
    block the open, and checked on the open descriptor before anything is read."""
    fd = os.open(path, READ_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile("not a regular file (a FIFO, device or socket)")
        if limit is not None and st.st_size > limit:
            raise NotRegularFile(f"too large ({st.st_size} bytes, more than {limit})")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def open_regular_file(path: str, limit: Optional[int] = None) -> BinaryIO:
    """``path`` opened for reading if it is a regular file (of at most ``limit`` bytes).

    For readers of a logs folder others may write in: opened with ``O_NONBLOCK``, so a
    FIFO planted under that name cannot block the open or a read, and checked with
    ``fstat`` on the open descriptor before anything is read. Anything but a regular
    file raises :class:`NotRegularFile`; ``OSError`` as ``open`` would (missing, no
    permission, a link loop).
    """
    fd, _ = _open_regular(path, limit)
    try:
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: str, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes
    (:func:`open_regular_file`: never blocks on a FIFO, never reads a device)."""
    return read_regular_snapshot(path, limit)[0]  # os.read on the descriptor: no file object


def read_regular_snapshot(path: str, limit: Optional[int] = None) -> tuple[bytes, os.stat_result]:
    """The first ``st_size`` bytes of the regular file ``path`` and its ``fstat``, taken
    before reading (the checks of :func:`open_regular_file`).

    For files that only grow (metric logs): what is read is exactly the file as its
    ``fstat`` describes it, even while a writer appends (a shorter read means the file
    was cut meanwhile). Plain ``os.read`` on the descriptor, no file object: a tenth
    of the cost of a small file's ``open().read()``.
    """
    fd, st = _open_regular(path, limit)
    try:
        return read_described(fd, st.st_size), st
    finally:
        os.close(fd)


def read_described(fd: int, size: int) -> bytes:
    """The first ``size`` bytes of the open file ``fd`` (fewer if it was cut meanwhile):
    the bytes its ``fstat`` described, even while a writer appends."""
    data = os.read(fd, size) if size else b""
    if len(data) < size:  # a short read (signals, huge files) or a file cut meanwhile
        chunks = [data]
        left = size - len(data)
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 30))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    return data
