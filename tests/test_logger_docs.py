"""docs/logging.md: its Python examples run, in order, and print what the page says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_examples import python_examples

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "logging.md"


def test_the_examples_of_logging_md_run_and_print_what_the_page_says(tmp_path):
    pytest.importorskip("numpy")
    code, expected = python_examples(DOC)
    assert len(expected) > 10
    script = tmp_path / "doc_examples.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected
