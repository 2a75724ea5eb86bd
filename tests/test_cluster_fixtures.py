"""The test fixtures' own logic, without daemons: what two pytest-xdist workers do at once
(tests/cluster/fixtures.py), and the isolation every test subprocess keeps (conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from cluster import fixtures
from conftest import isolated_env


def test_slurm_and_oar_start_scripts_never_run_at_the_same_time(tmp_path: Path, monkeypatch):
    """On a fresh machine both start scripts apt-get install and useradd: dpkg's lock makes the
    second apt-get fail at once, so the workers of the two clusters must take turns."""
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    def fake_run(argv, **kwargs):
        if argv[-1] == "start":
            running.append(argv[1])
            if len(running) > 1:
                overlaps.append(tuple(running))
            time.sleep(0.3)
            running.remove(argv[1])
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setenv("MLXLAUNCH_CLUSTER_TESTS", "1")
    monkeypatch.setattr(fixtures, "LOCK_DIR", tmp_path)
    monkeypatch.setattr(fixtures.os, "geteuid", lambda: 0)
    monkeypatch.setattr(fixtures.os, "chown", lambda *a: None)
    monkeypatch.setattr(fixtures.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(fixtures.subprocess, "run", fake_run)
    monkeypatch.setattr(fixtures, "_answers", lambda kind: False)
    monkeypatch.setattr(fixtures, "_ensure_user", lambda: None)
    monkeypatch.setattr(fixtures, "_let_user_run_python", lambda: None)
    monkeypatch.setattr(fixtures.pwd, "getpwnam", lambda name: SimpleNamespace(pw_uid=0, pw_gid=0))
    monkeypatch.setattr(fixtures.tempfile, "mkdtemp", lambda **kw: str(tmp_path / kw["prefix"]))
    for kind in ("slurm", "oar"):
        (tmp_path / f"{kind}-work-").mkdir()

    def session(kind: str) -> None:
        sessions = fixtures.start_cluster(kind)
        next(sessions)
        sessions.close()

    threads = [threading.Thread(target=session, args=(k,)) for k in ("slurm", "oar")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert overlaps == []


def test_a_subprocess_without_the_isolated_config_and_cache_homes_fails_its_test():
    """A child started with an environment built from scratch would read the developer's
    own ~/.config/mlxlaunch/backends.yaml: conftest refuses to start it."""
    with pytest.raises(AssertionError, match="XDG_CONFIG_HOME, XDG_CACHE_HOME"):
        subprocess.run([sys.executable, "-c", "pass"], env={"PATH": "/usr/bin:/bin"})
    code = "import os; print(os.environ['XDG_CONFIG_HOME'], os.environ['XDG_CACHE_HOME'])"
    out = subprocess.run(
        [sys.executable, "-c", code], env=isolated_env(), capture_output=True, text=True
    )
    assert out.stdout.split() == [os.environ["XDG_CONFIG_HOME"], os.environ["XDG_CACHE_HOME"]]


def test_without_mlxlaunch_cluster_tests_nothing_runs_and_the_skip_says_how(monkeypatch):
    calls: list = []
    monkeypatch.delenv("MLXLAUNCH_CLUSTER_TESTS", raising=False)
    monkeypatch.setenv("LOCAL_CLUSTER_INSTALL", "1")
    monkeypatch.setattr(fixtures.os, "geteuid", lambda: 0)
    monkeypatch.setattr(fixtures.subprocess, "run", lambda *a, **kw: calls.append(a))
    for kind in ("slurm", "oar"):
        with pytest.raises(pytest.skip.Exception, match="MLXLAUNCH_CLUSTER_TESTS=1"):
            next(fixtures.start_cluster(kind))
    assert calls == []


def test_the_session_exports_a_private_slurm_conf_and_stops_only_what_it_started(
    tmp_path: Path, monkeypatch
):
    """SLURM_CONF points at the session's own slurm.conf (never /etc/slurm) while the
    cluster runs; at the end the recorded daemons are stopped, by PID, and nothing else."""
    seen: dict[str, object] = {}
    killed: list[int] = []

    def fake_run(argv, **kwargs):
        if argv[-1] == "start":
            seen["script_env"] = kwargs["env"]
            state = Path(kwargs["env"]["SLURM_LOCAL_DIR"])
            state.mkdir(parents=True, exist_ok=True)
            (state / "slurmctld.pid").write_text("101\n")
            (state / "slurmd.pid").write_text("102\n")
            (state / "munged.started-by-us").write_text("103\n")
        if argv[-1] == "stop":
            seen["stopped_with"] = kwargs["env"]["SLURM_CONF"]
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setenv("MLXLAUNCH_CLUSTER_TESTS", "1")
    monkeypatch.delenv("SLURM_CONF", raising=False)
    monkeypatch.delenv("LOCAL_CLUSTER_INSTALL", raising=False)
    monkeypatch.setattr(fixtures, "LOCK_DIR", tmp_path / "root")
    monkeypatch.setattr(fixtures.os, "geteuid", lambda: 0)
    monkeypatch.setattr(fixtures.os, "chown", lambda *a: None)
    monkeypatch.setattr(fixtures.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(fixtures.subprocess, "run", fake_run)
    monkeypatch.setattr(fixtures, "_answers", lambda kind: True)  # but not ours: started anew
    monkeypatch.setattr(fixtures, "_ensure_user", lambda: None)
    monkeypatch.setattr(fixtures, "_let_user_run_python", lambda: None)
    monkeypatch.setattr(fixtures.pwd, "getpwnam", lambda name: SimpleNamespace(pw_uid=0, pw_gid=0))
    # 102 is gone, 103 survived the script's stop, 101 is now another program
    comms = {101: "bash", 103: "munged"}
    monkeypatch.setattr(fixtures, "_comm", lambda pid: comms.get(pid))
    monkeypatch.setattr(fixtures.os, "kill", lambda pid, sig: killed.append(pid))

    session = fixtures.start_cluster("slurm")
    next(session)
    conf = str(tmp_path / "root" / "slurm" / "etc" / "slurm.conf")
    try:
        assert os.environ["SLURM_CONF"] == conf
        script_env = seen["script_env"]
        assert script_env["SLURM_CONF"] == conf
        assert script_env["SLURM_LOCAL_INSTALL"] == "0"  # no LOCAL_CLUSTER_INSTALL=1
        ports = {script_env["SLURM_LOCAL_CTLD_PORT"], script_env["SLURM_LOCAL_SLURMD_PORT"]}
        assert len(ports) == 2 and not ports & {"6817", "6818"}
    finally:
        session.close()
    assert seen["stopped_with"] == conf
    assert killed == [103]
    assert "SLURM_CONF" not in os.environ
    assert not (tmp_path / "root" / "slurm.started.json").exists()
