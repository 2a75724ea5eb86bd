"""The tutorial runs as documented, from a copy of its folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from conftest import REPO, TUTORIAL, isolated_env

from mlxlaunch import runfolder


def test_tutorial_sweep_runs_end_to_end(tmp_path):
    work = tmp_path / "regression"
    shutil.copytree(TUTORIAL, work, ignore=shutil.ignore_patterns("logs", "__pycache__"))
    env = isolated_env(PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "main.py", "optimizer.lr=0.01,0.1", "seed=1,2", "num_epoch=2"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 runs: 4 COMPLETE" in proc.stderr
    for run_id in (1, 2, 3, 4):
        run = work / "logs" / str(run_id)
        assert runfolder.read_info(run)["status"] == "COMPLETE"
        assert len((run / "metrics" / "train.json").read_text().splitlines()) == 2
    assert runfolder.read_config(work / "logs" / "4")["optimizer"]["lr"] == 0.1


def test_tutorial_resume_goes_on_and_a_finished_run_says_so(tmp_path):
    """The README's resume: epochs appended once each; resuming a finished run trains
    nothing and reports its real last loss (not ``nan``)."""
    work = tmp_path / "regression"
    shutil.copytree(TUTORIAL, work, ignore=shutil.ignore_patterns("logs", "__pycache__"))

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "main.py", *args],
            cwd=work,
            env=isolated_env(PYTHONPATH=str(REPO)),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    run("num_epoch=2")
    out = run("+launcher.logger.forced_log_id=1", "num_epoch=3")
    assert "resuming run 1 at epoch 2" in out
    lines = (work / "logs" / "1" / "metrics" / "train.json").read_text().splitlines()
    epochs = [json.loads(line)["epoch"] for line in lines]
    assert epochs == [0, 1, 2]
    out = run("+launcher.logger.forced_log_id=1", "num_epoch=3")
    assert "run 1: already trained 3 epochs" in out
    assert f"final loss {json.loads(lines[-1])['loss']:.4f}" in out
