"""Status lifecycle against real processes: signals, SIGKILL, resume, and the run lock."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mlxlaunch import runfolder


def _start_sleeping(project, *args):
    proc = project.popen("+sleep=60", *args)
    line = proc.stdout.readline()
    assert "sleeping" in line, proc.stderr.read()
    return proc


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_marks_interrupted_and_exits_with_shell_code(project, signum, code):
    proc = _start_sleeping(project)
    assert project.info(1)["status"] == "RUNNING"
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == code
    info = project.info(1)
    assert info["status"] == "INTERRUPTED"
    assert info["exit_code"] == code
    assert info["error"] == f"interrupted by {signal.Signals(signum).name}"
    assert info["end_time"] is not None
    assert (project.logs / "1" / "metadata" / "attempts" / "1.yaml").exists()


def test_interrupted_sweep_leaves_later_points_queued(project):
    proc = project.popen("+sleep=60", "seed=1,2,3")
    assert "sleeping" in proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert [project.info(i)["status"] for i in (1, 2, 3)] == ["INTERRUPTED", "QUEUED", "QUEUED"]
    assert "2 QUEUED (ids 2, 3)" in proc.stderr.read()


def test_sigkill_reads_as_lost(project):
    proc = _start_sleeping(project)
    proc.kill()
    proc.wait(timeout=30)
    run = project.logs / "1"
    info = runfolder.read_info(run)
    assert info["status"] == "RUNNING"  # nobody could record the end...
    assert runfolder.effective_status(run, info) == "LOST"  # ...but a reader can tell


def test_stale_heartbeat_reads_as_lost_on_another_host(tmp_path):
    run = tmp_path / "1"
    (run / "metadata").mkdir(parents=True)
    info = {
        "status": "RUNNING",
        "hostname": "some-compute-node",
        "pid": 1,
        "heartbeat_interval": 1.0,
    }
    runfolder.touch_heartbeat(run)
    assert runfolder.effective_status(run, info) == "RUNNING"
    old = time.time() - 60
    os.utime(run / "heartbeat", (old, old))
    assert runfolder.effective_status(run, info) == "LOST"
    assert runfolder.effective_status(run, dict(info, status="COMPLETE")) == "COMPLETE"


def test_heartbeat_is_touched_while_running(project):
    proc = _start_sleeping(project, "+launcher.heartbeat_interval=0.2")
    beat = project.logs / "1" / "heartbeat"
    first = beat.stat().st_mtime
    deadline = time.time() + 20
    while beat.stat().st_mtime == first and time.time() < deadline:
        time.sleep(0.1)
    assert beat.stat().st_mtime > first
    proc.terminate()
    proc.wait(timeout=30)


def test_resume_forced_id_twice_keeps_history_and_appends_metrics(project):
    project.run(check=True)
    project.run("+launcher.logger.forced_log_id=1", check=True)
    project.run("+launcher.logger.forced_log_id=1", "num_epoch=3", check=True)
    assert project.run_ids() == [1]
    info = project.info(1)
    assert info["status"] == "COMPLETE" and info["attempt"] == 3
    attempts = sorted(p.name for p in (project.logs / "1" / "metadata" / "attempts").iterdir())
    assert attempts == ["1.yaml", "2.yaml", "3.yaml"]
    first = runfolder.load_yaml(project.logs / "1" / "metadata" / "attempts" / "1.yaml")
    assert first["attempt"] == 1 and first["status"] == "COMPLETE"
    lines = (project.logs / "1" / "metrics" / "train.json").read_text().splitlines()
    assert len(lines) == 2 + 2 + 3
    assert runfolder.read_config(project.logs / "1")["num_epoch"] == 3


def test_resume_keeps_the_frozen_config(project):
    project.run("optimizer.lr=0.5", check=True)
    project.run("+launcher.logger.forced_log_id=1", check=True)
    assert runfolder.read_config(project.logs / "1")["optimizer"]["lr"] == 0.5


def test_resume_after_sigkill_records_lost_attempt(project):
    proc = _start_sleeping(project)
    proc.kill()
    proc.wait(timeout=30)
    project.run("+launcher.logger.forced_log_id=1", "sleep=0", check=True)
    first = runfolder.load_yaml(project.logs / "1" / "metadata" / "attempts" / "1.yaml")
    assert first["status"] == "LOST"
    assert project.info(1)["attempt"] == 2 and project.info(1)["status"] == "COMPLETE"


def test_forced_id_that_does_not_exist_is_created(project):
    project.run("+launcher.logger.forced_log_id=7", check=True)
    assert project.run_ids() == [7]
    assert project.info(7)["status"] == "COMPLETE"
    project.run(check=True)
    assert project.run_ids() == [7, 8]


def test_concurrent_duplicate_forced_id_is_refused(project):
    first = _start_sleeping(project, "+launcher.logger.forced_log_id=5")
    try:
        second = project.run("+launcher.logger.forced_log_id=5", "sleep=0")
        assert second.returncode == 2
        assert "in use by pid" in second.stderr
        assert project.info(5)["status"] == "RUNNING" and project.info(5)["attempt"] == 1
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert project.info(5)["status"] == "INTERRUPTED"


def test_forced_id_with_a_sweep_is_refused(project):
    proc = project.run("+launcher.logger.forced_log_id=1", "seed=1,2")
    assert proc.returncode == 2 and "sweep of 2 points" in proc.stderr
    assert not project.logs.exists() or project.run_ids() == []


def test_signal_handlers_restored_after_run():
    from mlxlaunch.running.runner import SignalGuard

    before = signal.getsignal(signal.SIGTERM)
    with SignalGuard():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_resume_with_plus_on_existing_key_overrides_it(project):
    # `+` on a key the run's config has changes it, as on a new launch (MLXP's spelling)
    project.run(check=True)
    project.run("+launcher.logger.forced_log_id=1", "+num_epoch=3", check=True)
    assert runfolder.read_config(project.logs / "1")["num_epoch"] == 3
    assert len((project.logs / "1" / "metrics" / "train.json").read_text().splitlines()) == 5


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("info.yaml", "status: [COMPLETE\n", "info.yaml is damaged: not valid YAML"),
        ("config.yaml", "seed: {1\n", "config.yaml is damaged: not valid YAML"),
        ("config.yaml", "", "config.yaml is damaged: it holds nothing"),
    ],
)
def test_resume_of_a_damaged_run_is_a_clear_error(project, name, text, expected):
    project.run(check=True)
    (project.logs / "1" / "metadata" / name).write_text(text)
    proc = project.run("+launcher.logger.forced_log_id=1")
    assert proc.returncode == 1, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert (project.logs / "1" / "metadata" / name).read_text() == text  # left as it was


@pytest.mark.parametrize(
    "status, hostname",
    [("RUNNING", "another-node"), ("QUEUED", None)],  # a requeue elsewhere; a resubmission
)
def test_unrecorded_previous_attempt_is_recorded_lost(project, status, hostname):
    project.run(check=True)
    run = project.logs / "1"
    (run / "metadata" / "attempts" / "1.yaml").unlink()  # attempt 1 never recorded its end
    info = project.info(1)
    info.update(status=status, hostname=hostname or info["hostname"], exit_code=None)
    runfolder.write_info(run, info)
    runfolder.touch_heartbeat(run)  # fresh: killed seconds ago
    project.run("+launcher.logger.forced_log_id=1", check=True)
    first = runfolder.load_yaml(run / "metadata" / "attempts" / "1.yaml")
    assert first["status"] == "LOST" and first["attempt"] == 1
    assert project.info(1)["attempt"] == 2 and project.info(1)["status"] == "COMPLETE"


HOOK_TASK = """\
import time
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    @ctx.on_preempt
    def save():
        print("saving", flush=True)
        time.sleep(3)
        print("saved", flush=True)

    print("sleeping", flush=True)
    time.sleep(60)

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize(
    "signum, code, saved",
    [(signal.SIGTERM, 143, True), (signal.SIGINT, 130, False)],
)
def test_second_signal_during_preempt_hook_still_records_interrupted(project, signum, code, saved):
    project.write("hook.py", HOOK_TASK)
    proc = project.popen(script="hook.py")
    assert proc.stdout.readline() == "sleeping\n", proc.stderr.read()
    proc.send_signal(signum)
    assert proc.stdout.readline() == "saving\n"
    proc.send_signal(signum)  # a time limit's SIGTERM after the warning, or Ctrl-C twice
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert ("saved" in out) == saved  # SIGTERM waits for the hook; a second Ctrl-C cuts it
    info = project.info(1)
    assert info["status"] == "INTERRUPTED" and info["exit_code"] == code


