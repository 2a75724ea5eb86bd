"""Checkpoints: round-trip, CheckpointNotFound, history, kill-safety, resume via a forced id."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import REPO, TUTORIAL, Project

import mlxlaunch
from mlxlaunch.errors import CheckpointNotFound
from mlxlaunch.logger.logger import Logger


def test_round_trip_and_the_resume_pattern(tmp_path):
    logger = Logger(tmp_path, 1)
    try:
        ckpt = logger.load_checkpoint("last_ckpt")
        start = ckpt["epoch"] + 1
    except FileNotFoundError:
        start = 0
    assert start == 0
    logger.log_checkpoint({"epoch": 4, "weights": [0.5, 1.5]}, log_name="last_ckpt")
    ckpt = Logger(tmp_path, 1).load_checkpoint("last_ckpt")
    assert ckpt == {"epoch": 4, "weights": [0.5, 1.5]}
    # stored where MLXP's log_checkpoint put it, and indexed as a pickle artifact
    assert (tmp_path / "artifacts" / "pickle" / "last_ckpt").is_file()
    assert logger.load_artifacts("last_ckpt") == ckpt


def test_checkpoint_not_found_is_specific_and_exported(tmp_path):
    with pytest.raises(mlxlaunch.CheckpointNotFound, match="no checkpoint 'nope'") as info:
        Logger(tmp_path, 1).load_checkpoint("nope")
    assert isinstance(info.value, FileNotFoundError)
    assert mlxlaunch.CheckpointNotFound is CheckpointNotFound


def test_keep_history(tmp_path):
    logger = Logger(tmp_path, 1)
    for epoch in range(5):
        logger.log_checkpoint({"epoch": epoch}, log_name="ckpt", keep=3)
    assert logger.load_checkpoint("ckpt") == {"epoch": 4}
    assert logger.checkpoint_versions("ckpt") == [3, 4, 5]
    assert logger.load_checkpoint("ckpt", version=3) == {"epoch": 2}
    with pytest.raises(CheckpointNotFound, match="version 1"):
        logger.load_checkpoint("ckpt", version=1)
    # a resumed process continues the numbering
    Logger(tmp_path, 1).log_checkpoint({"epoch": 5}, log_name="ckpt", keep=3)
    assert logger.checkpoint_versions("ckpt") == [4, 5, 6]
    with pytest.raises(ValueError, match="keep"):
        logger.log_checkpoint({}, log_name="ckpt", keep=0)


def test_a_failed_checkpoint_keeps_the_previous_one(tmp_path):
    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("no")

    logger = Logger(tmp_path, 1)
    logger.log_checkpoint({"epoch": 1}, log_name="ckpt")
    with pytest.raises(RuntimeError):
        logger.log_checkpoint({"epoch": 2, "bad": Unpicklable()}, log_name="ckpt")
    assert logger.load_checkpoint("ckpt") == {"epoch": 1}


SLOW_CHECKPOINT = """
import sys, time
from mlxlaunch.logger import Logger

class Slow:
    def __reduce__(self):
        print("PICKLING", flush=True)
        time.sleep(120)
        return (int, (0,))

logger = Logger(sys.argv[1], 1)
logger.log_checkpoint({"epoch": 1, "blob": b"a" * 1000}, log_name="ckpt")
logger.log_checkpoint({"epoch": 2, "blob": b"b" * (8 << 20), "slow": Slow()}, log_name="ckpt")
"""


@pytest.mark.slow
def test_a_checkpoint_write_killed_midway_leaves_the_previous_one_loadable(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHECKPOINT, str(tmp_path)],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "PICKLING"
        folder = tmp_path / "artifacts" / "pickle"
        partial = [p for p in folder.iterdir() if p.name.startswith(".tmp.")]
        assert len(partial) == 1 and partial[0].stat().st_size > (8 << 20)  # really midway
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    logger = Logger(tmp_path, 1)
    ckpt = logger.load_checkpoint("ckpt")
    assert ckpt["epoch"] == 1 and ckpt["blob"] == b"a" * 1000
    # the next checkpoint of this run clears the dead writer's temporary file
    logger.log_checkpoint({"epoch": 2}, log_name="ckpt")
    assert sorted(p.name for p in folder.iterdir()) == ["ckpt"]


RESUME_TASK = """\
import os, signal
import mlxlaunch


@mlxlaunch.launch(config_path="configs")
def main(ctx):
    try:
        ckpt = ctx.logger.load_checkpoint("last_ckpt")
        start, state = ckpt["epoch"] + 1, ckpt["state"]
    except FileNotFoundError:
        start, state = 0, 0
    print(f"attempt {ctx.info.attempt} starts at epoch {start}", flush=True)
    for epoch in range(start, ctx.config.num_epoch):
        state += epoch
        ctx.logger.log_metrics({"epoch": epoch, "state": state}, log_name="train")
        ctx.logger.log_checkpoint({"epoch": epoch, "state": state}, log_name="last_ckpt")
        if epoch == ctx.config.die_at:
            os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer or a node failure would


if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
def test_resume_via_forced_id_continues_from_the_checkpoint(project):
    project.write("main.py", RESUME_TASK)
    first = project.run("num_epoch=8", "+die_at=3")
    assert first.returncode == -signal.SIGKILL
    assert "attempt 1 starts at epoch 0" in first.stdout
    second = project.run("+launcher.logger.forced_log_id=1", "num_epoch=8", "die_at=-1")
    assert second.returncode == 0, second.stderr
    assert "attempt 2 starts at epoch 4" in second.stdout
    lines = (project.logs / "1" / "metrics" / "train.json").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["epoch"] for r in rows] == list(range(8))  # nothing redone, nothing skipped
    assert rows[-1]["state"] == sum(range(8))
    info = project.info(1)
    assert info["status"] == "COMPLETE" and info["attempt"] == 2
    assert project.run_ids() == [1]


def test_tutorial_resumes_from_its_checkpoint(tmp_path):
    """The tutorial's documented resume command continues where the run stopped."""
    import shutil

    tutorial = Project(tmp_path / "regression")
    shutil.copytree(TUTORIAL, tutorial.root, ignore=shutil.ignore_patterns("logs"))
    sweep = tutorial.run("optimizer.lr=0.01,0.1", "seed=1,2")
    assert sweep.returncode == 0, sweep.stderr
    assert tutorial.run_ids() == [1, 2, 3, 4]
    resumed = tutorial.run("+launcher.logger.forced_log_id=1", "num_epoch=15")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run 1 at epoch 10" in resumed.stdout
    rows = [
        json.loads(x) for x in (tutorial.logs / "1/metrics/train.json").read_text().splitlines()
    ]
    assert [r["epoch"] for r in rows] == list(range(15))
