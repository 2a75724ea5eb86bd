"""Fixtures of the hostile tests: a second Unix user, a group-shared logs folder."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DEFAULT_CONFIG, DEFAULT_TASK, REPO, Project


@dataclass
class OtherUser:
    """Another member of the group sharing the logs folder."""

    name: str
    uid: int
    gid: int

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` as this user (``runuser``), capturing its output."""
        return subprocess.run(
            ["runuser", "-u", self.name, "--", *argv],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )


def _retry(argv: list[str]) -> None:
    """``useradd``/``userdel``, retried while another process holds ``/etc/passwd``'s lock."""
    for attempt in range(50):
        proc = subprocess.run(argv, capture_output=True, text=True)
        if proc.returncode == 0:
            return
        time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


@pytest.fixture
def other_user() -> Iterator[OtherUser]:
    """A throwaway Unix user (root only), removed afterwards with its group."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a second user")
    name = f"mlxh{os.getpid()}"
    _retry(["useradd", "-M", "-U", "-s", "/bin/sh", name])
    try:
        entry = pwd.getpwnam(name)
        yield OtherUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        _retry(["userdel", name])


@pytest.fixture
def shared_logs(other_user: OtherUser) -> Iterator[Path]:
    """``<tmp>/logs``: a logs folder shared with ``other_user``'s group (``chmod 2775``).

    Made outside pytest's private ``tmp_path`` (mode 700) so the other user can reach it.
    """
    top = Path(tempfile.mkdtemp(prefix="mlxlaunch-hostile-"))
    try:
        top.chmod(0o755)
        logs = top / "logs"
        logs.mkdir()
        os.chown(logs, 0, other_user.gid)
        logs.chmod(0o2775)
        yield logs
    finally:
        shutil.rmtree(top, ignore_errors=True)


class UserProject(Project):
    """A ``Project`` owned and launched by ``other_user`` (not root: modes apply to it)."""

    def __init__(self, root: Path, user: OtherUser) -> None:
        super().__init__(root)
        self.user = user

    def write(self, rel: str, text: str) -> Path:
        path = super().write(rel, text)
        for p in (path, *path.parents):
            if p == self.root:
                break
            os.chown(p, self.user.uid, self.user.gid)
        return path

    def run(self, *args: str, script: str = "main.py", **kw) -> subprocess.CompletedProcess:
        env = [f"HOME={self.root}", f"PYTHONPATH={REPO}", f"PATH={os.environ['PATH']}"]
        return self.user.run("env", "-i", *env, sys.executable, script, *args, cwd=self.root)


@pytest.fixture
def user_project(other_user: OtherUser) -> Iterator[UserProject]:
    """A throwaway project of ``other_user``, outside pytest's private (mode 700) tmp_path."""
    top = Path(tempfile.mkdtemp(prefix="mlxlaunch-user-project-"))
    try:
        top.chmod(0o755)
        root = top / "project"
        root.mkdir()
        os.chown(root, other_user.uid, other_user.gid)
        project = UserProject(root, other_user)
        project.write("configs/config.yaml", DEFAULT_CONFIG)
        project.write("main.py", DEFAULT_TASK)
        yield project
    finally:
        shutil.rmtree(top, ignore_errors=True)
