"""docs/reader.md: its Python examples run, in order, and print what the page says."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from doc_examples import python_examples

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "reader.md"


def test_the_examples_of_reader_md_run_and_print_what_the_page_says(tmp_path):
    pytest.importorskip("numpy")
    code, expected = python_examples(DOC)
    assert len(expected) > 15
    script = tmp_path / "doc_examples.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(tmp_path / "cache")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected
    assert proc.stderr == ""


def test_the_command_line_example_prints_what_the_page_says(tmp_path):
    """The ``$ mlxlaunch runs`` transcript, on the folder the Python examples make."""
    setup = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)[0]  # makes logs/
    (tmp_path / "setup.py").write_text(setup)
    env = dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(tmp_path / "cache"))
    subprocess.run([sys.executable, "setup.py"], cwd=tmp_path, env=env, check=True)
    transcript = re.search(r"```\n(\$ mlxlaunch runs .*?)```", DOC.read_text(), flags=re.S).group(1)
    command, *output = transcript.split("\n$ ")[0].splitlines()
    args = shlex.split(command[2:])[1:]
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.rstrip() for line in proc.stdout.splitlines()] == output
