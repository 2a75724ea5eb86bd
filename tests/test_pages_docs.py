"""Transcript pages (docs/operations.md, ...): run each command they show and compare.

Same conventions as ``test_cli_docs.py`` (whose machinery this reuses): the
project is written from the page's ``title="<path>"`` blocks, shown as
``/home/me/project``, and ``...`` matches anything. ``mlxlaunch`` in a command is
the console script of this checkout. Run ``python tests/test_pages_docs.py PAGE``
to print a page's actual transcript.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_cli_docs import REPO, _env, matches, parse_doc, run_command, write_project

PAGES = ["operations.md", "entry-points.md", "experiments.md"]


def transcript(page: str, root: Path) -> list[tuple[str, str, str]]:
    """``(command, expected, actual)`` for every command of ``docs/<page>``, run in ``root``."""
    files, commands = parse_doc((REPO / "docs" / page).read_text())
    write_project(files, root)
    env = dict(_env(), XDG_CONFIG_HOME=str(root / ".config"))
    cli = f"{sys.executable} -m mlxlaunch.cli "
    return [
        (command, expected, run_command(command.replace("mlxlaunch ", cli), root, answer, env))
        for command, expected, answer in commands
    ]


@pytest.mark.parametrize("page", PAGES)
def test_page_has_a_project_and_commands(page):
    files, commands = parse_doc((REPO / "docs" / page).read_text())
    assert files and commands


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_command_of_the_page_prints_what_the_page_shows(tmp_path: Path, page: str):
    for command, expected, actual in transcript(page, tmp_path / "project"):
        assert matches(expected, actual), (
            f"docs/{page} is out of date for:\n$ {command}\n"
            f"--- page shows:\n{expected}\n--- command printed:\n{actual}"
        )


if __name__ == "__main__":  # print the actual transcript, to update the page
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for command, expected, actual in transcript(sys.argv[1], Path(tmp) / "project"):
            flag = "" if matches(expected, actual) else "   <-- differs"
            print(f"$ {command}{flag}\n{actual}\n")
