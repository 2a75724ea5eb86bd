"""Local runs where two capabilities meet: signals, cancel, stopped sweeps (issue 12, 12-17)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

HOOK_TASK = """\
import time
from pathlib import Path
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    ctx.on_preempt(lambda: Path(ctx.info.log_dir, "hook.txt").write_text("saved"))
    print("sleeping", flush=True)
    time.sleep(ctx.config.get("sleep", 0))
    print("done", flush=True)

if __name__ == "__main__":
    main()
"""


def _start(project, *args: str, ignore_hup: bool = False) -> subprocess.Popen:
    """The task as a user starts it; returns once its first run is sleeping."""
    project.write("main.py", HOOK_TASK)

    def no_hup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # what nohup does before exec

    proc = subprocess.Popen(
        [sys.executable, "main.py", *args], cwd=project.root, env=project.env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        preexec_fn=no_hup if ignore_hup else None,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "sleeping\n"
    return proc


@pytest.mark.parametrize("sig,code", [(signal.SIGHUP, 129), (signal.SIGQUIT, 131)])
def test_sighup_and_sigquit_stop_a_run_like_sigterm(project, sig: int, code: int) -> None:
    """Issue 12.14: a closed terminal (SIGHUP) or Ctrl-\\ records INTERRUPTED after the hooks."""
    proc = _start(project, "+sleep=60")
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == code
    info = project.info(1)
    assert (info["status"], info["exit_code"]) == ("INTERRUPTED", code)
    assert info["error"] == f"interrupted by {signal.Signals(sig).name}"
    assert (project.logs / "1" / "hook.txt").read_text() == "saved"


def test_a_run_started_under_nohup_keeps_ignoring_sighup(project) -> None:
    proc = _start(project, "+sleep=2", ignore_hup=True)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=60) == 0
    assert project.info(1)["status"] == "COMPLETE"
    assert not (project.logs / "1" / "hook.txt").exists()


def test_sighup_stops_a_parallel_sweep_and_every_worker_records_it(project) -> None:
    proc = _start(project, "+sleep=60", "optimizer.lr=0.1,0.2", "+launcher.n_workers=2")
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=60) == 129
    infos = [project.info(i) for i in project.run_ids()]
    started = [i for i in infos if i["attempt"]]  # the other may not have started yet
    assert started and all(i["status"] == "INTERRUPTED" for i in started), infos
    assert all(i["error"].startswith("interrupted by SIGHUP") for i in started), started
    assert {i["status"] for i in infos} <= {"INTERRUPTED", "QUEUED"}  # none left RUNNING


def _cli(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args], cwd=project.root, env=project.env(),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_one_damaged_info_yaml_is_a_warning_not_a_refusal(project) -> None:
    """Issue 12.17: status, cancel and resubmit work on the other runs and name the bad one."""
    proc = project.run("optimizer.lr=0.1,0.2,0.3", "+fail=true")
    assert proc.returncode != 0 and project.run_ids() == [1, 2, 3]
    (project.logs / "2" / "metadata" / "info.yaml").write_text("status: [FAILED\n")
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0, status.stderr
    assert "logs/2/metadata/info.yaml is damaged" in status.stderr
    assert "3 run(s): 2 FAILED, 1 UNKNOWN" in status.stdout  # listed, never left out silently
    cancel = _cli(project, "cancel", str(project.logs), "1-3")
    assert cancel.returncode == 0, cancel.stderr
    assert "info.yaml is damaged" in cancel.stderr
    again = _cli(project, "resubmit", str(project.logs))
    assert "info.yaml is damaged" in again.stderr
    assert "resubmitted 2 run(s): 1, 3" in again.stdout, again.stderr


GATED_TASK = """\
import time
from pathlib import Path
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    ctx.on_preempt(lambda: Path(ctx.info.log_dir, "hook.txt").write_text("saved"))
    print(f"running {ctx.info.log_id}", flush=True)
    go = Path(ctx.info.log_dir).parent.parent / "go"
    for _ in range(600):
        if go.exists():
            break
        time.sleep(0.1)
    print("done", flush=True)

if __name__ == "__main__":
    main()
