"""``mlxlaunch runs`` and ``mlxlaunch plot``, run as processes on real run folders."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO
from test_reader_layouts import write_run


def mlxlaunch(*args: str, cache, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(cache))
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def logs(tmp_path):
    logs = tmp_path / "logs"
    for log_id in range(1, 5):
        write_run(
            logs,
            log_id,
            config={"seed": log_id, "optimizer": {"lr": [0.1, 0.01][log_id % 2]}},
            status="FAILED" if log_id == 4 else "COMPLETE",
            metrics={"train": [{"loss": 1.0 / (log_id + s), "epoch": s} for s in range(3)]},
        )
    return logs


def test_runs_table_with_status_counts_first(logs, tmp_path):
    proc = mlxlaunch("runs", str(logs), cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "4 of 4 runs: 3 COMPLETE, 1 FAILED"
    assert "config.optimizer.lr" in lines[1] and "config.seed" in lines[1]
    assert [line.split()[0] for line in lines[3:]] == ["1", "2", "3", "4"]
    assert proc.stderr == ""


def test_runs_query_columns_and_formats(logs, tmp_path):
    query = "info.status == 'COMPLETE' & train.loss.last < 0.3"
    proc = mlxlaunch(
        "runs",
        str(logs),
        query,
        "-c",
        "config.optimizer.lr,train.loss.last",
        "--format",
        "csv",
        cache=tmp_path / "c",
    )
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["log_id"] for r in rows] == ["2", "3"]  # 1/(2+2), 1/(3+2)
    assert set(rows[0]) == {"log_id", "info.status", "config.optimizer.lr", "train.loss.last"}
    assert float(rows[1]["train.loss.last"]) == pytest.approx(0.2)

    proc = mlxlaunch(
        "runs", str(logs), "config.seed >= 3", "--format", "json", cache=tmp_path / "c"
    )
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert [r["log_id"] for r in records] == [3, 4]
    assert records[1]["info.status"] == "FAILED" and records[1]["config.optimizer.lr"] == 0.1


def test_runs_bad_query_and_bad_column_are_usage_errors(logs, tmp_path):
    proc = mlxlaunch("runs", str(logs), "config.optimizer.lrr < 1", cache=tmp_path / "c")
    assert proc.returncode == 2
    assert (
        "Unknown key 'config.optimizer.lrr'" in proc.stderr and "config.optimizer.lr" in proc.stderr
    )
    assert "^" in proc.stderr and "Traceback" not in proc.stderr
    proc = mlxlaunch("runs", str(logs), "-c", "config.sed", cache=tmp_path / "c")
    assert proc.returncode == 2 and "Did you mean 'config.seed'" in proc.stderr
    proc = mlxlaunch("runs", str(tmp_path / "missing"), cache=tmp_path / "c")
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_runs_reports_damage_as_warnings(logs, tmp_path):
    (logs / "2" / "metadata" / "info.yaml").write_text("")
    (logs / "stray.txt").write_text("x")
    proc = mlxlaunch("runs", str(logs), cache=tmp_path / "c")
    assert proc.returncode == 0
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("mlxlaunch: warning:")]
    assert len(warnings) == 2
    assert "UNKNOWN" in proc.stdout.splitlines()[0]


def test_plot_writes_an_image(logs, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    proc = mlxlaunch(
        "plot",
        str(logs),
        "train.loss",
        "info.status == 'COMPLETE'",
        "--by",
        "config.optimizer.lr",
        "-o",
        str(out),
        cache=tmp_path / "c",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"wrote {out} (3 runs)"
    assert out.read_bytes()[:4] == b"\x89PNG"
    proc = mlxlaunch("plot", str(logs), "train.los", cache=tmp_path / "c", cwd=tmp_path)
    assert proc.returncode == 2 and "no key 'los'" in proc.stderr
    proc = mlxlaunch(
        "plot", str(logs), "train.loss", "config.seed > 100", cache=tmp_path / "c", cwd=tmp_path
    )
    assert proc.returncode == 2 and "nothing to plot" in proc.stderr


def test_runs_on_a_real_sweep(project, tmp_path):
    """End to end: a real sweep through @launch, then the console script reads it back."""
    proc = project.run("optimizer.lr=0.1,0.01,0.001")
    assert proc.returncode == 0, proc.stderr
    out = mlxlaunch(
        "runs",
        str(project.logs),
        "config.optimizer.lr <= 0.01",
        "-c",
        "config.optimizer.lr,train.loss.last",
        cache=tmp_path / "c",
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "2 of 3 runs: 2 COMPLETE"
    assert [line.split()[:2] for line in lines[3:]] == [["2", "COMPLETE"], ["3", "COMPLETE"]]
    assert float(lines[3].split()[-1]) == pytest.approx(0.01 / 2)  # lr / (epoch + 1) at epoch 1


def test_plot_unknown_by_column(logs, tmp_path):
    pytest.importorskip("matplotlib")
    proc = mlxlaunch(
        "plot",
        str(logs),
        "train.loss",
        "--by",
        "config.optimizer.lrr",
        cache=tmp_path / "c",
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and "Did you mean 'config.optimizer.lr'" in proc.stderr
    assert not list(tmp_path.glob("*.png"))


def test_runs_json_is_strict_json_with_the_runs_values(logs, tmp_path):
    """Missing values are null (not NaN), ints stay ints next to a missing value, series are lists."""
    write_run(logs, 5, config={"seed": 5, "optimizer": {"lr": 0.1}}, info={"exit_code": 0})
    (logs / "1" / "metrics" / "train.json").write_text('{"loss": NaN, "epoch": 0}\n')
    proc = mlxlaunch("runs", str(logs), "--format", "json", cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert [r["info.exit_code"] for r in records] == [None, None, None, None, 0]
    assert isinstance(records[4]["info.exit_code"], int)
    proc = mlxlaunch(
        "runs",
        str(logs),
        "log_id <= 2",
        "-c",
        "train.loss,train.loss.last",
        "-f",
        "json",
        cache=tmp_path / "c",
    )
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert records[0]["train.loss"] == [None] and records[0]["train.loss.last"] is None
    assert records[1]["train.loss"] == pytest.approx([1 / 2, 1 / 3, 1 / 4])


def test_output_cut_by_a_closed_pipe_is_not_a_traceback(logs, tmp_path):
    """``mlxlaunch runs logs -f json | head -1``: the reader leaves early, which is not a bug."""
    for log_id in range(5, 400):
        write_run(logs, log_id)
    env = dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(tmp_path / "c"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlxlaunch.cli", "runs", str(logs), "-f", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout.readline() == b"[\n"
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
