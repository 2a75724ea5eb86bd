"""``mlxlaunch status``: attempt, runtime, job, metric summaries, reasons, highlighting, --watch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO
from terminal import run_on_terminal

from mlxlaunch.manage.status import RunView, runtime_s


def mlxlaunch(*args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        **kw,
    )


def table(stdout: str) -> list[list[str]]:
    """The table's rows split on runs of two or more spaces (cells hold single spaces)."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()[:-1]]


@pytest.fixture
def sweep(project):
    project.run("optimizer.lr=0.1,0.2", "+fail=false,true")
    return project


def test_status_shows_attempt_runtime_metric_and_reason(sweep):
    proc = mlxlaunch("status", str(sweep.logs))
    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    assert rows[0] == [
        "ID", "STATUS", "ATTEMPT", "RUNTIME", "JOB", "train.loss.last", "OVERRIDES", "REASON",
    ]  # fmt: skip
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["1"][1:3] == ["COMPLETE", "1"]
    assert by_id["1"][3].endswith("s")  # e.g. 0.4s
    assert by_id["1"][5] == "0.05"  # lr / num_epoch: the last logged loss
    assert by_id["3"][5] == "0.1"
    assert by_id["2"][1] == "FAILED"
    assert by_id["2"][-1] == "ValueError: asked to fail at lr=0.1"
    assert proc.stdout.splitlines()[-1] == "4 run(s): 2 COMPLETE, 2 FAILED"


def test_chosen_columns(sweep):
    proc = mlxlaunch(
        "status",
        str(sweep.logs),
        "-c",
        "train.loss.min,config.optimizer.lr",
        "-c",
        "train.epoch.count",
    )
    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    assert rows[0][5:8] == ["train.loss.min", "config.optimizer.lr", "train.epoch.count"]
    assert rows[3][5:8] == ["0.1", "0.2", "2"]  # run 3: lr 0.2, 2 epochs


def test_a_column_typo_is_one_line_with_a_suggestion(sweep):
    proc = mlxlaunch("status", str(sweep.logs), "-c", "train.los.last")
    assert proc.returncode == 2
    assert proc.stderr == (
        "mlxlaunch: error: No run has 'train.los.last'. Did you mean 'train.loss.last'? "
        "Metric columns there: train.loss.last; config.<key> and info.<key> work too.\n"
    )
    proc = mlxlaunch("status", str(sweep.logs), "-c", "train.loss.lats")
    assert proc.returncode == 2 and "not a summary: use one of last, first" in proc.stderr


def test_runtime_of_a_running_run_counts_from_its_start(tmp_path):
    run = RunView(1, tmp_path, {"start_time": "2026-01-01T00:00:00+00:00"}, "RUNNING")
    start = 1767225600.0  # 2026-01-01T00:00:00Z
    assert runtime_s(run, now=start + 75) == 75
    assert runtime_s(RunView(2, tmp_path, {"duration_s": 3.5}, "COMPLETE")) == 3.5
    assert runtime_s(RunView(3, tmp_path, {}, "QUEUED")) is None


def _on_terminal(args: list[str], seconds: float) -> str:
    """What ``mlxlaunch ARGS`` draws on a 120-column terminal in ``seconds`` (then Ctrl-C)."""
    code, screen = run_on_terminal(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        columns=120,
        seconds=seconds,
    )
    assert code == 0
    return screen


def test_failed_rows_are_red_on_a_terminal(sweep):
    pytest.importorskip("rich")
    screen = _on_terminal(["status", str(sweep.logs)], 30)
    rows = [line for line in screen.splitlines() if "run(s)" not in line]
    failed = [line for line in rows if "FAILED" in line]
    assert len(failed) == 2 and all("\x1b[1;31mFAILED" in line for line in failed)  # bold red
    complete = [line for line in rows if "COMPLETE" in line]
    assert complete and not any("31m" in line for line in complete)


def test_watch_redraws_until_ctrl_c(sweep):
    pytest.importorskip("rich")
    screen = _on_terminal(["status", str(sweep.logs), "--watch", "0.5"], 4)
    assert screen.count("4 run(s): 2 COMPLETE, 2 FAILED") >= 3
    assert "(Ctrl-C to stop)" in screen


def test_watch_on_a_pipe_prints_one_table_after_another(sweep):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlxlaunch.cli", "status", str(sweep.logs), "-w", "0.3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.count("4 run(s): 2 COMPLETE, 2 FAILED") >= 2
    assert out.startswith("--- ")


def test_watch_needs_a_positive_interval(sweep):
    proc = mlxlaunch("status", str(sweep.logs), "--watch", "0")
    assert proc.returncode == 2 and "--watch takes a number of seconds above 0" in proc.stderr
