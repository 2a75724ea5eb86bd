"""Figures of a metric over runs: what ``RunTable.plot`` and ``mlxlaunch plot`` draw.

Made to go in a report as they are: axis labels, a title (the metric and the
query), a legend sorted by value (a sequential colormap for a numeric ``by``, a
qualitative one otherwise), integer ticks for integer steps, optional log axes,
and ``agg="mean"`` (± one standard deviation) or ``agg="median"`` (min-max band)
to fold the runs that share a ``by`` value (the seeds) into one curve.
"""

from __future__ import annotations

from typing import Any, Optional

from mlxlaunch.errors import UsageError, did_you_mean
from mlxlaunch.reader import metrics as _metrics

#: ``agg`` values: the curve, and the band around it
AGGREGATES = {"mean": "± 1 std", "median": "min-max"}
#: above this many runs without ``by``, curves share one colour and the legend is left out
MAX_LEGEND_RUNS = 10


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def draw(
    runs: Any,  # a RunTable (table.py imports this module, not the other way round)
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
    """Draw ``metric`` (``"train.loss"``) of ``runs`` against ``x``; see the module docstring."""
    try:
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise UsageError("Plotting needs matplotlib: pip install 'mlxlaunch[plot]'.") from None
    if agg is not None and agg not in AGGREGATES:
        raise UsageError(f"agg must be one of {', '.join(AGGREGATES)}, got {agg!r}.")
    names = sorted({n for run in runs for n in run.log_names})
    split = _metrics.split_metric_key(metric, names)
    if split is None:
        raise UsageError(
            f"{metric!r} is not <log>.<key> of any run here; logs: {', '.join(names) or 'none'}."
            + did_you_mean(metric.split(".")[0], names)
        )
    log_name, key = split
    data = runs.metrics(log_name, columns=[by] if by else [])
    if key not in data.columns:
        raise UsageError(
            f"The log {log_name!r} has no key {key!r}."
            + did_you_mean(key, [c for c in data.columns if c not in ("log_id", "step")])
        )
    if x not in data.columns:
        raise UsageError(f"No column {x!r} in the log {log_name!r}; use step or one of its keys.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))

    groups: list[tuple[Any, Any]] = []  # (value of by, its rows), sorted by value
    colours: list[Any] = []
    if by:
        values: dict[str, Any] = {}  # by text: lists (e.g. info.overrides) are not hashable
        for v in data[by]:
            v = v.item() if hasattr(v, "item") else v
            values.setdefault(str(v), v)
        numeric = all(_is_number(v) for v in values.values())
        order = sorted(values, key=lambda g: (0, values[g], "") if numeric else (1, 0, g))
        text = data[by].map(lambda v: str(v.item() if hasattr(v, "item") else v))
        groups = [(values[g], data[text == g]) for g in order]
        if numeric and len(groups) > 1:  # an ordered quantity: a sequential colormap
            cmap = plt.get_cmap("viridis")
            colours = [cmap(0.9 * i / (len(groups) - 1)) for i in range(len(groups))]
        else:
            cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
            colours = [cmap(i % cmap.N) for i in range(len(groups))]
    else:
        groups = [(None, data)]
        colours = [None]

    n_runs = data["log_id"].nunique()
    for (value, rows), colour in zip(groups, colours):
        if agg:
            stats = rows.groupby(x)[key]
            centre = stats.mean() if agg == "mean" else stats.median()
            if agg == "mean":
                spread = stats.std().fillna(0.0)
                low, high = centre - spread, centre + spread
            else:
                low, high = stats.min(), stats.max()
            count = rows["log_id"].nunique()
            line = ax.plot(centre.index, centre.values, color=colour, linewidth=1.8)[0]
            line.set_label(f"{_label(value) if by else agg} (n={count})")
            ax.fill_between(
                centre.index, low.values, high.values, color=line.get_color(), alpha=0.2
            )
            continue
        few = not by and n_runs <= MAX_LEGEND_RUNS
        for i, (log_id, curve) in enumerate(rows.groupby("log_id", sort=True)):
            if by:
                label = _label(value) if i == 0 else None
            else:
                label = f"run {log_id}" if few else None
            ax.plot(
                curve[x],
                curve[key],
                color=colour if by else (None if few else "C0"),
                label=label,
                linewidth=1.2,
                alpha=0.85 if by or few else 0.4,
            )

    ax.set_xlabel(x)
    ax.set_ylabel(f"{metric} ({agg}, band {AGGREGATES[agg]})" if agg else metric)
    ax.set_title(title if title is not None else f"{metric}, {n_runs} runs")
    if data[x].dtype.kind in "iu":  # steps and epochs: no 0.25 ticks
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        ax.legend(title=by if by else None, fontsize="small")
    if output is not None:
        ax.figure.tight_layout()
        try:
            ax.figure.savefig(output, dpi=150)
        except (OSError, ValueError) as exc:  # a missing folder, an unknown extension
            raise UsageError(f"Cannot write the plot to {str(output)!r}: {exc}") from None
    return ax
