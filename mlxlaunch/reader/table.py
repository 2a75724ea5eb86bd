"""The lazy result of a search: ``RunTable`` (many runs) and ``Run`` (one run, a mapping).

A ``Run`` holds its config/info row in memory; its metric logs and artifacts are
only touched when asked for: ``run["train.loss"]`` parses ``metrics/train.json``
once (re-parsing only if the file changed since) and returns a numpy array;
``run.artifacts["model.pkl"].load()`` opens the artifact.

Analysis is pandas' job: ``RunTable.to_pandas()`` (status and config columns;
metric and other info columns on request), ``RunTable.metrics("train")`` (one long table for
``groupby`` or seaborn), ``RunTable.diff()`` (the config columns that vary).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from mlxlaunch.errors import UsageError, did_you_mean
from mlxlaunch.logger.artifacts import key_dir
from mlxlaunch.logger.logger import Logger
from mlxlaunch.reader import metrics as _metrics
from mlxlaunch.reader.cache import RunCache, one_shape, rows_column
from mlxlaunch.reader.mlxpframe import Frame, Groups
from mlxlaunch.reader.plot import draw as draw_plot
from mlxlaunch.reader.scan import Problems, Progress, Row, load_yaml_tolerant
from mlxlaunch.runfolder.layout import (
    ARTIFACT_INDEX_FILE,
    ARTIFACTS_DIR,
    KEYS_DIR,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


#: What ``Run.value`` gives for a key the run does not have (None is a value).
_MISSING = object()
#: A run's logs and summaries before the first is loaded (read-only: one for all runs).
_NONE: Mapping[str, Any] = MappingProxyType({})
#: MLXP's prefix of artifact columns (``run["artifact.pickle."]``).
MLXP_ARTIFACT_PREFIX = "artifact."
#: Rows shown by ``repr`` of a table (first and last halves).
PREVIEW_ROWS = 20


class Artifact:
    """A handle on one artifact file; nothing is read until ``load()``."""

    def __init__(self, run: Run, artifact_type: str, name: str) -> None:
        self.run = run
        self.type = artifact_type
        self.name = name
        self.path = os.path.join(run.path, ARTIFACTS_DIR, artifact_type, name)

    def __repr__(self) -> str:
        return f"<Artifact {self.type}:{self.name} of run {self.run.log_id} (not loaded)>"

    def load(self) -> Any:
        """Load the artifact with the logger's loader for its type (see docs/logging.md)."""

        return Logger(self.run.path, self.run.log_id).load_artifacts(
            self.name, artifact_type=self.type
        )


