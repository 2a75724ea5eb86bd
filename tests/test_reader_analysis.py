"""The Reader in a notebook: numeric summary columns, a truncated table that shows its cut,
``to_pandas`` columns a researcher compares, progress bars, one-line query errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from conftest import REPO
from test_reader_layouts import write_run

from mlxlaunch import errors
from mlxlaunch.errors import UsageError
from mlxlaunch.reader import Reader
from mlxlaunch.reader.scan import Progress


@pytest.fixture
def logs(tmp_path, private_reader_cache):
    logs = tmp_path / "logs"
    for log_id in range(1, 7):
        write_run(
            logs,
            log_id,
            config={"seed": log_id % 3, "optimizer": {"lr": [0.1, 0.01][log_id % 2]}},
            status="FAILED" if log_id == 6 else "COMPLETE",
            metrics={
                "train": [{"loss": 1.0 / (log_id + s), "epoch": s, "ok": True} for s in range(3)]
            }
            if log_id != 5
            else {},
        )
    return logs


def test_summary_columns_are_numeric_in_the_lazy_table_and_to_pandas(logs):
    runs = Reader(str(logs), progress=False).search("")
    frame = runs.to_pandas(metrics=["train.loss.last", "train.epoch.last", "train.ok.last"])
    assert frame["train.loss.last"].dtype == "float64"  # run 5 has no log: NaN
    assert frame["train.epoch.last"].dtype == "Int64"  # integers, nullable
    assert frame["train.ok.last"].dtype == "boolean"
    assert pd.isna(frame.loc[5, "train.loss.last"]) and pd.isna(frame.loc[5, "train.epoch.last"])
    # what a researcher does with them
    assert list(frame["train.loss.last"].nsmallest(2).index) == [6, 4]
    assert "mean" in frame["train.loss.last"].describe()
    assert frame.groupby("config.optimizer.lr")["train.loss.last"].mean().dtype == "float64"
    assert runs["train.loss.last"].dtype == "float64"
    assert runs["train.epoch.count"].dtype == "Int64"
    assert runs["train.loss"].dtype == object  # a series per run stays one cell each


def test_to_pandas_gives_what_a_researcher_compares_and_the_rest_on_request(logs):
    runs = Reader(str(logs), progress=False).search("")
    frame = runs.to_pandas(metrics=["train.loss.last"])
    assert frame.index.name == "log_id"
    assert list(frame.columns) == [
        "info.status", "config.seed", "config.optimizer.lr", "train.loss.last",
    ]  # fmt: skip
    assert frame.loc[6, "info.status"] == "FAILED"
    every = runs.to_pandas(info=True)
    assert {"info.pid", "info.hostname", "info.attempt"} <= set(every.columns)
    assert list(every.columns[:3]) == ["info.status", "config.seed", "config.optimizer.lr"]
    some = runs.to_pandas(info=["attempt", "info.hostname"])
    assert list(some.columns[-2:]) == ["info.attempt", "info.hostname"]
    with pytest.raises(UsageError, match="No run here has 'info.hostnme'. Did you mean"):
        runs.to_pandas(info=["hostnme"])
    # MLXP's spelling keeps giving every column
    assert "info.pid" in Reader(str(logs), progress=False).search("", asPandas=True).columns


def test_a_truncated_table_shows_the_cut(tmp_path, private_reader_cache):
    logs = tmp_path / "logs"
    for log_id in range(1, 31):
        write_run(logs, log_id, config={"seed": log_id})
    runs = Reader(str(logs), progress=False).search("")
    lines = repr(runs).splitlines()
    ids = [line.split()[0] for line in lines[3:] if line.strip()]
    assert ids[:10] == [str(i) for i in range(1, 11)]
    assert ids[10] == "..." and set(lines[13].split()) == {"..."}
    assert ids[11:21] == [str(i) for i in range(21, 31)]
    assert lines[-1] == "[30 runs, first and last 10 shown]"
    html = runs._repr_html_()
    assert "<th>...</th>" in html and "[30 runs, first and last 10 shown]" in html
    # a table that fits shows every row and no cut
    assert "..." not in repr(runs[:20]) and "shown]" not in repr(runs[:20])


@pytest.fixture
def many(tmp_path, private_reader_cache):
    logs = tmp_path / "logs"
    for log_id in range(1, 131):
        write_run(logs, log_id, metrics={"train": [{"loss": 1.0 / log_id}]})
    return logs


def test_a_long_read_shows_a_tqdm_bar(many, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(Progress, "DELAY_S", 0.0)  # as if reading took long
    runs = Reader(str(many), progress=False).search("")
    capsys.readouterr()
    runs.to_pandas(metrics=["train.loss.last"])
    err = capsys.readouterr().err
    assert "loading train.loss.last: 100%" in err and "130/130" in err
    assert "|" in err  # a bar, not the bare "loading ...: 64/130" counter


def test_a_short_read_is_silent(many, capsys):
    runs = Reader(str(many), progress=False).search("")
    capsys.readouterr()
    runs.to_pandas(metrics=["train.loss.last"])
    assert capsys.readouterr().err == ""


QUERY_TYPO = """\
from mlxlaunch.reader import Reader
Reader({logs!r}, progress=False).search("config.optimizer.lrr <= 1e-2")
"""


def test_a_query_typo_in_python_shows_the_message_not_the_parser(logs):
    proc = subprocess.run(
        [sys.executable, "-c", QUERY_TYPO.format(logs=str(logs))],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 1
    assert "mlxlaunch/reader/query.py" not in proc.stderr  # no frame inside the parser
    assert "Unknown key 'config.optimizer.lrr' (column 1):" in proc.stderr
    assert proc.stderr.rstrip().endswith("Did you mean 'config.optimizer.lr'?")


def test_a_query_typo_in_ipython_is_just_the_message(logs, monkeypatch, capsys):
    interactive = pytest.importorskip("IPython.core.interactiveshell")
    monkeypatch.delenv("MLXLAUNCH_TRACEBACKS", raising=False)
    shell = interactive.InteractiveShell.instance()
    try:
        shell.run_cell(QUERY_TYPO.format(logs=str(logs)))
        shown = capsys.readouterr().out
        assert shown.splitlines()[:4] == [
            "QueryError: Unknown key 'config.optimizer.lrr' (column 1):",
            "  config.optimizer.lrr <= 1e-2",
            "  ^^^^^^^^^^^^^^^^^^^^",
            "Did you mean 'config.optimizer.lr'?",
        ]
        assert "Traceback" not in shown and "query.py" not in shown
        monkeypatch.setattr(errors, "FULL_TRACEBACKS", True)  # on request, the whole story
        shell.run_cell(QUERY_TYPO.format(logs=str(logs)))
        full = capsys.readouterr().out
        assert "Traceback" in full and "search" in full and "query.py" in full
    finally:
        interactive.InteractiveShell.clear_instance()
