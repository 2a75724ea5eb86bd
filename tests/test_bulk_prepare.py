"""A sweep's run folders are written in bulk (``runfolder/bulk.py``), with the same guarantees.

Two durability barriers instead of three fsyncs per run: config and settings of
every run, a barrier, every ``info.yaml`` (QUEUED), a barrier. A QUEUED folder
is complete whenever the launcher dies; the files are those ``atomic_write``
wrote one by one before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from mlxlaunch import runfolder
from mlxlaunch.executors import scheduler
from mlxlaunch.executors.base import PreparedRun
from mlxlaunch.launching import prepare
from mlxlaunch.launching.settings import Settings
from mlxlaunch.runfolder import bulk


def _spec(parent: Path) -> SimpleNamespace:
    return SimpleNamespace(
        parent_log_dir=parent,
        script=parent / "main.py",
        settings=Settings(),
        run_info=None,
        module=None,
    )


def _runs(parent: Path, n: int) -> list[PreparedRun]:
    return [
        PreparedRun(i, d, {"seed": i, "lr": "1e-3", "model": {"depth": 2}}, [f"seed={i}"])
        for i, d in runfolder.allocate_run_dirs(parent, n)
    ]


def test_every_info_is_written_after_a_barrier_that_follows_its_config_and_settings(
    tmp_path, monkeypatch
):
    events: list[tuple[str, str]] = []
    for name in ("create", "write"):
        original = getattr(bulk.Batch, name)

        def record(self, path, data, _original=original, _name=name):
            events.append((_name, path.name))
            _original(self, path, data)

        monkeypatch.setattr(bulk.Batch, name, record)
    original_sync = bulk.Batch.sync
    monkeypatch.setattr(
        bulk.Batch, "sync", lambda self: (events.append(("sync", "")), original_sync(self))
    )

    runs = _runs(tmp_path / "logs", 6)
    prepare._write_in_bulk(runs, _spec(tmp_path / "logs"), "sweep", "executor: local\n")

    kinds = events
    files = [(i, name) for i, (kind, name) in enumerate(kinds) if kind != "sync"]
    last_other = max(i for i, name in files if name != runfolder.INFO_FILE)
    first_info = min(i for i, (_, name) in enumerate(kinds) if name == runfolder.INFO_FILE)
    assert ("sync", "") in kinds[last_other:first_info]
    assert kinds[-1] == ("sync", "")
    assert all(k == "write" for k, name in kinds if name == runfolder.INFO_FILE)  # renamed in
    for index, run in enumerate(runs):
        assert runfolder.read_config(run.log_dir) == run.config
        assert runfolder.read_settings(run.log_dir) == {"executor": "local"}
        info = runfolder.read_info(run.log_dir)
        assert (info["status"], info["log_id"], info["point_index"], info["n_points"]) == (
            "QUEUED",
            run.log_id,
            index,
            6,
        )
        assert info["overrides"] == [f"seed={run.log_id}"]
        leftovers = [p.name for p in (run.log_dir / runfolder.METADATA).iterdir()]
        assert sorted(leftovers) == sorted(
            [runfolder.CONFIG_FILE, runfolder.LAUNCHER_FILE, runfolder.INFO_FILE]
        )


def test_without_syncfs_every_file_and_its_folder_is_fsynced(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "_libc_syncfs", lambda: None)
    synced: list[Path] = []
    monkeypatch.setattr(bulk, "fsync_path", synced.append)
    runs = _runs(tmp_path / "logs", 5)
    prepare._write_in_bulk(runs, _spec(tmp_path / "logs"), "sweep", "{}\n")
    for run in runs:
        metadata = run.log_dir / runfolder.METADATA
        for name in (runfolder.CONFIG_FILE, runfolder.LAUNCHER_FILE, runfolder.INFO_FILE):
            assert metadata / name in synced
        assert metadata in synced  # the renames into it


def test_a_failed_barrier_is_an_error_not_a_silent_success(tmp_path, monkeypatch):
    def failing(fd: int) -> int:
        import ctypes

        ctypes.set_errno(5)
        return -1

    monkeypatch.setattr(bulk, "_libc_syncfs", lambda: failing)
    with pytest.raises(OSError, match="Input/output error"):
        prepare._write_in_bulk(_runs(tmp_path / "logs", 5), _spec(tmp_path / "logs"), "s", "{}\n")


def test_the_scheduler_record_gives_the_bytes_a_whole_dump_gives(tmp_path):
    run_dir = tmp_path / "1"
    (run_dir / runfolder.METADATA).mkdir(parents=True)
    info = {"status": "QUEUED", "log_id": 1, "overrides": ["a='x y'"], "error": None, "e": "1e3"}
    runfolder.write_info(run_dir, info)
    sched = {"name": "slurm", "job_id": "7_0", "array_index": 0, "script": "/a b/c.sh"}
    whole = runfolder.dump_yaml({**info, "scheduler": sched}).encode()
    assert scheduler._info_with_job(run_dir, sched) == whole

    # a run resubmitted after a failed submission: rewritten as a whole, status QUEUED
    failed = {**info, "status": "SUBMIT_FAILED", "scheduler": {"job_id": "old"}}
    runfolder.write_info(run_dir, failed)
    again = yaml.safe_load(scheduler._info_with_job(run_dir, sched))
    assert again == {**info, "status": "QUEUED", "scheduler": sched}


def test_the_record_is_appended_to_the_prepared_text_only_if_the_file_still_holds_it(tmp_path):
    """The launch passes the info.yaml bytes it wrote: appended to without a parse, unless
    the file changed meanwhile (then it is read and rewritten as a whole, as without them)."""
    run_dir = tmp_path / "1"
    (run_dir / runfolder.METADATA).mkdir(parents=True)
    info = {"status": "QUEUED", "log_id": 1, "overrides": ["a=1"], "error": None}
    runfolder.write_info(run_dir, info)
    prepared = runfolder.dump_yaml(info).encode()
    sched = {"name": "slurm", "job_id": "7_0", "array_index": 0}
    whole = runfolder.dump_yaml({**info, "scheduler": sched}).encode()
    assert scheduler._info_with_job(run_dir, sched, prepared) == whole

    changed = {**info, "status": "SUBMIT_FAILED", "scheduler": {"job_id": "old"}}
    runfolder.write_info(run_dir, changed)
    again = yaml.safe_load(scheduler._info_with_job(run_dir, sched, prepared))
    assert again == {**changed, "status": "QUEUED", "scheduler": sched}


def test_a_bulk_launch_hands_the_scheduler_the_info_text_it_wrote(tmp_path):
    runs = _runs(tmp_path / "logs", 6)
    prepare._write_in_bulk(runs, _spec(tmp_path / "logs"), "sweep", "{}\n")
    for run in runs:
        assert run.info_text == runfolder.metadata_path(run.log_dir, "info.yaml").read_bytes()


SLOW_SBATCH = "sleep 30; echo 1234"


def test_a_launcher_killed_while_preparing_leaves_no_incomplete_queued_folder(project):
    """SIGKILL at three moments of a 3,000-point launch: every QUEUED folder is complete."""
    bin_dir = project.root / "bin"
    bin_dir.mkdir()
    for name, body in (("sbatch", SLOW_SBATCH), ("scontrol", "exit 0"), ("scancel", "exit 0")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    env = dict(project.env(), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    checked = 0
    # moments: configs being written, the first info written, infos being written
    for run, name in (
        (1500, runfolder.CONFIG_FILE),
        (1, runfolder.INFO_FILE),
        (1500, runfolder.INFO_FILE),
    ):
        before = set(project.logs.iterdir()) if project.logs.is_dir() else set()
        first = len([p for p in before if p.name.isdigit()])
        proc = subprocess.Popen(
            [sys.executable, "main.py", "+i=range(0,3000)", "+launcher.use_scheduler=true",
             "+launcher.scheduler.name=slurm"],
            cwd=project.root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        trigger = project.logs / str(first + run) / runfolder.METADATA / name
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None and not trigger.exists():
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait()
        for run_dir in set(project.logs.iterdir()) - before:
            if not (run_dir / runfolder.METADATA / runfolder.INFO_FILE).exists():
                continue
            info = runfolder.read_info(run_dir)
            assert info["status"] == "QUEUED"
            config = runfolder.read_config(run_dir)
            assert (config["i"], config["model"]) == (info["point_index"], {"num_layers": 2})
            assert runfolder.read_settings(run_dir)["use_scheduler"] is True
            checked += 1
    assert checked > 0  # the later kills came after some folders said QUEUED
