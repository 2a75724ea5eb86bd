"""MLXP's tutorial, ported verbatim (``import mlxp`` became ``import mlxlaunch as mlxp``).

``tests/mlxp_tutorial/`` holds MLXP 1.0.5's ``tutorial/main.py`` and ``read.py``
(the launch and the analysis notebook), the tutorial's ``configs/config.yaml`` and
its MLXP settings file (``mlxpy.yaml`` of the MLXP repository, as ``mlxp.yaml``).
``core_app.py`` and ``torch.py`` are numpy stand-ins for the tutorial's torch model,
so the test needs no torch. The commands are the tutorial's (MLXP's docs,
``easy_launching.rst``), run one by one as an MLXP user types them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Project

TUTORIAL = Path(__file__).resolve().parent / "mlxp_tutorial"


@pytest.fixture
def tutorial(tmp_path: Path) -> Project:
    shutil.copytree(TUTORIAL, tmp_path, dirs_exist_ok=True)
    return Project(tmp_path)


def _config(project: Project, log_id: int) -> dict:
    return yaml.safe_load((project.logs / str(log_id) / "metadata" / "config.yaml").read_text())


@pytest.mark.slow
def test_the_mlxp_tutorial_runs_unchanged(tutorial: Project):
    pytest.importorskip("numpy")
    # $ python main.py
    proc = tutorial.run(check=True)
    assert "Completed training with a learning rate of 10.0" in proc.stdout
    assert "note" not in proc.stderr  # the tutorial's mlxp.yaml: every key has a meaning here
    # $ python main.py +optimizer.lr=0.01,0.1   (the first command; Hydra refuses it)
    tutorial.run("+optimizer.lr=0.01,0.1", check=True)
    assert [_config(tutorial, i)["optimizer"]["lr"] for i in (2, 3)] == [0.01, 0.1]
    # $ python main.py optimizer.lr=0.01,0.1 model.num_units=64,100
    tutorial.run("optimizer.lr=0.01,0.1", "model.num_units=64,100", check=True)
    # $ python main.py seed=1
    tutorial.run("seed=1", check=True)
    assert tutorial.run_ids() == list(range(1, 9))
    # $ python main.py +mlxp.logger.parent_log_dir='./new_logs'
    tutorial.run("+mlxp.logger.parent_log_dir='./new_logs'", check=True)
    new_run = tutorial.root / "new_logs" / "1"
    assert (new_run / "metadata" / "config.yaml").is_file()
    # $ python main.py +mlxp.logger.forced_log_id=1   (reopens run 1, here the one in new_logs so
    # the notebook's curves below keep one length; the tutorial's main.py saves 'last_ckpt.pkl'
    # but loads 'last_ckpt', so it starts over, as it does under MLXP)
    tutorial.run(
        "+mlxp.logger.parent_log_dir='./new_logs'", "+mlxp.logger.forced_log_id=1", check=True
    )
    assert sorted(p.name for p in new_run.parent.iterdir() if p.name.isdigit()) == ["1"]
    assert yaml.safe_load((new_run / "metadata" / "info.yaml").read_text())["attempt"] == 2
    # $ python main.py +mlxp.use_logger=false   (ctx.logger is None: the tutorial's main.py
    # then fails on logger.log_metrics, under MLXP too)
    proc = tutorial.run("+mlxp.use_logger=false")
    assert proc.returncode == 1
    assert "'NoneType' object has no attribute 'log_metrics'" in proc.stderr

    # the analysis notebook, verbatim
    proc = subprocess.run(
        [sys.executable, "read.py"],
        cwd=tutorial.root,
        env=dict(tutorial.env(), PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0] == "9"  # len(reader): the failed run too
    assert "{'last_ckpt.pkl': <Artifact pickle:last_ckpt.pkl" in out
    # the best lr per model size, then its mean test loss: the last table of the notebook
    last = out[out.rindex("fmean.test.loss") :]
    assert "config.model.num_units config.optimizer.lr" in last
    assert len([line for line in last.splitlines()[2:] if line.strip()]) == 2  # 64 and 100


def test_the_notebook_table_matches_what_mlxp_shows(tutorial: Project, monkeypatch):
    """The MLXP table: config/info/artifact columns and metric columns as lists, rows 0..n-1."""
    pytest.importorskip("numpy")
    monkeypatch.syspath_prepend(str(tutorial.root))  # the checkpoint pickles core_app's model
    import numpy as np

    import mlxlaunch as mlxp

    tutorial.run("optimizer.lr=0.01,0.1", "model.num_units=64,100", "num_epoch=3", check=True)
    reader = mlxp.Reader(tutorial.logs, cache_dir=False, refresh=True)
    assert reader.src_dir == str(tutorial.logs.resolve())
    table = reader.filter("config.model.num_units < 128", result_format="pandas")
    assert list(table.index) == [0, 1, 2, 3]
    assert table.columns[0] == "artifact.pickle."
    assert isinstance(table.loc[0, "train.loss"], list) and len(table.loc[0, "train.loss"]) == 3
    again = reader.search("config.model.num_units < 128", asPandas=True)
    assert table.drop(columns="artifact.pickle.").equals(again.drop(columns="artifact.pickle."))
    results = reader.filter("config.model.num_units < 128")
    assert "train.loss" in results.keys() and "config.optimizer.lr" in results.keys()
    assert results.diff(start_key="config") == ["config.model.num_units", "config.optimizer.lr"]
    assert results[0]["artifact.pickle."]["last_ckpt.pkl"].load()["epoch"] == 2

    def mean(x):
        return np.mean(np.array(x), axis=0)

    def argmin(x):
        x = np.array(x)
        return x[:, -1] == np.min(x[:, -1])

    groups = results.groupby(["config.model.num_units", "config.optimizer.lr"])
    assert list(groups.keys()) == [(64, 0.01), (64, 0.1), (100, 0.01), (100, 0.1)]
    best = groups.aggregate((mean, "train.loss")).filter(
        (argmin, "fmean.train.loss"), bygroups=["config.model.num_units"]
    )
    expected = [
        min(((n, lr) for lr in (0.01, 0.1)), key=lambda k: groups[k][0]["train.loss"][-1])
        for n in (64, 100)
    ]
    assert sorted(best.keys()) == expected
    selected = groups.select(best.keys()).aggregate((mean, "test.loss"))
    assert sorted(selected.keys()) == expected
    frame = selected.toPandas()
    assert frame.index.names[:2] == ["config.model.num_units", "config.optimizer.lr"]
    assert list(frame.columns) == ["fmean.test.loss"]
    rows = selected.ungroup()
    assert {row["config.model.num_units"] for row in rows} == {64, 100}
    # the lazy table loads nothing until a column is touched
    lazy = mlxp.Reader(tutorial.logs, cache_dir=False).filter("")
    assert all(not run._logs for run in lazy)
    assert (lazy.toPandas(lazy=True)["train.loss"] == "METRIC").all()
    assert all(not run._logs for run in lazy)
