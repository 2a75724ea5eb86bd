"""Build now, run later: ``--prepare-only`` and ``mlxlaunch start`` (Thunder's build/run)."""

from __future__ import annotations

import os
import subprocess
import sys

from test_scheduler import _array_script, _fake

from mlxlaunch import runfolder


def cli(project, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        cwd=project.root,
        env=env or project.env(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_prepare_only_freezes_queued_run_folders_and_runs_nothing(project):
    proc = project.run("optimizer.lr=0.1,0.2", "+launcher.name=built", "--prepare-only", check=True)
    assert project.run_ids() == [1, 2]
    for log_id in (1, 2):
        info = project.info(log_id)
        assert info["status"] == "QUEUED" and info["attempt"] == 0 and info["name"] == "built"
        assert not (project.logs / str(log_id) / "metrics").exists()
    assert "done" not in proc.stdout
    assert "prepared 2 runs (ids 1-2)" in proc.stderr
    assert f"mlxlaunch start {project.logs} 1-2" in proc.stderr


def test_start_runs_prepared_runs_by_id_and_by_query_on_workers(project):
    project.run("optimizer.lr=0.1,0.2,0.3", "--prepare-only", check=True)
    proc = cli(project, "start", "logs", "2")
    assert proc.returncode == 0, proc.stderr
    assert [project.info(i)["status"] for i in (1, 2, 3)] == ["QUEUED", "COMPLETE", "QUEUED"]
    proc = cli(project, "start", "logs", "+launcher.n_workers=2")
    assert proc.returncode == 0, proc.stderr
    assert "started 2 run(s): 1, 3" in proc.stdout
    assert all(project.info(i)["status"] == "COMPLETE" for i in (1, 2, 3))
    settings = runfolder.load_yaml(runfolder.metadata_path(project.logs / "1", "launcher.yaml"))
    assert settings["n_workers"] == 2  # the settings it ran with are the run's record


def test_start_leaves_finished_and_failed_runs_to_resubmit(project):
    project.run("+fail=false,true", check=False)
    proc = cli(project, "start", "logs", "1-2")
    assert "skipped 2 run(s) that are not QUEUED: 1, 2" in proc.stdout
    assert project.info(2)["attempt"] == 1


def test_the_points_a_stopped_local_sweep_never_started_can_be_started(project):
    project.run("+fail=true,false,false", "+launcher.fail_fast=true")
    assert [project.info(i)["status"] for i in (1, 2, 3)] == ["FAILED", "QUEUED", "QUEUED"]
    assert cli(project, "start", "logs").returncode == 0
    assert [project.info(i)["status"] for i in (1, 2, 3)] == ["FAILED", "COMPLETE", "COMPLETE"]


def test_prepared_runs_start_as_a_slurm_array(project):
    project.run("optimizer.lr=0.1,0.2", "--prepare-only", check=True)
    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 777")
    _fake(bin_dir, "scontrol", "exit 0")
    env = dict(project.env(), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = cli(
        project, "start", "logs", "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm",
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert [project.info(i)["scheduler"]["job_id"] for i in (1, 2)] == ["777_0", "777_1"]
    job = subprocess.run(
        ["bash", str(_array_script(project.logs / "1"))],
        env=dict(project.env(), SLURM_ARRAY_TASK_ID="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert job.returncode == 0, job.stderr
    assert project.info(1)["status"] == "COMPLETE" and project.info(2)["status"] == "QUEUED"


def test_resubmit_takes_launcher_settings_too(project):
    project.run("+fail=true")
    proc = cli(project, "resubmit", "logs", "1", "+launcher.use_logger=false")
    assert "did not complete" in proc.stderr
    settings = runfolder.load_yaml(runfolder.metadata_path(project.logs / "1", "launcher.yaml"))
    assert settings["use_logger"] is False and project.info(1)["attempt"] == 2


def test_a_swept_or_unknown_setting_is_refused(project):
    project.run("--prepare-only", check=True)
    proc = cli(project, "start", "logs", "+launcher.n_workers=1,2")
    assert proc.returncode == 2 and "one value per setting" in proc.stderr
    proc = cli(project, "start", "logs", "+launcher.n_worker=2")
    assert proc.returncode == 2 and "n_workers" in proc.stderr
    assert project.info(1)["status"] == "QUEUED"


def test_an_entry_point_can_be_prepared_and_started(project):
    project.write(
        "MLproject",
        """\
        entry_points:
          main:
            parameters: {msg: {type: string, default: hi}}
            command: "echo {msg}"
        """,
    )
    assert cli(project, "run", "msg=a,b", "--prepare-only").returncode == 0
    assert cli(project, "start", "logs").returncode == 0
    assert (project.logs / "2" / "log.stdout").read_text() == "b\n"
