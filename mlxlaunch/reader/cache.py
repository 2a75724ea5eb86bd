"""A per-run cache of parsed metadata, kept outside the logs folder.

Parsing two YAML files per run is most of a first search's cost; reading one small
JSON file instead is most of a repeated one's. Each run gets its own cache file,
``<cache dir>/runs/<sha1 of the run folder's resolved path>.json``, holding the
flattened config/info row and the signature (size, mtime, inode) of the files it
came from. An entry whose signature differs from the files on disk is ignored and
rewritten, so the cache never needs clearing: deleting the folder only costs speed.

Safety with many readers and live writers:

* nothing is ever written inside the logs folder (it may be read-only);
* each entry is written to a temporary file and moved into place with ``os.replace``,
  so a reader sees a whole old entry or a whole new one; a torn or foreign file
  simply fails to parse and counts as a miss;
* the signature is taken *before* the files are read, so a file that changes during
  the read is stored under its older signature and re-read next time.

Where the cache lives, first match wins: the ``cache_dir`` argument of ``Reader``,
the ``MLXLAUNCH_CACHE_DIR`` environment variable, ``$XDG_CACHE_HOME/mlxlaunch``,
``~/.cache/mlxlaunch``. ``cache_dir=False`` (or ``MLXLAUNCH_CACHE_DIR=off``) turns it off.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

from mlxlaunch.runfolder.layout import CACHE_RUNS_DIR
from mlxlaunch.runfolder.metadata import atomic_write

try:  # optional speed-up (the ``fast`` extra); the stdlib is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None  # type: ignore[assignment]

#: Environment variable naming the cache folder (``off`` disables the cache).
CACHE_ENV = "MLXLAUNCH_CACHE_DIR"
#: Bumped whenever the layout of an entry changes; older entries are then misses.
FORMAT = 4


def json_loads(data: Union[bytes, str]) -> Any:
    """``json.loads`` with orjson when installed (orjson rejects NaN: fall back then)."""
    if _orjson is not None:
        try:
            return _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(data)


def default_cache_dir() -> Optional[Path]:
    """The cache folder from the environment, or ``None`` when it is switched off."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return None if env.lower() in ("off", "0", "false", "none") else Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "mlxlaunch"


def _plain(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (no dates, sets, NaN keys...)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


class RunCache:
    """Read and write the cache entries of runs (one JSON file per run).

    Inside ``with cache.batch():`` writes are queued and, when the block ends,
    handed to one background thread: creating thousands of small files costs
    about as much as parsing the YAML they save, so a first search does not wait
    for them. The thread is not a daemon: the interpreter finishes the writes
    before it exits.
    """

    def __init__(self, folder: Optional[Path]) -> None:
        self.folder = folder / CACHE_RUNS_DIR if folder is not None else None
        self._ready = False
        self._pending: Optional[list[tuple[str, str]]] = None
        self._writers: list[threading.Thread] = []

    @classmethod
    def from_setting(cls, cache_dir: Union[None, bool, str, os.PathLike]) -> RunCache:
        if cache_dir is False:
            return cls(None)
        if cache_dir is None or cache_dir is True:
            return cls(default_cache_dir())
        return cls(Path(cache_dir).expanduser())

    def _path(self, run_dir: str) -> Optional[str]:
        if self.folder is None:
            return None
        # run_dir is already resolved by the Reader (its parent is resolved once, not per run);
        # plain strings, not Path objects: this runs 10,000 times per search
        digest = hashlib.sha1(run_dir.encode()).hexdigest()
        return f"{self.folder}/{digest}.json"

    def get(self, run_dir: str, signature: list) -> Optional[dict[str, Any]]:
        """The entry of ``run_dir`` if it was made from files with ``signature``."""
        path = self._path(run_dir)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                entry = json_loads(f.read())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("format") != FORMAT:
            return None
        if entry.get("signature") != signature or entry.get("run_dir") != run_dir:
            return None
        return entry

    def put(self, run_dir: str, signature: list, **data: Any) -> None:
        """Store ``data`` for ``run_dir`` (queued inside ``batch()``); never raises."""
        path = self._path(run_dir)
        if path is None or not _plain(data):
            return
        entry = {"format": FORMAT, "run_dir": run_dir, "signature": signature, **data}
        text = json.dumps(entry, separators=(",", ":"))
        if self._pending is not None:
            self._pending.append((path, text))
        else:
            self._write([(path, text)])

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Queue the writes made inside the block; write them in the background after it."""
        if self._pending is not None:  # already batching
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            items, self._pending = self._pending, None
            if items:
                writer = threading.Thread(target=self._write, args=(items,), name="mlxlaunch-cache")
                writer.start()
                self._writers = [w for w in self._writers if w.is_alive()] + [writer]

    def wait(self) -> None:
        """Block until the background writes started so far are done."""
        for writer in self._writers:
            writer.join()
        self._writers = []

    def _write(self, items: list[tuple[str, str]]) -> None:
        for path, text in items:
            try:
                if not self._ready:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    self._ready = True
                atomic_write(Path(path), text, fsync=False)  # a lost entry is only a miss
            except OSError:
                # A full disk or a read-only home must not break reading: the cache is optional.
                return
