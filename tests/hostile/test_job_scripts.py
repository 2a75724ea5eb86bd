"""Threat: a group member changes or replaces another member's job scripts before they run.

Job scripts live in ``logs/.jobs/<user>/``: a folder of their owner, mode 755, in a
sticky ``.jobs`` (members cannot rename each other's folders), checked before every
submission. The script itself checks, before it runs anything, that neither it nor
its folder could have been changed by another user, and refuses to run otherwise.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from mlxlaunch.errors import UnsafeFileError
from mlxlaunch.executors.scheduler import SCRIPT_CHECK, private_jobs_dir, user_name
from mlxlaunch.runfolder import atomic_write


def test_job_scripts_go_to_a_folder_only_their_owner_can_change(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    logs.chmod(0o2775)
    old = os.umask(0o002)  # a group-sharing umask while the folders are made
    try:
        mine = private_jobs_dir(logs)
    finally:
        os.umask(old)
    assert mine == logs / ".jobs" / user_name()
    assert stat.S_IMODE(mine.stat().st_mode) == 0o755
    shared = (logs / ".jobs").stat().st_mode
    assert shared & stat.S_ISVTX and shared & stat.S_IWGRP  # others make theirs, rename none


def test_another_member_can_neither_change_nor_replace_a_job_script(
    shared_logs: Path, other_user
) -> None:
    mine = private_jobs_dir(shared_logs)
    script = mine / "slurm-1.sh"
    atomic_write(script, "#!/bin/bash\necho mine\n", mode=0o755)
    attempts = [
        ["sh", "-c", f"echo evil > {script}"],
        ["rm", "-f", str(script)],
        ["mv", str(mine), str(shared_logs / ".jobs" / "moved")],
        ["sh", "-c", f"echo evil > {mine}/planted.sh"],
    ]
    for argv in attempts:
        assert other_user.run(*argv).returncode != 0, argv
    assert script.read_text() == "#!/bin/bash\necho mine\n"
    # ... while they still have a folder of their own next to it
    theirs = shared_logs / ".jobs" / other_user.name
    assert other_user.run("mkdir", str(theirs)).returncode == 0


def test_a_job_folder_another_member_made_for_you_is_refused(shared_logs: Path, other_user) -> None:
    jobs = shared_logs / ".jobs"
    private_jobs_dir(shared_logs)  # .jobs exists, sticky and group-writable
    (jobs / user_name()).rmdir()
    # the other member pre-creates "your" folder, to put scripts in it later
    assert other_user.run("mkdir", "-m", "755", str(jobs / user_name())).returncode == 0
    with pytest.raises(UnsafeFileError, match=f"belongs to {other_user.name}"):
        private_jobs_dir(shared_logs)


@pytest.mark.parametrize("plant", ["link", "group-writable"])
def test_an_unsafe_job_folder_is_refused_with_its_path(tmp_path: Path, plant: str) -> None:
    logs = tmp_path / "logs"
    mine = logs / ".jobs" / user_name()
    mine.parent.mkdir(parents=True)
    if plant == "link":
        (tmp_path / "elsewhere").mkdir()
        mine.symlink_to(tmp_path / "elsewhere")
    else:
        mine.mkdir()
        mine.chmod(0o775)
    with pytest.raises(UnsafeFileError) as caught:
        private_jobs_dir(logs)
    assert str(mine) in str(caught.value)


def test_a_jobs_folder_of_another_user_without_sticky_bit_is_refused(
    shared_logs: Path, other_user
) -> None:
    assert other_user.run("mkdir", "-m", "2775", str(shared_logs / ".jobs")).returncode == 0
    with pytest.raises(UnsafeFileError, match=r"chmod \+t"):
        private_jobs_dir(shared_logs)


def _job(script: Path) -> subprocess.CompletedProcess:
    atomic_write(script, "\n".join(["#!/bin/bash", *SCRIPT_CHECK, "echo ran"]) + "\n", mode=0o755)
    return subprocess.run(["bash", str(script)], capture_output=True, text=True)


def test_a_job_script_runs_from_its_owners_private_folder(tmp_path: Path) -> None:
    proc = _job(private_jobs_dir(tmp_path / "logs") / "x.sh")
    assert proc.returncode == 0 and proc.stdout == "ran\n", proc.stderr


@pytest.mark.parametrize("how", ["script g+w", "folder g+w", "script of another user"])
def test_a_job_refuses_a_script_another_user_could_have_altered(
    tmp_path: Path, how: str, other_user
) -> None:
    mine = private_jobs_dir(tmp_path / "logs")
    script = mine / "x.sh"
    atomic_write(script, "", mode=0o755)
    proc = _job(script)  # rewritten: the check is in it
    assert proc.returncode == 0
    if how == "script g+w":
        script.chmod(0o775)
    elif how == "folder g+w":
        mine.chmod(0o775)
    else:
        os.chown(script, other_user.uid, other_user.gid)
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True)
    assert proc.returncode == 1 and "ran" not in proc.stdout
    assert "refusing to run" in proc.stderr and "another user could have changed it" in proc.stderr