class Run(Mapping):
    """One run: a read-only mapping from keys (``config.*``, ``info.*``, metrics) to values.

    Keys: every ``config.`` / ``info.`` column, ``log_id``, each metric log name
    (``run["train"]`` is a DataFrame with a ``step`` column), each ``<log>.<key>``
    (a numpy array, loaded on first access) and ``<log>.<key>.<summary>`` with a
    summary in ``last first min max mean count``.
    """

    # slots: 100,000 runs are made by a repeated search (no __dict__ per run to build)
    __slots__ = ("log_id", "path", "_row", "_context", "_logs", "_summaries", "_log_names")

    def __init__(self, log_id: int, path: str, row: Row, context: _Context) -> None:
        self.log_id = log_id
        self.path = path
        self._row = row  # a dict, or the index's FlatRow until the whole dict is needed
        self._context = context
        # made on the first log or summary: most runs of a search never load one
        self._logs: dict[str, _metrics.MetricLog] = _NONE  # type: ignore[assignment]
        self._summaries: dict[str, tuple[list, dict[str, Any]]] = _NONE  # type: ignore[assignment]
        self._log_names: Optional[list[str]] = None

    @property
    def row(self) -> dict[str, Any]:
        """Every ``config.*`` / ``info.*`` value of the run (and ``log_id``), flat."""
        row = self._row
        if type(row) is not dict:
            row = self._row = dict(row)
        return row

    def value(self, key: str, default: Any = None) -> Any:
        """``row.get(key, default)``, without making the row's dict."""
        return self._row.get(key, default)

    def key_set(self) -> Mapping[str, Any]:
        """The row's keys (a mapping whose keys they are; shared by runs read from the index
        with the same keys)."""
        row = self._row
        return row if type(row) is dict else row.positions  # type: ignore[union-attr]

    # -- mapping protocol
    def __getitem__(self, key: str) -> Any:
        value = self._row.get(key, _MISSING)
        if value is not _MISSING:
            return value
        found = None
        if self._log_names is None:  # a first access: look for the log's file, no listing
            read = key.rpartition(".")[2] not in _metrics.SUMMARIES  # those may be cached
            live = self._row.get("info.status") in _metrics.LIVE
            found, log = _metrics.find_log(self.path, key, self._logs, live, read)
            if log is not None:
                self._keep_log(log.name, log)
        if found is None:
            names = self.log_names
            if key in names:
                return self.log(key).frame()
            split = _metrics.split_metric_key(key, names)
        elif found == key:
            return self.log(key).frame()
        else:
            split = (found, key[len(found) + 1 :])
        if split is not None:
            if split[1].rpartition(".")[2] in _metrics.SUMMARIES:
                summary = self.summary(split[0])  # from the cache when the log is unchanged
                if split[1] in summary:
                    return summary[split[1]]
            log = self.log(split[0], keep=(split[1],))
            try:
                return log.column(split[1])
            except KeyError:  # no such key (the log may have been replaced since): say so below
                pass
        names = self.log_names
        if key.startswith(MLXP_ARTIFACT_PREFIX):
            groups = self.artifact_groups()
            if key in groups:
                return groups[key]
        if self._log_names is not None:  # a live run may have started a new log since
            self._log_names = None
            if self.log_names != names:
                return self[key]
        known = list(self.row) + [f"{n}.{k}" for n in names for k in self.metric_keys(n)]
        raise KeyError(f"run {self.log_id} has no key {key!r}.{did_you_mean(key, known)}")

    def __contains__(self, key: object) -> bool:
        """Without loading a log for its own keys (``"train.loss" in run``)."""
        if not isinstance(key, str):
            return False
        if self._row.get(key, _MISSING) is not _MISSING or key in self.log_names:
            return True
        split = _metrics.split_metric_key(key, self.log_names)
        if split is not None and split[1] in self.metric_keys(split[0]):
            return True
        return super().__contains__(key)  # a summary, or a key missing from metrics/.keys

    def __iter__(self) -> Iterator[str]:
        yield from self.row
        for name in self.log_names:
            for key in self.metric_keys(name):
                yield f"{name}.{key}"

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"<Run {self.log_id} {self.value('info.status')} at {self.path}>"

    # Mapping's content equality would load every metric log of both runs and then fail on
    # comparing numpy arrays; a run is its folder (so runs can be set members and dict keys)
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Run):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)

    # a run goes to worker processes (multiprocessing, joblib): its slots, with dicts of
    # its own for the shared read-only empty mapping
    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in Run.__slots__}
        state["_logs"], state["_summaries"] = dict(self._logs), dict(self._summaries)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    # -- parts
    @property
    def status(self) -> str:
        return self._row.get("info.status", "UNKNOWN")

    @property
    def config(self) -> dict[str, Any]:
        """The config as a flat dict (``"optimizer.lr": 0.01``)."""
        return {k[7:]: v for k, v in self.row.items() if k.startswith("config.")}

    @property
    def info(self) -> dict[str, Any]:
        return {k[5:]: v for k, v in self.row.items() if k.startswith("info.")}

    @property
    def log_names(self) -> list[str]:
        """Names of the run's metric logs (``metrics/<name>.json``); an entry that cannot be
        read (a link loop, a FIFO) is reported in ``reader.problems`` and left out."""
        if self._log_names is None:
            problems: list[str] = []
            live = self.status in _metrics.LIVE
            self._log_names = _metrics.cached_log_names(
                self.path, self._context.cache, live, problems
            )
            for problem in problems:
                self._context.problems.add(problem)
        return self._log_names

    def metric_keys(self, name: str) -> list[str]:
        """Keys of a metric log, from ``metrics/.keys`` (or the loaded log)."""
        if name in self._logs:
            return list(self._logs[name].keys)
        return _metrics.logged_keys(self.path, name)

    def log(self, name: str, keep: Optional[Sequence[str]] = None) -> _metrics.MetricLog:
        """The parsed metric log ``name``: one snapshot of the file, kept until the Reader
        is refreshed (or ``forget()``), so every column and summary of it agrees, even while
        the run appends (``run["train.loss"]`` and ``run["train.step"]`` have one length).
        A first read builds the columns ``keep`` (``None``: all); others are built from
        the same snapshot when asked for."""
        cached = self._logs.get(name)
        if cached is not None:
            return cached
        live = self.status in _metrics.LIVE
        log = _metrics.read_log(self.path, name, live=live, keep=keep)
        self._keep_log(name, log)
        return log

    def _keep_log(self, name: str, log: _metrics.MetricLog) -> None:
        """Hold ``log`` as the run's snapshot of ``name``; report what it could not read."""
        for problem in log.problems:
            self._context.problems.add(problem)
        if self._logs is _NONE:
            self._logs = {}
        self._logs[name] = log

    def metrics(self, name: str) -> pd.DataFrame:
        """The metric log ``name`` as a DataFrame (``step`` + one column per key)."""
        return self.log(name).frame()

    def summary(self, name: str) -> dict[str, Any]:
        """``{"loss.last": ..., "loss.min": ...}`` of a log, kept in memory (until the Reader
        is refreshed, like the log) and in the cache index per version of the file (so a
        query on summaries does not re-read unchanged logs). Once the log is loaded, its
        summary is the loaded snapshot's."""
        loaded = self._logs.get(name)
        known = self._summaries.get(name)
        if known is not None and (loaded is None or known[0] == list(loaded.signature)):
            return known[1]
        if loaded is not None:
            signature = list(loaded.signature)
        else:
            signature = list(_metrics.file_signature(_metrics.log_path(self.path, name)) or ())
        run = os.path.basename(self.path)
        summary = self._context.cache.summary(run, name, signature)
        if summary is None:
            fresh = name not in self._logs
            log = self.log(name)  # every column: a summary needs them all
            summary = log.summary()
            if fresh:
                log.release()  # only the snapshot stays: memory follows what is asked for
            signature = list(log.signature)
            self._context.cache.put_summary(run, name, signature, summary)
        if self._summaries is _NONE:
            self._summaries = {}
        self._summaries[name] = (signature, summary)
        return summary

    @property
    def artifacts(self) -> dict[str, Artifact]:
        """Handles on the run's artifacts, by name (nothing is loaded)."""
        return {a.name: a for a in _list_artifacts(self)}

    def artifact_groups(self) -> dict[str, dict[str, Artifact]]:
        """MLXP's artifact columns: ``{"artifact.pickle.": {"last_ckpt.pkl": Artifact}}``.

        The key is ``artifact.<type>.<sub.folders>`` (``artifact.pickle.`` for the
        type's own folder), the value the artifacts of that folder by file name.
        """
        groups: dict[str, dict[str, Artifact]] = {}
        for artifact in _list_artifacts(self):
            sub, base = os.path.split(artifact.name)
            key = f"{MLXP_ARTIFACT_PREFIX}{artifact.type}.{sub.replace(os.sep, '.')}"
            groups.setdefault(key, {})[base] = artifact
        return groups

    def forget(self) -> None:
        """Drop the metric logs loaded so far (to free memory, or to read a live run's
        logs again: the next access reads the files as they are now)."""
        self._logs = self._summaries = _NONE  # type: ignore[assignment]
        self._log_names = None

    def drop_changed_logs(self) -> None:
        """Forget the logs whose file changed since they were read (``Reader.refresh``
        calls it): the next access reads them again; unchanged ones stay loaded."""
        self._log_names = None
        for name in set(self._logs) | set(self._summaries):
            log = self._logs.get(name)
            read_as = list(log.signature) if log is not None else self._summaries[name][0]
            now = list(_metrics.file_signature(_metrics.log_path(self.path, name)) or ())
            if now != read_as:
                if name in self._logs:
                    del self._logs[name]
                if name in self._summaries:
                    del self._summaries[name]


