"""MLXP's result API (``groupby``, ``aggregate``, ``filter`` with maps) over the lazy runs.

MLXP notebooks analyse a search result with its own DataFrame: rows are runs,
``groupby(keys)`` gives groups keyed by value tuples, ``aggregate((fn, keys))``
applies ``fn`` to the list of a column's values in each group (naming the result
``f<fn>.<key>``, e.g. ``fmean.train.loss``), ``filter((fn, key), bygroups=...)``
keeps the rows for which ``fn`` returns true, ``select``/``ungroup`` move between
the two. Those spellings are kept here so the notebooks run unchanged; the work
is pandas' (grouping, display), and a run's metric columns are still loaded only
when a map or a display touches them. ``docs/reader.md`` shows each next to the
pandas way of doing the same.

A map is ``(fn, key_or_keys)`` or ``(fn, keys, output_names)``, as in MLXP.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Callable, Union

from mlxlaunch.errors import UsageError, did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: ``(fn, keys)`` or ``(fn, keys, output names)``; a list of them where MLXP takes several.
Map = tuple
Row = Mapping[str, Any]


def _names(keys: Union[str, Sequence[str]]) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys)


def _maps(
    maps: Union[Map, list[Map]], generic: bool
) -> list[tuple[Callable, list[str], list[str]]]:
    """MLXP's maps with their output names: ``f<fn>.<key>`` per key, or one ``f<fn>.<k1_k2>``."""
    out = []
    for m in [maps] if isinstance(maps, tuple) else list(maps):
        if not (isinstance(m, tuple) and len(m) in (2, 3) and callable(m[0])):
            raise UsageError(
                f"A map is (function, key or keys[, output names]), e.g. (mean, 'train.loss'); "
                f"got {m!r}."
            )
        keys = _names(m[1])
        if len(m) == 3:
            names = _names(m[2])
        elif generic:
            names = [f"f{m[0].__name__}.{'_'.join(keys)}"]
        else:
            names = [f"f{m[0].__name__}.{k}" for k in keys]
        out.append((m[0], keys, names))
    return out


def _value(value: Any) -> Any:
    """A cell as MLXP gives it to maps and tables: metric series as lists."""
    return value.tolist() if hasattr(value, "tolist") and hasattr(value, "dtype") else value


def _plain(value: Any) -> Any:
    """A numpy scalar (as pandas' groupby gives keys) as the Python value MLXP's keys hold."""
    return value.item() if hasattr(value, "item") and hasattr(value, "dtype") else value


def _row_keys(row: Row) -> list[str]:
    """A row's columns as MLXP shows them: a run's artifact columns too, ``log_id`` left out."""
    keys = [k for k in row if k != "log_id"]
    groups = getattr(row, "artifact_groups", None)
    return keys + list(groups()) if groups is not None else keys


