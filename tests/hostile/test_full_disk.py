"""Threat (bad luck): a full disk, a read-only folder, no permission, a quota.

Each gets one line naming the path and the cause (no traceback), a failed prepare
leaves no half-made run folder, and no temporary file is left behind. The full and
read-only disks are real: a small tmpfs mounted for the test (root only), unmounted
in the fixture's teardown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted and removed afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    mnt = Path(tempfile.mkdtemp(prefix="mlxlaunch-small-disk-"))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True
    )
    if proc.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)
        mnt.rmdir()


def _fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` until about ``leave`` bytes are free."""
    free = shutil.disk_usage(disk).free
    with open(disk / "ballast", "wb") as f:
        f.write(b"\0" * max(0, free - leave))


def _one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("mlxlaunch: error:")]
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_a_sweep_prepared_on_a_nearly_full_disk_leaves_no_half_made_run(
    project, small_disk: Path
) -> None:
    logs = small_disk / "logs"
    logs.mkdir()
    _fill(small_disk, 64 * 1024)  # room for a few runs' metadata, not for 30
    proc = project.run("seed=range(30)", f"+launcher.logger.parent_log_dir={logs}")
    _one_line_error(proc, "No space left on device", str(logs), "none was kept")
    assert [p.name for p in logs.iterdir() if not p.name.startswith(".")] == []
    assert not [p for p in logs.rglob("*.tmp")]


def test_a_read_only_logs_folder_gives_one_line(project, small_disk: Path) -> None:
    logs = small_disk / "logs"
    logs.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    proc = project.run(f"+launcher.logger.parent_log_dir={logs}")
    _one_line_error(proc, "Read-only file system", str(logs))


def test_a_logs_folder_path_through_a_file_gives_one_line(project) -> None:
    (project.root / "afile").write_text("")
    proc = project.run(f"+launcher.logger.parent_log_dir={project.root / 'afile' / 'logs'}")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "afile" in proc.stderr


def test_a_forced_id_naming_a_file_gives_one_line(project) -> None:
    project.logs.mkdir()
    (project.logs / "7").write_text("not a run")
    proc = project.run("+launcher.logger.forced_log_id=7")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert str(project.logs / "7") in proc.stderr
    assert (project.logs / "7").read_text() == "not a run"


