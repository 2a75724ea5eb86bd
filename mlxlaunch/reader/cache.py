"""The Reader's cache: one index per logs folder, kept outside the logs folder.

Parsing two YAML files per run is most of a first search's cost; reading one
index file instead is most of a repeated one's. Each logs folder gets one folder
in the cache, ``<cache dir>/index/<sha1 of the logs folder's path>.v<FORMAT>/``::

    index.jsonl     the compacted index: a header line, then one line per entry
    journal.jsonl   entries appended since the last compaction
    .lock           flock'ed by writers (never by readers)

Each line is a JSON array: ``["H", logs folder]`` (the header), ``["K", shape, [keys]]``
(a key list shared by the rows that have these keys), ``["R", run, signature, shape,
[values], [problems]]`` (a run's flattened config/info row), ``["S", run, log, signature,
{summary}]`` (a metric log's summaries) and ``["L", run, signature, [names]]`` (the names
of a run's metric logs, so a repeated read needs no listing of ``metrics/``). A compaction
writes the rows of each shape by column instead: ``["B", shape, [runs], [signatures],
{run: problems}, [line lengths]]`` then one ``["V", shape, position, [values]]`` per key,
parsed only when that key is read (a search reads two or three of forty). A signature is
the (size, mtime, inode) of the files the entry came from, flat (for ``L``: the mtime and
inode of ``metrics/``, which change when a log file is added, removed or renamed); an
entry whose signature differs from the files on disk is a miss, and is replaced. Later
lines win over earlier ones; ``S`` and ``L`` lines are parsed on first use.

Safety with many readers and live writers:

* nothing is ever written inside the logs folder (it may be read-only);
* readers take no lock: they read ``index.jsonl`` then ``journal.jsonl``; a torn or
  foreign line is skipped (a miss), so a reader never waits and never fails;
* a writer appends its new entries to the journal in one write, under the lock;
* compaction (when the journal outgrows half the index, or entries of deleted runs
  were seen) happens under the lock: everything on disk is merged with this
  process's entries, entries of runs whose folder is gone are dropped, the result
  is written to a temporary file and renamed over ``index.jsonl``, then the journal
  is emptied. A reader between the two steps sees entries twice (harmless); one
  that read the old index and the emptied journal misses some entries (re-parses);
* the signature is taken *before* the files are read, so a file that changes during
  the read is stored under its older signature and re-read next time.

Bounded: after a compaction the index holds one row per run present in the logs
folder and one summary per (run, metric log), and the journal never grows past
half the index (or 1 MB) before the next compaction. ``mlxlaunch cache prune``
removes the indexes of logs folders that no longer exist.

Where the cache lives, first match wins: the ``cache_dir`` argument of ``Reader``,
the ``MLXLAUNCH_CACHE_DIR`` environment variable, ``$XDG_CACHE_HOME/mlxlaunch``,
``~/.cache/mlxlaunch``. ``cache_dir=False`` (or ``MLXLAUNCH_CACHE_DIR=off``) turns it off.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import math
import os
import shutil
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, Optional, Union

from mlxlaunch.errors import CacheDamaged, MlxlaunchError
from mlxlaunch.runfolder.layout import (
    CACHE_INDEX_DIR,
    CACHE_INDEX_FILE,
    CACHE_JOURNAL_FILE,
    CACHE_RUNS_DIR,
)
from mlxlaunch.runfolder.metadata import atomic_write
from mlxlaunch.runfolder.safefiles import locked, open_existing, write_all

try:  # optional speed-up (the ``fast`` extra); the stdlib is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

#: Environment variable naming the cache folder (``off`` disables the cache).
CACHE_ENV = "MLXLAUNCH_CACHE_DIR"
#: Bumped whenever the layout of an index changes; it names the index folder, so
#: another version's index is simply not seen.
FORMAT = 6
#: The journal is folded into the index once it is larger than this share of the index
#: (and than ``JOURNAL_MIN_BYTES``), so repeated appends cost at most a constant factor.
JOURNAL_SHARE = 0.5
JOURNAL_MIN_BYTES = 1 << 20
#: Entries queued outside a ``batch()`` are written once this many are queued, or once
#: the oldest is this many seconds old (and when the process exits).
PENDING_MAX = 4096
PENDING_S = 2.0
#: A run row's signature: ``(size, mtime_ns, inode)`` of its ``config.yaml``, then of its
#: ``info.yaml``, flat (``None`` three times for a missing file).
SIGNATURE_LEN = 6
#: The first bytes of the lines parsed only when needed: a column of a block, a metric
#: log's summaries, a run's log names (orjson and ``json_dumps`` write no space).
_COLUMN_HEAD = b'["V",'
_LATER_HEADS = (b'["S",', b'["L",')
#: Integers orjson reads and writes (larger ones are not cached: the row is re-parsed).
_INT_RANGE = (-(1 << 63), (1 << 64) - 1)


def json_loads(data: Union[bytes, str]) -> Any:
    """``json.loads`` with orjson when installed (orjson rejects NaN: fall back then)."""
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(data)


def json_dumps(value: Any) -> bytes:
    """Compact JSON bytes (orjson when installed, else the stdlib)."""
    if _orjson is not None:
        return _orjson.dumps(value)
    return json.dumps(value, separators=(",", ":")).encode()


def json_lines(lines: list[bytes]) -> list:
    """The JSON values of ``lines`` (non-blank); a bad line is skipped.

    One parse call when every line is good (the lines joined into one array),
    line by line otherwise (a torn last line, a foreign file).
    """
    if not lines:
        return []
    try:
        return json_loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        pass
    values = []
    for line in lines:
        try:
            values.append(json_loads(line))
        except ValueError:
            continue
    return values


def default_cache_dir() -> Optional[Path]:
    """The cache folder from the environment, or ``None`` when it is switched off."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return None if env.lower() in ("off", "0", "false", "none") else Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mlxlaunch"


