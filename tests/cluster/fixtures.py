"""Session fixtures that bring up a real Slurm or OAR cluster on this machine.

Written from the local-cluster README (copied here with its two scripts so the
project does not depend on anything outside it). The tests submit as a
non-root user (OAR refuses root, and a non-root job shows permission problems),
from a 0755 folder under :data:`ROOT` (pytest's own tmp dirs are 0700).

Nothing happens unless ``MLXLAUNCH_CLUSTER_TESTS=1``: the tests skip with a message
saying how to enable them. They also need root, and the Debian packages, which
the start scripts apt-get install only with ``LOCAL_CLUSTER_INSTALL=1``.

Everything the clusters write lives under :data:`ROOT`. Slurm is private: its
slurm.conf is ``ROOT/slurm/etc/slurm.conf``, exported as ``SLURM_CONF`` in
``os.environ`` for the session (so every Slurm command a test or mlxlaunch runs
talks to this cluster), with a private munged and two free TCP ports. OAR cannot
be relocated (see start-oar.sh): its script backs up and restores
``/etc/oar/oar.conf`` and drops the database it created.

Under pytest-xdist every worker has its own session: the first one starts the
cluster under an exclusive file lock, the others find it answering and reuse it.
Each user holds a shared lock on a "users" file for its whole session; at the
end, the worker that started the cluster stops it only if it can take that lock
exclusively, i.e. when no other worker still uses it. Only the processes whose
PIDs the start recorded are stopped; a Slurm or OAR started by anyone else is
never touched. The last session of all undoes the folder permission changes of
:func:`_let_user_run_python` and removes the test user if the tests created it.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
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
#: Everything the cluster tests write: state, logs, configs, work folders, locks.
ROOT = Path("/tmp/mlxlaunch-cluster-tests")
#: Folder of the lock files shared by the sessions of all pytest-xdist workers.
LOCK_DIR = ROOT
ENABLE = "MLXLAUNCH_CLUSTER_TESTS"

KINDS: dict[str, dict[str, Any]] = {
    "slurm": {
        "script": "start-slurm.sh",
        "probe": "slurmctld",
        "ping": ["scontrol", "ping"],
        "answer": "UP",
        # files under the kind's folder holding the PID of a daemon it started, and its name
        "pids": {
            "slurmctld.pid": "slurmctld",
            "slurmd.pid": "slurmd",
            "munged.started-by-us": "munged",
        },  # fmt: skip
    },
    "oar": {
        "script": "start-oar.sh",
        "probe": "oarsub",
        "ping": ["oarnodes", "-s"],
        "answer": "Alive",
        "pids": {"almighty.started-by-us": "Almighty", "oar-node-sshd.pid": "sshd"},
    },
}


def state_dir(kind: str) -> Path:
    """The folder of ``kind``'s daemons: pid files, logs, slurm.conf, munge socket."""
    return LOCK_DIR / kind


def slurm_conf() -> Path:
    return state_dir("slurm") / "etc" / "slurm.conf"


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


