"""``python main.py --help``: docstring, typed config keys with comments, groups, flags, settings."""

from __future__ import annotations

import dataclasses
import io
import typing

from mlxlaunch.launching.argv import FLAGS, VALUE_FLAGS
from mlxlaunch.launching.help import yaml_comments
from mlxlaunch.launching.schema import field_comments
from mlxlaunch.launching.settings import Settings, valid_keys
from mlxlaunch.render import Table, Text, print_blocks, render_plain

DOCUMENTED_TASK = '''\
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def train(ctx):
    """Fit the model to the data.

    Second paragraph of the docstring.
    """
    print("the task ran")

if __name__ == "__main__":
    train()
'''

COMMENTED_CONFIG = """\
defaults:
  - model: small
  - _self_
seed: 0  # seed of the random generators
# learning rate of the optimizer
lr: 0.001
name: "a # not a comment"
"""


def _help_project(project):
    project.write("main.py", DOCUMENTED_TASK)
    project.write("configs/config.yaml", COMMENTED_CONFIG)
    project.write("configs/model/small.yaml", "width: 8  # hidden units\n")
    project.write("configs/model/large.yaml", "width: 512\n")
    return project


def _row(out: str, key: str) -> list[str]:
    """The cells of the help table row of ``key`` (split on runs of 2+ spaces)."""
    import re

    for line in out.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] == key:
            return cells
    raise AssertionError(f"no row for {key!r} in:\n{out}")


def test_help_lists_docstring_keys_types_defaults_comments_groups(project):
    proc = _help_project(project).run("--help")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "main.py: train" in out
    assert "Fit the model to the data." in out and "Second paragraph of the docstring." in out
    assert _row(out, "seed") == ["seed", "int", "0", "seed of the random generators"]
    assert _row(out, "lr") == ["lr", "float", "0.001", "learning rate of the optimizer"]
    assert _row(out, "name") == ["name", "str", "a # not a comment"]
    assert _row(out, "model.width") == ["model.width", "int", "8", "hidden units"]
    assert "model:  large | small  (configs/model/*.yaml, default: small)" in out
    assert "the task ran" not in out
    assert not project.logs.exists(), "--help must not create run folders"


def test_help_lists_every_flag_and_every_setting(project):
    out = project.run("--help", check=True).stdout
    flags_section = out.split("Flags:")[1].split("Launcher settings")[0]
    for flag in FLAGS + VALUE_FLAGS:
        assert flag in flags_section, f"--help does not document {flag}"
    settings_section = out.split("Launcher settings")[1]
    hints = typing.get_type_hints(Settings)
    leaves = [k for k in valid_keys() if not dataclasses.is_dataclass(hints.get(k, None))]
    for key in leaves:
        if key in ("logger", "scheduler", "version_manager"):
            continue
        assert f"\n  {key} " in settings_section, f"--help does not list setting {key}"
    assert _row(settings_section, "n_workers")[1:3] == ["int", "1"]


def test_help_renders_even_when_the_config_is_broken(project):
    project.write("configs/config.yaml", "seed: ${missing_key}\n")
    proc = project.run("--help")
    assert proc.returncode == 0
    assert "cannot be composed" in proc.stdout and "missing_key" in proc.stdout
    assert "Flags:" in proc.stdout


def test_help_without_docstring_says_how_to_add_one(project):
    proc = project.run("-h", check=True)
    assert "no docstring" in proc.stdout


def test_help_with_schema_shows_schema_types_choices_and_field_comments(project):
    project.write(
        "typed.py",
        """\
        import enum
        from dataclasses import dataclass, field
        from typing import Literal, Optional
        import mlxlaunch

        class Act(enum.Enum):
            relu = 1
            gelu = 2

        @dataclass
        class Opt:
            # step size
            lr: float = 0.1
            kind: Literal["sgd", "adam"] = "sgd"

        @dataclass
        class Config:
            # how many passes
            epochs: int = 3
            act: Act = Act.gelu
            note: Optional[str] = None
            opt: Opt = field(default_factory=Opt)

        @mlxlaunch.launch(config_path="nowhere", schema=Config)
        def train(ctx):
            "Typed task."

        if __name__ == "__main__":
            train()
        """,
    )
    out = project.run("--help", script="typed.py", check=True).stdout
    assert "Config (schema Config; change with key=value):" in out
    assert _row(out, "epochs") == ["epochs", "int", "3", "how many passes"]
    assert _row(out, "act") == ["act", "relu | gelu", "gelu"]
    assert _row(out, "note") == ["note", "str | null", "null"]
    assert _row(out, "opt.lr") == ["opt.lr", "float", "0.1", "step size"]
    assert _row(out, "opt.kind") == ["opt.kind", "'sgd' | 'adam'", "sgd"]


