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
