"""log_streams_to_file: stdout/stderr of the run (and of its children) in log.stdout/log.stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

TEE_TASK = """\
import os, subprocess, sys
import mlxlaunch


@mlxlaunch.launch(config_path="configs")
def main(ctx):
    lr = ctx.config.optimizer.lr
    print(f"python-out {lr}")
    print(f"python-err {lr}", file=sys.stderr)
    os.system(f"echo shell-out {lr}; echo shell-err {lr} >&2")
    subprocess.run([sys.executable, "-c", f"print('child-out {lr}')"], check=True)
    os.write(1, f"fd-out {lr}\\n".encode())
    if ctx.config.get("fail"):
        raise ValueError(f"boom {lr}")


if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
def test_each_run_of_a_sweep_gets_its_own_streams(project):
    project.write("main.py", TEE_TASK)
    proc = project.run("optimizer.lr=0.1,0.2", "+launcher.logger.log_streams_to_file=true")
    assert proc.returncode == 0, proc.stderr
    for log_id, lr, other in ((1, "0.1", "0.2"), (2, "0.2", "0.1")):
        out = (project.logs / str(log_id) / "log.stdout").read_text()
        err = (project.logs / str(log_id) / "log.stderr").read_text()
        for kind in ("python-out", "shell-out", "child-out", "fd-out"):
            assert f"{kind} {lr}" in out, out
            assert f"{kind} {other}" not in out
        for kind in ("python-err", "shell-err"):
            assert f"{kind} {lr}" in err, err
            assert f"{kind} {other}" not in err
        assert "out" not in err and "err" not in out
        assert "mlxlaunch:" not in err  # the launcher's own summary is not the run's output
    # a tee, not a redirection: the terminal still shows everything
    for lr in ("0.1", "0.2"):
        assert f"child-out {lr}" in proc.stdout and f"shell-err {lr}" in proc.stderr


def test_streams_are_copied_by_default_and_not_when_opted_out(project):
    project.write("main.py", TEE_TASK)
    proc = project.run(check=True)
    assert "python-out" in proc.stdout
    assert "python-out" in (project.logs / "1" / "log.stdout").read_text()
    proc = project.run("+launcher.logger.log_streams_to_file=false", check=True)
    assert "python-out" in proc.stdout
    assert not (project.logs / "2" / "log.stdout").exists()
    assert not (project.logs / "2" / "log.stderr").exists()


def test_a_failing_run_has_its_traceback_in_log_stderr(project):
    project.write("main.py", TEE_TASK)
    proc = project.run("+fail=true", "+launcher.logger.log_streams_to_file=true")
    assert proc.returncode != 0
    err = (project.logs / "1" / "log.stderr").read_text()
    assert "ValueError: boom" in err and "Traceback" in err


def test_a_resumed_run_appends_to_its_streams(project):
    project.write("main.py", TEE_TASK)
    project.run("+launcher.logger.log_streams_to_file=true", check=True)
    project.run(
        "+launcher.logger.forced_log_id=1", "+launcher.logger.log_streams_to_file=true", check=True
    )
    out = (project.logs / "1" / "log.stdout").read_text()
    assert out.count("python-out 0.1") == 2


SCRIPT = """
import os, subprocess, sys
from pathlib import Path
from mlxlaunch.running.streams import StreamTee

print("before", flush=True)
with StreamTee(Path(sys.argv[1])):
    print("inside")
    os.write(2, b"inside-err\\n")
    subprocess.run(["sh", "-c", "echo child; echo child-err >&2"])
    if sys.argv[2] == "kill":
        sys.stdout.flush()
        os.write(2, b"last words\\n")
        os.kill(os.getpid(), 9)
print("after", flush=True)
os.write(2, b"after-err\\n")
"""


def run_script(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), mode],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_streams_are_restored_after_stop(tmp_path):
    proc = run_script(tmp_path, "normal")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "log.stdout").read_text() == "inside\nchild\n"
    assert (tmp_path / "log.stderr").read_text() == "inside-err\nchild-err\n"
    assert proc.stdout == "before\ninside\nchild\nafter\n"
    assert proc.stderr == "inside-err\nchild-err\nafter-err\n"


def test_output_written_just_before_a_sigkill_is_kept(tmp_path):
    """The copying helper outlives the run: what reached the pipe reaches the file."""
    proc = run_script(tmp_path, "kill")
    assert proc.returncode == -9
    deadline = time.time() + 30
    err = tmp_path / "log.stderr"
    while time.time() < deadline and "last words" not in err.read_text():
        time.sleep(0.05)  # the helper finishes copying on its own after the kill
    assert err.read_text() == "inside-err\nchild-err\nlast words\n"
    assert (tmp_path / "log.stdout").read_text() == "inside\nchild\n"


def test_a_stream_already_redirected_to_the_file_is_not_doubled(tmp_path):
    """A job script's ``> log.stdout`` plus log_streams_to_file writes each line once."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from mlxlaunch.running.streams import StreamTee
        with StreamTee(Path(sys.argv[1])):
            print("once", flush=True)
        """
    )
    with open(tmp_path / "log.stdout", "ab") as out:
        proc = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            stdout=out,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "log.stdout").read_text() == "once\n"


def test_the_wait_for_the_copier_returns_its_exit_or_none_while_it_runs() -> None:
    """``stop()`` waits for the copying helper with a pidfd (woken when it exits): it
    gives the exit code of a process that ended, and None while one still runs."""
    from mlxlaunch.running.streams import _wait_exit

    quick = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert _wait_exit(quick, 30) == 3
    assert _wait_exit(quick, 30) == 3  # already reaped: no pidfd, the recorded code
    slow = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _wait_exit(slow, 0.2) is None
        assert slow.poll() is None  # still running, not reaped by the wait
    finally:
        slow.kill()
        slow.wait()
