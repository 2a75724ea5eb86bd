"""The package's shape: no import cycle, and first-party imports only at module level.

The import graph is computed from the source (every ``import`` and ``from ...
import`` statement, at module level or inside a function), so a back edge hidden
in a function body counts like any other. Function-level imports are kept for
heavy third-party packages only (hydra, pandas, git, yaml, ...), where they keep
``import mlxlaunch`` fast; a first-party one would only hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mlxlaunch"


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> list[tuple[str, ast.stmt, bool]]:
    """``(imported first-party module, statement, at module level)`` for every import in ``path``."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(n) for n in tree.body}
    top |= {id(n) for n in ast.walk(tree) if isinstance(n, ast.If) and id(n) in top for n in n.body}
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                targets.append(full if full in mods else module)
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for target in targets:
            if target in mods and target != name:
                found.append((target, node, id(node) in top))
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {name: set() for name in mods}
    for name, path in mods.items():
        for target, _, _ in _imports(name, path, mods):
            # importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too
            parts = target.split(".")
            for i in range(2, len(parts) + 1):
                parent = ".".join(parts[:i])
                if parent in mods and parent != name and not name.startswith(parent + "."):
                    graph[name].add(parent)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycle():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


#: The one deferred first-party import: ``mlxlaunch.Reader`` (PEP 562), so that
#: ``import mlxlaunch`` and every launch skip the Reader's modules.
DEFERRED = {("mlxlaunch", "mlxlaunch.reader")}


def test_first_party_imports_are_at_module_level():
    mods = _modules()
    hidden = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {target}"
        for name, path in mods.items()
        for target, node, top in _imports(name, path, mods)
        if not top and (name, target) not in DEFERRED
    ]
    assert hidden == []
