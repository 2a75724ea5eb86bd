"""Loading one run's metric logs (``metrics/<name>.json``, JSON lines) into numpy columns.

A log is parsed in one go when the whole file is valid (the lines are joined into
one JSON array and handed to orjson, or the stdlib ``json``), and line by line
otherwise, so a bad line costs only that line. Each key becomes one numpy array:
``int64`` when every value is an int, ``float64`` when every value is a number or
missing (missing -> NaN), ``object`` otherwise. Arrays, not lists of dicts, keep
10,000 runs x 1,000 steps x 3 keys in about 240 MB.

A last line without its newline is a record still being written by a live run
(the logger writes each record with one ``write``), or what a crash left behind:
it is dropped, with a warning unless the run is live.
"""

from __future__ import annotations

import gc
import operator
import os
import struct
import sys
import time
import zlib
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from stat import S_ISREG
from typing import Any, Optional

from mlxlaunch.errors import NotRegularFile
from mlxlaunch.reader.cache import RunCache, json_loads
from mlxlaunch.runfolder import fastyaml
from mlxlaunch.runfolder.layout import KEYS_DIR, METRICS_DIR, METRICS_SUFFIX
from mlxlaunch.runfolder.safefiles import (
    READ_FLAGS,
    open_regular_file,
    read_described,
    read_regular_snapshot,
)

#: Statuses of a run that may still write its logs.
LIVE = ("RUNNING", "QUEUED")
#: Summaries a query can use: ``<log>.<key>.<summary>``, e.g. ``train.loss.last``.
SUMMARIES = ("last", "first", "min", "max", "mean", "count")


#: Key lists of logs, shared: 10,000 runs logging ``loss, iter, epoch`` hold one tuple.
_KEY_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}
#: ``MetricLog``'s snapshot: size, mtime_ns, inode of the file read, crc32 of its bytes.
_SNAPSHOT = struct.Struct("=qqQI")


