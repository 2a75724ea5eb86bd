"""Command-line polish: --version on the script and on ``mlxlaunch``."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import REPO

import mlxlaunch

VERSION = re.compile(r"^mlxlaunch (\S+) \(Python [\d.]+, hydra-core [\d.]+\)\n$")


def test_version_on_the_script(project):
    proc = project.run("--version")
    assert proc.returncode == 0, proc.stderr
    match = VERSION.match(proc.stdout)
    assert match and match.group(1) == mlxlaunch.__version__
    assert not project.logs.exists()  # nothing ran


def test_version_on_mlxlaunch():
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "--version"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr
    match = VERSION.match(proc.stdout)
    assert match and match.group(1) == mlxlaunch.__version__
