"""A sweep's run folders are written in bulk (``runfolder/bulk.py``), with the same guarantees.

Two durability barriers instead of three fsyncs per run: config and settings of
every run, a barrier, every ``info.yaml`` (QUEUED), a barrier. A QUEUED folder
is complete whenever the launcher dies; the files are those ``atomic_write``
wrote one by one before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import fake_queue
import pytest
import yaml
from test_submit_failures import interrupted_at_sbatch

from mlxlaunch import runfolder
from mlxlaunch.errors import SettingsError
from mlxlaunch.executors import scheduler
from mlxlaunch.executors.base import PreparedRun
from mlxlaunch.executors.scheduler import JobCommand
from mlxlaunch.executors.slurm import SlurmExecutor
from mlxlaunch.launching import prepare
from mlxlaunch.launching.settings import SchedulerSettings, Settings
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


def _fake_slurm(project, sbatch: str = "echo 1234") -> dict[str, str]:
    """Fake ``sbatch``/``scontrol``/``scancel`` first on PATH; the environment to use."""
    bin_dir = project.root / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in (("sbatch", sbatch), ("scontrol", "exit 0"), ("scancel", "exit 0")):
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return dict(project.env(), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


SWEEP = ["+i=range(0,6)", "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm"]


def test_no_run_of_a_sweep_says_queued_before_its_job_exists(project):
    """While sbatch runs, the sweep's folders have no info.yaml (none is QUEUED without a
    job, which `mlxlaunch status` would show LOST if the launcher died); afterwards each
    has one, written once: QUEUED, with its job record after the prepared keys."""
    seen = project.root / "seen"
    count = f"ls {project.logs}/*/metadata/info.yaml 2>/dev/null | wc -l > {seen}"
    env = _fake_slurm(project, f"{count}; echo 1234")
    proc = subprocess.run(
        [sys.executable, "main.py", *SWEEP], cwd=project.root, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert seen.read_text().strip() == "0"
    for index, log_id in enumerate(project.run_ids()):
        run_dir = project.logs / str(log_id)
        text = runfolder.metadata_path(run_dir, runfolder.INFO_FILE).read_text()
        info = yaml.safe_load(text)
        assert (info["status"], info["point_index"]) == ("QUEUED", index)
        assert info["scheduler"]["job_id"] == f"1234_{index}"
        assert text == runfolder.dump_yaml(info)  # the bytes a whole dump gives
        assert sorted(p.name for p in (run_dir / runfolder.METADATA).iterdir()) == sorted(
            [runfolder.CONFIG_FILE, runfolder.LAUNCHER_FILE, runfolder.INFO_FILE]
        )


def test_a_refused_sweep_writes_each_info_submit_failed_and_resubmits(project):
    """sbatch refuses a sweep whose info.yaml files were not written yet: each run gets
    one, SUBMIT_FAILED with the reason, its prepared keys intact; resubmit then works."""
    refuse = "echo 'sbatch: error: Invalid partition name specified' >&2; exit 1"
    env = _fake_slurm(project, refuse)
    proc = subprocess.run(
        [sys.executable, "main.py", *SWEEP], cwd=project.root, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "6 run(s) were not submitted" in proc.stderr
    for index, log_id in enumerate(project.run_ids()):
        info = project.info(log_id)
        assert (info["status"], info["point_index"], info["n_points"]) == (
            "SUBMIT_FAILED",
            index,
            6,
        )
        assert "Invalid partition" in info["error"] and "scheduler" not in info

    env = _fake_slurm(project)  # fixed
    again = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", str(project.logs)],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert {project.info(i)["status"] for i in project.run_ids()} == {"QUEUED"}


def test_ctrl_c_before_a_sweep_is_submitted_writes_its_infos_submit_failed(tmp_path, monkeypatch):
    """Runs handed over without info.yaml (``pending``): interrupted, each gets its
    prepared info as SUBMIT_FAILED, none stays without one."""
    runs = _runs(tmp_path / "logs", 6)
    prepare._write_in_bulk(runs, _spec(tmp_path / "logs"), "sweep", "{}\n", defer_info=True)
    assert all(r.info_pending for r in runs)
    assert not any(runfolder.metadata_path(r.log_dir, "info.yaml").exists() for r in runs)
    executor = interrupted_at_sbatch(monkeypatch)
    monkeypatch.setattr(executor, "max_array_size", lambda: 4)
    pending = {r.log_dir: r.info_text for r in runs}
    command = JobCommand(python=sys.executable, script="main.py", workdir=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        executor.submit(
            [r.log_dir for r in runs], SchedulerSettings(name="slurm"), command,
            tmp_path / "logs", pending=pending,
        )  # fmt: skip
    for index, run in enumerate(runs):
        info = runfolder.read_info(run.log_dir)
        assert (info["status"], info["point_index"]) == ("SUBMIT_FAILED", index)
        assert "KeyboardInterrupt" in info["error"] and "scheduler" not in info


def test_a_launcher_killed_while_preparing_leaves_no_incomplete_queued_folder(project):
    """SIGKILL at four moments of a 3,000-point launch: every QUEUED folder is complete
    and names its job; an array left held (killed between its submission and its
    release) is named by `mlxlaunch status` and withdrawn by `mlxlaunch cancel`."""
    queue = fake_queue.install(project.root / "bin")
    env = dict(project.env(), PATH=f"{project.root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    jobs = project.logs / runfolder.JOBS_DIR / scheduler.user_name()
    jobs.mkdir(parents=True)
    checked = 0
    # moments: configs being written (nothing submitted yet), the first info written,
    # infos of the second array being written, the first array about to be released
    for run, name, at_release in (
        (1500, runfolder.CONFIG_FILE, False),
        (1, runfolder.INFO_FILE, False),
        (1500, runfolder.INFO_FILE, False),
        (0, "", True),
    ):
        before = set(project.logs.iterdir()) if project.logs.is_dir() else set()
        first = len([p for p in before if p.name.isdigit()])
        proc = subprocess.Popen(
            [sys.executable, "main.py", "+i=range(0,3000)", "+launcher.use_scheduler=true",
             "+launcher.scheduler.name=slurm"],
            cwd=project.root, env=dict(env, FAKE_KILL_AT_RELEASE="1" if at_release else ""),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        trigger = project.logs / str(first + run) / runfolder.METADATA / name
        if at_release:  # the fake `scontrol release` kills it
            trigger = project.root / "never"
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
            assert info["status"] == "QUEUED" and info["scheduler"]["job_id"]
            config = runfolder.read_config(run_dir)
            assert (config["i"], config["model"]) == (info["point_index"], {"num_layers": 2})
            assert runfolder.read_settings(run_dir)["use_scheduler"] is True
            checked += 1
        # (a released array's record is emptied, not removed: see HeldArray.clear)
        records = [p for p in jobs.glob(f"*{runfolder.HELD_SUFFIX}") if p.stat().st_size]
        held = [a for a, data in fake_queue.queued(queue).items() if data["held"]]
        assert len(records) == len(held) == (0 if name == runfolder.CONFIG_FILE else 1)
        if not held:
            continue
        # the held array: named by status, then withdrawn by cancel
        ids = [int(i) for i in json.loads(records[0].read_text())["runs"]]
        assert json.loads(records[0].read_text())["array_job_id"] == held[0]
        status = subprocess.run(
            [sys.executable, "-m", "mlxlaunch.cli", "status", str(project.logs), *map(str, ids)],
            cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert status.returncode == 0, status.stderr
        assert (
            f"mlxlaunch: run(s) {ids[0]}-{ids[-1]} were submitted held as slurm job {held[0]} "
            f"but never released (the launcher was stopped): mlxlaunch cancel {project.logs} "
            f"{ids[0]}-{ids[-1]} to withdraw it, or mlxlaunch resubmit {project.logs} "
            f"{ids[0]}-{ids[-1]}"
        ) in status.stdout.splitlines()
        cancel = subprocess.run(
            [sys.executable, "-m", "mlxlaunch.cli", "cancel", str(project.logs), f"{first + 1}-"
             f"{first + 3000}"],
            cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert cancel.returncode == 0, cancel.stderr
        assert held[0] not in fake_queue.queued(queue)  # the held array is gone
        assert not records[0].exists()
        for log_id in ids:
            info = project.info(log_id)
            assert (info["status"], info["cancelled"]) == ("INTERRUPTED", True), log_id
            assert f"held as job {held[0]}" in info.get("error", "") or "scheduler" in info
        again = subprocess.run(
            [sys.executable, "-m", "mlxlaunch.cli", "status", str(project.logs), *map(str, ids)],
            cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "never released" not in again.stdout and f"{len(ids)} INTERRUPTED" in again.stdout
    assert checked > 0  # the later kills came after some folders said QUEUED


def test_settings_refused_at_submission_write_the_sweeps_infos_submit_failed(tmp_path):
    """A setting the scheduler refuses once the folders exist (checked again in
    ``launch``): the runs handed over without info.yaml get it, SUBMIT_FAILED."""
    spec = _spec(tmp_path / "logs")
    runs = _runs(tmp_path / "logs", 5)
    prepare._write_in_bulk(runs, spec, "sweep", "{}\n", defer_info=True)
    spec.settings.scheduler.time = "soon"
    with pytest.raises(SettingsError):
        SlurmExecutor().launch(runs, spec)
    for run in runs:
        info = runfolder.read_info(run.log_dir)
        assert info["status"] == "SUBMIT_FAILED" and "scheduler.time" in info["error"]
