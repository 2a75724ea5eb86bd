"""Arrays left held by a launcher stopped between submitting and releasing them.

A scheduler launch submits each array held and records it (``.jobs/<user>/<script>.held``)
until it is released. These tests stop the launcher in that window (a fake Slurm queue
with state, ``tests/fake_queue.py``) and check what the commands then do: ``status``
names the held array, ``resubmit`` withdraws it before submitting again (never two
arrays for the same runs), and a record whose array is no longer held is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import fake_queue
import pytest

from mlxlaunch import runfolder
from mlxlaunch.executors import scheduler
from mlxlaunch.executors.scheduler import JobCommand
from mlxlaunch.executors.slurm import SlurmExecutor
from mlxlaunch.launching.settings import SchedulerSettings
from mlxlaunch.manage.status import HeldRuns
from mlxlaunch.runfolder import bulk

SWEEP = ["+i=range(0,4)", "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm"]


@pytest.fixture
def cluster(project):
    """``(project, env, queue)``: the fake Slurm queue first on PATH."""
    queue = fake_queue.install(project.root / "bin")
    env = dict(project.env(), PATH=f"{project.root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return project, env, queue


def _cli(project, env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _killed_at_release(project, env) -> None:
    proc = subprocess.run(
        [sys.executable, "main.py", *SWEEP], cwd=project.root,
        env=dict(env, FAKE_KILL_AT_RELEASE="1"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -9, proc.stderr


def _records(project) -> list:
    """The records of arrays not released (a released one is emptied)."""
    jobs = project.logs / runfolder.JOBS_DIR / scheduler.user_name()
    return sorted(p for p in jobs.glob(f"*{runfolder.HELD_SUFFIX}") if p.stat().st_size)


def test_resubmit_withdraws_the_held_array_before_submitting_again(cluster):
    project, env, queue = cluster
    _killed_at_release(project, env)
    assert [d["held"] for d in fake_queue.queued(queue).values()] == [True]
    (array,) = fake_queue.queued(queue)
    status = _cli(project, env, "status", str(project.logs)).stdout
    assert "4 run(s): 4 QUEUED\nmlxlaunch: run(s) 1-4 were submitted held" in status

    again = _cli(project, env, "resubmit", str(project.logs))
    assert again.returncode == 0, again.stderr
    assert "mlxlaunch: withdrew the held job(s) of run(s) 1-4" in again.stdout
    assert "resubmitted 4 run(s)" in again.stdout
    # one array for the four runs, released; the held one is gone
    arrays = fake_queue.queued(queue)
    assert array not in arrays and [d["held"] for d in arrays.values()] == [False]
    (new,) = arrays
    for i in range(1, 5):
        info = project.info(i)
        assert (info["status"], info["scheduler"]["array_job_id"]) == ("QUEUED", new)
    assert _records(project) == []
    assert "never released" not in _cli(project, env, "status", str(project.logs)).stdout


def test_runs_not_given_their_info_yet_are_withdrawn_and_can_be_resubmitted(cluster):
    """Killed just after sbatch returned: no run has its info.yaml, the record has them."""
    project, env, queue = cluster
    proc = subprocess.Popen(
        [sys.executable, "main.py", *SWEEP], cwd=project.root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not _records(project):
            time.sleep(0.001)
    finally:
        proc.kill()
        proc.wait()
    (record,) = _records(project)
    ids = [int(i) for i in json.loads(record.read_text())["runs"]]
    assert ids == [1, 2, 3, 4]
    held_script = record.with_name(record.name.replace(runfolder.HELD_SUFFIX, ".sh"))
    # (the kill may come after some info.yaml files were written: each names the held job)
    status = _cli(project, env, "status", str(project.logs))
    assert "mlxlaunch: run(s) 1-4 were submitted held as slurm job" in status.stdout
    cancel = _cli(project, env, "cancel", str(project.logs), "1-4")
    assert cancel.returncode == 0 and "cancelled 4 run(s): 1, 2, 3, 4" in cancel.stdout
    assert fake_queue.queued(queue) == {} and _records(project) == []
    for i in ids:
        assert project.info(i)["status"] == "INTERRUPTED" and project.info(i)["cancelled"]
    again = _cli(project, env, "resubmit", str(project.logs))
    assert again.returncode == 0 and "resubmitted 4 run(s)" in again.stdout, again.stderr
    (new,) = fake_queue.queued(queue)
    for i in ids:
        sched = project.info(i)["scheduler"]
        assert sched["array_job_id"] == new and sched["script"]
        assert sched["python"] == sys.executable
        assert sched["workdir"] == str(project.root)

    # the job runs the same command as the withdrawn one would have (from the record)
    def command(script: str) -> list[str]:
        return [line for line in open(script) if line.endswith(" &\n")]

    assert command(sched["script"]) == command(str(held_script))


def test_a_record_whose_array_was_released_is_removed_without_a_note(cluster):
    """Killed after the release, before the record was removed: nothing is held."""
    project, env, queue = cluster
    proc = subprocess.run(
        [sys.executable, "main.py", *SWEEP], cwd=project.root, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (array,) = fake_queue.queued(queue)
    script = project.info(1)["scheduler"]["script"]
    record = runfolder.held_record_name(os.path.basename(script))
    path = project.logs / runfolder.JOBS_DIR / scheduler.user_name() / record
    gone = {"host": "elsewhere", "pid": 1, "pid_start": None}  # (a launcher we cannot see)
    data = {
        "scheduler": "slurm", "array_job_id": array, "job_ids": [f"{array}_{k}" for k in range(4)],
        "runs": ["1", "2", "3", "4"], "command": {}, "launched_by": gone,
    }  # fmt: skip
    path.write_text(json.dumps(data))
    status = _cli(project, env, "status", str(project.logs))
    assert status.returncode == 0 and "never released" not in status.stdout
    assert not path.exists()


def test_the_record_of_a_launcher_still_submitting_is_left_alone(cluster):
    project, env, queue = cluster
    _killed_at_release(project, env)
    (record,) = _records(project)
    data = json.loads(record.read_text())
    record.write_text(json.dumps(dict(data, launched_by=runfolder.launched_by())))  # alive
    status = _cli(project, env, "status", str(project.logs))
    assert "never released" not in status.stdout and record.exists()
    assert [d["held"] for d in fake_queue.queued(queue).values()] == [True]


def test_the_record_is_written_first_and_made_durable_before_the_release(tmp_path, monkeypatch):
    """sbatch, then the record, then the runs' info.yaml, one barrier covering them all,
    then the release, then the record's removal: a kill anywhere before the release
    leaves a record, on disk whatever happens to the machine once the barrier is passed."""
    events: list[tuple[str, str]] = []
    executor = SlurmExecutor()

    def command(argv, cwd=None, check=True):
        events.append(("run", argv[0] + (f" {argv[1]}" if argv[0] == "scontrol" else "")))
        stdout = "77\n" if argv[0] == "sbatch" else ""
        return subprocess.CompletedProcess(argv, 0, stdout, "")

    monkeypatch.setattr(executor, "run_command", command)
    monkeypatch.setattr(executor, "max_array_size", lambda: 1000)
    original_write, original_sync = bulk.Batch.write, bulk.Batch.sync

    def write(self, path, data):
        events.append(("write", path.name if path.suffix == ".held" else path.parent.parent.name))
        original_write(self, path, data)

    def sync(self):
        events.append(
            ("sync", ",".join(sorted(p.name for p in self._paths if p.suffix == ".held")))
        )
        original_sync(self)

    monkeypatch.setattr(bulk.Batch, "write", write)
    monkeypatch.setattr(bulk.Batch, "sync", sync)
    logs = tmp_path / "logs"
    dirs = [d for _, d in runfolder.allocate_run_dirs(logs, 2)]
    for d in dirs:
        runfolder.write_info(d, {"status": "QUEUED"})
    job = JobCommand(python=sys.executable, script="main.py", workdir=str(tmp_path))
    executor.submit(dirs, SchedulerSettings(name="slurm"), job, logs)
    (script,) = (logs / runfolder.JOBS_DIR / scheduler.user_name()).glob("*.sh")
    record = runfolder.held_record_name(script.name)
    assert events == [
        ("run", "sbatch"),
        ("write", record),
        ("write", "1"),
        ("write", "2"),
        ("sync", record),
        ("run", "scontrol release"),
    ]
    # emptied once released (not removed: no inode freed during a launch), then removed
    # by the next look at the logs folder
    assert script.with_name(record).read_bytes() == b""
    assert scheduler.HeldArray.read_all(logs) == [] and not script.with_name(record).exists()


def test_the_note_docs_clusters_md_shows_is_the_one_status_prints():
    record = scheduler.HeldArray(
        path=Path("x.held"), scheduler="slurm", array_job_id="4244", job_ids=["4244_0", "4244_1"],
        runs=["1", "2"], command={}, launched_by={},
    )  # fmt: skip
    note = HeldRuns(record, {1: "4244_0", 2: "4244_1"}).note(Path("/home/me/project/logs"))
    page = (Path(__file__).parent.parent / "docs" / "clusters.md").read_text()
    assert f"\nmlxlaunch: {note}\n" in page
    assert "\nmlxlaunch: cancelled 2 run(s): 1, 2\n" in page