_ROW = attrgetter("_row")


def key_sets(runs: Sequence[Run]) -> list[Mapping[str, Any]]:
    """The distinct key sets of the runs' rows (those read from the index share one per
    shape): the keys a query may name are their union."""
    rows = list(map(_ROW, runs))
    shared = one_shape(rows)
    if shared is not None:
        return [shared]
    sets = list(map(Run.key_set, runs))
    return list(dict(zip(map(id, sets), sets)).values())


def row_columns(runs: Sequence[Run]) -> Callable[[str], list[Any]]:
    """``key -> [run.value(key) for run in runs]``, without a method call per run (a query
    over 100,000 runs reads each of its keys this way; the runs' rows looked at once)."""
    rows = list(map(_ROW, runs))
    return partial(rows_column, rows, shared=one_shape(rows))


def _list_artifacts(run: Run) -> list[Artifact]:
    """From ``artifacts/.keys/artifacts.yaml`` when present (MLXP's nesting or a flat list),
    else by walking ``artifacts/``."""
    root = os.path.join(run.path, ARTIFACTS_DIR)
    index = os.path.join(root, KEYS_DIR, ARTIFACT_INDEX_FILE)
    found: list[Artifact] = []
    if os.path.exists(index):
        data, problem = load_yaml_tolerant(index)
        if problem:
            run._context.problems.add(problem)
        for artifact_type, entries in data.items():
            if isinstance(entries, dict):  # MLXP: {type: {subdir: {basename: ""}}}
                for sub, names in entries.items():
                    for base in names if isinstance(names, (dict, list)) else [names]:
                        sub_path = key_dir(str(sub or ""))
                        found.append(
                            Artifact(run, str(artifact_type), os.path.join(sub_path, str(base)))
                        )
            elif isinstance(entries, list):
                found.extend(Artifact(run, str(artifact_type), str(n)) for n in entries)
        if found:
            return found
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            continue
        artifact_type, _, sub = rel.partition(os.sep)
        for filename in sorted(filenames):
            if not filename.startswith("."):
                found.append(Artifact(run, artifact_type, os.path.join(sub, filename)))
    return found