class MetricLog:
    """One snapshot of a ``metrics/<name>.json`` file, its columns built on demand.

    The file is read and parsed once; only the columns asked for are built and kept
    (``read_log(..., keep=...)``), so a notebook loading ``train.loss`` of 100,000
    runs holds one array per run, not every key of every log. Another column of the
    same log (``column(key)``) is built from the same bytes: the file's first
    ``size`` bytes are read again and checked against the snapshot's crc32, so every
    column and summary of one ``MetricLog`` has one length, even while a live run
    appends. A file that was replaced or cut meanwhile (its bytes differ) is read
    anew, and every column of the log moves to that new snapshot together.

    A log read for one column (``run["train.loss"]``) knows its first record's keys;
    the keys only later records have are learnt when something needs every key
    (``keys``, another column, a summary), from the same snapshot: gathering them
    from every record is a tenth of the cost of a first column.
    """

    # slots and a packed snapshot: the bookkeeping of a loaded log is ~200 bytes, a
    # 50-step float64 column 512 (100,000 runs: +70 MB, not +240 MB)
    __slots__ = (
        "name",
        "run_dir",
        "length",
        "problems",
        "_keys",
        "_partial",
        "_snapshot",
        "_built",
        "_masks",
    )

    def __init__(self, name: str, run_dir: str) -> None:
        self.name = name
        self.run_dir = run_dir
        self._keys: tuple[str, ...] = ()
        self._partial = False  # whether later records may have keys not in _keys
        self.length = 0
        self.problems: Sequence[str] = ()
        self._snapshot = b""
        self._built: Optional[list[Any]] = None  # aligned with keys; None: not built
        self._masks: Optional[list[Any]] = None  # aligned with keys, where records lack it

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys of the log, in order (first record's keys, then later ones sorted)."""
        if self._partial:
            self._snapshot_records()  # learns the keys of the later records
        return self._keys

    @property
    def signature(self) -> tuple:
        """``(size, mtime_ns, inode)`` of the file as read (``()`` for a missing file)."""
        if not self._snapshot:
            return ()
        return _SNAPSHOT.unpack(self._snapshot)[:3]

    @property
    def columns(self) -> dict[str, Any]:
        """Every column, key -> numpy array (all built now, and kept)."""
        return {key: self.column(key) for key in self.keys}

    @property
    def present(self) -> dict[str, Any]:
        """key -> boolean mask of the records that have it, for keys some records lack."""
        self.columns  # noqa: B018 - every mask is made with its column
        masks = self._masks or [None] * len(self.keys)
        return {key: mask for key, mask in zip(self.keys, masks) if mask is not None}

    @property
    def loaded(self) -> list[str]:
        """The keys whose column is in memory (built when asked for, kept until released)."""
        return [k for k, b in zip(self._keys, self._built or ()) if b is not None]

    def column(self, key: str) -> Any:
        """The column ``key`` as a numpy array (``KeyError`` if the log has no such key)."""
        keys, built = self._keys, self._built
        if key in keys:
            if built is not None and built[keys.index(key)] is not None:
                return built[keys.index(key)]
        elif not self._partial:
            raise KeyError(key)
        self._build([key], keep=True)  # from the snapshot's bytes, read again
        keys, built = self._keys, self._built
        if key not in keys:  # no such key, or the file was replaced by one without it
            raise KeyError(key)
        assert built is not None
        return built[keys.index(key)]

    def release(self) -> None:
        """Drop the built columns (the snapshot stays: they can be built again, alike)."""
        self._built = self._masks = None

    def take(
        self,
        data: bytes,
        st: os.stat_result,
        path: str,
        live: bool,
        keep: Optional[Iterable[str]],
    ) -> None:
        """Take ``data`` (the bytes of the file at ``path``, ``st`` its fstat) as this log's
        snapshot, building the columns ``keep`` (``None``: every column)."""
        enabled = gc.isenabled()
        gc.disable()  # one short-lived dict per record (inline: this runs once per run)
        try:
            if type(keep) is tuple and len(keep) == 1 and self._take_one(data, st, keep[0]):
                return
            records = self._parsed(data, st, path, live)
            keys = self._keys
            wanted = keys if keep is None else [k for k in keep if k in keys]
            if wanted:
                self._build(wanted, keep=True, records=records)
        finally:
            if enabled:
                gc.enable()

    def _take_one(self, data: bytes, st: os.stat_result, key: str) -> bool:
        """``take`` of one column in one go, for the common file: complete lines, each an
        object with ``key`` (taking ``key`` from every record proves them all objects).
        ``False`` (nothing taken) for any other file: ``_parsed`` then says what is wrong."""
        if not data.endswith(b"\n"):
            return False
        try:
            records = json_loads(b"[" + data[:-1].replace(b"\n", b",") + b"]")
            values = list(map(operator.itemgetter(key), records))
        except (ValueError, TypeError, KeyError):  # a bad or blank line, a non-object, no key
            return False
        if not values:
            return False
        self._adopt(records, (), data, st, partial=True)
        self._keep(key, *_column(values))
        return True

    def _parsed(self, data: bytes, st: Optional[os.stat_result], path: str, live: bool) -> list:
        """Take ``data`` (the file's bytes, ``st`` its fstat) as this log's snapshot."""
        records, problems = _records(data, path, live)
        self._adopt(records, problems, data, st)
        return records

    def _adopt(
        self,
        records: list,
        problems: Sequence[str],
        data: bytes,
        st: Optional[os.stat_result],
        partial: bool = False,
    ) -> None:
        """Make ``records`` (parsed from ``data``, the file as ``st`` describes it; ``None``:
        the file is gone) this log's snapshot, with no column built yet. ``partial``: only
        the first record's keys are taken (``_learn_keys`` adds the others when needed)."""
        keys = tuple(records[0]) if partial else tuple(_keys(records))
        self._keys = _KEY_TUPLES.setdefault(keys, keys)
        self._partial = partial
        self.length = len(records)
        self.problems = problems or ()
        self._snapshot = b""  # a file gone (or unreadable) since: no snapshot, no columns
        if st is not None:
            crc = zlib.crc32(data)
            self._snapshot = _SNAPSHOT.pack(st.st_size, st.st_mtime_ns, st.st_ino, crc)
        self._built = self._masks = None

    def _build(self, keys: Iterable[str], keep: bool, records: Optional[list] = None) -> dict:
        """``{key: (array, mask)}`` for ``keys``, from ``records`` or the snapshot's bytes;
        kept in the log when ``keep``."""
        if records is None:
            records = self._snapshot_records()
        made = {key: _column(_values(records, key)) for key in keys if key in self._keys}
        if keep:
            for key, (array, mask) in made.items():
                self._keep(key, array, mask)
        return made

    def _keep(self, key: str, array: Any, mask: Optional[Any]) -> None:
        """Hold the column ``key`` (and its mask of present records, if some lack it)."""
        i = self._keys.index(key)
        if self._built is None:
            self._built = [None] * len(self._keys)
        self._built[i] = array
        if mask is not None:
            if self._masks is None:
                self._masks = [None] * len(self._keys)
            self._masks[i] = mask

    def _snapshot_records(self) -> list:
        """The snapshot's records, read again (``_reread``); the log then knows every key."""
        records = self._reread()
        if self._partial:  # the same snapshot (a new one knows its keys): learn the others
            keys = tuple(_keys(records))  # the first record's keys, then the others: a prefix
            self._keys = _KEY_TUPLES.setdefault(keys, keys)
            self._partial = False
            grow = [None] * (len(keys) - len(self._built or ()))
            if self._built is not None:
                self._built += grow
            if self._masks is not None:
                self._masks += grow
        return records

    def _reread(self) -> list:
        """The records of the snapshot, read again; if the file no longer starts with the
        snapshot's bytes (replaced, cut), the file as it is now becomes the snapshot."""
        path = log_path(self.run_dir, self.name)
        size, _, inode, crc = _SNAPSHOT.unpack(self._snapshot) if self._snapshot else (0, 0, 0, 0)
        try:
            data, st = read_regular_snapshot(path, MAX_LOG_BYTES)
        except (OSError, NotRegularFile):
            data, st = b"", None
        if self._snapshot and st is not None and st.st_ino == inode and len(data) >= size:
            if zlib.crc32(memoryview(data)[:size]) == crc:
                records, _ = _records(data[:size], path, live=True)
                if len(records) == self.length:
                    return records
        return self._parsed(data, st, path, live=True)  # drops the columns of the old one

    def frame(self):
        """The log as a pandas DataFrame with a ``step`` column (the record's position)."""
        import numpy as np
        import pandas as pd

        data = {"step": np.arange(self.length)}
        data.update(self.columns)
        return pd.DataFrame(data)

    def summary(self) -> dict[str, Any]:
        """``{"loss.last": ..., "loss.min": ..., ...}`` for the numeric keys (JSON-ready).

        Columns not built yet are built for it, and not kept."""
        import numpy as np

        missing = self._partial or self._built is None or any(b is None for b in self._built)
        records = self._snapshot_records() if missing else None
        keys = self._keys
        built = self._built or [None] * len(keys)
        masks = self._masks or [None] * len(keys)
        out: dict[str, Any] = {}
        for key, col, mask in zip(keys, built, masks):
            if col is None:
                assert records is not None
                col, mask = _column(_values(records, key))
            logged = col if mask is None else col[mask]  # the records that have the key
            out[f"{key}.count"] = int(logged.size)
            if logged.size == 0:
                continue
            # first/last are the values logged, even NaN (a diverged loss stays visible);
            # min/max/mean ignore NaN
            out[f"{key}.first"] = logged[0].item() if col.dtype.kind in "if" else logged[0]
            out[f"{key}.last"] = logged[-1].item() if col.dtype.kind in "if" else logged[-1]
            if col.dtype.kind in "if":
                numbers = logged[~np.isnan(logged)] if col.dtype.kind == "f" else logged
                if numbers.size:
                    out[f"{key}.min"] = numbers.min().item()
                    out[f"{key}.max"] = numbers.max().item()
                    out[f"{key}.mean"] = float(numbers.mean())
        return out


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector off while many rows are built.

    Reading runs makes tens of thousands of dicts and lists (rows, a log's
    records) and no reference cycle; the collector would walk the whole, large
    heap again and again meanwhile (about a fifth of a repeat search over 10,000
    runs, and more once many runs' rows are in memory).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # What was made meanwhile (the index's entries, the rows) lives as long as the
            # Reader: straight into the oldest generation, so the young collections that
            # follow do not walk it all again (a tenth of a repeat search). Only moves
            # objects between generations: anything unreachable is still collected.
            if not gc.get_freeze_count():  # never thaw what the program froze itself
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def log_path(run_dir: str, name: str) -> str:
    """``<run_dir>/metrics/<name>.json``."""
    return f"{run_dir}/{METRICS_DIR}/{name}{METRICS_SUFFIX}"  # once per run and log: no join


def file_signature(path: str) -> Optional[tuple]:
    """``(size, mtime_ns, inode)`` of ``path``, or ``None`` if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _records(data: bytes, path: str, live: bool) -> tuple[list[dict], list[str]]:
    """The JSON objects of a JSON-lines file, and what had to be skipped."""
    body, sep, tail = data.rpartition(b"\n")
    if not sep:  # no newline at all: the whole file is one unfinished line
        body, tail = b"", data
    tail_problem = None
    if tail.strip():
        try:
            last = json_loads(tail)
        except ValueError:
            if not live:  # a live run may be writing it right now
                tail_problem = f"{path}: the last line is truncated; it was skipped"
        else:
            if isinstance(last, dict):  # a complete record that only lacks its newline
                body = body + b"\n" + tail
            else:
                tail_problem = f"{path}: the last line is not a JSON object; it was skipped"
    problems: list[str] = []
    records = _parse_lines(body, path, problems)
    if tail_problem:
        problems.append(tail_problem)
    return records, problems


def _parse_lines(body: bytes, path: str, problems: list[str]) -> list[dict]:
    """Complete lines -> records: in one call when all are good, else line by line."""
    stripped = body.strip()
    if not stripped:
        return []
    try:
        records = json_loads(b"[" + stripped.replace(b"\n", b",") + b"]")
        if set(map(type, records)) == {dict}:
            return records
    except ValueError:
        pass
    # Slow path: something is damaged (or blank lines); keep every good line.
    records = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json_loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            records.append(record)
        else:
            problems.append(f"{path}: line {number} is not a JSON object; that line was skipped")
    return records


def _keys(records: list[dict]) -> list[str]:
    """Every key of the records: the first record's order, then any later ones sorted."""
    if not records:
        return []
    first = list(records[0])
    extra = set().union(*records).difference(first)  # C loops: no per-record Python code
    return first + sorted(extra)


def _values(records: list[dict], key: str) -> list:
    """The value of ``key`` in each record (``None`` where it is missing)."""
    try:
        return list(map(operator.itemgetter(key), records))  # the common case, in C
    except KeyError:
        return [r.get(key) for r in records]


def _column(values: list) -> tuple[Any, Optional[Any]]:
    """``(array, present)``: the values as one numpy array, and, when some records lack
    the key, the boolean mask of those that have it (else ``None``)."""
    import numpy as np

    try:
        array = np.array(values)  # numbers only: int64 or float64 in one C pass
    except (ValueError, OverflowError):  # ragged lists
        array = None
    if array is not None and array.ndim == 1 and array.dtype.kind in "if":
        return array, None  # int64 when every value is an int, else float64; none missing
    present = np.array([v is not None for v in values], dtype=bool)
    array = None
    if all(v is None or (type(v) in (int, float)) for v in values):
        try:
            array = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        except OverflowError:  # 10**400, written before log_metrics refused it: kept as is
            array = None
    if array is None:
        array = np.array(values + [None], dtype=object)[:-1]  # keep lists as elements
    return array, (None if present.all() else present)


#: A metric log larger than this is not read whole (reported instead).
MAX_LOG_BYTES = 4 * 1024**3
#: A key index (``metrics/.keys/<log>.yaml``) larger than this is not parsed.
MAX_KEYS_BYTES = 16 * 1024 * 1024


def read_log(
    run_dir: str, name: str, live: bool = False, keep: Optional[Iterable[str]] = None
) -> MetricLog:
    """Parse ``<run_dir>/metrics/<name>.json`` (missing file -> empty log), building the
    columns ``keep`` (``None``: every column; the others are built when asked for).

    The file is read once, and every column comes from that one snapshot: a live run
    appending meanwhile cannot give ``loss`` and ``step`` different lengths. The
    signature is the open file's (``fstat``), taken before reading, and exactly the
    bytes it describes are read, so a file that grows meanwhile is re-read next time
    it is asked for.
    """
    path = log_path(run_dir, name)
    log = MetricLog(sys.intern(name), run_dir)
    try:
        data, st = read_regular_snapshot(path, MAX_LOG_BYTES)  # never a FIFO (it would block)
    except FileNotFoundError:
        return log
    except (OSError, NotRegularFile) as exc:  # one odd file costs this log only
        why = exc.strerror if isinstance(exc, OSError) else str(exc)
        log.problems = [f"{path}: {why}; ignored"]
        return log
    log.take(data, st, path, live, keep)
    return log


#: Whether ``os.access`` can look at a name without following it (``_no_entry``).
_ACCESS_NOFOLLOW = os.access in os.supports_follow_symlinks


def _no_entry(path: str) -> bool:
    """Whether ``path`` has no directory entry (``False`` when unsure: a link loop, which
    opening it reports). ``access`` says it without the cost of an exception."""
    if _ACCESS_NOFOLLOW:
        return not os.access(path, os.F_OK, follow_symlinks=False)
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return False


def find_log(
    run_dir: str, key: str, loaded: Container[str], live: bool, read: bool = True
) -> tuple[Optional[str], Optional[MetricLog]]:
    """``(name, log)``: the metric log that ``key`` names or starts with (``train`` for
    ``train.loss``: the longest such name, as ``split_metric_key`` picks it), found by
    looking for its file rather than listing ``metrics/``; and, when ``read``, the log
    itself, read on the way (its columns ``keep``: the one ``key`` names, or all of them
    when ``key`` is the log's name). A name in ``loaded`` wins (its snapshot holds).

    A first ``run["train.loss"]`` of many runs costs one ``access`` (there is no
    ``metrics/train.loss.json``) and one read of ``metrics/train.json``, opened once to
    find it and to read it: no listing, no ``stat``. ``(None, None)`` when unsure (no
    such file, an entry that is not a regular file, a link loop): the listing of
    ``metrics/`` then tells, and reports. ``(name, None)`` when the log is found but
    not read here (``read_log`` reads it, and reports a file it cannot read).
    """
    if "/" in key or "\0" in key:
        return None, None
    folder = f"{run_dir}/{METRICS_DIR}/"
    name = key
    while name:
        if name in loaded:
            return name, None
        shorter = name.rpartition(".")[0]
        if name.startswith("."):  # dot-files are not logs
            name = shorter
            continue
        path = f"{folder}{name}{METRICS_SUFFIX}"
        if shorter and _no_entry(path):  # the last name is simply opened
            name = shorter
            continue
        try:
            fd = os.open(path, READ_FLAGS)  # never blocks on a FIFO
        except FileNotFoundError:  # (a dangling link too)
            name = shorter
            continue
        except (OSError, ValueError):  # a link loop, a name too long...
            return None, None
        try:
            st = os.fstat(fd)
            if not S_ISREG(st.st_mode):
                return None, None
            if not read or st.st_size > MAX_LOG_BYTES:
                return name, None
            data = read_described(fd, st.st_size)
        except OSError:
            return name, None
        finally:
            os.close(fd)
        log = MetricLog(sys.intern(name), run_dir)
        log.take(data, st, path, live, None if name == key else (key[len(name) + 1 :],))
        return name, log
    return None, None


def log_names(run_dir: str, problems: Optional[list[str]] = None) -> list[str]:
    """Names of the metric logs of a run (``metrics/*.json``), sorted.

    An entry that cannot be checked (a link loop, a link into a folder this user may
    not enter) or is not a regular file (a FIFO) is left out, and said in ``problems``:
    it costs that log only, never the run's other logs.
    """
    names = []
    try:
        with os.scandir(os.path.join(run_dir, METRICS_DIR)) as it:
            for entry in it:
                if not entry.name.endswith(METRICS_SUFFIX) or entry.name.startswith("."):
                    continue
                try:
                    regular = entry.is_file()  # follows a link, like reading it would
                    why = "not a regular file (a FIFO, device, socket or folder)"
                except OSError as exc:
                    regular, why = False, f"cannot be read ({exc.strerror})"
                if regular:
                    names.append(entry.name[: -len(METRICS_SUFFIX)])
                elif problems is not None:
                    problems.append(f"{entry.path}: {why}; skipped")
    except FileNotFoundError:
        return []
    except OSError as exc:
        if problems is not None:
            problems.append(
                f"{os.path.join(run_dir, METRICS_DIR)}: cannot be read ({exc.strerror})"
            )
        return []
    return sorted(names)


#: A ``metrics/`` folder changed less than this many seconds ago may still change within
#: the same tick of the file system's clock (its mtime would not move): its listing is
#: not cached yet (git's "racy" entries). Larger than any file system's granularity.
RACY_S = 2.0


def cached_log_names(
    run_dir: str, cache: RunCache, live: bool, problems: Optional[list[str]] = None
) -> list[str]:
    """``log_names(run_dir)``, from ``cache`` when ``metrics/`` did not change since.

    Listing ``metrics/`` is most of the cost of a first ``run["train.loss"]`` (a
    directory read per run); its mtime and inode change whenever a log file is added,
    removed or renamed, so one ``stat`` tells whether the cached names still hold.
    Not cached: a live run's names (it may start a new log any time), a folder
    changed less than :data:`RACY_S` ago, and a listing with problems (a FIFO or a
    link loop among the logs is reported at every read).
    """
    folder = f"{run_dir}/{METRICS_DIR}"
    run = run_dir.rpartition("/")[2]  # the run folder's name, as the index names it
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return []
    except OSError:
        return log_names(run_dir, problems)  # reports why
    signature = [st.st_mtime_ns, st.st_ino]
    if not live:
        names = cache.log_names(run, signature)
        if names is not None:
            return names
    found: list[str] = []
    names = log_names(run_dir, found)
    if problems is not None:
        problems.extend(found)
    if not live and not found and time.time() - st.st_mtime >= RACY_S:
        cache.put_log_names(run, signature, names)
    return names


def logged_keys(run_dir: str, name: str) -> list[str]:
    """Keys of a log from ``metrics/.keys/<name>.yaml`` (our list or MLXP's mapping).

    Without a readable keys file, the keys of the log's first record.
    """
    path = os.path.join(run_dir, METRICS_DIR, KEYS_DIR, f"{name}.yaml")
    try:
        with open_regular_file(path, MAX_KEYS_BYTES) as f:  # a planted FIFO would block open()
            data = fastyaml.safe_load(f.read())
    except Exception:  # missing, unreadable or damaged: fall back to the log itself
        data = None
    if isinstance(data, (dict, list)) and data:
        return [str(k) for k in data]
    try:
        with open_regular_file(log_path(run_dir, name)) as f:
            first = json_loads(f.readline())
    except (OSError, ValueError):  # NotRegularFile is a ValueError
        return []
    return [str(k) for k in first] if isinstance(first, dict) else []


def split_metric_key(key: str, names: list[str]) -> Optional[tuple[str, str]]:
    """``"train.loss"`` -> ``("train", "loss")`` given the run's log names (longest name wins)."""
    best = None
    for name in names:
        if key.startswith(name + ".") and (best is None or len(name) > len(best)):
            best = name
    return (best, key[len(best) + 1 :]) if best else None
