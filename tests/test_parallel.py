"""What only the local parallel executor does: workers, GPU pinning, fail_fast, signals.

The shared behaviour (sweeps, failures, quoting, results) is in the conformance
suite (``test_executor_local.py``). Concurrency is checked without timing: a
point waits until ``barrier`` points have started, which can only happen if
they run at the same time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARALLEL_TASK = """\
import os, sys, time
import mlxlaunch

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("MLXLAUNCH_RUN_DIR"):  # a worker (or a standby, with "-"): record it
    with open(os.path.join(HERE, "workers.txt"), "a") as f:
        f.write(f"{os.getpid()} {os.environ['MLXLAUNCH_RUN_DIR']}\\n")
    if os.environ.get("CRASH_WORKER"):
        sys.exit(3)  # a worker that dies before running its folder
    if os.environ.get("SLOW_IMPORT"):
        time.sleep(60)  # heavy imports: the worker has not started its run yet

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    here = os.path.dirname(os.path.abspath(__file__))
    started = os.path.join(here, "started")
    running = os.path.join(here, "running")
    os.makedirs(started, exist_ok=True)
    os.makedirs(running, exist_ok=True)
    mine = str(ctx.info.log_id)
    open(os.path.join(started, mine), "w").close()
    open(os.path.join(running, mine), "w").close()
    seen = {
        "pid": os.getpid(),
        "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "running": len(os.listdir(running)),
    }
    ctx.logger.log_metrics(seen, log_name="seen")
    deadline = time.time() + 60
    while len(os.listdir(started)) < ctx.config.barrier:
        if time.time() > deadline:
            raise RuntimeError("the other workers never started")
        time.sleep(0.02)
    while ctx.config.get("wait_standby") and " -" not in open(os.path.join(HERE, "workers.txt")).read():
        if time.time() > deadline:
            raise RuntimeError("no standby worker started")
        time.sleep(0.02)
    if ctx.config.get("fail"):
        raise ValueError("asked to fail")
    if ctx.config.get("sleep"):
        print("sleeping", flush=True)
        time.sleep(ctx.config.sleep)
    os.remove(os.path.join(running, mine))

if __name__ == "__main__":
    main()
