"""A sweep's progress: one line per finished point on a pipe, a live bar on a terminal."""

from __future__ import annotations

import re
import sys

import pytest
from terminal import run_on_terminal

from mlxlaunch.launching.argv import parse_command_line
from mlxlaunch.render import format_seconds

LINE = re.compile(r"^\[(\d+)/(\d+)\] run (\d+) (\w+) (.*) (\d+\.\d+s)$")


def progress_lines(stderr: str) -> list[tuple[str, ...]]:
    return [m.groups() for m in map(LINE.match, stderr.splitlines()) if m]


def test_pipe_prints_one_line_per_finished_point(project):
    proc = project.run("optimizer.lr=0.1,0.2,0.3")
    assert proc.returncode == 0, proc.stderr
    # the last field is the point's duration, e.g. 0.4s
    assert [g[:5] for g in progress_lines(proc.stderr)] == [
        ("1", "3", "1", "COMPLETE", "optimizer.lr=0.1"),
        ("2", "3", "2", "COMPLETE", "optimizer.lr=0.2"),
        ("3", "3", "3", "COMPLETE", "optimizer.lr=0.3"),
    ]
    # the progress lines come before the summary, which still ends the command
    assert proc.stderr.rstrip().splitlines()[-1].startswith("mlxlaunch: 3 runs: 3 COMPLETE")


def test_failure_is_labelled_with_run_id_and_point_before_its_traceback(project):
    proc = project.run("optimizer.lr=0.1,0.2", "+fail=true,false")
    lines = proc.stderr.splitlines()
    label = lines.index("mlxlaunch: run 1 FAILED (optimizer.lr=0.1 +fail=True):")
    assert lines[label + 1] == "Traceback (most recent call last):"
    assert lines[label + 1 :].index("ValueError: asked to fail at lr=0.1") > 0
    finished = [(g[2], g[3]) for g in progress_lines(proc.stderr)]
    assert finished == [("1", "FAILED"), ("2", "COMPLETE"), ("3", "FAILED"), ("4", "COMPLETE")]
    assert "mlxlaunch: run 3 FAILED (optimizer.lr=0.2 +fail=True):" in lines


def test_parallel_workers_report_each_point(project):
    proc = project.run("optimizer.lr=0.1,0.2,0.3", "+launcher.n_workers=2")
    assert proc.returncode == 0, proc.stderr
    got = progress_lines(proc.stderr)
    assert [g[0] for g in got] == ["1", "2", "3"]  # numbered in the order they finish
    assert sorted(g[2] for g in got) == ["1", "2", "3"]


def test_quiet_prints_no_progress_but_the_summary(project):
    for flag in ("--quiet", "-q"):
        proc = project.run("optimizer.lr=0.1,0.2", flag, "+fail=true")
        assert progress_lines(proc.stderr) == []
        assert "mlxlaunch: 2 runs: 2 FAILED" in proc.stderr
        # a failure is still said, with its run id
        assert re.search(r"^mlxlaunch: run \d+ FAILED \(optimizer.lr=0.1 ", proc.stderr, re.M)
    assert parse_command_line(["-q", "a=1"]).quiet


def test_a_single_run_shows_no_progress_line(project):
    proc = project.run(check=True)
    assert progress_lines(proc.stderr) == []


def test_progress_lines_stay_out_of_the_runs_captured_streams(project):
    project.run("optimizer.lr=0.1,0.2", "+launcher.logger.log_streams_to_file=true", check=True)
    for log_id in (1, 2):
        text = (project.logs / str(log_id) / "log.stderr").read_text()
        assert "[1/2]" not in text and "[2/2]" not in text


def test_format_seconds():
    assert format_seconds(12.34) == "12.3s"
    assert format_seconds(245) == "4m05s"
    assert format_seconds(7380) == "2h03m"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_terminal_shows_a_live_bar_with_the_runs_output_above_it(project, workers):
    """On a terminal (a pty here), tqdm draws the bar; the runs' lines never share its line."""
    pytest.importorskip("tqdm")
    code, screen = run_on_terminal(
        [sys.executable, "main.py", "optimizer.lr=0.1,0.2,0.3", f"+launcher.n_workers={workers}"],
        env=project.env(),
        cwd=str(project.root),
    )
    assert code == 0
    assert "sweep 100%" in screen and "3/3" in screen and "3 complete" in screen
    for log_id in (1, 2, 3):
        assert f"done {log_id} RUNNING" in screen
    # what the terminal shows of each line (after its last carriage return): the bar has
    # a line of its own, the runs' output is never glued to it
    for line in screen.split("\n"):
        visible = line.rstrip("\r").rpartition("\r")[2]
        assert visible.startswith("sweep") or "%|" not in visible, repr(line)
        if visible.startswith("sweep"):
            assert "done" not in visible, repr(line)
    # a complete point is counted by the bar, not listed
    assert "[1/3]" not in screen
    assert "mlxlaunch: 3 runs: 3 COMPLETE" in screen
