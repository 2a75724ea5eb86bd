"""The Reader on folders written by real launches: a sweep, a queued run, a SIGKILLed run."""

from __future__ import annotations

import signal

import pytest

from mlxlaunch.reader import Reader

pytestmark = pytest.mark.usefixtures("private_reader_cache")


def test_sweep_then_a_killed_run_shows_as_lost(project):
    proc = project.run("optimizer.lr=0.1,0.01", "seed=1,2")
    assert proc.returncode == 0, proc.stderr
    live = project.popen("+sleep=60", "optimizer.lr=0.5")
    try:
        assert live.stdout.readline().strip() == "sleeping"
        reader = Reader(project.logs)
        assert reader.search("info.status == 'RUNNING'").log_ids == [5]
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=30)
    finally:
        if live.poll() is None:
            live.kill()
    runs = reader.search(refresh=True)
    assert [run.status for run in runs] == ["COMPLETE"] * 4 + ["LOST"]
    assert reader.search("config.optimizer.lr <= 1e-2 & config.seed != 3").log_ids == [3, 4]
    assert runs[4]["train.loss"].tolist() == [0.5, 0.25]  # its metrics survive the kill
    frame = reader.search("info.status == 'COMPLETE'").metrics("train", columns=["config.seed"])
    assert frame.groupby("config.seed")["loss"].count().to_dict() == {1: 4, 2: 4}


def test_a_run_prepared_but_not_started_is_queued(project):
    """A run folder prepared (config + QUEUED info, as prepare.py writes them) but not started."""
    from mlxlaunch import runfolder

    proc = project.run("seed=3")
    assert proc.returncode == 0, proc.stderr
    [(log_id, run_dir)] = runfolder.allocate_run_dirs(project.logs, 1)
    runfolder.write_config(run_dir, {"seed": 4, "optimizer": {"lr": 0.1}})
    runfolder.write_info(
        run_dir, {"status": "QUEUED", "log_id": log_id, "queued_time": runfolder.now_iso()}
    )
    reader = Reader(project.logs)
    assert reader.search("info.status == 'QUEUED'").log_ids == [log_id]
    assert reader.search("config.seed >= 3").log_ids == [1, log_id]