def test_an_oserror_escaping_the_launch_is_one_line_naming_path_and_cause(
    project, monkeypatch
) -> None:
    """Anything the file system refuses (quota here, simulated) reaches the user as one line."""
    project.write(
        "sitecustomize.py",
        """
        import errno, os
        real = os.replace
        def replace(src, dst, *a, **k):
            if str(dst).endswith("launcher.yaml"):
                raise OSError(errno.EDQUOT, "Disk quota exceeded", str(dst))
            return real(src, dst, *a, **k)
        os.replace = replace
        """,
    )
    env = project.env()
    env["PYTHONPATH"] = f"{project.root}{os.pathsep}{env['PYTHONPATH']}"
    proc = subprocess.run(
        [__import__("sys").executable, "main.py", "seed=1,2"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    _one_line_error(proc, "Disk quota exceeded", "launcher.yaml", "quota")
    assert project.run_ids() == []
    assert not list(project.logs.rglob("*.tmp"))


FILL_THEN_LOG = """
import os, shutil
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    ctx.logger.log_metrics({"step": 0}, log_name="train")
    disk = os.environ["SMALL_DISK"]
    with open(os.path.join(disk, "ballast"), "wb") as f:  # the run fills the disk
        try:
            while True:
                f.write(b"\\0" * 4096)
                f.flush()
        except OSError:
            pass
    for step in range(1, 1000):  # a new log needs a new block: No space left on device
        ctx.logger.log_metrics({"step": step, "loss": 1.0 / step}, log_name="eval")

if __name__ == "__main__":
    main()
"""


def _launch_filling(
    project, small_disk: Path, *args: str
) -> tuple[Path, subprocess.CompletedProcess]:
    """Launch FILL_THEN_LOG with ``args``, its logs folder on ``small_disk``."""
    logs = small_disk / "logs"
    logs.mkdir()
    project.write("main.py", FILL_THEN_LOG)
    env = project.env()
    env["SMALL_DISK"] = str(small_disk)
    proc = subprocess.run(
        [__import__("sys").executable, "main.py", *args, f"+launcher.logger.parent_log_dir={logs}"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return logs, proc


def test_a_run_whose_disk_fills_ends_failed_with_the_cause_recorded(
    project, small_disk: Path
) -> None:
    logs, proc = _launch_filling(project, small_disk)
    assert proc.returncode == 1, proc.stderr
    from mlxlaunch.runfolder.metadata import read_info

    info = read_info(logs / "1")
    assert info["status"] == "FAILED", info
    assert "No space left on device" in info["error"], info
    attempt = (logs / "1" / "metadata" / "attempts" / "1.yaml").read_text()
    assert "FAILED" in attempt and "No space left on device" in attempt
    assert not [p for p in logs.rglob("*") if ".tmp" in p.name]
    assert "No space left on device" in proc.stderr


def test_a_sweep_on_a_disk_its_first_run_filled_stops_with_the_rest_queued(
    project, small_disk: Path
) -> None:
    """Later points cannot record an end, so they do not start: QUEUED, for mlxlaunch start."""
    logs, proc = _launch_filling(project, small_disk, "+seed=1,2,3")
    assert proc.returncode == 1, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("mlxlaunch: error:")]
    assert len(errors) == 1 and "cannot start run 2" in errors[0], proc.stderr
    assert "No space left on device" in errors[0] and str(logs / "2") in errors[0]
    # the stream copier gives up log.stderr with a note instead of a traceback of its own
    assert 'File "<string>"' not in proc.stderr, proc.stderr
    assert "stopped copying this stream to its log file" in proc.stderr
    from mlxlaunch.runfolder.metadata import read_info

    status = [read_info(logs / str(i))["status"] for i in (1, 2, 3)]
    assert status == ["FAILED", "QUEUED", "QUEUED"]
    assert not [p for p in logs.rglob("*") if ".tmp" in p.name]


def test_a_worker_that_cannot_start_on_a_full_disk_leaves_its_run_queued(
    project, small_disk: Path
) -> None:
    """The same sweep run by the parallel executor (one worker process per point, here
    one worker: ``gpus=[0]``): the worker that cannot start its run says why and the run
    stays QUEUED, not FAILED as if it had run; no later point is started."""
    logs, proc = _launch_filling(project, small_disk, "+seed=1,2,3", "+launcher.gpus=[0]")
    assert proc.returncode == 1, proc.stderr
    errors = [x for x in proc.stderr.splitlines() if x.startswith("mlxlaunch: error:")]
    assert len(errors) == 1 and "cannot start run 2" in errors[0], proc.stderr
    assert "No space left on device" in errors[0]
    from mlxlaunch.runfolder.metadata import read_info

    infos = [read_info(logs / str(i)) for i in (1, 2, 3)]
    assert [i["status"] for i in infos] == ["FAILED", "QUEUED", "QUEUED"], infos
    assert not infos[1].get("error") and not infos[1].get("attempt"), infos[1]
    assert "3 runs: 2 QUEUED, 1 FAILED (id 1)" in proc.stderr, proc.stderr


def test_a_chmod_555_logs_folder_gives_one_line_to_a_non_root_user(user_project) -> None:
    """Root writes through mode 555, so the launch runs as a second Unix user."""
    user_project.logs.mkdir(mode=0o555)
    os.chown(user_project.logs, user_project.user.uid, user_project.user.gid)
    proc = user_project.run("seed=1,2")
    _one_line_error(proc, "Permission denied", str(user_project.logs))
    assert list(user_project.logs.iterdir()) == []


def test_a_run_whose_folder_becomes_unwritable_gives_one_line(user_project) -> None:
    """Nothing can be recorded: the launch says so in one line, naming the run and its outcome."""
    user_project.write(
        "main.py",
        """
        import os
        import mlxlaunch

        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            os.chmod(os.path.join(str(ctx.info.log_dir), "metadata"), 0o555)

        if __name__ == "__main__":
            main()
        """,
    )
    proc = user_project.run()
    _one_line_error(
        proc, "cannot record that run 1 ended COMPLETE", "Permission denied", "metadata"
    )


def test_a_job_that_finds_the_disk_full_exits_75_with_its_run_queued(
    project, small_disk: Path
) -> None:
    """A scheduler job runs a prepared folder with its output appended to the run's
    ``log.stdout``/``log.stderr``, on the very disk that is full. Its run cannot take its
    reserve: the job must exit 75 (``NotStartedError.job_exit_code``), which is how
    ``mlxlaunch status`` learns the run never started; not 1 (the run lock's holder note
    not written) nor 120 (Python failing to flush the refused message at exit)."""
    import sys

    logs = small_disk / "logs"
    prepared = project.run("--prepare-only", f"+launcher.logger.parent_log_dir={logs}")
    assert prepared.returncode == 0, prepared.stderr
    run_dir = logs / "1"
    _fill(small_disk, 0)
    env = project.env()
    env["MLXLAUNCH_RUN_DIR"] = str(run_dir)
    env.pop("PYTHONUNBUFFERED", None)  # as a job gets it: stderr has a buffer
    with open(run_dir / "log.stdout", "ab") as out, open(run_dir / "log.stderr", "ab") as err:
        job = subprocess.run(
            [sys.executable, "main.py"], cwd=project.root, env=env, stdout=out, stderr=err,
            stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
    assert job.returncode == 75
    from mlxlaunch.runfolder.metadata import read_info

    info = read_info(run_dir)
    assert info["status"] == "QUEUED" and not info.get("attempt"), info


def test_status_on_a_full_disk_shows_what_the_scheduler_says_and_writes_it_later(
    small_disk: Path, tmp_path: Path
) -> None:
    """``mlxlaunch status`` writes back how jobs ended; on a full disk it cannot: a warning per
    run (no traceback), the table as reconciled, nothing changed; with room again, written.
    Run 1's job exited 75 (not started: it stays QUEUED), run 2's exited 1 (FAILED)."""
    import sys

    from test_scheduler import _fake

    from mlxlaunch.runfolder.metadata import read_info, write_info

    logs = small_disk / "logs"
    for i in (1, 2):
        (logs / str(i) / "metadata").mkdir(parents=True)
        job = {"name": "slurm", "job_id": f"70_{i - 1}", "array_job_id": "70"}
        write_info(logs / str(i), {"status": "QUEUED", "log_id": i, "scheduler": job})
    squeue = "70_0|FAILED|NonZeroExitCode|19200|\\n70_1|FAILED|NonZeroExitCode|256|\\n"
    _fake(tmp_path, "squeue", f"printf '{squeue}'")
    env = dict(os.environ, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    status = [sys.executable, "-m", "mlxlaunch.cli", "status", str(logs)]
    _fill(small_disk, 0)
    full = subprocess.run(status, capture_output=True, text=True, env=env, timeout=60)
    assert full.returncode == 0 and "Traceback" not in full.stderr, full.stderr
    warnings = full.stderr.splitlines()
    assert len(warnings) == 2 and all("No space left on device" in w for w in warnings)
    assert "2 run(s): 1 FAILED, 1 LOST" in full.stdout
    assert "job 70_1 ended FAILED" in full.stdout and "not started: no room" in full.stdout
    assert [read_info(logs / str(i)).get("error") for i in (1, 2)] == [None, None]

    (small_disk / "ballast").unlink()
    roomy = subprocess.run(status, capture_output=True, text=True, env=env, timeout=60)
    assert roomy.stderr == "" and roomy.stdout == full.stdout
    first, second = (read_info(logs / str(i)) for i in (1, 2))
    assert first["status"] == "QUEUED" and "not started" in first["error"]
    assert second["status"] == "FAILED" and "job 70_1 ended FAILED" in second["error"]
