"""Every file and folder name of the run-folder format is spelled once, in ``runfolder/layout.py``.

A second spelling of ``"metrics"`` or ``log.stdout`` is how two modules come to
disagree about the format. The check reads the source: a string literal (not a
docstring) that is one of these names, or holds one as a path part
(``"$RUN_DIR/log.stdout"``, ``"the run goes on without log.stdout"``), fails;
a plain word (``metrics``) counts when it is the whole literal or a path part
(``"artifacts/<type>/"``), so prose ("the metadata cache") does not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mlxlaunch.runfolder import layout

PACKAGE = Path(__file__).resolve().parent.parent / "mlxlaunch"

NAMES = {
    layout.METADATA,
    layout.CONFIG_FILE,
    layout.INFO_FILE,
    layout.LAUNCHER_FILE,
    layout.ATTEMPTS_DIR,
    layout.HEARTBEAT_FILE,
    layout.TRACEBACK_FILE,
    layout.DIFF_FILE,
    layout.REQUIREMENTS_FILE,
    layout.STDOUT_FILE,
    layout.STDERR_FILE,
    layout.METRICS_DIR,
    layout.KEYS_DIR,
    layout.ARTIFACTS_DIR,
    layout.ARTIFACT_INDEX_FILE,
    layout.ARTIFACT_TYPES_FILE,
    layout.TMP_PREFIX,
    layout.NEXT_ID_HINT,
    layout.JOBS_DIR,
}

#: Literals that hold one of the names for another reason: ``(file, literal)`` -> why.
ALLOWED = {
    ("launching/settings.py", "launcher.yaml"): "the project's configs/launcher.yaml",
    (
        "launching/help.py",
        "Launcher settings (+launcher.<key>=value, or configs/launcher.yaml; docs/settings.md):",
    ): "the project's configs/launcher.yaml",
    ("launching/argv.py", "out/config.yaml"): "an example output file of --to-yaml",
    ("reader/table.py", "artifacts"): "the Reader's column of a run's artifacts",
}


def _pattern(name: str) -> re.Pattern:
    """A file name (``log.stdout``, ``.keys``) anywhere; a word (``metrics``) as a path part."""
    word = r"(?<![\w.-])" + re.escape(name) + r"(?![\w-])"
    if "." in name:
        return re.compile(word)
    return re.compile(rf"\A{re.escape(name)}\Z|/{word}|{word}/")


PATTERNS = {name: _pattern(name) for name in NAMES}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _spellings(path: Path, where: str = "") -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            if (where, node.value) in ALLOWED:
                continue
            hits = sorted(name for name, pat in PATTERNS.items() if pat.search(node.value))
            if hits:
                found.append((node.lineno, ", ".join(hits)))
    return found


def test_the_checker_sees_a_second_spelling(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""A docstring may say log.stdout and metrics/."""\n'
        'KEYS = ".keys"\n'
        "lines = ['exec >>\"$RUN_DIR/log.stdout\"']\n"
        'path = f"{run_dir}/metrics"\n'
        'help = "do not use the metadata cache"\n'
        'name = "metrics"\n'
    )
    assert sorted(line for line, _ in _spellings(bad)) == [2, 3, 4, 6]


def test_run_folder_names_are_spelled_only_in_layout():
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {names}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "runfolder" / "layout.py"
        for line, names in _spellings(path, path.relative_to(PACKAGE).as_posix())
    ]
    assert not offenders, "import these names from mlxlaunch.runfolder.layout:\n" + "\n".join(
        offenders
    )
