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
        (tmp_path / f"mlxlaunch-{kind}-").mkdir()

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
