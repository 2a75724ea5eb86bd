"""docs/executors.md is a transcript: run each command it shows and compare the output.

Uses the transcript machinery of ``test_cli_docs.py`` (same conventions: the
project is shown as ``/home/me/project``, ``...`` matches anything). Backend
presets go to a temporary ``XDG_CONFIG_HOME``, never to the user's own.
Run ``python tests/test_backends_docs.py`` to print the actual transcript.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_cli_docs import REPO, _env, matches, parse_doc, run_command, write_project

DOC = REPO / "docs" / "executors.md"


def transcript(root: Path) -> list[tuple[str, str, str]]:
    """``(command, expected, actual)`` for every command of the page, run in ``root``."""
    files, commands = parse_doc(DOC.read_text())
    write_project(files, root)
    env = dict(_env(), XDG_CONFIG_HOME=str(root / ".config"))
    cli = f"{sys.executable} -m mlxlaunch.cli "
    return [
        (command, expected, run_command(command.replace("mlxlaunch ", cli), root, answer, env))
        for command, expected, answer in commands
    ]


def test_page_shows_parallel_runs_and_every_backend_action():
    files, commands = parse_doc(DOC.read_text())
    assert set(files) == {"main.py", "configs/config.yaml"}
    shown = " ".join(c for c, _, _ in commands)
    for text in (
        "n_workers",
        "gpus",
        "fail_fast",
        "backend add",
        "backend set",
        "backend list",
        "+launcher.backend=",
    ):
        assert text in shown, f"docs/executors.md shows no command with {text}"


@pytest.mark.slow
def test_every_command_of_the_page_prints_what_the_page_shows(tmp_path: Path):
    for command, expected, actual in transcript(tmp_path):
        assert matches(expected, actual), (
            f"docs/executors.md is out of date for:\n$ {command}\n"
            f"--- page shows:\n{expected}\n--- command printed:\n{actual}"
        )


if __name__ == "__main__":  # print the actual transcript, to update the page
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for command, expected, actual in transcript(Path(tmp)):
            flag = "" if matches(expected, actual) else "   <-- differs"
            print(f"$ {command}{flag}\n{actual}\n")