def _log_cell(run: Run, name: str) -> str:
    """What a table shows for a metric log: ``<lazy>`` until it is loaded, then its length."""
    if name not in run.log_names:
        return ""
    log = run._logs.get(name)
    return "<lazy>" if log is None else f"{log.length} records"


def column_series(values: list[Any], index: Any, name: str) -> pd.Series:
    """One column of values as a pandas Series with the dtype an analysis needs.

    Numbers are numeric (``nsmallest``, ``describe``, ``groupby().mean()`` work):
    ``Int64`` (nullable) when every value is an int, ``float64`` when they are
    numbers (a missing value is NaN), ``boolean`` for flags; anything else (a
    series per cell, text, lists) stays ``object``.
    """
    import numpy as np
    import pandas as pd

    present = [v.item() if isinstance(v, np.generic) else v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, index=index, name=name, dtype="boolean")
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pd.Series(values, index=index, name=name, dtype="Int64")
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.Series(
            [np.nan if v is None else float(v) for v in values],
            index=index,
            name=name,
            dtype="float64",
        )
    return pd.Series(values, index=index, name=name, dtype=object)


class _Context:
    """What runs of one Reader share: the cache and the problem collector."""

    def __init__(self, cache: RunCache, problems: Problems) -> None:
        self.cache = cache
        self.problems = problems


