"""``--dry-run``: every point checked, planned ids, executor, job scripts; nothing created."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mlxlaunch import runfolder
from mlxlaunch.launching.compose import Point
from mlxlaunch.launching.dryrun import _compress, differing_keys


def _table(out: str) -> list[list[str]]:
    """The rows of the points table (cells split on runs of 2+ spaces)."""
    import re

    body = out.split("Points (")[1].split("\n\n")[0].splitlines()[1:]
    return [re.split(r"\s{2,}", line.strip()) for line in body]


def test_dry_run_shows_points_keys_ids_and_executor_and_creates_nothing(project):
    proc = project.run("optimizer.lr=0.01,0.1", "seed=1,2", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    rows = _table(out)
    assert rows[0] == ["#", "run id", "overrides", "optimizer.lr", "seed"]
    assert rows[1:] == [
        ["1", "1", "optimizer.lr=0.01 seed=1", "0.01", "1"],
        ["2", "2", "optimizer.lr=0.01 seed=2", "0.01", "2"],
        ["3", "3", "optimizer.lr=0.1 seed=1", "0.1", "1"],
        ["4", "4", "optimizer.lr=0.1 seed=2", "0.1", "2"],
    ]
    assert f"1-4 in {project.logs}" in out
    assert "Executor:\n  local:" in out
    assert "done" not in out  # the task did not run
    assert not project.logs.exists()


def test_dry_run_ids_are_the_ids_the_real_launch_then_gets(project):
    project.run(check=True)  # run 1
    (project.logs / "3").mkdir()  # a stray folder that is not a run: never reused
    out = project.run("seed=5,6", "--dry-run", check=True).stdout
    assert f"2, 4 in {project.logs}" in out
    assert sorted(p.name for p in project.logs.iterdir() if not p.name.startswith(".")) == [
        "1",
        "3",
    ]
    project.run("seed=5,6", check=True)
    assert project.info(2)["overrides"] == ["seed=5"]
    assert project.info(4)["overrides"] == ["seed=6"]


def test_dry_run_of_a_forced_id_says_it_reopens_the_run(project):
    project.run(check=True)
    out = project.run("+launcher.logger.forced_log_id=1", "--dry-run", check=True).stdout
    assert f"run 1 in {project.logs}, reopened (resume)" in out
    out = project.run("+launcher.logger.forced_log_id=7", "--dry-run", check=True).stdout
    assert "run 7" in out and "created (forced id)" in out
    assert not (project.logs / "7").exists()


def test_dry_run_validates_every_point_and_fails_on_the_last(project):
    proc = project.run("model.num_layers=1,2,3,oops", "+x=1", "optimizer.lr=0.1,0.2", "--dry-run")
    assert proc.returncode == 0, "a string value is valid in an untyped config"
    proc = project.run("seed=1,2,3", "optimizer.lr=0.1", "+launcher.n_workers=abc", "--dry-run")
    assert proc.returncode == 2 and "n_workers" in proc.stderr
    proc = project.run("optimizer.lr=1,2", "model.num_layrs=1", "--dry-run")
    assert proc.returncode == 2
    assert "Did you mean 'model.num_layers'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not project.logs.exists()


def test_dry_run_of_a_long_sweep_shows_head_and_tail(project):
    out = project.run("seed=range(0,40)", "--dry-run", check=True).stdout
    rows = _table(out)
    assert len(rows) == 1 + 20 + 1 + 5
    assert rows[21] == ["...", "(15 more points)"]
    assert rows[-1][:3] == ["40", "40", "seed=39"]
    assert "1-40 in" in out


def test_dry_run_of_a_sweep_shows_each_points_own_values_and_types(project):
    """Points of one shape patch the first point's resolved config (``compose.py``): each
    row still shows its own value, with its type (1, 0.5, true, text, null)."""
    args = ("optimizer.lr=1,0.5,true,abc,null", "+extra=range(0,2)", "--dry-run")
    rows = _table(project.run(*args, check=True).stdout)
    assert rows[0] == ["#", "run id", "overrides", "optimizer.lr", "extra"]
    values = [(lr, extra) for lr in ("1", "0.5", "true", "abc", "null") for extra in "01"]
    assert [tuple(row[3:]) for row in rows[1:]] == values
    assert rows[3][2] == "optimizer.lr=0.5 +extra=0"


def _fake_sbatch(project, monkeypatch) -> Path:
    """A ``sbatch`` on PATH that records it was called (it must not be, in a dry run)."""
    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    marker = project.root / "sbatch-called"
    script = bin_dir / "sbatch"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho 1234\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return marker


def test_dry_run_for_slurm_prints_the_exact_job_script_and_submits_nothing(project, monkeypatch):
    marker = _fake_sbatch(project, monkeypatch)
    proc = project.run(
        "seed=1,2,3",
        "+launcher.use_scheduler=true",
        "+launcher.scheduler.name=slurm",
        "+launcher.scheduler.time=1:30:00",
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Executor:\n  slurm:" in out
    script = out.split("Job script:\n")[1].split("\n\nDry run:")[0]
    assert script.startswith("#!/bin/bash\n#SBATCH --job-name=mlxlaunch\n#SBATCH --array=0-2\n")
    assert "#SBATCH --time=01:30:00" in script
    for run_id in (1, 2, 3):
        assert f"  {project.logs / str(run_id)}\n" in script
    assert "scheduler.time  1:30:00" in out
    assert not marker.exists(), "a dry run must not call sbatch"
    assert not project.logs.exists()


def test_dry_run_rejects_bad_scheduler_settings_like_a_launch(project):
    proc = project.run(
        "+launcher.use_scheduler=true", "+launcher.scheduler.name=slrum", "--dry-run"
    )
    assert proc.returncode == 2
    assert "Did you mean 'slurm'" in proc.stderr


def test_peek_next_run_ids_matches_allocation_and_creates_nothing(tmp_path: Path):
    parent = tmp_path / "logs"
    assert runfolder.peek_next_run_ids(parent, 3) == [1, 2, 3]
    assert not parent.exists()
    runfolder.allocate_run_dirs(parent, 2)
    (parent / "4").mkdir()  # not a run, but taken
    peeked = runfolder.peek_next_run_ids(parent, 3)
    assert peeked == [3, 5, 6]
    assert sorted(os.listdir(parent)) == sorted(["1", "2", "4"] + _hidden(parent))
    assert [i for i, _ in runfolder.allocate_run_dirs(parent, 3)] == peeked


def _hidden(parent: Path) -> list[str]:
    return [name for name in os.listdir(parent) if name.startswith(".")]


def test_differing_keys_are_the_varying_and_the_overridden_ones():
    points = [
        Point(0, ["a=1", "c.d=5"], {"a": 1, "b": 2, "c": {"d": 5, "e": 0}}),
        Point(1, ["a=2", "c.d=5"], {"a": 2, "b": 2, "c": {"d": 5, "e": 0}}),
    ]
    assert differing_keys(points) == ["a", "c.d"]
    assert _compress([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