def _free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports nothing listens on now (the kernel's pick)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _script_env(kind: str) -> dict[str, str]:
    install = "1" if os.environ.get("LOCAL_CLUSTER_INSTALL") == "1" else "0"
    if kind == "slurm":
        ctld, slurmd = _free_ports(2)
        extra = {
            "SLURM_LOCAL_DIR": str(state_dir(kind)),
            "SLURM_CONF": str(slurm_conf()),
            "SLURM_LOCAL_INSTALL": install,
            "SLURM_LOCAL_CTLD_PORT": str(ctld),
            "SLURM_LOCAL_SLURMD_PORT": str(slurmd),
        }
    else:
        extra = {"OAR_LOCAL_DIR": str(state_dir(kind)), "OAR_LOCAL_INSTALL": install}
    return dict(os.environ, **extra)


def _recorded_pids(kind: str) -> dict[int, str]:
    """The PIDs (and program names) of the daemons the start script says it started."""
    pids = {}
    for name, comm in KINDS[kind]["pids"].items():
        try:
            pids[int((state_dir(kind) / name).read_text().split()[0])] = comm
        except (OSError, ValueError, IndexError):
            pass
    return pids


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _started_record(kind: str) -> Path:
    """The daemons the tests started (PID: program), kept until they are stopped."""
    return LOCK_DIR / f"{kind}.started.json"


def _read_started(kind: str) -> dict[int, str] | None:
    try:
        return {int(k): v for k, v in json.loads(_started_record(kind).read_text()).items()}
    except (OSError, ValueError):
        return None


def _stop(kind: str, env: dict[str, str], started: dict[int, str]) -> None:
    """Stop what the tests started: the script's stop (which signals only the PIDs it
    recorded), then SIGKILL to a recorded daemon that is somehow still there (only if
    /proc still names the same program), then forget the record."""
    subprocess.run(
        ["bash", str(SCRIPTS / KINDS[kind]["script"]), "stop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    for pid, comm in started.items():
        if _comm(pid) == comm:
            os.kill(pid, signal.SIGKILL)
    _started_record(kind).unlink(missing_ok=True)


def _ensure_user() -> None:
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", TEST_USER], check=True)
        (LOCK_DIR / "user.created-by-us").touch()


def _let_user_run_python() -> None:
    """Make the interpreter and the repository reachable by the test user.

    The venv's python may live under /root (0700, e.g. pyenv): give the folders
    on the way ``o+x`` (enter, not list), the least that lets the user run it.
    The old modes are recorded and put back by :func:`_undo_machine_changes`.
    """
    check = [sys.executable, "-c", "import mlxlaunch, yaml, omegaconf"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    if run_as(TEST_USER, *check, cwd="/tmp", env=env).returncode == 0:
        return
    record = LOCK_DIR / "modes.json"
    modes = json.loads(record.read_text()) if record.exists() else {}
    for target in (Path(os.path.realpath(sys.executable)), Path(sys.executable), REPO):
        for folder in target.parents:
            mode = folder.stat().st_mode
            if not mode & 0o001:
                modes.setdefault(str(folder), mode & 0o7777)
                record.write_text(json.dumps(modes))
                folder.chmod(mode | 0o001)
    proc = run_as(TEST_USER, *check, cwd="/tmp", env=env)
    if proc.returncode != 0:
        pytest.skip(f"user {TEST_USER} cannot run {sys.executable}: {proc.stderr.strip()}")


def _undo_machine_changes() -> None:
    """Put back folder modes and remove the test user (if the tests created it)."""
    record = LOCK_DIR / "modes.json"
    if record.exists():
        for folder, mode in json.loads(record.read_text()).items():
            try:
                os.chmod(folder, mode)
            except OSError:
                pass
        record.unlink()
    mark = LOCK_DIR / "user.created-by-us"
    if mark.exists():
        subprocess.run(["userdel", "-r", TEST_USER], capture_output=True, text=True)
        mark.unlink()


def _skip_unless_enabled(kind: str) -> None:
    if os.environ.get(ENABLE) != "1":
        pytest.skip(
            f"the {kind} cluster tests start real daemons as root: run them with {ENABLE}=1 "
            "(and LOCAL_CLUSTER_INSTALL=1 to let them apt-get install the packages)"
        )
    if os.geteuid() != 0:
        pytest.skip(f"the local {kind} cluster needs root (it starts system daemons)")
    if not shutil.which(KINDS[kind]["probe"]) and os.environ.get("LOCAL_CLUSTER_INSTALL") != "1":
        pytest.skip(
            f"{kind} packages are not installed (set LOCAL_CLUSTER_INSTALL=1 to apt-get them)"
        )


def start_cluster(kind: str) -> Iterator[dict[str, Any]]:
    """Start (or reuse) the cluster; yield what tests need; stop it if this session started it."""
    spec = KINDS[kind]
    _skip_unless_enabled(kind)
    LOCK_DIR.mkdir(exist_ok=True)
    if LOCK_DIR.is_symlink() or LOCK_DIR.stat().st_uid != os.getuid():
        pytest.fail(f"{LOCK_DIR} is not a folder of ours: remove it")
    LOCK_DIR.chmod(0o755)  # the test user reads slurm.conf and works in a folder below
    old_conf = os.environ.get("SLURM_CONF")
    if kind == "slurm":  # for every Slurm command of the session, in this process and below
        os.environ["SLURM_CONF"] = str(slurm_conf())
    env = _script_env(kind)
    everyone = open(LOCK_DIR / "sessions", "a")  # noqa: SIM115 - held for the whole session
    users = open(LOCK_DIR / f"{kind}.users", "a")  # noqa: SIM115 - held for the whole session
    try:
        with open(LOCK_DIR / f"{kind}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Slurm and OAR start in different workers: one start script at a time, since
            # both apt-get install (dpkg's lock fails at once), add policy-rc.d and useradd.
            with open(LOCK_DIR / "setup.lock", "a") as setup:
                fcntl.flock(setup, fcntl.LOCK_EX)
                fcntl.flock(everyone, fcntl.LOCK_SH)
                # Reuse only a cluster these tests started (another session's): never
                # one started by anyone else, which the start script refuses to disturb.
                if _read_started(kind) is None or not _answers(kind):
                    proc = subprocess.run(
                        ["bash", str(SCRIPTS / spec["script"]), "start"],
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=900,
                    )
                    started = _recorded_pids(kind)
                    _started_record(kind).write_text(json.dumps(started))
                    if proc.returncode != 0:
                        _stop(kind, env, started)
                        pytest.fail(f"{spec['script']} start failed:\n{proc.stdout}\n{proc.stderr}")
                _ensure_user()
                fcntl.flock(users, fcntl.LOCK_SH)
                _let_user_run_python()
        work = Path(tempfile.mkdtemp(prefix=f"{kind}-work-", dir=LOCK_DIR))
        work.chmod(0o755)
        pw = pwd.getpwnam(TEST_USER)
        os.chown(work, pw.pw_uid, pw.pw_gid)
        try:
            yield {"kind": kind, "user": TEST_USER, "workdir": work, "uid": pw.pw_uid}
        finally:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        # The last session that uses the cluster stops it, if the tests started it (under
        # the cluster's lock: a session that just found it answering is not yet a user).
        with open(LOCK_DIR / f"{kind}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            fcntl.flock(users, fcntl.LOCK_UN)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another worker still uses the cluster: it stops it at its end
            else:
                started = _read_started(kind)
                if started is not None:
                    _stop(kind, env, started)
        users.close()
        with open(LOCK_DIR / "setup.lock", "a") as setup:
            fcntl.flock(setup, fcntl.LOCK_EX)
            fcntl.flock(everyone, fcntl.LOCK_UN)
            try:
                fcntl.flock(everyone, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # another session still runs: it undoes the changes at its end
            else:
                _undo_machine_changes()
        everyone.close()
        if kind == "slurm":
            if old_conf is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = old_conf


def wait_for(predicate, timeout: float, what, interval: float = 0.5) -> None:
    """Poll ``predicate()`` until true; fail with ``what`` (text or callable) after ``timeout`` s."""
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            text = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(interval)
