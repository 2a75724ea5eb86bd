"""docs/migrating-from-mlxp.md is a transcript: an MLXP project's commands and notebook cells.

The page holds an MLXP-shaped project (its ``configs/mlxp.yaml`` and a run folder
written by MLXP 1.0.5); this test writes it to a temporary folder, runs every
``$ command`` of the page in order and compares the output (conventions of
``test_cli_docs.py``: the folder is shown as ``/home/me/project``, ``...`` matches
anything), then runs the page's notebook cells there and compares what they print.
Run ``python tests/test_mlxp_docs.py`` to print the actual transcript.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_examples import python_examples
from test_cli_docs import REPO, _env, matches, normalise, parse_doc, run_command, write_project

DOC = REPO / "docs" / "migrating-from-mlxp.md"


def transcript(root: Path) -> tuple[list[tuple[str, str, str]], tuple[list[str], list[str]]]:
    """``(command, expected, actual)`` of each command, then the cells' (expected, actual) lines."""
    files, commands = parse_doc(DOC.read_text())
    write_project(files, root)
    env = dict(_env(), XDG_CONFIG_HOME=str(root / ".config"))
    cli = f"{sys.executable} -m mlxlaunch.cli "
    ran = [
        (command, expected, run_command(command.replace("mlxlaunch ", cli), root, answer, env))
        for command, expected, answer in commands
    ]
    code, expected_lines = python_examples(DOC)
    (root / "notebook.py").write_text(code)
    proc = subprocess.run(
        [sys.executable, "notebook.py"],
        cwd=root,
        env=dict(env, MLXLAUNCH_CACHE_DIR=str(root / ".cache")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return ran, (expected_lines, normalise(proc.stdout, root).splitlines())


def test_page_lists_every_mlxp_setting_and_runs_the_tutorials_commands():
    from mlxlaunch.launching import mlxp

    text = DOC.read_text()
    for key in [*mlxp.RENAMED, *mlxp.IGNORED]:
        if key not in ("scheduler.before_cmd", "scheduler.post_cmd", "config_read_only"):
            assert f"`{key}`" in text, f"{DOC.name} does not say what MLXP's {key} maps to"
    files, commands = parse_doc(text)
    assert "configs/mlxp.yaml" in files and "logs/1/metadata/info.yaml" in files
    shown = " ".join(c for c, _, _ in commands)
    for spelling in ("+optimizer.lr=", "+mlxp.logger.forced_log_id=", "mlxlaunch migrate"):
        assert spelling in shown


@pytest.mark.slow
def test_every_command_and_cell_of_the_page_prints_what_the_page_shows(tmp_path: Path):
    ran, (expected, actual) = transcript(tmp_path)
    for command, shown, printed in ran:
        assert matches(shown, printed), (
            f"{DOC.name} is out of date for:\n$ {command}\n"
            f"--- page shows:\n{shown}\n--- command printed:\n{printed}"
        )
    assert actual == expected


if __name__ == "__main__":  # print the actual transcript, to update the page
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ran, (expected, actual) = transcript(Path(tmp))
        for command, shown, printed in ran:
            flag = "" if matches(shown, printed) else "   <-- differs"
            print(f"$ {command}{flag}\n{printed}\n")
        print("--- notebook:\n" + "\n".join(actual))
    os._exit(0)