"""


def test_cancel_stops_only_the_runs_it_names_in_a_sequential_sweep(project) -> None:
    """Issue 12.12: cancelling a QUEUED point skips it; cancelling the RUNNING one stops it
    alone; the sweep goes on with the other points."""
    project.write("main.py", GATED_TASK)
    sweep = subprocess.Popen(
        [sys.executable, "main.py", "optimizer.lr=0.1,0.2,0.3"], cwd=project.root,
        env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sweep.stdout is not None
    assert sweep.stdout.readline() == "running 1\n"
    queued = _cli(project, "cancel", str(project.logs), "3")
    assert queued.returncode == 0 and "cancelled 1 run(s): 3" in queued.stdout, queued.stderr
    running = _cli(project, "cancel", str(project.logs), "1")
    assert running.returncode == 0 and "cancelled 1 run(s): 1" in running.stdout, running.stderr
    assert sweep.stdout.readline() == "running 2\n"  # the sweep went on
    (project.root / "go").write_text("")
    sweep.communicate(timeout=60)
    one, two, three = (project.info(i) for i in (1, 2, 3))
    assert (one["status"], one["exit_code"]) == ("INTERRUPTED", 143)
    assert one["error"] == "cancelled with mlxlaunch cancel (SIGTERM)"
    assert (project.logs / "1" / "hook.txt").read_text() == "saved"
    assert two["status"] == "COMPLETE"
    assert (three["status"], three["attempt"], three["cancelled"]) == ("INTERRUPTED", 0, True)
    assert not (project.logs / "3" / "hook.txt").exists()
    # a cancelled run can be run again
    again = _cli(project, "resubmit", str(project.logs), "3")
    assert again.returncode == 0, again.stderr
    assert project.info(3)["status"] == "COMPLETE" and "cancelled" not in project.info(3)


def test_cancel_never_signals_a_process_that_took_over_the_runs_pid(project) -> None:
    """Issue 12.12: the run's process is gone and its pid reused: that process is left alone."""
    import socket

    from mlxlaunch.runfolder.liveness import process_start, touch_heartbeat
    from mlxlaunch.runfolder.metadata import write_info

    other = subprocess.Popen(["sleep", "60"])
    try:
        run_dir = project.logs / "1"
        (run_dir / "metadata").mkdir(parents=True)
        write_info(run_dir, {
            "status": "RUNNING", "log_id": 1, "hostname": socket.gethostname(),
            "pid": other.pid, "pid_start": process_start(other.pid) - 1,  # started before
            "heartbeat_interval": 30,
        })  # fmt: skip
        touch_heartbeat(run_dir)
        status = _cli(project, "status", str(project.logs))
        assert "LOST" in status.stdout, status.stdout
        cancel = _cli(project, "cancel", str(project.logs), "1")
        assert cancel.returncode == 0
        assert "nothing cancelled" in cancel.stdout  # a LOST run has nothing to stop
        assert other.poll() is None  # not killed
    finally:
        other.kill()
        other.wait()


def test_resuming_a_run_written_by_mlxp_keeps_its_record_and_starts_a_clean_info(project) -> None:
    """Issue 12.11: MLXP's info.yaml has no attempt: it becomes attempts/1.yaml, whole."""
    import yaml
    from test_reader_layouts import write_mlxp_run

    write_mlxp_run(project.logs, 1, lr=0.1)
    proc = project.run("+launcher.logger.forced_log_id=1", "+num_epoch=1")
    assert proc.returncode == 0, proc.stderr
    info = project.info(1)
    assert (info["status"], info["attempt"]) == ("COMPLETE", 2)
    assert "process_id" not in info and "executable" not in info
    first = yaml.safe_load((project.logs / "1" / "metadata" / "attempts" / "1.yaml").read_text())
    assert first["process_id"] == 4242 and first["executable"] == "/usr/bin/python3"
    assert (first["status"], first["attempt"]) == ("COMPLETE", 1)


