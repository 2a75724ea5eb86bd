"""docs/logging.md: its Python examples run, in order, and print what the page says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "logging.md"


def examples() -> tuple[str, list[str]]:
    """The page's ```python blocks joined, and the output they promise.

    A block's comment lines that directly follow a ``print(...)`` line (or another
    such comment) are the expected output, ``# `` removed.
    """
    code, expected = [], []
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S):
        in_output = False
        for line in block.splitlines():
            code.append(line)
            if line.startswith("print("):
                in_output = True
            elif in_output and line.startswith("# "):
                expected.append(line[2:])
            else:
                in_output = False
        code.append("")
    return "\n".join(code), expected


def test_the_examples_of_logging_md_run_and_print_what_the_page_says(tmp_path):
    pytest.importorskip("numpy")
    code, expected = examples()
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
