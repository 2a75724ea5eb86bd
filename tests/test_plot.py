"""Plots worth showing: sorted legends, sequential colours, aggregation over seeds, labels."""

from __future__ import annotations

import pytest
from test_reader_layouts import write_run

from mlxlaunch.reader import Reader

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


@pytest.fixture
def runs(tmp_path, private_reader_cache):
    logs = tmp_path / "logs"
    log_id = 0
    for lr in (0.003, 0.03, 0.01, 0.1):  # launched out of order, as sweeps often are
        for seed in (1, 2, 3):
            log_id += 1
            curve = [{"loss": lr * 10 / (s + 1) + seed * 0.01} for s in range(5)]
            write_run(logs, log_id, config={"seed": seed, "lr": lr}, metrics={"train": curve})
    return Reader(str(logs), progress=False).search("")


def test_by_a_number_sorted_legend_sequential_colours_integer_ticks(runs):
    ax = runs.plot("train.loss", by="config.lr")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["0.003", "0.01", "0.03", "0.1"]  # sorted, not first-seen
    assert ax.get_legend().get_title().get_text() == "config.lr"
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    viridis = matplotlib.colormaps["viridis"]
    assert tuple(colours["0.003"]) == pytest.approx(viridis(0.0))
    assert tuple(colours["0.1"]) == pytest.approx(viridis(0.9))
    ticks = [t for t in ax.get_xticks() if 0 <= t <= 4]
    assert all(float(t).is_integer() for t in ticks)  # steps: no 0.25 ticks
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "train.loss"
    assert ax.get_title() == "train.loss, 12 runs"


def test_agg_mean_folds_the_seeds_into_one_curve_with_a_band(runs, tmp_path):
    ax = runs.plot("train.loss", by="config.lr", agg="mean", logy=True, output=tmp_path / "a.svg")
    assert len(ax.get_lines()) == 4  # one curve per lr, not 12
    assert len(ax.collections) == 4  # one ±std band each
    first = ax.get_lines()[0]
    assert first.get_label() == "0.003 (n=3)"
    assert first.get_ydata()[0] == pytest.approx(0.003 * 10 + 0.02)  # mean over seeds 1-3
    assert ax.get_yscale() == "log" and "mean, band ± 1 std" in ax.get_ylabel()
    assert (tmp_path / "a.svg").read_text().lstrip().startswith("<?xml")
    median = runs.plot("train.loss", by="config.lr", agg="median", output=tmp_path / "m.pdf")
    assert "min-max" in median.get_ylabel()
    assert (tmp_path / "m.pdf").read_bytes().startswith(b"%PDF")


def test_without_by_few_runs_get_a_legend_and_a_title_from_the_query(runs, tmp_path):
    reader_ax = runs[:3].plot("train.loss", title="train.loss: config.lr == 0.003")
    labels = [t.get_text() for t in reader_ax.get_legend().get_texts()]
    assert labels == ["run 1", "run 2", "run 3"]
    assert reader_ax.get_title() == "train.loss: config.lr == 0.003"
    many = runs.plot("train.loss")  # 12 runs: one colour, no legend
    assert many.get_legend() is None
    assert len({line.get_color() for line in many.get_lines()}) == 1
