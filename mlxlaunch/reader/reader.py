"""``Reader``: query the runs of a logs folder from a notebook or a script.

Building a Reader lists the logs folder once and reads each run's config and
info (``scan.py``, through the logs folder's cache index, ``cache.py``); nothing else is
opened until asked for. ``search`` parses the query (``query.py``), checks its
keys, evaluates it against each row and returns a lazy ``RunTable``
(``table.py``). Nothing is ever written in the logs folder.
"""

from __future__ import annotations

import os
from itertools import compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from mlxlaunch.errors import UsageError
from mlxlaunch.reader import metrics as _metrics
from mlxlaunch.reader import query as _query
from mlxlaunch.reader.cache import RunCache
from mlxlaunch.reader.metrics import gc_paused
from mlxlaunch.reader.scan import Problems, Progress, list_runs, read_rows
from mlxlaunch.reader.table import Run, RunTable, _Context, key_sets, row_columns
from mlxlaunch.runfolder.layout import is_run_dir

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class Reader:
    """All runs of one logs folder (``<parent_log_dir>/<id>/...``).

    ``cache_dir``: where parsed metadata is cached (default ``$MLXLAUNCH_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/mlxlaunch``, else ``~/.cache/mlxlaunch``; ``False`` disables it).
    ``progress``: ``False`` hides the progress line shown when reading takes over a second.
    ``refresh`` and ``dst_dir`` are MLXP's and change nothing: a Reader always reads
    the folder as it is now (unchanged runs from the cache), and writes nothing there.
    """

    def __init__(
        self,
        parent_log_dir: Union[str, os.PathLike],
        *,
        cache_dir: Union[None, bool, str, os.PathLike] = None,
        progress: Optional[bool] = None,
        refresh: bool = True,
        dst_dir: Any = None,
    ) -> None:
        self.parent_log_dir = Path(parent_log_dir).expanduser().resolve()
        if not self.parent_log_dir.is_dir():
            raise UsageError(
                f"Logs folder {str(self.parent_log_dir)!r} does not exist or is not a folder. "
                "Pass the folder that holds the numbered run folders (e.g. 'logs')."
            )
        if is_run_dir(self.parent_log_dir):
            raise UsageError(
                f"{str(self.parent_log_dir)!r} is one run's folder; pass the folder that holds "
                f"the numbered run folders: {str(self.parent_log_dir.parent)!r}."
            )
        #: MLXP's name of the logs folder (a string)
        self.src_dir = str(self.parent_log_dir)
        self.progress = progress
        self._problems = Problems()
        cache = RunCache.from_setting(cache_dir, str(self.parent_log_dir))
        self._context = _Context(cache, self._problems)
        self._runs: list[Run] = []
        self._known: Optional[set[str]] = None  # keys of all rows, computed on first search
        self.refresh()

    # -- reading
    def refresh(self) -> Reader:
        """Read the folder again (new runs, changed statuses); unchanged runs come from the cache."""
        pairs = list_runs(str(self.parent_log_dir), self._problems)
        names = list(map(str, map(itemgetter(0), pairs)))  # as the index names runs
        self._context.cache.set_present(names)  # prunes deleted runs
        progress = Progress(len(pairs), self.progress)
        old = {run.log_id: run for run in self._runs}
        runs: list[Run] = []
        with gc_paused(), self._context.cache.batch():
            self._read(pairs, names, runs, old, progress)
        progress.close()
        self._runs = runs
        self._known = None
        return self

    def _read(
        self,
        pairs: list,
        names: list[str],
        runs: list[Run],
        old: dict[int, Run],
        progress: Progress,
    ) -> None:
        context = self._context
        parent = str(self.parent_log_dir)
        rows = read_rows(parent, pairs, names, context.cache, self._problems, progress)
        if not old:
            runs.extend(
                map(
                    Run, map(itemgetter(0), pairs), map(itemgetter(1), pairs), rows, repeat(context)
                )
            )
            return
        for (log_id, run_dir), row in zip(pairs, rows):
            previous = old.get(log_id)
            if previous is not None and previous._row == row:
                previous.drop_changed_logs()  # keeps its loaded metrics, unless they changed
                runs.append(previous)
            else:
                runs.append(Run(log_id, run_dir, row, context))

    @property
    def problems(self) -> list[str]:
        """Every problem met so far, one message per damaged file or stray entry."""
        return list(self._problems.messages)

    def __len__(self) -> int:
        return len(self._runs)

    def __repr__(self) -> str:
        return f"<Reader {str(self.parent_log_dir)!r}: {len(self)} runs>"

    # -- fields
    def _known_keys(self) -> set[str]:
        if self._known is None:
            known: set[str] = set()
            for keys in key_sets(self._runs):  # the index's rows share one per shape
                known.update(keys)
            self._known = known
        return self._known

    def _row_keys(self) -> dict[str, set[str]]:
        types: dict[str, set[str]] = {}
        for run in self._runs:
            for key, value in run.row.items():
                bucket = types.setdefault(key, set())
                if value is not None:
                    bucket.add(type(value).__name__)
        return types

    def _metric_fields(self) -> dict[str, set[str]]:
        """``{"train.loss": {"train"}}``: metric keys, from each run's ``metrics/.keys``."""
        found: dict[str, set[str]] = {}
        for run in self._runs:
            for name in run.log_names:
                for key in run.metric_keys(name):
                    found.setdefault(f"{name}.{key}", set()).add(name)
        return found

    def _fields(self, summaries: bool) -> pd.DataFrame:
        import pandas as pd

        records = []
        for key, types in sorted(self._row_keys().items()):
            source = key.split(".", 1)[0] if "." in key else "folder"
            records.append((key, " | ".join(sorted(types)) or "null", source))
        for key in sorted(self._metric_fields()):
            if summaries:
                for summary in _metrics.SUMMARIES:
                    records.append((f"{key}.{summary}", "number", "metric summary"))
            else:
                records.append((key, "series (lazy)", "metric"))
        return pd.DataFrame.from_records(records, columns=["field", "type", "source"]).set_index(
            "field"
        )

    @property
    def fields(self) -> pd.DataFrame:
        """Every field of the runs: name, type(s) seen, and where it comes from."""
        return self._fields(summaries=False)

    @property
    def searchable(self) -> pd.DataFrame:
        """The fields a query can use: config/info columns and metric summaries."""
        return self._fields(summaries=True)

    # -- search
    def search(
        self,
        query: str = "",
        *,
        as_pandas: bool = False,
        refresh: bool = False,
        query_string: Optional[str] = None,
        asPandas: Optional[bool] = None,  # noqa: N803 - the seed tutorial's spelling
    ) -> Union[RunTable, pd.DataFrame]:
        """The runs matching ``query``, as a lazy ``RunTable`` (or a DataFrame with ``as_pandas``).

        ``query`` uses ``== != < <= > >=``, ``in [..]``, ``& | ~ ( )`` over keys such as
        ``config.optimizer.lr``, ``info.status`` or ``train.loss.last`` (see
        ``docs/reader.md``). ``refresh=True`` re-reads the folder first.
        Raises ``QueryError`` for a malformed query or an unknown key.
        """
        if query_string is not None:
            query = query_string
        if refresh:
            self.refresh()
        try:
            tree = self._checked_query(query)
        except UsageError as exc:  # the user's typo: the traceback starts here, not in the parser
            raise exc.trimmed() from None
        if isinstance(tree, _query.All):
            runs = list(self._runs)
        elif self._by_columns(tree):
            every = self._runs
            hits = _query.evaluate_columns(tree, row_columns(every), len(every))
            runs = list(compress(every, hits))
        else:
            with self._context.cache.batch():  # metric summaries go to the index too
                runs = [run for run in self._runs if _query.evaluate(tree, _QueryRow(run))]
        table = RunTable(runs)
        if asPandas:  # MLXP's spelling gives MLXP's table: metric columns loaded, rows 0..n-1
            return table.toPandas()
        return table.to_pandas() if as_pandas else table

    @staticmethod
    def _by_columns(tree: Any) -> bool:
        """Whether ``tree`` can be evaluated over whole columns: a few conditions, none on
        a metric summary (those load logs, and only for the runs that need them)."""
        leaves = _query.keys(tree)
        return len(leaves) <= _query.MAX_COLUMN_LEAVES and not any(
            leaf.key.rpartition(".")[2] in _metrics.SUMMARIES for leaf in leaves
        )

    def _checked_query(self, query: str) -> Any:
        """The query's syntax tree; a ``QueryError`` if it does not parse or names no key."""
        tree = _query.parse(query)
        asked = {leaf.key for leaf in _query.keys(tree)}  # once each: a query may repeat them
        if asked:
            known = self._known_keys()
            if any(not self._is_summary(key) for key in asked - known):
                metric_keys = self._metric_fields()  # every run's metric keys, for suggestions
                summaries = {f"{k}.{s}" for k in metric_keys for s in _metrics.SUMMARIES}
                _query.check_keys(query, tree, known | summaries)
        return tree

    def _is_summary(self, key: str) -> bool:
        """Whether some run has the metric of ``<log>.<key>.<summary>`` (stops at the first)."""
        base, _, summary = key.rpartition(".")
        if summary not in _metrics.SUMMARIES:
            return False
        for run in self._runs:
            split = _metrics.split_metric_key(base, run.log_names)
            if split is not None and split[1] in run.metric_keys(split[0]):
                return True
        return False

    def filter(self, query_string: str = "", result_format: str = "DataFrame") -> Any:
        """MLXP's spelling of ``search``; ``result_format="pandas"`` gives MLXP's table
        (metric columns loaded as lists, rows numbered from 0)."""
        if result_format not in ("DataFrame", "pandas"):
            raise UsageError(f"result_format is 'DataFrame' or 'pandas', got {result_format!r}.")
        return self.search(query_string, asPandas=result_format == "pandas")

    def plot(self, metric: str, query: str = "", by: Optional[str] = None, **kwargs: Any) -> Any:
        """``search(query).plot(metric, by=by, ...)``: curves of ``metric`` (needs matplotlib).

        The title says the metric and the query."""
        runs = self.search(query)
        kwargs.setdefault("title", f"{metric}: {query}" if query else None)
        return runs.plot(metric, by=by, **kwargs)


_MISSING = object()


class _QueryRow:
    """What the query evaluator sees of a run: its row, plus metric summaries on demand."""

    __slots__ = ("run",)

    def __init__(self, run: Run) -> None:
        self.run = run

    def get(self, key: str, default: Any = None) -> Any:
        value = self.run.value(key, _MISSING)
        if value is not _MISSING:
            return value
        base, _, summary = key.rpartition(".")
        if summary not in _metrics.SUMMARIES:
            return default
        split = _metrics.split_metric_key(base, self.run.log_names)
        if split is None:
            return default
        return self.run.summary(split[0]).get(f"{split[1]}.{summary}", default)