"""


@pytest.fixture
def pproject(project):
    project.write("configs/config.yaml", "seed: 0\nbarrier: 1\n")
    project.write("main.py", PARALLEL_TASK)
    return project


def seen(project, log_id: int) -> dict:
    path = project.logs / str(log_id) / "metrics" / "seen.json"
    return json.loads(path.read_text().splitlines()[0])


def workers(project) -> list[tuple[int, str]]:
    """``(pid, MLXLAUNCH_RUN_DIR)`` of every worker process the script was started in."""
    lines = (project.root / "workers.txt").read_text().splitlines()
    return [(int(pid), run_dir) for pid, run_dir in (line.split(" ", 1) for line in lines)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def statuses(project) -> dict[int, str]:
    return {i: project.info(i)["status"] for i in project.run_ids()}


def describe(proc) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def test_points_run_concurrently_in_separate_workers(pproject):
    proc = pproject.run("+launcher.n_workers=2", "barrier=2", "+p=1,2,3,4")
    assert proc.returncode == 0, describe(proc)
    records = [seen(pproject, i) for i in pproject.run_ids()]
    assert len({r["pid"] for r in records}) == 4  # one fresh interpreter per point
    assert os.getpid() not in {r["pid"] for r in records}
    running = [r["running"] for r in records]
    assert max(running) == 2 and all(n <= 2 for n in running), running  # never above n_workers
    # every worker process ran exactly one point: points 1 and 2 start directly; the
    # others in a standby ("-") when one was ready in time, else directly; none wasted
    started = workers(pproject)
    assert len(started) == 4 and {pid for pid, _ in started} == {r["pid"] for r in records}
    direct = sorted(d for _, d in started if d != "-")
    assert direct[:2] == [str(pproject.logs / "1"), str(pproject.logs / "2")]


def test_the_next_worker_starts_while_the_point_before_it_runs(pproject):
    # point 1 waits until the standby worker for point 2 exists: it must start meanwhile
    proc = pproject.run("+launcher.gpus=[0]", "+wait_standby=true,false")
    assert proc.returncode == 0, describe(proc)
    (standby_pid,) = [pid for pid, d in workers(pproject) if d == "-"]
    assert pproject.info(2)["pid"] == standby_pid  # the standby ran point 2
    assert pproject.info(2)["status"] == "COMPLETE"


def test_gpus_are_pinned_one_per_worker(pproject):
    # gpus alone means one worker per GPU; the ids are fake, only the env var matters
    proc = pproject.run("+launcher.gpus=[3,7]", "barrier=2", "+p=1,2,3,4")
    assert proc.returncode == 0, describe(proc)
    records = [seen(pproject, i) for i in pproject.run_ids()]
    assert {r["gpu"] for r in records} == {"3", "7"}
    first_two = sorted(r["gpu"] for r in records[:2])  # they ran together: one GPU each
    assert first_two == ["3", "7"]


def test_more_workers_than_gpus_share_them_round_robin(pproject):
    proc = pproject.run("+launcher.n_workers=3", "+launcher.gpus=[5]", "barrier=3", "+p=1,2,3")
    assert proc.returncode == 0, describe(proc)
    assert {seen(pproject, i)["gpu"] for i in pproject.run_ids()} == {"5"}


def test_without_gpus_the_environment_is_untouched(pproject):
    env_gpu = os.environ.get("CUDA_VISIBLE_DEVICES")
    proc = pproject.run("+launcher.n_workers=2", "+p=1,2")
    assert proc.returncode == 0, describe(proc)
    assert {seen(pproject, i)["gpu"] for i in pproject.run_ids()} == {env_gpu}


def test_fail_fast_stops_launching_after_the_first_failure(pproject):
    proc = pproject.run(
        "+launcher.gpus=[0]", "+launcher.fail_fast=true", "+fail=false,true,false,false"
    )
    assert proc.returncode == 1, describe(proc)
    assert statuses(pproject) == {1: "COMPLETE", 2: "FAILED", 3: "QUEUED", 4: "QUEUED"}
    assert "1 FAILED (id 2)" in proc.stderr
    assert not (pproject.logs / "3" / "metrics").exists()  # never started
    # the standby started for point 3 (if it got as far as recording itself) was stopped
    assert [d for _, d in workers(pproject)].count("-") <= 2
    assert not any(alive(pid) for pid, _ in workers(pproject))


def test_without_fail_fast_every_point_runs(pproject):
    proc = pproject.run("+launcher.n_workers=2", "+fail=true,false,true,false")
    assert proc.returncode == 1, describe(proc)
    assert sorted(statuses(pproject).values()) == ["COMPLETE", "COMPLETE", "FAILED", "FAILED"]
    assert "2 FAILED (ids 1, 3)" in proc.stderr


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running_ids(project) -> list[int]:
    ids = []
    for i in project.run_ids():
        try:
            if (
                project.info(i)["status"] == "RUNNING"
                and (project.logs / str(i) / "metrics").exists()
            ):
                ids.append(i)
        except Exception:  # info.yaml being replaced right now
            pass
    return ids


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_interrupts_workers_and_keeps_unstarted_points_queued(pproject, signum, code):
    launcher = pproject.popen("+launcher.n_workers=2", "+sleep=60", "+p=1,2,3,4,5")
    try:
        wait_for(lambda: len(running_ids(pproject)) == 2, "two running points")
        launcher.send_signal(signum)
        out, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == code, err
    got = statuses(pproject)
    assert sorted(got.values()) == ["INTERRUPTED"] * 2 + ["QUEUED"] * 3, got
    for i, status in got.items():
        info = pproject.info(i)
        if status == "INTERRUPTED":
            assert info["exit_code"] == code
            assert info["error"] == f"interrupted by {signal.Signals(signum).name}"
        else:
            assert info["attempt"] == 0 and info["start_time"] is None
    assert "2 INTERRUPTED" in err and "3 QUEUED" in err


def test_a_signal_while_workers_are_still_starting_leaves_their_points_queued(pproject):
    env = dict(pproject.env(), SLOW_IMPORT="1")
    launcher = subprocess.Popen(
        [sys.executable, "main.py", "+launcher.n_workers=2", "+p=1,2,3"],
        cwd=pproject.root,
        env=env,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        workers_file = pproject.root / "workers.txt"
        wait_for(
            lambda: workers_file.exists() and len(workers_file.read_text().splitlines()) >= 2,
            "two workers importing",
        )
        launcher.send_signal(signal.SIGTERM)
        _, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 143, err
    assert statuses(pproject) == {1: "QUEUED", 2: "QUEUED", 3: "QUEUED"}, err
    assert all(pproject.info(i)["attempt"] == 0 for i in (1, 2, 3))
    assert "3 QUEUED" in err
    assert not any(alive(pid) for pid, _ in workers(pproject))


def test_a_killed_worker_is_recorded_as_failed_and_the_others_go_on(pproject):
    launcher = pproject.popen("+launcher.n_workers=2", "+sleep=60,0,0")
    try:
        wait_for(lambda: 1 in running_ids(pproject), "point 1 running")
        os.kill(pproject.info(1)["pid"], signal.SIGKILL)
        out, err = launcher.communicate(timeout=60)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 1, err
    info = pproject.info(1)
    assert info["status"] == "FAILED"
    assert info["error"] == "worker killed by SIGKILL" and info["exit_code"] == 137
    assert statuses(pproject) == {1: "FAILED", 2: "COMPLETE", 3: "COMPLETE"}


def test_a_worker_that_cannot_start_fails_its_point_with_a_reason(pproject):
    env = dict(pproject.env(), CRASH_WORKER="1")
    proc = subprocess.run(
        [sys.executable, "main.py", "+launcher.n_workers=2", "+p=1,2"],
        cwd=pproject.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, describe(proc)
    for i in (1, 2):
        info = pproject.info(i)
        assert info["status"] == "FAILED"
        assert info["error"] == "worker exited with code 3 before recording an outcome"
        assert info["exit_code"] == 3


@pytest.mark.parametrize("value", ["0", "-2"])
def test_bad_worker_count_is_a_usage_error_before_any_run_folder(pproject, value):
    proc = pproject.run(f"+launcher.n_workers={value}")
    assert proc.returncode == 2, describe(proc)
    assert "n_workers" in proc.stderr and "at least 1" in proc.stderr
    assert pproject.run_ids() == []


def test_executor_runs_in_the_spec_workdir_with_n_workers_1(tmp_path: Path, pproject):
    """The version manager's use: one worker, workdir and script from the LaunchSpec."""
    from mlxlaunch.executors import LaunchSpec
    from mlxlaunch.executors.base import PreparedRun
    from mlxlaunch.executors.parallel import ParallelExecutor
    from mlxlaunch.launching.settings import Settings, settings_to_dict
    from mlxlaunch.runfolder.ids import allocate_run_dirs
    from mlxlaunch.runfolder.metadata import write_config, write_info, write_settings

    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "main.py").write_text(
        (pproject.root / "main.py")
        .read_text()
        .replace("here = os.path.dirname(os.path.abspath(__file__))", "here = os.getcwd()")
    )
    settings = Settings()
    ((log_id, log_dir),) = allocate_run_dirs(tmp_path / "logs", 1)
    write_config(log_dir, {"seed": 0, "barrier": 1})
    write_settings(log_dir, settings_to_dict(settings))
    write_info(
        log_dir, {"status": "QUEUED", "log_id": log_id, "log_dir": str(log_dir), "attempt": 0}
    )
    spec = LaunchSpec(
        task=lambda ctx: None,
        settings=settings,
        seeding_function=None,
        script=snapshot / "main.py",
        parent_log_dir=tmp_path / "logs",
        workdir=snapshot,
    )
    old_pythonpath = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = pproject.env()["PYTHONPATH"]
    try:
        (result,) = ParallelExecutor(n_workers=1).launch(
            [PreparedRun(log_id, log_dir, {}, [])], spec
        )
    finally:
        if old_pythonpath is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old_pythonpath
    assert (result.status, result.exit_code) == ("COMPLETE", 0)
    assert (snapshot / "started" / str(log_id)).exists()  # ran with cwd = spec.workdir


def test_a_worker_killed_by_a_signal_without_a_name_is_recorded_as_failed(tmp_path: Path):
    from types import SimpleNamespace

    from mlxlaunch import runfolder
    from mlxlaunch.executors.base import PreparedRun
    from mlxlaunch.executors.parallel import _outcome, _Worker

    run_dir = tmp_path / "1"
    (run_dir / "metadata").mkdir(parents=True)
    runfolder.write_info(run_dir, {"status": "RUNNING", "log_id": 1})
    run = PreparedRun(1, run_dir, {}, [])
    worker = _Worker(0, 0, run, SimpleNamespace(returncode=-(signal.SIGRTMIN + 6)))
    result = _outcome(worker)
    info = runfolder.read_info(run_dir)
    assert (result.status, info["status"]) == ("FAILED", "FAILED")
    assert info["error"] == f"worker killed by signal {signal.SIGRTMIN + 6}"
    assert info["exit_code"] == 128 + signal.SIGRTMIN + 6