def test_resume_after_info_was_emptied_keeps_attempt_history(project):
    project.run(check=True)
    project.run("+launcher.logger.forced_log_id=1", check=True)
    (project.logs / "1" / "metadata" / "info.yaml").write_text("")  # damaged by hand
    project.run("+launcher.logger.forced_log_id=1", check=True)
    attempts = project.logs / "1" / "metadata" / "attempts"
    assert sorted(p.name for p in attempts.iterdir()) == ["1.yaml", "2.yaml", "3.yaml"]
    assert runfolder.load_yaml(attempts / "1.yaml")["attempt"] == 1
    assert project.info(1)["attempt"] == 3


def test_traceback_keeps_user_frames_of_a_folder_named_like_the_package(tmp_path):
    import mlxlaunch
    from mlxlaunch.launching.settings import Settings
    from mlxlaunch.running.runner import run_prepared

    package = os.path.dirname(os.path.abspath(mlxlaunch.__file__))
    user_file = package + "-experiments/main.py"  # a sibling folder: ~/mlxlaunch-experiments
    namespace: dict = {}
    exec(compile("def task(ctx):\n    raise ValueError('boom')\n", user_file, "exec"), namespace)
    run = tmp_path / "1"
    (run / "metadata").mkdir(parents=True)
    runfolder.write_config(run, {})
    runfolder.write_info(run, {"status": "QUEUED", "log_id": 1, "attempt": 0})
    result = run_prepared(run, namespace["task"], Settings())
    assert result.status == "FAILED"
    text = (run / "metadata" / "traceback.txt").read_text()
    assert f'File "{user_file}", line 2, in task' in text


def test_resume_records_its_own_command_and_keeps_the_sweep(project):
    project.run("seed=1,2", check=True)
    sweep = project.info(1)["sweep_id"]
    proc = project.run("+launcher.logger.forced_log_id=1", "num_epoch=3", check=True)
    info = project.info(1)
    assert info["sweep_id"] == sweep and f"(sweep {sweep})" in proc.stderr
    assert info["argv"][1:] == ["+launcher.logger.forced_log_id=1", "num_epoch=3"]
    first = runfolder.load_yaml(project.logs / "1" / "metadata" / "attempts" / "1.yaml")
    assert first["argv"][1:] == ["seed=1,2"]  # the first attempt keeps the command it ran with
