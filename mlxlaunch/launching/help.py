"""``python main.py --help``: what the task does, its config, groups, flags and settings.

The help is built from what the command would really use, so it cannot drift
from the code: the task's docstring; every key of the default config with its
type, default and comment (the comment comes from the YAML line, or from the
line above the field of an ``@launch(schema=...)`` dataclass); the config
groups and their options (the files of ``configs/<group>/``); the factories
(``@mlxlaunch.factory``) with their signature and file:line; the launcher's
flags; every launcher setting from ``settings.py``; and examples.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from mlxlaunch.launching import factories
from mlxlaunch.launching import schema as schema_mod
from mlxlaunch.launching.compose import Composer
from mlxlaunch.launching.settings import Settings
from mlxlaunch.render import Block, Table, Text, print_blocks
from mlxlaunch.runfolder.metadata import load_yaml

#: The launcher's flags as ``--help`` lists them (``launch.FLAGS`` is the parser's list).
FLAG_HELP: list[tuple[str, str]] = [
    ("-h, --help", "show this help and exit"),
    ("--cfg job|all, -c", "print the resolved config of every point and exit"),
    (
        "--dry-run",
        "compose and check every point, show run ids, executor and job scripts; run nothing",
    ),
    (
        "--to-yaml FILE",
        "write the resolved config to FILE and exit ('{i}' in FILE: one file per point)",
    ),
    ("--to-json FILE", "same, as JSON"),
    ("--to-toml FILE", "same, as TOML (needs tomli-w: pip install 'mlxlaunch[cli]')"),
    ("--config-path DIR, -cp", "read the config from DIR (relative to the script's folder)"),
    ("--config-name NAME, -cn", "use NAME.yaml (or a .yaml/.json/.toml file) as the main config"),
    (
        "--prepare-only",
        "make the run folders (QUEUED) and run nothing; 'mlxlaunch start' runs them later",
    ),
    (
        "--repl",
        "change the composed points in a Python shell; run() runs them, leaving runs nothing",
    ),
    ("-y, --yes", "do not ask before submitting more than confirm_above scheduler jobs"),
    ("-q, --quiet", "no progress lines or bar while a sweep runs (the summary line stays)"),
    ("--verbose", "show Python tracebacks for usage errors"),
    ("--version", "print the versions of mlxlaunch, Python and Hydra, and exit"),
    ("-m, --multirun", "accepted for Hydra users; sweeps run without it"),
]

EXAMPLES = """\
python {script} optimizer.lr=0.01,0.1 seed=1,2      # a sweep of 4 points
python {script} 'seed=range(0,5)' --dry-run          # show the 5 points, run nothing
python {script} +launcher.logger.forced_log_id=3     # resume run 3
python {script} model=@my_model.yaml                 # a config value read from a file
python {script} --to-yaml exported.yaml              # export the resolved config
python {script} +launcher.use_scheduler=true         # submit to the cluster"""


def show(value: Any) -> str:
    """A config value as one would type it on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value else "''"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value)


def leaves(config: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """``(dotted key, value)`` of each leaf of a nested config (an empty dict is a leaf)."""
    if isinstance(config, dict) and config:
        out = []
        for key, value in config.items():
            out.extend(leaves(value, f"{prefix}{key}."))
        return out
    return [(prefix.rstrip("."), config)]


_KEY_LINE = re.compile(r"^(\s*)([A-Za-z_][\w\-]*)\s*:(.*)$")


def _inline_comment(rest: str) -> str:
    """The ``# comment`` after a YAML value, ignoring ``#`` inside quotes."""
    quote = None
    for i, ch in enumerate(rest):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[i + 1 :].strip()
    return ""