class Frame(Sequence):
    """MLXP's ``DataFrame``: an ordered list of rows (runs, or the rows maps produce)."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = list(rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Frame(self._rows[index])
        return self._rows[index]

    def __repr__(self) -> str:
        return str(self.toPandas())

    def _repr_html_(self) -> str:
        return self.toPandas()._repr_html_()

    def _get(self, row: Row, key: str) -> Any:
        try:
            return _value(row[key])
        except KeyError:
            known = self.keys()
            raise UsageError(f"No column {key!r} here.{did_you_mean(key, known)}") from None

    def keys(self) -> list[str]:
        """Every column name of the rows (metric and artifact columns included; nothing is loaded)."""
        seen: dict[str, None] = {}
        for row in self._rows:
            seen.update(dict.fromkeys(_row_keys(row)))
        return sorted(seen)

    def column(self, key: str) -> list[Any]:
        """The values of ``key`` in every row (metric series as lists, loaded now)."""
        return [self._get(row, key) for row in self._rows]

    def toPandas(self, lazy: bool = False) -> pd.DataFrame:  # noqa: N802 - MLXP's name
        """The rows as a pandas DataFrame, one column per key, metric series as lists.

        ``lazy=True`` shows ``METRIC`` (``ARTIFACT``) in place of metric series
        (artifacts), as MLXP's display does, so no metric log is read.
        """
        import pandas as pd

        records = []
        for row in self._rows:
            plain = getattr(row, "row", None)
            record = {}
            for key in _row_keys(row):
                if lazy and plain is not None and key not in plain:
                    record[key] = "ARTIFACT" if key.startswith("artifact.") else "METRIC"
                else:
                    record[key] = self._get(row, key)
            records.append(record)
        frame = pd.DataFrame.from_records(records)
        return frame[sorted(frame.columns)]

    def groupby(self, group_keys: Union[str, Sequence[str]]) -> Groups:
        """The rows grouped by the values of ``group_keys`` (pandas' groupby, sorted)."""
        import pandas as pd

        keys = _names(group_keys)
        for key in keys:
            if self._rows and not any(key in row for row in self._rows):
                raise UsageError(f"No column {key!r} to group by.{did_you_mean(key, self.keys())}")
        table = pd.DataFrame([[row.get(k) for k in keys] for row in self._rows], columns=keys)
        groups = table.groupby(keys, sort=True, dropna=False).indices
        return Groups(
            keys,
            {
                tuple(_plain(v) for v in (k if isinstance(k, tuple) else (k,))): Frame(
                    [self._rows[i] for i in sorted(idx)]
                )
                for k, idx in groups.items()
            },
        )

    def aggregate(self, maps: Union[Map, list[Map]]) -> Frame:
        """One row: each map's function applied to the list of values of each of its keys."""
        result: dict[str, Any] = {}
        for fn, keys, names in _maps(maps, generic=False):
            for key, name in zip(keys, names):
                result[name] = _value(fn(self.column(key)))
        return Frame([result])

    def filter(self, filter_map: Map, bygroups: Union[None, str, Sequence[str]] = None) -> Frame:
        """The rows for which ``fn(column values...)`` is true (within each group of ``bygroups``)."""
        if bygroups:
            return self.groupby(bygroups).filter(filter_map).ungroup()
        ((fn, keys, _),) = _maps(filter_map, generic=True)
        keep = list(fn(*[self.column(k) for k in keys]))
        if len(keep) != len(self._rows):
            raise UsageError(
                f"A filter map returns one boolean per row: {fn.__name__} returned {len(keep)} "
                f"values for {len(self._rows)} rows."
            )
        return Frame([row for row, ok in zip(self._rows, keep) if ok])

    def diff(self, start_key: str = "config") -> list[str]:
        """The columns starting with ``start_key`` whose value is not the same in every row."""
        varying = []
        for key in self.keys():
            if key.startswith(start_key):
                values = {repr(row.get(key)) for row in self._rows}
                if len(values) > 1:
                    varying.append(key)
        return varying


class Groups(Mapping):
    """MLXP's ``GroupedDataFrame``: ``{(value, ...): Frame}``, keyed by ``group_keys``' values."""

    def __init__(self, group_keys: list[str], groups: dict[tuple, Frame]) -> None:
        self.group_keys = group_keys
        self._groups = groups

    def __getitem__(self, key: tuple) -> Frame:
        return self._groups[key]

    def __iter__(self) -> Iterator[tuple]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)

    def __repr__(self) -> str:
        return str(self.toPandas())

    def _repr_html_(self) -> str:
        return self.toPandas()._repr_html_()

    def keys(self) -> KeysView[tuple]:
        return self._groups.keys()

    def items(self) -> ItemsView[tuple, Frame]:
        return self._groups.items()

    def select(self, keys: Sequence[tuple]) -> Groups:
        """Only the groups whose key is in ``keys``."""
        wanted = set(keys)
        return Groups(self.group_keys, {k: v for k, v in self._groups.items() if k in wanted})

    def ungroup(self) -> Frame:
        """One Frame of every group's rows, each with its group's key columns."""
        rows: list[Row] = []
        for key, frame in self._groups.items():
            values = dict(zip(self.group_keys, key))
            for row in frame:
                rows.append(row if all(k in row for k in values) else {**values, **row})
        return Frame(rows)

    def aggregate(self, maps: Union[Map, list[Map]]) -> Groups:
        """Each group aggregated to one row (see ``Frame.aggregate``)."""
        return Groups(self.group_keys, {k: f.aggregate(maps) for k, f in self._groups.items()})

    def filter(self, filter_map: Map, bygroups: Union[None, str, Sequence[str]] = None) -> Groups:
        """Each group filtered; with ``bygroups``, the filter sees the groups of those keys."""
        if bygroups:
            return (
                self.ungroup()
                .groupby(bygroups)
                .filter(filter_map)
                .ungroup()
                .groupby(self.group_keys)
            )
        return Groups(self.group_keys, {k: f.filter(filter_map) for k, f in self._groups.items()})

    def toPandas(self, lazy: bool = False) -> pd.DataFrame:  # noqa: N802 - MLXP's name
        """The groups as one pandas DataFrame indexed by the group keys, then the row."""
        import pandas as pd

        if not self._groups:
            return pd.DataFrame()
        return pd.concat(
            [frame.toPandas(lazy) for frame in self._groups.values()],
            keys=list(self._groups),
            names=self.group_keys,
        ).sort_index()