def test_a_huge_sweep_is_refused_before_it_is_expanded(project) -> None:
    """Issue 12.16: ``seed=range(0,100000000)`` filled 24 GB; now refused at once, nothing written."""
    proc = project.run("seed=range(0,100000000)", "optimizer.lr=0.1,0.2", timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "200,000,000 points" in proc.stderr and "'seed=range(0,100000000)'" in proc.stderr
    assert "+launcher.max_points=200000000" in proc.stderr
    assert project.run_ids() == []
    ok = project.run("seed=range(0,3)", "+launcher.max_points=3")
    assert ok.returncode == 0 and project.run_ids() == [1, 2, 3]
    over = project.run("seed=range(0,4)", "+launcher.max_points=3")
    assert over.returncode == 2 and "4 points" in over.stderr


RACING_TASK = """\
import os, subprocess, sys
import mlxlaunch
from mlxlaunch.executors.local import LocalExecutor

_launch = LocalExecutor.launch


def launch(self, runs, spec):
    # between this resume's preparation and its run, a second resume of the same run
    if not os.environ.get("SECOND"):
        env = dict(os.environ, SECOND="1")
        argv = [sys.executable, "main.py", "+launcher.logger.forced_log_id=1", "num_epoch=7"]
        second = subprocess.run(argv, env=env, capture_output=True, text=True)
        print("second exit", second.returncode, flush=True)
        sys.stderr.write(second.stderr)
    return _launch(self, runs, spec)


LocalExecutor.launch = launch


@mlxlaunch.launch(config_path="configs")
def main(ctx):
    print("ran with num_epoch", ctx.config.num_epoch, flush=True)

if __name__ == "__main__":
    main()
"""


def test_a_refused_resume_writes_nothing(project) -> None:
    """Issue 12.9: a second resume that starts while the first is between its preparation and
    its run is refused (exit 2) and leaves the frozen config as the first one wrote it."""
    from mlxlaunch.runfolder.metadata import read_config

    assert project.run().returncode == 0  # run 1, num_epoch=2
    project.write("main.py", RACING_TASK)
    proc = project.run("+launcher.logger.forced_log_id=1", "num_epoch=5")
    assert proc.returncode == 0, proc.stderr
    assert "second exit 2" in proc.stdout, proc.stdout + proc.stderr
    assert "is in use by" in proc.stderr
    assert "ran with num_epoch 5" in proc.stdout and "num_epoch 7" not in proc.stdout
    assert read_config(project.logs / "1")["num_epoch"] == 5
    info = project.info(1)
    assert (info["status"], info["attempt"]) == ("COMPLETE", 2)
    assert info["resume_overrides"] == [["num_epoch=5"]]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_points_a_stopped_sweep_never_ran_show_lost_and_resubmit_runs_them(project, sig) -> None:
    """Issue 12.13: nobody will run the QUEUED points of a stopped or killed local sweep."""
    proc = _start(project, "+sleep=60", "optimizer.lr=0.1,0.2,0.3")
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert [project.info(i)["status"] for i in (2, 3)] == ["QUEUED", "QUEUED"]  # as written
    status = _cli(project, "status", str(project.logs))
    lost = 2 if sig == signal.SIGTERM else 3  # a killed run 1 is LOST too
    assert "3 run(s): " in status.stdout and f"{lost} LOST" in status.stdout, status.stdout
    project.write("main.py", HOOK_TASK.replace('ctx.config.get("sleep", 0)', "0"))
    again = _cli(project, "resubmit", str(project.logs), "2-3")
    assert again.returncode == 0, again.stderr
    assert "resubmitted 2 run(s): 2, 3" in again.stdout
    assert [project.info(i)["status"] for i in (2, 3)] == ["COMPLETE", "COMPLETE"]


def test_the_queued_points_of_a_live_sweep_stay_queued(project) -> None:
    proc = _start(project, "+sleep=60", "optimizer.lr=0.1,0.2")
    try:
        status = _cli(project, "status", str(project.logs))
        assert "1 QUEUED" in status.stdout and "LOST" not in status.stdout, status.stdout
    finally:
        proc.kill()
        proc.wait()


def test_backend_messages_do_not_promise_local_runs_a_launcher_yaml_submits(project) -> None:
    """Issue 12.8: with no default backend, launcher.yaml's use_scheduler still decides."""
    ok = _cli(project, "backend", "add", "big", "scheduler=slurm", "cpus=8")
    assert ok.returncode == 0, ok.stderr
    assert _cli(project, "backend", "set", "big").returncode == 0
    removed = _cli(project, "backend", "remove", "big")
    assert "runs locally" not in removed.stdout and "run locally" not in removed.stdout
    assert "configs/launcher.yaml" in removed.stdout and "use_scheduler" in removed.stdout
    listing = _cli(project, "backend", "list")
    assert "runs are local unless" not in listing.stdout
    assert "local unless they set use_scheduler: true" in listing.stdout
    # what the messages say is what happens: launcher.yaml's use_scheduler submits
    project.write("configs/launcher.yaml", "use_scheduler: true\nscheduler:\n  name: slurm\n")
    dry = project.run("--dry-run")
    assert dry.returncode == 0 and "#SBATCH" in dry.stdout, dry.stdout + dry.stderr


def _group_project(project) -> None:
    project.write(
        "configs/config.yaml",
        "defaults:\n  - model: resnet\n  - _self_\nseed: 0\nnum_epoch: 2\noptimizer:\n  lr: 0.1\n",
    )
    project.write("configs/model/resnet.yaml", "num_layers: 2\nkind: resnet\n")
    project.write("configs/model/vit.yaml", "num_layers: 12\nkind: vit\npatch: 16\n")


def test_resuming_with_the_runs_own_group_choice_works_and_another_is_refused(project) -> None:
    """Issue 12.10: ``model=vit`` on resume wrote the string 'vit' over the model node."""
    from mlxlaunch.runfolder.metadata import read_config

    _group_project(project)
    assert project.run("model=resnet").returncode == 0
    same = project.run("+launcher.logger.forced_log_id=1", "model=resnet", "num_epoch=3")
    assert same.returncode == 0, same.stderr
    config = read_config(project.logs / "1")
    assert config["model"] == {"num_layers": 2, "kind": "resnet"} and config["num_epoch"] == 3
    other = project.run("+launcher.logger.forced_log_id=1", "model=vit")
    assert other.returncode == 2
    assert (
        "cannot change its config group 'model'" in other.stderr and "model=resnet" in other.stderr
    )
    assert read_config(project.logs / "1") == config  # nothing written
    again = project.run("+launcher.logger.forced_log_id=1")  # and it still resumes
    assert again.returncode == 0 and project.info(1)["attempt"] == 3
