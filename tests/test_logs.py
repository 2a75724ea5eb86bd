"""``mlxlaunch logs``: every run's streams are captured by default, printed or followed."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO

from mlxlaunch.errors import UsageError
from mlxlaunch.manage.logs import follow_stream, run_folder
from mlxlaunch.runfolder.metadata import read_info, write_info


def mlxlaunch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_streams_are_captured_by_default_and_printed_by_logs(project):
    project.run("optimizer.lr=0.1,0.2", "+fail=false,true")
    assert (project.logs / "1" / "log.stdout").read_text() == "done 1 RUNNING\n"
    out = mlxlaunch("logs", str(project.logs), "1")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "done 1 RUNNING\n"
    err = mlxlaunch("logs", str(project.logs), "2", "--stderr")
    assert err.returncode == 0, err.stderr
    lines = err.stdout.splitlines()
    assert lines[0] == "mlxlaunch: run 2 FAILED (optimizer.lr=0.1 +fail=True):"
    assert lines[-1] == "ValueError: asked to fail at lr=0.1"


def test_parallel_workers_streams_are_captured_by_default(project):
    project.run("optimizer.lr=0.1,0.2", "+launcher.n_workers=2", check=True)
    for log_id in (1, 2):
        assert (
            mlxlaunch("logs", str(project.logs), str(log_id)).stdout == f"done {log_id} RUNNING\n"
        )


def test_opting_out_leaves_no_file_and_logs_says_why(project):
    project.run("+launcher.logger.log_streams_to_file=false", check=True)
    assert not (project.logs / "1" / "log.stdout").exists()
    out = mlxlaunch("logs", str(project.logs), "1")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "mlxlaunch: error: Run 1 has no log.stdout: its streams were not captured "
        "(log_streams_to_file: false when it ran). Set it to true to capture the next runs."
    ]
    # following a finished run without a file gives the same answer instead of waiting forever
    followed = mlxlaunch("logs", str(project.logs), "1", "--follow")
    assert followed.returncode == 2 and "were not captured" in followed.stderr


def test_an_unknown_run_is_one_line(project):
    project.run(check=True)
    out = mlxlaunch("logs", str(project.logs), "7")
    assert out.returncode == 2
    assert out.stderr == f"mlxlaunch: error: No run '7' in {project.logs} (it has runs 1 to 1).\n"
    with pytest.raises(UsageError, match="is not a folder"):
        run_folder(project.logs / "nope", "1")


def test_follow_prints_as_the_run_writes_and_returns_when_it_ends(project, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # Python's default: pipes buffered
    project.write(
        "slow.py",
        """\
        import time
        import mlxlaunch

        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            for i in range(3):
                print(f"step {i}")  # no flush: the job's stdout is line-buffered for logs -f
                time.sleep(1.0)

        if __name__ == "__main__":
            main()
        """,
    )
    launch = project.popen("+launcher.n_workers=1", script="slow.py")
    try:
        deadline = time.monotonic() + 30
        while not (project.logs / "1").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        follow = subprocess.Popen(
            [sys.executable, "-m", "mlxlaunch.cli", "logs", str(project.logs), "1", "-f"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert follow.stdout is not None
        first = follow.stdout.readline()
        # the first line arrives while the run is still going
        assert first == "step 0\n"
        assert read_info(project.logs / "1")["status"] == "RUNNING"
        rest = follow.stdout.read()  # (communicate() would skip what readline buffered)
        assert follow.wait(30) == 0
        assert rest == "step 1\nstep 2\n"
        assert read_info(project.logs / "1")["status"] == "COMPLETE"
    finally:
        launch.communicate(timeout=60)


def test_follow_waits_for_a_queued_run_and_stops_at_a_lost_one(tmp_path):
    run_dir = tmp_path / "logs" / "1"
    (run_dir / "metadata").mkdir(parents=True)
    write_info(run_dir, {"log_id": 1, "status": "QUEUED"})
    out = io.BytesIO()
    import threading

    def start_then_end() -> None:
        time.sleep(0.3)
        write_info(run_dir, {"log_id": 1, "status": "RUNNING"})
        (run_dir / "log.stdout").write_bytes(b"hello\n")
        time.sleep(0.3)
        write_info(run_dir, {"log_id": 1, "status": "FAILED"})

    threading.Thread(target=start_then_end).start()
    status = follow_stream(run_folder(tmp_path / "logs", "1"), False, out, poll=0.05, settle=0.2)
    assert status == "FAILED"
    assert out.getvalue() == b"hello\n"