class RunTable(Sequence):
    """An ordered, lazy collection of runs (the result of ``Reader.search``)."""

    def __init__(self, runs: list[Run]) -> None:
        self._runs = runs

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    def __getitem__(self, index: Union[int, slice, str]) -> Any:
        if isinstance(index, slice):
            return RunTable(self._runs[index])
        if isinstance(index, str):
            return column_series([run.get(index) for run in self._runs], self._index(), index)
        return self._runs[index]

    @property
    def log_ids(self) -> list[int]:
        return [run.log_id for run in self._runs]

    def _index(self):
        import pandas as pd

        return pd.Index(self.log_ids, name="log_id")

    def status_counts(self) -> dict[str, int]:
        """``{"COMPLETE": 8, "LOST": 1, ...}``, most common first."""
        return dict(Counter(run.status for run in self._runs).most_common())

    def to_pandas(
        self, metrics: Sequence[str] = (), info: Union[bool, Sequence[str]] = False
    ) -> pd.DataFrame:
        """A DataFrame indexed by ``log_id``: what a researcher compares runs by.

        Columns: ``info.status``, every ``config.*`` key, then ``metrics``
        (``["train.loss", "train.loss.last"]``: a series is a numpy array per cell, a
        summary a number, with a numeric dtype), loading those logs now. The other
        ``info.*`` columns (argv, pid, hostname, times ...) come on request:
        ``info=True`` for all of them, or a list such as ``info=["duration_s", "hostname"]``.
        """
        import pandas as pd

        info_keys = self._info_columns(info)
        records = []
        for run in self._runs:
            record: dict[str, Any] = {"info.status": run.status}
            record.update((k, v) for k, v in run.row.items() if k.startswith("config."))
            record.update((k, run.row.get(k)) for k in info_keys)
            records.append(record)
        frame = pd.DataFrame.from_records(records, index=self._index())
        if not self._runs:
            frame = pd.DataFrame(columns=["info.status", *info_keys], index=self._index())
        for key in [metrics] if isinstance(metrics, str) else metrics:
            progress = Progress(len(self._runs), None, label=f"loading {key}")
            values = []
            for done, run in enumerate(self._runs, start=1):
                values.append(run.get(key))
                progress.update(done)
            progress.close()
            if all(v is None for v in values) and not any(key in run.row for run in self._runs):
                known = sorted({k for run in self._runs[:100] for k in run})
                raise UsageError(
                    f"No run here has {key!r}.{did_you_mean(key, known)} Metric columns are "
                    "<log>.<key> (a series) or <log>.<key>.<summary> (last, min, max, ...)."
                )
            frame[key] = column_series(values, frame.index, key)
        return frame

    def _info_columns(self, info: Union[bool, Sequence[str]]) -> list[str]:
        """The ``info.*`` columns ``to_pandas(info=...)`` asks for, besides ``info.status``."""
        present: dict[str, None] = {}
        for run in self._runs:
            present.update((k, None) for k in run.row if k.startswith("info."))
        present.pop("info.status", None)
        if info is True:
            return list(present)
        if not info:
            return []
        wanted = [info] if isinstance(info, str) else list(info)
        keys = [k if k.startswith("info.") else f"info.{k}" for k in wanted]
        for key in keys:
            if key not in present and key != "info.status" and self._runs:
                raise UsageError(
                    f"No run here has {key!r}.{did_you_mean(key, present)} "
                    "info=True gives every info column."
                )
        return [k for k in keys if k != "info.status"]

    def metrics(self, name: str, columns: Sequence[str] = ()) -> pd.DataFrame:
        """One long DataFrame of the metric log ``name`` of every run.

        Columns: ``log_id``, ``step``, the log's keys, then ``columns`` (e.g.
        ``["config.optimizer.lr"]``) repeated on each row, ready for
        ``groupby`` or ``seaborn.lineplot(..., hue="config.optimizer.lr")``.
        """
        import numpy as np
        import pandas as pd

        known = set().union(*(run.row for run in self._runs))
        for column in columns:
            if column not in known:  # a typo would give a column of None
                raise UsageError(
                    f"No run here has the column {column!r}.{did_you_mean(column, known)} "
                    "Columns are config.* and info.* keys (reader.fields lists them)."
                )
        parts = []
        progress = Progress(len(self._runs), None, label=f"loading {name}")
        for done, run in enumerate(self._runs, start=1):
            progress.update(done)
            if name not in run.log_names:
                continue
            log = run.log(name)
            if log.length == 0:
                continue
            data: dict[str, Any] = {
                "log_id": np.full(log.length, run.log_id),
                "step": np.arange(log.length),
            }
            data.update(log.columns)
            for column in columns:
                data[column] = [run.row.get(column)] * log.length
            parts.append(pd.DataFrame(data))
        progress.close()
        if not parts:
            logs = sorted({n for run in self._runs for n in run.log_names})
            raise UsageError(
                f"No run here has a metric log {name!r}. Logs found: {', '.join(logs) or 'none'}."
                + did_you_mean(name, logs)
            )
        return pd.concat(parts, ignore_index=True)

    def diff(self, start_key: Optional[str] = None) -> Any:
        """The config columns whose value differs between these runs (indexed by ``log_id``).

        ``diff(start_key="config")`` is MLXP's: the list of such column names
        starting with ``start_key``.
        """
        if start_key is not None:
            return self.mlxp().diff(start_key)
        frame = self.to_pandas()
        varying = []
        for column in frame.columns:
            if not column.startswith("config."):
                continue
            values = {repr(v) for v in frame[column]}
            if len(values) > 1:
                varying.append(column)
        return frame[varying]

    # -- MLXP's result API (mlxpframe.py): the same names, so MLXP notebooks run unchanged
    def mlxp(self) -> Frame:
        """These runs as MLXP's DataFrame (``mlxpframe.Frame``); metrics still load lazily."""
        return Frame(self._runs)

    def keys(self) -> list[str]:
        """Every column name, metric columns included (MLXP's ``keys()``); nothing is loaded."""
        return self.mlxp().keys()

    def toPandas(self, lazy: bool = False) -> pd.DataFrame:  # noqa: N802 - MLXP's name
        """MLXP's table: one row per run, metric columns as lists (see ``mlxpframe``)."""
        return self.mlxp().toPandas(lazy)

    def groupby(self, group_keys: Union[str, Sequence[str]]) -> Groups:
        """MLXP's ``groupby``: ``{(value, ...): runs}`` with ``aggregate``, ``filter``, ``select``."""
        return self.mlxp().groupby(group_keys)

    def aggregate(self, maps: Any) -> Frame:
        """MLXP's ``aggregate((fn, keys))``: one row of ``f<fn>.<key>`` columns."""
        return self.mlxp().aggregate(maps)

    def filter(self, filter_map: Any, bygroups: Union[None, str, Sequence[str]] = None) -> Frame:
        """MLXP's ``filter((fn, keys), bygroups=...)``: the runs for which ``fn`` is true."""
        return self.mlxp().filter(filter_map, bygroups)

    def plot(
        self,
        metric: str,
        by: Optional[str] = None,
        x: str = "step",
        ax: Any = None,
        output: Any = None,
        logy: bool = False,
        logx: bool = False,
        agg: Optional[str] = None,
        title: Optional[str] = None,
    ) -> Any:
        """Draw ``metric`` (``"train.loss"``) against ``x``; returns the matplotlib axes.

        ``by`` groups the runs (sorted legend; a sequential colormap for numbers),
        ``agg="mean"`` (± std band) or ``"median"`` (min-max band) folds each group's
        runs into one curve, ``logy``/``logx`` use log axes, ``output`` also saves the
        figure (``.png``, ``.svg``, ``.pdf``). Needs matplotlib (``mlxlaunch[plot]``).
        """
        return draw_plot(self, metric, by, x, ax, output, logy, logx, agg, title)

    # -- display
    def preview(self) -> pd.DataFrame:
        """The frame ``repr`` shows: status, the varying config columns, lazy placeholders."""
        import pandas as pd

        runs = self._runs
        if len(runs) > PREVIEW_ROWS:
            half = PREVIEW_ROWS // 2
            runs = runs[:half] + runs[-half:]
        shown = RunTable(runs)
        frame = shown.diff() if len(self._runs) > 1 else shown.to_pandas()[[]]
        frame.insert(0, "info.status", [run.status for run in runs])
        names = sorted({n for run in runs for n in run.log_names})
        for name in names:
            frame[name] = [_log_cell(run, name) for run in runs]
        n_artifacts = [len(run.artifacts) for run in runs]
        if any(n_artifacts):
            frame["artifacts"] = [f"<{n} lazy>" if n else "" for n in n_artifacts]
        frame = pd.DataFrame(frame)
        if len(runs) < len(self._runs):  # show the cut, as pandas does: a row of "..."
            half = len(runs) // 2
            dots = pd.DataFrame(
                [["..."] * len(frame.columns)],
                columns=frame.columns,
                index=pd.Index(["..."], name=frame.index.name),
            )
            frame = pd.concat(
                [frame.iloc[:half].astype(object), dots, frame.iloc[half:].astype(object)]
            )
        return frame

    def _footer(self) -> str:
        """``[750 runs, first and last 10 shown]`` under a truncated table (pandas' ``[n rows]``)."""
        if len(self._runs) <= PREVIEW_ROWS:
            return ""
        return f"[{len(self._runs)} runs, first and last {PREVIEW_ROWS // 2} shown]"

    def __repr__(self) -> str:
        if not self._runs:
            return "RunTable: 0 runs"
        counts = ", ".join(f"{n} {s}" for s, n in self.status_counts().items())
        footer = self._footer()
        text = f"RunTable: {len(self)} runs ({counts})\n{self.preview().to_string()}"
        return f"{text}\n\n{footer}" if footer else text

    def _repr_html_(self) -> str:
        if not self._runs:
            return "<p>RunTable: 0 runs</p>"
        counts = ", ".join(f"{n} {s}" for s, n in self.status_counts().items())
        footer = self._footer()
        html = f"<p>RunTable: {len(self)} runs ({counts})</p>" + self.preview()._repr_html_()
        return html + (f"<p>{footer}</p>" if footer else "")