def cache_folder(cache_dir: Union[None, bool, str, os.PathLike]) -> Optional[Path]:
    """The cache folder ``Reader(cache_dir=...)`` means (``None``: switched off)."""
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        return default_cache_dir()
    return Path(cache_dir).expanduser()


def index_dir(folder: Path, logs: str) -> Path:
    """The index folder of the logs folder ``logs`` (a resolved path) in cache ``folder``."""
    digest = hashlib.sha1(logs.encode()).hexdigest()
    return folder / CACHE_INDEX_DIR / f"{digest}.v{FORMAT}"


def _plain(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (no dates, sets, NaN keys...).

    Exact types (a subclass is not cached): this runs on every value of every row a
    first search reads, so it is one ``type()`` and a comparison or two per value."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is float:
        return math.isfinite(value)
    if t is int:
        return _INT_RANGE[0] <= value <= _INT_RANGE[1]
    if t is list:
        return all(map(_plain, value))
    if t is dict:
        return all(type(k) is str for k in value) and all(map(_plain, value.values()))
    return False


def _shape_id(keys: tuple[str, ...]) -> str:
    """A name for a key list, the same in every process (so appenders need not agree)."""
    return hashlib.sha1("\0".join(keys).encode()).hexdigest()[:16]


_VALUES_OF_LINE = itemgetter(4)  # of a row's line


class _Block:
    """The rows of one shape in a compacted index, stored by column.

    A repeated search over 100,000 runs looks at two or three keys of each row:
    parsing every value of every row (a list per run) was a third of its time, and
    those lists stayed for the garbage collector to walk again and again. So a
    compacted index holds, per shape, one ``B`` line (the runs, their signatures,
    their problems, the length of each column's line) followed by one ``V`` line per
    key, kept as bytes and parsed the first time that key is read.
    """

    __slots__ = ("shape", "runs", "signatures", "problems", "where", "_raw", "_columns", "_index")

    def __init__(
        self,
        shape: str,
        runs: list[str],
        signatures: list,
        problems: dict[str, list],
        raw: list[bytes],
        index: str,
    ) -> None:
        self.shape = shape
        self.runs = runs
        self.signatures = signatures  # SIGNATURE_LEN values per run, flat: no list per run
        self.problems = problems  # only the runs that have some
        self.where = dict(zip(runs, range(len(runs))))  # run -> its place in the columns
        self._raw: list[Optional[bytes]] = list(raw)  # the V lines not parsed yet, by key
        self._columns: list[Optional[list]] = [None] * len(raw)
        self._index = index  # the file, for the message if a line turns out damaged

    @property
    def width(self) -> int:
        return len(self._columns)

    def signature(self, i: int) -> list:
        return self.signatures[i * SIGNATURE_LEN : (i + 1) * SIGNATURE_LEN]

    def column(self, position: int) -> list:
        """The values of key ``position`` for every run of the block (parsed once)."""
        column = self._columns[position]
        if column is not None:
            return column
        raw = self._raw[position]
        try:
            line = json_loads(raw) if raw is not None else None
        except ValueError:
            line = None
        if not (
            type(line) is list
            and len(line) == 4
            and line[:3] == ["V", self.shape, position]
            and type(line[3]) is list
            and len(line[3]) == len(self.runs)
        ):
            # the line had the length its B line recorded, and index files are only
            # renamed into place whole: a hand edit or a failing disk, found only now
            # that its rows are in use (a row cannot go back to being a miss)
            raise CacheDamaged(self._index)
        column = self._columns[position] = line[3]
        self._raw[position] = None
        return column


class _Slice:
    """One run's values in a ``_Block``, indexed by key position (the list of values a
    ``FlatRow`` of a journal's row has; a compacted index's rows have this instead)."""

    __slots__ = ("block", "index")

    def __init__(self, block: _Block, index: int) -> None:
        self.block = block
        self.index = index

    def __getitem__(self, position: int) -> Any:
        return self.block.column(position)[self.index]

    def __len__(self) -> int:
        return self.block.width

    def __iter__(self) -> Iterator[Any]:
        index, column = self.index, self.block.column
        return iter([column(p)[index] for p in range(self.block.width)])


class _Entries:
    """The entries of one index, as read from its lines (later lines win).

    A row is a journal's ``R`` line (kept as the line it was read from: no copy per
    run) or a place in a compacted index's ``_Block``; a row line wins over a block,
    as it is always the newer. Summaries and log names are parsed on first use: a
    search needs neither, and they are most of an index once columns were read.
    """

    def __init__(self, source: str = "") -> None:
        self.source = source  # the index folder, for messages
        self.shapes: dict[str, list[str]] = {}
        self.rows: dict[str, list] = {}  # run -> ["R", run, signature, shape, values, problems]
        self.blocks: list[_Block] = []
        self.block_of: dict[str, _Block] = {}  # run -> the block holding its row
        self._summaries: dict[tuple[str, str], list] = {}  # -> ["S", run, log, signature, {}]
        self._names: dict[str, list] = {}  # run -> ["L", run, signature, [names]]
        self._later: list[bytes] = []  # S and L lines not parsed yet

    def read(self, data: bytes, name: str) -> None:
        """Add the entries of the bytes of an index or journal file (bad lines skipped)."""
        eager: list[bytes] = []
        columns: list[tuple[int, bytes]] = []  # (the eager line they follow, a V line)
        later = self._later
        for line in data.split(b"\n"):  # a few lines, and one per run for S and L lines
            head = line[:5]
            if head == _COLUMN_HEAD:
                columns.append((len(eager) - 1, line))
            elif head in _LATER_HEADS:
                later.append(line)
            elif line.strip():
                eager.append(line)
        values = json_lines(eager)
        self.add(values)
        if columns and len(values) == len(eager):  # else a bad line shifted the places
            owned: dict[int, list[bytes]] = {}
            for owner, line in columns:
                owned.setdefault(owner, []).append(line)
            for owner, raw in owned.items():
                if owner >= 0:
                    self._add_block(values[owner], raw, f"{self.source}/{name}")

    def _add_block(self, head: Any, raw: list[bytes], index: str) -> None:
        """A ``["B", shape, runs, signatures, problems, lengths]`` line and its ``V`` lines
        (a block that does not add up is skipped whole: its runs are misses)."""
        if not (type(head) is list and len(head) == 6 and head[0] == "B"):
            return
        shape, runs, signatures, problems, lengths = head[1:]
        if not (
            type(shape) is str
            and type(runs) is list
            and all(type(run) is str for run in runs)
            and type(signatures) is list
            and len(signatures) == SIGNATURE_LEN * len(runs)
            and type(problems) is dict
            and all(type(found) is list for found in problems.values())
            and lengths == list(map(len, raw))
            and len(raw) == len(self.shapes.get(shape, ()))
        ):
            return
        block = _Block(shape, runs, signatures, problems, raw, index)
        self.blocks.append(block)
        self.block_of.update(zip(runs, repeat(block)))

    def add(self, lines: Iterable[Any]) -> None:
        good = _well_formed(lines)
        self.shapes.update((x[1], x[2]) for x in good if x[0] == "K" and len(x) == 3)
        self.rows.update((x[1], x) for x in good if x[0] == "R" and len(x) == 6)
        if any(x[0] == "S" or x[0] == "L" for x in good):
            self._add_later(good)

    def _add_later(self, good: list) -> None:
        summaries, names = self.summaries, self.names  # what came before is parsed first
        summaries.update(
            ((x[1], x[2]), x) for x in good if x[0] == "S" and len(x) == 5 and type(x[2]) is str
        )
        names.update((x[1], x) for x in good if x[0] == "L" and len(x) == 4)

    @property
    def summaries(self) -> dict[tuple[str, str], list]:
        if self._later:
            self._parse_later()
        return self._summaries

    @property
    def names(self) -> dict[str, list]:
        if self._later:
            self._parse_later()
        return self._names

    def _parse_later(self) -> None:
        lines, self._later = self._later, []
        self._add_later(_well_formed(json_lines(lines)))

    def row_runs(self) -> set[str]:
        """The runs with a row (in a line or a block)."""
        return set(self.rows).union(self.block_of)

    def runs(self) -> set[str]:
        return self.row_runs().union(self.names, (run for run, _ in self.summaries))

    def drop(self, runs: set[str]) -> None:
        for run in runs:
            self.rows.pop(run, None)
            self.block_of.pop(run, None)
            self.names.pop(run, None)
        self._summaries = {k: v for k, v in self.summaries.items() if k[0] not in runs}

    def lines(self, logs: str) -> Iterator[Union[list, bytes]]:
        """The lines of a compacted index holding these entries: the rows by shape, in
        blocks (every column is parsed: compacting is rare), then summaries and names
        (values to write as JSON, or bytes already JSON)."""
        yield ["H", logs]
        by_shape: dict[str, list[list]] = {}
        for line in self.rows.values():
            keys = self.shapes.get(line[3]) if type(line[3]) is str else None
            if (
                keys is not None
                and type(line[2]) is list
                and len(line[2]) == SIGNATURE_LEN
                and type(line[4]) is list
                and len(line[4]) == len(keys)
                and type(line[5]) is list
            ):
                by_shape.setdefault(line[3], []).append(line)
        kept = [
            (block, [i for i, run in enumerate(block.runs) if self._holds(block, run)])
            for block in self.blocks
        ]
        for shape in sorted(by_shape.keys() | {block.shape for block, _ in kept if _}):
            keys = self.shapes[shape]
            runs: list[str] = []
            signatures: list = []
            problems: dict[str, list] = {}
            parts = [(block, places) for block, places in kept if block.shape == shape and places]
            for block, places in parts:
                runs.extend(block.runs[i] for i in places)
                for i in places:
                    signatures.extend(block.signature(i))
                    found = block.problems.get(block.runs[i])
                    if found:
                        problems[block.runs[i]] = found
            rows = by_shape.get(shape, [])
            for line in rows:
                runs.append(line[1])
                signatures.extend(line[2])
                if line[5]:
                    problems[line[1]] = line[5]
            by_key = list(zip(*map(_VALUES_OF_LINE, rows))) or [()] * len(keys)  # rows' columns
            columns = []
            for position in range(len(keys)):
                column: list = []
                for block, places in parts:
                    column.extend(map(block.column(position).__getitem__, places))
                column.extend(by_key[position])
                columns.append(json_dumps(["V", shape, position, column]))
            yield ["K", shape, keys]
            yield ["B", shape, runs, signatures, problems, list(map(len, columns))]
            yield from columns  # already JSON (made to know their lengths)
        yield from self.summaries.values()
        yield from self.names.values()

    def _holds(self, block: _Block, run: str) -> bool:
        """Whether ``run``'s row is in ``block`` (not in a newer line, not dropped)."""
        return self.block_of.get(run) is block and run not in self.rows


def _well_formed(lines: Iterable[Any]) -> list:
    """The lines shaped like an entry (``[kind, run, ...]``): a comprehension, not a loop
    with branches (100,000 lines take ~30 ms, not ~1 s)."""
    return [x for x in lines if type(x) is list and len(x) >= 3 and type(x[1]) is str]


def read_entries(folder: Path) -> _Entries:
    """Everything an index folder holds (index, then journal); unreadable parts are skipped."""
    entries = _Entries(str(folder))
    for name in (CACHE_INDEX_FILE, CACHE_JOURNAL_FILE):
        try:
            with open(folder / name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        entries.read(data, name)
    return entries


def index_logs_folder(folder: Path) -> Optional[str]:
    """The logs folder an index folder belongs to (from its header), or ``None``."""
    try:
        with open(folder / CACHE_INDEX_FILE, "rb") as f:
            header = json_loads(f.readline())
    except (OSError, ValueError):
        return None
    if isinstance(header, list) and len(header) == 2 and header[0] == "H":
        return str(header[1])
    return None


class FlatRow:
    """A run's row as its index entry holds it: the key positions of its shape (one dict
    shared by every row with those keys) and its list of values.

    A repeated search reads 10,000 rows from the index and looks at two keys of
    each: building a dict per run (~40 keys) would cost more than the rest of the
    search. ``Run.row`` makes the dict when something needs all of it.
    """

    __slots__ = ("positions", "values")

    def __init__(self, positions: dict[str, int], values: Union[list, _Slice]) -> None:
        self.positions = positions
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        i = self.positions.get(key)
        return default if i is None else self.values[i]

    def keys(self) -> Iterable[str]:
        return self.positions.keys()

    def __getitem__(self, key: str) -> Any:
        return self.values[self.positions[key]]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FlatRow):
            return list(self.positions) == list(other.positions) and list(self.values) == list(
                other.values
            )
        return dict(self) == other

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like the dict it stands for

    def __reduce__(self) -> tuple[Any, ...]:
        # to another process (a Run given to a worker): its own values, not the whole block
        return (FlatRow, (self.positions, list(self.values)))


_POSITIONS = attrgetter("positions")
_VALUES = attrgetter("values")
_BLOCK, _INDEX = attrgetter("block"), attrgetter("index")


def one_shape(rows: list[Any]) -> Optional[dict[str, int]]:
    """The key positions every row shares, when all are ``FlatRow`` of one shape (the runs
    of a sweep read from the index): checked in C loops, no Python code per run."""
    if not rows or set(map(type, rows)) != {FlatRow}:
        return None
    if len(set(map(id, map(_POSITIONS, rows)))) != 1:
        return None
    return rows[0].positions


def rows_column(rows: list[Any], key: str, shared: Any = False) -> list[Any]:
    """``[row.get(key) for row in rows]`` (rows: dicts or ``FlatRow``), without a method
    call per row; rows of one shape with one C loop (``shared``: ``one_shape(rows)``,
    when the caller knows it)."""
    if shared is False:
        shared = one_shape(rows)
    if shared is not None:
        i = shared.get(key)
        if i is None:
            return [None] * len(rows)
        values = list(map(_VALUES, rows))
        if set(map(type, values)) == {_Slice} and len(set(map(id, map(_BLOCK, values)))) == 1:
            column = values[0].block.column(i)  # the runs of one block: pick from its column
            return list(map(column.__getitem__, map(_INDEX, values)))
        return list(map(itemgetter(i), values))
    out: list[Any] = []
    append = out.append
    for row in rows:
        if type(row) is FlatRow:
            i = row.positions.get(key)
            append(None if i is None else row.values[i])
        else:
            append(row.get(key))
    return out


_NO_PROBLEMS: list[str] = []  # shared, never changed: most rows have no problem


class RunCache:
    """The index of one logs folder: rows and metric summaries of its runs.

    Runs are named by their folder's name (``"12"``). The index is read once, on
    the first lookup. ``put_*`` queue new entries; they are written when a
    ``with cache.batch():`` block ends (``Reader.refresh`` and ``Reader.search``
    use one). Outside a block (a notebook's loop over ``run["train.loss"]``) they are
    written together once :data:`PENDING_MAX` are queued or the oldest is
    :data:`PENDING_S` seconds old, and at the latest when the cache is dropped or the
    process exits: one append per loop, not one per run. Writing never raises: the cache is only
    ever a speed-up (a full disk or a read-only home only costs speed).
    """

    def __init__(self, folder: Optional[Path], logs: str) -> None:
        self.logs = logs
        self.folder = index_dir(folder, logs) if folder is not None else None
        if self.folder is not None and _inside(self.folder, logs):
            self.folder = None  # a cache inside the logs folder would write there: off
        self._entries: Optional[_Entries] = None
        self._positions: dict[str, dict[str, int]] = {}  # shape -> {key: position}
        self._new: list[list] = []  # lines not yet written
        self._new_shapes: set[str] = set()
        self._batching = False
        self._since: Optional[float] = None  # when the oldest entry not yet written was queued
        self._present: Optional[set[str]] = None  # the runs of the last listing

    def __getstate__(self) -> dict[str, Any]:
        # to another process (runs given to workers): where the index is, not all it holds
        # (read again there if needed); what this process queued, this process writes
        state = self.__dict__.copy()
        state.update(
            _entries=None, _positions={}, _new=[], _new_shapes=set(), _since=None, _present=None
        )
        return state

    @classmethod
    def from_setting(cls, cache_dir: Union[None, bool, str, os.PathLike], logs: str) -> RunCache:
        return cls(cache_folder(cache_dir), logs)

    @property
    def entries(self) -> _Entries:
        if self._entries is None:
            self._entries = read_entries(self.folder) if self.folder is not None else _Entries()
        return self._entries

    def set_present(self, runs: Iterable[str]) -> None:
        """The runs the logs folder holds now: entries of other runs are pruned at the next write."""
        self._present = set(runs)

    # -- rows
    def row(self, run: str, signature: list) -> Optional[tuple[FlatRow, list[str]]]:
        """``(row, problems)`` of ``run`` if its entry was made from files with ``signature``."""
        entries = self._entries
        if entries is None:
            if self.folder is None:
                return None
            entries = self.entries
        line = entries.rows.get(run)
        if line is None:
            block = entries.block_of.get(run)
            if block is None:
                return None
            i = block.where[run]
            if block.signature(i) != signature:
                return None
            positions = self._positions.get(block.shape) or self._shape_positions(block.shape)
            if positions is None or len(positions) != block.width:
                return None
            return FlatRow(positions, _Slice(block, i)), block.problems.get(run, _NO_PROBLEMS)
        if line[2] != signature:
            return None
        positions = self._positions.get(line[3]) or self._shape_positions(line[3])
        values, problems = line[4], line[5]
        if (
            positions is None
            or type(values) is not list
            or len(positions) != len(values)
            or type(problems) is not list
        ):
            return None
        return FlatRow(positions, values), problems

    def _shape_positions(self, shape: Any) -> Optional[dict[str, int]]:
        """``{key: position}`` of ``shape`` (one dict shared by its rows), or ``None``."""
        keys = self.entries.shapes.get(shape) if type(shape) is str else None
        if keys is None:
            return None
        positions = self._positions[shape] = {key: i for i, key in enumerate(keys)}
        return positions

    def put_row(self, run: str, signature: list, row: dict[str, Any], problems: list[str]) -> None:
        """Store the row of ``run`` made from files with ``signature`` (if JSON keeps it)."""
        if self.folder is None or not _plain(row):
            return
        keys = tuple(row)
        shape = _shape_id(keys)
        entries = self.entries
        if shape not in entries.shapes:
            entries.shapes[shape] = list(keys)
        if shape not in self._new_shapes:  # once per process: cheap, and sure to be written
            self._new_shapes.add(shape)
            self._new.append(["K", shape, list(keys)])
        line = ["R", run, signature, shape, list(row.values()), list(problems)]
        entries.rows[run] = line
        self._new.append(line)
        self._written()

    # -- metric summaries
    def summary(self, run: str, log: str, signature: list) -> Optional[dict[str, Any]]:
        """The summaries of ``run``'s metric log ``log`` if made from the file with ``signature``."""
        if self.folder is None:
            return None
        line = self.entries.summaries.get((run, log))
        if line is None or line[3] != signature or not isinstance(line[4], dict):
            return None
        return line[4]

    def put_summary(self, run: str, log: str, signature: list, summary: dict[str, Any]) -> None:
        if self.folder is None or not _plain(summary):
            return
        line = ["S", run, log, signature, summary]
        self.entries.summaries[(run, log)] = line
        self._new.append(line)
        self._written()

    # -- metric log names
    def log_names(self, run: str, signature: list) -> Optional[list[str]]:
        """The metric log names of ``run`` if listed from ``metrics/`` with ``signature``."""
        if self.folder is None:
            return None
        line = self.entries.names.get(run)
        if line is None or line[2] != signature or not isinstance(line[3], list):
            return None
        return line[3]

    def put_log_names(self, run: str, signature: list, names: list[str]) -> None:
        if self.folder is None:
            return
        line = ["L", run, signature, names]
        self.entries.names[run] = line
        self._new.append(line)
        self._written()

    # -- writing
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write the entries queued inside the block once, when it ends."""
        if self._batching:
            yield
            return
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self.flush()

    def _written(self) -> None:
        if self._batching:
            return
        now = time.monotonic()
        if self._since is None:
            self._since = now
            _flush_at_exit(self)
        if len(self._new) >= PENDING_MAX or now - self._since >= PENDING_S:
            self.flush()

    def __del__(self) -> None:  # a Reader dropped in a notebook: its queued entries stay useful
        try:
            if self._new:
                self.flush()
        except Exception:  # noqa: S110 - at interpreter shutdown, modules may be half gone
            pass

    def flush(self) -> None:
        """Append the new entries to the journal, or compact the index (see the module doc)."""
        if self.folder is None:
            return
        stale = self._stale()
        if not self._new and not stale:
            return
        lines, self._new = self._new, []
        self._since = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with locked(self.folder):
                if stale or self._journal_full():
                    self._compact(lines)
                else:
                    self._append(lines)
        except (OSError, MlxlaunchError):
            return  # the cache is optional: a full disk or a read-only home costs only speed

    def _stale(self) -> set[str]:
        """Runs with entries that are not in the last listing (deleted, or never were)."""
        present, entries = self._present, self._entries
        if present is None or entries is None:
            return set()
        stale = entries.rows.keys() - present  # set differences in C: no set of every run
        stale |= entries.block_of.keys() - present
        # summaries and names not parsed yet are not looked at (a search parses none):
        # a deleted run has a row too, and a compaction drops all of a gone run's entries
        if not entries._later:
            stale |= entries.names.keys() - present
            if entries.summaries:
                stale |= {run for run, _ in entries.summaries} - present
        return stale

    def _journal_full(self) -> bool:
        assert self.folder is not None
        try:
            index = os.stat(self.folder / CACHE_INDEX_FILE).st_size
        except FileNotFoundError:
            return True  # no index yet: write one (it carries the header)
        try:
            journal = os.stat(self.folder / CACHE_JOURNAL_FILE).st_size
        except FileNotFoundError:
            return False
        return journal > max(JOURNAL_MIN_BYTES, JOURNAL_SHARE * index)

    def _append(self, lines: list[list]) -> None:
        assert self.folder is not None
        # one write of whole lines; the leading newline ends a line a crash may have torn
        data = b"\n" + b"\n".join(json_dumps(line) for line in lines) + b"\n"
        fd = open_existing(self.folder / CACHE_JOURNAL_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)

    def _compact(self, lines: list[list]) -> None:
        """Merge what is on disk with ``lines``, drop deleted runs, rename the result in."""
        assert self.folder is not None
        merged = read_entries(self.folder)
        merged.add(lines)
        gone = {run for run in merged.runs() - (self._present or set()) if not self._exists(run)}
        merged.drop(gone)
        try:
            data = b"\n".join(_json(line) for line in merged.lines(self.logs)) + b"\n"
        except CacheDamaged:  # a damaged block on disk: its rows become misses, re-read
            merged.blocks, merged.block_of = [], {}
            data = b"\n".join(_json(line) for line in merged.lines(self.logs)) + b"\n"
        atomic_write(self.folder / CACHE_INDEX_FILE, data, fsync=False)  # a lost index: a miss
        atomic_write(self.folder / CACHE_JOURNAL_FILE, b"", fsync=False)
        self._entries = merged
        if self._present is not None:
            self._present |= merged.runs()  # pruned once: not again at every write

    def _exists(self, run: str) -> bool:
        return os.path.isdir(os.path.join(self.logs, run))


def _json(line: Union[list, bytes]) -> bytes:
    return line if type(line) is bytes else json_dumps(line)


#: Caches with entries queued outside a batch, written when the process exits.
_PENDING: weakref.WeakSet = weakref.WeakSet()


def _flush_at_exit(cache: RunCache) -> None:
    """Have ``cache``'s queued entries written when the process exits (if still queued)."""
    if not _PENDING:
        atexit.unregister(_flush_pending)  # registered once, however many caches
        atexit.register(_flush_pending)
    _PENDING.add(cache)


def _flush_pending() -> None:
    for cache in list(_PENDING):
        cache.flush()
    _PENDING.clear()


def _inside(path: Path, logs: str) -> bool:
    """Whether ``path`` lies inside the folder ``logs``."""
    try:
        path.resolve().relative_to(logs)
    except ValueError:
        return False
    return True


def cache_usage(folder: Path) -> list[tuple[Optional[str], Path, int]]:
    """``(logs folder or None, index folder, bytes)`` of every index in cache ``folder``."""
    found = []
    root = folder / CACHE_INDEX_DIR
    try:
        children = sorted(root.iterdir())
    except OSError:
        return []
    for child in children:
        if not child.is_dir() or child.is_symlink():
            continue
        size = sum(p.stat().st_size for p in child.iterdir() if p.is_file())
        found.append((index_logs_folder(child), child, size))
    return found


def prune(folder: Path) -> tuple[int, int]:
    """Remove the indexes of logs folders that are gone and the entries of deleted runs.

    Also removes what older versions left (``runs/``, one file per run, and indexes
    of another format). Returns ``(indexes removed, bytes freed)``.
    """
    removed, freed = 0, 0
    for logs, index, size in cache_usage(folder):
        if not index.name.endswith(f".v{FORMAT}") or logs is None or not os.path.isdir(logs):
            shutil.rmtree(index, ignore_errors=True)
            removed, freed = removed + 1, freed + size
            continue
        cache = RunCache(folder, logs)
        present = [e.name for e in os.scandir(logs) if e.name.isdigit()]
        cache.set_present(present)
        cache.entries  # noqa: B018 - read the index, so stale entries are seen
        cache.flush()
        freed += size - sum(p.stat().st_size for p in index.iterdir() if p.is_file())
    legacy = folder / CACHE_RUNS_DIR
    if legacy.is_dir() and not legacy.is_symlink():
        freed += sum(p.stat().st_size for p in legacy.iterdir() if p.is_file())
        shutil.rmtree(legacy, ignore_errors=True)
        removed += 1
    return removed, freed


def clear(folder: Path) -> int:
    """Remove every index (and what older versions left); returns the bytes freed."""
    freed = sum(size for _, _, size in cache_usage(folder))
    shutil.rmtree(folder / CACHE_INDEX_DIR, ignore_errors=True)
    legacy = folder / CACHE_RUNS_DIR
    if legacy.is_dir() and not legacy.is_symlink():
        freed += sum(p.stat().st_size for p in legacy.iterdir() if p.is_file())
        shutil.rmtree(legacy, ignore_errors=True)
    return freed
