"""Turning a logs folder into rows: one flat ``{key: value}`` dict per run.

Only two files per run are parsed, ``metadata/config.yaml`` and
``metadata/info.yaml`` (``fastyaml``, else libyaml's C loader), and only when the
logs folder's cache index (``cache.py``) has no entry made from the same files. Metrics and artifacts are
not opened here: they stay lazy.

Damage costs only what is damaged, and every problem is reported once with the
file it concerns (``Problems``): a stray file or folder is skipped, a run without
``metadata/`` or with an empty, partial or missing YAML file keeps whatever could
be read (status ``UNKNOWN`` when ``info.yaml`` says nothing).
"""

from __future__ import annotations

import operator
import os
import sys
import time
import warnings
from itertools import compress, count, repeat
from operator import attrgetter, itemgetter, methodcaller
from typing import Any, Optional, Union

from mlxlaunch import runfolder
from mlxlaunch.errors import StorageError
from mlxlaunch.reader.cache import FlatRow, RunCache, rows_column
from mlxlaunch.runfolder import fastyaml
from mlxlaunch.runfolder.metadata import MAX_METADATA_BYTES
from mlxlaunch.runfolder.safefiles import read_regular_file

#: A run's flat row: a dict, or the index's ``FlatRow`` (both have ``get``).
Row = Union[dict[str, Any], FlatRow]
#: Entries of a logs folder that are not runs and need no warning.
IGNORED_ENTRIES = frozenset({"database.json", "lost+found"})
#: At most this many warnings per scan; ``Reader.problems`` keeps them all.
MAX_WARNINGS = 20
UNKNOWN = "UNKNOWN"


class ReaderWarning(UserWarning):
    """Part of a logs folder could not be read; the message names the file."""


class Problems:
    """Collects what could not be read and warns once per problem."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self._seen: set[str] = set()
        self._warned = 0

    def add(self, message: str) -> None:
        if message in self._seen:
            return
        self._seen.add(message)
        self.messages.append(message)
        self._warned += 1
        if self._warned <= MAX_WARNINGS:
            warnings.warn(message, ReaderWarning, stacklevel=4)
        elif self._warned == MAX_WARNINGS + 1:
            warnings.warn(
                "more problems were found; reader.problems lists all of them",
                ReaderWarning,
                stacklevel=4,
            )


class Progress:
    """A progress bar for a long read, shown only once reading takes over a second.

    With ``tqdm`` installed (the ``cli`` extra) it is ``tqdm.auto``'s bar: a widget
    in Jupyter (with ipywidgets), a text bar on a terminal. Without tqdm, a one-line
    counter on stderr. A read that ends within a second shows nothing at all.
    """

    #: seconds a read must take before a bar appears
    DELAY_S = 1.0

    def __init__(self, total: int, enabled: Optional[bool], label: str = "reading runs") -> None:
        self.total = total
        self.enabled = enabled is not False
        self.label = label
        self.start = time.perf_counter()
        self._last = 0.0
        self._bar: Any = None
        self.shown = False

    def update(self, done: int) -> None:
        if not self.enabled or done % 64:
            return
        now = time.perf_counter()
        if now - self.start < self.DELAY_S or now - self._last < 0.2:
            return
        self._last = now
        if not self.shown:
            self.shown = True
            self._bar = _tqdm_bar(self.total, self.label)
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
        else:
            sys.stderr.write(f"\r{self.label}: {done}/{self.total}")
            sys.stderr.flush()

    def close(self) -> None:
        if not self.shown:
            return
        if self._bar is not None:
            self._bar.update(self.total - self._bar.n)
            self._bar.close()
        else:
            sys.stderr.write(f"\r{self.label}: {self.total}/{self.total}\n")
            sys.stderr.flush()


def _tqdm_bar(total: int, label: str) -> Any:
    """``tqdm.auto``'s bar (a Jupyter widget or a terminal bar), or None without tqdm."""
    try:
        with warnings.catch_warnings():  # Jupyter without ipywidgets: tqdm's text bar is fine
            warnings.simplefilter("ignore")
            from tqdm.auto import tqdm  # optional (the cli extra)

            return tqdm(total=total, desc=label, unit="run", file=sys.stderr, leave=True)
    except ImportError:
        return None


