"""``import mlxlaunch`` has no side effect and does not import pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import REPO, isolated_env


def test_import_has_no_side_effects(tmp_path):
    code = textwrap.dedent(
        """
        import atexit, os, signal, sys, threading
        handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)}
        threads = threading.active_count()
        callbacks = atexit._ncallbacks()
        before = sorted(os.listdir("."))
        import mlxlaunch
        assert {s: signal.getsignal(s) for s in handlers} == handlers, "signal handler installed"
        assert threading.active_count() == threads, "thread started"
        assert atexit._ncallbacks() == callbacks, "atexit callback registered"
        assert sorted(os.listdir(".")) == before, "file written"
        for heavy in ("pandas", "git", "dill", "matplotlib", "torch", "hydra"):
            assert heavy not in sys.modules, heavy + " imported"
        print("clean")
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=isolated_env(PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