def test_yaml_comments_inline_above_nested_and_quoted(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "# about a\na: 1\n\nb:\n  c: 2   # inner\n  # above d\n  d: 'x # y'\ne: 3\n- stray\n"
    )
    assert yaml_comments(path) == {"a": "about a", "b.c": "inner", "b.d": "above d"}
    assert yaml_comments(tmp_path / "missing.yaml") == {}


def test_field_comments_read_the_line_above_each_field():
    comments = field_comments(Settings)
    assert comments["n_workers"].startswith("run the points in this many local worker")
    assert set(comments) <= {f.name for f in dataclasses.fields(Settings)}


class _FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_rendering_aligns_columns_and_rich_is_used_on_a_terminal(monkeypatch):
    blocks = [Table("T:", ["key", "type"], [["a", "int"], ["long.key", "str"]]), Text("X:", "x")]
    assert (
        render_plain(blocks)
        == "T:\n  key       type\n  a         int\n  long.key  str\n\nX:\n  x\n"
    )

    pipe = io.StringIO()
    print_blocks(blocks, pipe)
    assert pipe.getvalue() == render_plain(blocks)

    monkeypatch.delenv("MLXLAUNCH_PLAIN", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    terminal = _FakeTerminal()
    print_blocks(blocks, terminal)
    drawn = terminal.getvalue()
    assert "long.key" in drawn and "int" in drawn and "\x1b[" in drawn  # rich styles it

    monkeypatch.setenv("MLXLAUNCH_PLAIN", "1")
    terminal = _FakeTerminal()
    print_blocks(blocks, terminal)
    assert terminal.getvalue() == render_plain(blocks)


def test_rich_keeps_long_lines_of_a_job_script_whole(monkeypatch):
    """A job script is copied from the terminal: rich must not break its lines at the width."""
    monkeypatch.delenv("MLXLAUNCH_PLAIN", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "40")
    line = "source /a/long/path/" + "x" * 100 + "/bin/activate"
    terminal = _FakeTerminal()
    print_blocks([Text("Job script:", f"#!/bin/bash\n{line}\n", indent=False)], terminal)
    assert f"\n{line}\n" in terminal.getvalue()


def test_help_shows_the_config_with_the_command_line_overrides(project):
    _help_project(project)
    project.write("configs/model/large.yaml", "width: 512  # wide\nheads: 4\n")
    out = project.run("model=large", "lr=0.5,0.7", "--help", check=True).stdout
    assert "Config (configs/config.yaml with model=large lr=0.5,0.7;" in out
    assert _row(out, "model.width") == ["model.width", "int", "512", "wide"]
    assert _row(out, "model.heads")[:3] == ["model.heads", "int", "4"]
    assert _row(out, "lr")[:3] == ["lr", "float", "0.5"]  # the first point of the sweep
    assert not project.logs.exists()


def test_help_with_schema_lists_its_keys_even_when_a_value_is_required(project):
    """A field without a default ('???') fails composition; --help still lists every key."""
    project.write(
        "typed.py",
        """\
        from dataclasses import dataclass
        import mlxlaunch

        @dataclass
        class Config:
            # where the data lives
            data_dir: str
            epochs: int = 3

        @mlxlaunch.launch(config_path="nowhere", schema=Config)
        def train(ctx):
            "Typed task."

        if __name__ == "__main__":
            train()
        """,
    )
    out = project.run("--help", script="typed.py", check=True).stdout
    assert _row(out, "data_dir") == ["data_dir", "str", "???", "where the data lives"]
    assert _row(out, "epochs") == ["epochs", "int", "3"]
    assert "'data_dir' (str) has no value" in out and "Flags:" in out