def list_runs(parent: str, problems: Problems) -> list[tuple[int, str]]:
    """``(log_id, run_dir)`` of every numeric folder of ``parent``, by id; strays are reported."""
    try:
        listing = os.scandir(parent)
    except OSError as exc:  # no permission on the logs folder itself: one line, no traceback
        raise StorageError(exc, "Cannot list the logs folder") from None
    with listing as it:
        entries = list(it)
    names = list(map(_NAME, entries))
    joined = "".join(names)
    # the common logs folder (run folders only) is checked in C loops: no Python code per run
    if joined.isdigit() and joined.isascii() and not any(map(_LEADING_ZERO, names)):  # RUN_ID
        try:
            folders = all(map(_IS_DIR, entries))  # follows a link: a run moved to another disk
        except OSError:  # a link loop, a folder we may not enter: said by the loop below
            folders = False
        if folders:
            return sorted(zip(map(int, names), map(_PATH, entries)), key=itemgetter(0))
    runs = []
    for entry, name in zip(entries, names):
        try:
            is_dir = entry.is_dir()
        except OSError as exc:  # a link loop, a folder we may not enter: this entry only
            problems.add(f"{entry.path}: cannot be read ({exc.strerror}); skipped")
            continue
        if is_dir and name.isdigit() and name.isascii() and name[0] != "0":  # RUN_ID
            runs.append((int(name), entry.path))
        elif not name.startswith(".") and name not in IGNORED_ENTRIES:
            problems.add(
                f"{entry.path}: not a run folder (run folders are named by their "
                "numeric id); skipped"
            )
    runs.sort(key=itemgetter(0))
    return runs


_NAME, _PATH = attrgetter("name"), attrgetter("path")
_IS_DIR = methodcaller("is_dir")
_LEADING_ZERO = methodcaller("startswith", "0")


