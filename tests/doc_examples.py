"""Pulling the runnable examples out of a docs page, for tests that run them."""

from __future__ import annotations

import re
from pathlib import Path


def python_examples(page: Path) -> tuple[str, list[str]]:
    """The page's ```python blocks joined, and the output they promise.

    Comment lines right after a ``print(...)`` line (or after another such comment)
    are the expected output, ``# `` removed.
    """
    code, expected = [], []
    for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S):
        in_output = False
        for line in block.splitlines():
            code.append(line)
            if line.strip().startswith("print("):
                in_output = True
            elif in_output and line.startswith("# "):
                expected.append(line[2:])
            else:
                in_output = False
        code.append("")
    return "\n".join(code), expected