def yaml_comments(path: Path, prefix: str = "") -> dict[str, str]:
    """Comments of a block-style YAML file, by dotted key.

    A key's comment is the one at the end of its line or, failing that, the
    comment lines right above it. Good enough for config files; flow-style
    mappings and multi-line strings are simply not annotated.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            pending = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = _KEY_LINE.match(line)
        if not match:
            pending = []
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path_key = prefix + ".".join([k for _, k in stack] + [key])
        comment = _inline_comment(rest) or " ".join(pending)
        if comment:
            comments[path_key] = comment
        pending = []
        stack.append((indent, key))
    return comments


def _default_choices(composer: Composer) -> dict[str, str]:
    """``{group: option}`` from the ``defaults`` list of the main config file."""

    if not composer.config_name:
        return {}
    try:
        data = load_yaml(composer.config_dir / f"{composer.config_name}.yaml")
    except Exception:  # noqa: BLE001 - a broken YAML is reported by the composition itself
        return {}
    chosen = {}
    for entry in (data or {}).get("defaults", []) if isinstance(data, dict) else []:
        if isinstance(entry, dict):
            for group, option in entry.items():
                group = str(group).lstrip("+").split("@")[0].replace("override ", "").strip()
                if isinstance(option, str):
                    chosen[group] = option
    return chosen


def _config_block(composer: Any, overrides: Sequence[str], chosen: dict[str, str]) -> list[Block]:

    schema = getattr(composer, "schema", None)
    config_dir: Path = composer.config_dir
    main_file = config_dir / f"{composer.config_name}.yaml" if composer.config_name else None
    comments: dict[str, str] = {}
    types: dict[str, str] = {}
    schema_rows = schema_mod.rows(schema) if schema is not None else []
    for key, type_name, _default, comment in schema_rows:
        types[key] = type_name
        if comment:
            comments[key] = comment
    if main_file is not None:
        chosen = {**chosen, **_group_choices(composer, overrides)}
        for group, option in chosen.items():
            comments.update(yaml_comments(config_dir / group / f"{option}.yaml", f"{group}."))
        comments.update(yaml_comments(main_file))
    sources = []
    if main_file is not None:
        sources.append(str(_shown(main_file)))
    if schema is not None:
        sources.append(f"schema {schema.__name__}")
    shown_with = f" with {' '.join(overrides)}" if overrides else ""
    title = (
        f"Config ({' over '.join(sources) or 'no config file'}{shown_with}; change with key=value):"
    )
    try:
        config = composer.plan(list(overrides)).points[0].config
    except Exception as exc:  # noqa: BLE001 - help must render even with a broken config
        if schema is None:
            return [Text(title, f"cannot be composed: {exc}")]
        # e.g. a field without a default ('???'): the schema still lists every key
        rows = [
            [key, type_name, show(default), comments.get(key, "")]
            for key, type_name, default, _ in schema_rows
        ]
        return [
            Table(title, ["key", "type", "default", "comment"], rows),
            Text("", f"(the default config cannot be composed: {exc})"),
        ]
    if not config:
        return [Text(title, "(empty: add keys with +key=value)")]
    rows = []
    for key, value in leaves(config):
        type_name = types.get(key) or (type(value).__name__ if value is not None else "any")
        rows.append([key, type_name, show(value), comments.get(key, "")])
    return [Table(title, ["key", "type", "default", "comment"], rows)]


def _group_choices(composer: Composer, overrides: Sequence[str]) -> dict[str, str]:
    """``{group: option}`` chosen by ``group=option`` overrides (first option of a sweep)."""
    chosen = {}
    for text in overrides:
        key, eq, value = text.partition("=")
        key = key.lstrip("+")
        if eq and not key.startswith("~") and (composer.config_dir / key).is_dir():
            chosen[key] = value.split(",")[0]
    return chosen


def _shown(path: Path) -> Path:
    """``path`` relative to the current folder when it is under it, as the user typed it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _groups_block(composer: Composer, chosen: dict[str, str]) -> list[Block]:
    try:
        groups = sorted(g for g in composer.config_loader.list_groups("") if g != "hydra")
    except Exception:  # noqa: BLE001 - no config folder: no groups
        return []
    if not groups:
        return []
    rows = []
    for group in groups:
        options = composer.group_options(group)
        default = f"default: {chosen[group]}" if group in chosen else "no default"
        folder = _shown(composer.config_dir / group)
        rows.append([f"{group}:", " | ".join(options), f"({folder}/*.yaml, {default})"])
    return [Table("Config groups (choose with group=option):", [], rows)]


def _factories_block(composer: Composer) -> list[Block]:
    """The registered factories, under each key they build (NeMo-Run's help lists them so)."""
    if not factories.REGISTRY:
        return []
    rows = []
    for found in sorted(factories.REGISTRY.values(), key=lambda f: f.name):
        keys = factories.keys_for(found, composer.schema) or ["(any node)"]
        for key in keys:
            rows.append([key, found.signature(), _where(found.where)])
    rows.sort(key=lambda row: (row[0].startswith("("), row[0]))
    return [
        Table(
            "Factories (key=name or key=name(arg=value,...); @mlxlaunch.factory):",
            ["key", "factory", "defined at"],
            rows,
        )
    ]


def _where(where: str) -> str:
    """``file:line`` with the file relative to the current folder when it is under it."""
    file, _, line = where.rpartition(":")
    return f"{_shown(Path(file))}:{line}" if file else where


def _settings_block() -> Block:

    rows = [[key, t, show(default), c] for key, t, default, c in schema_mod.rows(Settings)]
    return Table(
        "Launcher settings (+launcher.<key>=value, or configs/launcher.yaml; docs/settings.md):",
        ["key", "type", "default", "comment"],
        rows,
    )


def help_blocks(
    task: Callable[..., Any], composer: Composer, overrides: Sequence[str] = ()
) -> list[Block]:
    """The blocks ``--help`` prints, in order; the config is shown with ``overrides`` applied
    (the first point of a sweep), so ``python main.py model=vit --help`` shows vit's keys."""
    script = os.path.basename(sys.argv[0]) or "main.py"
    doc = inspect.getdoc(task) or "(no docstring: describe the task in its docstring)"
    blocks: list[Block] = [
        Text(f"{script}: {task.__name__}", doc),
        Text(
            "Usage:",
            f"python {script} [key=value ...] [+new.key=value ...] [key=a,b ...] "
            "[+launcher.<setting>=value ...] [flags]",
        ),
    ]
    chosen = _default_choices(composer)  # parsed once for both blocks
    blocks.extend(_config_block(composer, overrides, chosen))
    blocks.extend(_groups_block(composer, chosen))
    blocks.extend(_factories_block(composer))
    blocks.append(Table("Flags:", [], [list(row) for row in FLAG_HELP]))
    blocks.append(_settings_block())
    blocks.append(Text("Examples:", EXAMPLES.format(script=script)))
    return blocks


def print_help(task: Callable[..., Any], composer: Composer, overrides: Sequence[str] = ()) -> None:
    """Print the help to stdout: rich tables on a terminal, plain text otherwise."""
    print_blocks(help_blocks(task, composer, overrides))