def flatten(data: dict, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{prefix + "a.b": 1}`` (lists stay values)."""
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flatten(value, name + ".", out)
        else:
            out[name] = value
    return out


def load_yaml_tolerant(path: str) -> tuple[dict, Optional[str]]:
    """The mapping in a YAML file, and a problem message if it was damaged.

    The common case (PyYAML's plain block output) goes through ``fastyaml``;
    anything else through libyaml. A file cut in the middle (a crash during a non-atomic write) keeps its longest
    readable beginning; a missing, empty or non-mapping file gives ``{}``.
    """
    import yaml

    try:
        text = read_regular_file(path, MAX_METADATA_BYTES)
    except FileNotFoundError:
        return {}, f"{path}: missing"
    except OSError as exc:
        return {}, f"{path}: cannot be read ({exc.strerror})"
    except ValueError as exc:  # a FIFO, a device, a huge file: never opened or read whole
        return {}, f"{path}: {exc}; ignored"
    if not text.strip():
        return {}, f"{path}: empty"
    cut = None
    total = text.count(b"\n")
    if not text.endswith(b"\n"):
        # PyYAML (mlxlaunch, MLXP) ends every file with a newline: this one was cut mid-line,
        # and its last line may hold a cut value ("lr: 0." of "lr: 0.01"): drop that line
        total += 1
        text = text[: text.rfind(b"\n") + 1]
        cut = f"{path}: damaged; kept the first {total - 1} of {total} lines"
        if not text.strip():
            return {}, f"{path}: not valid YAML; ignored"
    try:
        data = fastyaml.safe_load(text)
    except yaml.YAMLError:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        lines = text.splitlines()
        for keep in range(len(lines) - 1, max(0, len(lines) - 50), -1):
            try:
                data = yaml.load(b"\n".join(lines[:keep]), Loader=loader)
            except yaml.YAMLError:
                continue
            if isinstance(data, dict):
                return data, f"{path}: damaged; kept the first {keep} of {total} lines"
        return {}, f"{path}: not valid YAML; ignored"
    if not isinstance(data, dict):
        return {}, f"{path}: does not hold a mapping; ignored"
    return data, cut


#: A run folder whose ``info.yaml`` is missing is shown as being prepared (status
#: ``PREPARING``, no warning) while its ``metadata/`` changed less than this long ago
#: (seconds): a launch writes ``config.yaml``, ``settings.yaml``, then ``info.yaml`` last.
#: Older, the preparation was interrupted and the run is reported as damaged.
PREPARE_GRACE = 600.0


#: A run folder's ``metadata/config.yaml`` and ``metadata/info.yaml``, after its path.
_CONFIG = f"/{runfolder.METADATA}/{runfolder.CONFIG_FILE}"
_INFO = f"/{runfolder.METADATA}/{runfolder.INFO_FILE}"
#: The signature of a missing file (``cache.SIGNATURE_LEN`` is two of them).
_NO_FILE = (None, None, None)


def read_rows(
    parent: str,
    pairs: list[tuple[int, str]],
    names: list[str],
    cache: RunCache,
    problems: Problems,
    progress: Progress,
) -> list[Row]:
    """The flat row of each ``(log_id, run_dir)`` of the logs folder ``parent`` (``names``:
    the ids as text, as the index names runs), its status made effective, from the
    cache when it is current (then a ``FlatRow``: the index's values, no dict made);
    what could not be read goes to ``problems``.

    A repeated read of 100,000 runs is mostly this loop: two ``stat`` per run and a
    look-up in the index, inline (no call per run but those). The files are looked up
    from the logs folder's descriptor (``<id>/metadata/...``): the kernel does not walk
    the logs folder's own path twice per run.
    """
    rows: list[Row] = []
    append, stat, lookup, running = rows.append, os.stat, cache.row, runfolder.Status.RUNNING
    fd = _open_folder(parent)
    bases = names if fd is not None else map(itemgetter(1), pairs)
    try:
        for done, (log_id, run_dir), name, base in zip(count(1), pairs, names, bases):
            # (size, mtime_ns, inode) of both files, flat, as the index holds them
            signature: list[Optional[int]]
            try:
                st = stat(base + _CONFIG, dir_fd=fd)
                signature = [st.st_size, st.st_mtime_ns, st.st_ino]
            except OSError:
                signature = [None, None, None]
            try:
                st = stat(base + _INFO, dir_fd=fd)
                signature += (st.st_size, st.st_mtime_ns, st.st_ino)
            except OSError:
                signature += _NO_FILE
            cached = lookup(name, signature)
            row, found = (
                cached
                if cached is not None
                else _parse_run(run_dir, log_id, cache, name, signature)
            )
            for problem in found:
                problems.add(problem)
            append(row)
            if not done & 63:  # a method call per run would be a tenth of a repeated read
                progress.update(done)
    finally:
        if fd is not None:
            os.close(fd)
    statuses = rows_column(rows, "info.status")  # RUNNING ones are checked for life
    for i in compress(range(len(rows)), map(operator.eq, repeat(running), statuses)):
        rows[i] = with_effective_status(rows[i], pairs[i][1])
    return rows


def _open_folder(path: str) -> Optional[int]:
    """A descriptor of the folder ``path`` to look files up from, or ``None`` (not
    supported here, or not openable: then full paths are used)."""
    if os.stat not in os.supports_dir_fd:  # pragma: no cover - Windows
        return None
    try:
        return os.open(path, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
    except OSError:
        return None


_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _parse_run(
    run_dir: str, log_id: int, cache: RunCache, name: str, signature: list
) -> tuple[Row, list[str]]:
    """The row of a run the cache does not hold as it is now (its YAML files parsed), and
    the problems met."""
    metadata = f"{run_dir}/{runfolder.METADATA}"
    config_path = run_dir + _CONFIG
    info_path = run_dir + _INFO
    preparing = False
    if signature[3] is None:  # no info.yaml: being prepared, or which damage
        try:
            st = os.stat(metadata)
        except OSError as exc:  # missing, or a folder this user may not enter
            return {"log_id": log_id, "info.status": UNKNOWN}, [_unreachable(run_dir, exc)]
        preparing = _absent(info_path) and time.time() - st.st_mtime < PREPARE_GRACE
    problems = []
    config, problem = load_yaml_tolerant(config_path)
    if problem and not preparing:  # config.yaml is written first, but maybe not yet
        problems.append(problem)
    info: dict = {}
    if not preparing:
        info, problem = load_yaml_tolerant(info_path)
        if problem:
            problems.append(problem)
    row: dict[str, Any] = {"log_id": log_id}
    flatten(config, "config.", row)
    flatten(info, "info.", row)
    if preparing:
        row["info.status"] = runfolder.Status.PREPARING
        return row, problems  # not cached: it changes within seconds
    if not isinstance(row.get("info.status"), str) or not row["info.status"]:
        row["info.status"] = UNKNOWN
    cache.put_row(name, signature, row, problems)
    return row, problems


def _absent(path: str) -> bool:
    """Whether ``path`` surely does not exist (not: cannot be looked at)."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def _unreachable(run_dir: str, exc: OSError) -> str:
    """The problem of a run whose ``metadata/`` cannot be reached, with the real reason:
    a folder this user may not enter (mode 000, another group's) is not "missing"."""
    metadata = f"{run_dir}/{runfolder.METADATA}"
    if isinstance(exc, FileNotFoundError):
        return f"{metadata}: missing; the run is listed with status {UNKNOWN}"
    where = run_dir if not os.access(run_dir, os.R_OK | os.X_OK) else metadata
    return (
        f"{where}: cannot be read ({exc.strerror}: check its mode and group, ls -ld); "
        f"the run is listed with status {UNKNOWN}"
    )


def with_effective_status(row: Row, run_dir: str) -> Row:
    """Replace a RUNNING status by LOST when the run is dead (``runfolder.effective_status``)."""
    if row.get("info.status") != runfolder.Status.RUNNING:
        return row
    info = {
        "status": runfolder.Status.RUNNING,
        "pid": row.get("info.pid", row.get("info.process_id")),  # ours, or MLXP's
        "hostname": row.get("info.hostname"),
        "heartbeat_interval": row.get("info.heartbeat_interval"),
    }
    from pathlib import Path

    status = runfolder.effective_status(Path(run_dir), info)
    if status != runfolder.Status.RUNNING:
        row = dict(row)  # a copy: a FlatRow's values are the index's
        row["info.status"] = status
    return row
