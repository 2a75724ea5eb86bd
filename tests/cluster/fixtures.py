"""Session fixtures that bring up a real Slurm or OAR cluster on this machine.

Written from the local-cluster README (copied here with its two scripts so the
project does not depend on anything outside it). The tests submit as a
non-root user (OAR refuses root, and a non-root job shows permission problems),
from a 0755 folder under /tmp (pytest's own tmp dirs are 0700).

Under pytest-xdist every worker has its own session: the first one starts the
cluster under an exclusive file lock, the others find it answering and reuse it.
Each user holds a shared lock on a "users" file for its whole session; at the
end, the worker that started the cluster stops it only if it can take that lock
exclusively, i.e. when no other worker still uses the cluster. A cluster that was
already running before the tests (started by hand or by CI) is never stopped.

Without root, or without the Debian packages and ``LOCAL_CLUSTER_INSTALL=1``,
the tests skip with a message saying what is missing.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent.parent
TEST_USER = "clustertest"
#: Folder of the lock files shared by the sessions of all pytest-xdist workers.
LOCK_DIR = Path("/tmp")

KINDS = {
    "slurm": {
        "script": "start-slurm.sh",
        "probe": "slurmctld",
        "ping": ["scontrol", "ping"],
        "answer": "UP",
        "env": {"SLURM_LOCAL_DIR": "/tmp/local-slurm", "SLURM_LOCAL_TEST_USER": TEST_USER},
    },
    "oar": {
        "script": "start-oar.sh",
        "probe": "oarsub",
        "ping": ["oarnodes", "-s"],
        "answer": "Alive",
        "env": {"OAR_LOCAL_DIR": "/tmp/local-oar", "OAR_LOCAL_TEST_USER": TEST_USER},
    },
}


def run_as(user: str, *cmd: str, cwd: Any = None, env: Any = None, timeout: float = 120):
    """Run ``cmd`` as ``user`` with ``env``; ``PWD`` follows ``cwd`` (oarsub reads it)."""
    env = dict(env if env is not None else os.environ)
    if cwd is not None:
        env["PWD"] = str(cwd)
    return subprocess.run(
        ["runuser", "-u", user, "--", *cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _answers(kind: str) -> bool:
    spec = KINDS[kind]
    try:
        out = subprocess.run(spec["ping"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and spec["answer"] in out.stdout


def _ensure_user() -> None:
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", TEST_USER], check=True)


def _let_user_run_python() -> None:
    """Make the interpreter and the repository reachable by the test user.

    The venv's python may live under /root (0700, e.g. pyenv): give the folders
    on the way ``o+x`` (enter, not list), the least that lets the user run it.
    """
    check = [sys.executable, "-c", "import mlxlaunch, yaml, omegaconf"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if run_as(TEST_USER, *check, cwd="/tmp", env=env).returncode == 0:
        return
    for target in (Path(os.path.realpath(sys.executable)), Path(sys.executable), REPO):
        for folder in target.parents:
            mode = folder.stat().st_mode
            if not mode & 0o001:
                folder.chmod(mode | 0o001)
    proc = run_as(TEST_USER, *check, cwd="/tmp", env=env)
    if proc.returncode != 0:
        pytest.skip(f"user {TEST_USER} cannot run {sys.executable}: {proc.stderr.strip()}")


def start_cluster(kind: str) -> Iterator[dict[str, Any]]:
    """Start (or reuse) the cluster; yield what tests need; stop it if this session started it."""
    spec = KINDS[kind]
    if os.geteuid() != 0:
        pytest.skip(f"the local {kind} cluster needs root (it starts system daemons)")
    if not shutil.which(spec["probe"]) and os.environ.get("LOCAL_CLUSTER_INSTALL") != "1":
        pytest.skip(
            f"{kind} packages are not installed (set LOCAL_CLUSTER_INSTALL=1 to apt-get them)"
        )
    env = dict(os.environ, **spec["env"])
    users = open(LOCK_DIR / f"mlxlaunch-{kind}-cluster.users", "a")  # noqa: SIM115 - all session
    started = False
    with open(LOCK_DIR / f"mlxlaunch-{kind}-cluster.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Slurm and OAR start in different workers: one start script at a time, since
        # both apt-get install (dpkg's lock fails at once), add policy-rc.d and useradd.
        with open(LOCK_DIR / "mlxlaunch-cluster-setup.lock", "a") as setup:
            fcntl.flock(setup, fcntl.LOCK_EX)
            if not _answers(kind):
                proc = subprocess.run(
                    ["bash", str(SCRIPTS / spec["script"]), "start"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=900,
                )
                if proc.returncode != 0:
                    pytest.fail(f"{spec['script']} start failed:\n{proc.stdout}\n{proc.stderr}")
                started = True
            _ensure_user()
        fcntl.flock(users, fcntl.LOCK_SH)
        _let_user_run_python()
    work = Path(tempfile.mkdtemp(prefix=f"mlxlaunch-{kind}-", dir="/tmp"))
    work.chmod(0o755)
    pw = pwd.getpwnam(TEST_USER)
    os.chown(work, pw.pw_uid, pw.pw_gid)
    try:
        yield {"kind": kind, "user": TEST_USER, "workdir": work, "uid": pw.pw_uid}
    finally:
        shutil.rmtree(work, ignore_errors=True)
        fcntl.flock(users, fcntl.LOCK_UN)
        if started:
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another worker still uses the cluster: leave it running
            else:
                subprocess.run(
                    ["bash", str(SCRIPTS / spec["script"]), "stop"],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
        users.close()


def wait_for(predicate, timeout: float, what, interval: float = 0.5) -> None:
    """Poll ``predicate()`` until true; fail with ``what`` (text or callable) after ``timeout`` s."""
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            text = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(interval)
