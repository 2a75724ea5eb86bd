"""A start without Hydra (``plain.py``) composes exactly what Hydra composes.

A config folder without config groups, whose main config has no ``defaults:``
list, is composed with OmegaConf alone and plain overrides are read without
Hydra's parser. The reference is the Hydra path itself (``hydra.compose`` of the
main config, Hydra's parser and sweeper): on a corpus of configs and overrides,
every point's config, dumped to YAML, is the same byte for byte, and every error
is the same message. The line-level comparison (values and their types, sweep
lines) is in ``tests/test_compose_sweep.py``.
"""

from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlxlaunch.errors import ConfigError
from mlxlaunch.launching import plain
from mlxlaunch.launching.compose import Composer

CORPUS = {
    "nested": """\
        seed: 0
        a:
          b: 1
          c:
            d: x
            e: [1, 2, {k: v}]
        lst: [1, 2, 3]
        """,
    "interpolations": """\
        a:
          b: 1
        ref: ${a.b}
        text: pre-${a.b}-post
        env: ${oc.env:MLXLAUNCH_TEST_SURELY_UNSET,fallback}
        nested_ref: ${a}
        """,
    "missing": """\
        a:
          b: ???
        c: 1
        lst: ['???', 2]
        """,
    "quoted": """\
        s: 'it''s'
        colon: "a: b"
        num_text: '1'
        bool_text: 'true'
        dollar: '$HOME'
        """,
    "scalars": """\
        i: 1
        neg: -3
        f: 1.5
        sci: 1e-3
        big: 12345678901234567890
        b: true
        off: no
        n: null
        tilde: ~
        empty: ''
        a:
          b: 2
        """,
    "scalars, str keys": """\
        i: 1
        f: 1.5
        sci: 1e-3
        under: 1_000
        b: yes
        n: ~
        when: 2020-01-01
        inf: .inf
        a:
          b: 2
        """,
    "unicode": """\
        name: café
        键: 值
        emoji: 🎉 ok
        a:
          ü: 1
        """,
    "empty": "",
    "odd keys": """\
        1: one
        x:
          2: two
        a-b: 3
        a:
          b: null
        """,
    "unresolvable": """\
        a: 1
        b: ${nope}
        """,
    "two keys as one": """\
        a: 1
        d:
          1: x
          '1': y
        """,
    "launcher node": """\
        launcher:
          foo: 1
        a: 2
        """,
}

OVERRIDES = [
    [],
    ["a=1"],
    ["+new=x"],
    ["++a.b=2"],
    ["++new.deep.key=2"],
    ["~a"],
    ["~a.b"],
    ["~a.b=1"],
    ["a=[1,2]"],
    ["a={x:1}"],
    ["a=1,2"],
    ["a.b=5,6", "+z=w,v"],
    ["+a=1"],
    ["+a.b=3"],
    ["nope=1"],
    ["a.nope=1"],
    ["~nope"],
    ["a=null", "a=true"],
    ["seed=1e5,inf"],
    ["i=TRUE,null,-0,007"],
    ["name=x/y.z", "+k=v-1"],
    ["a='quoted'"],
    ["a=${c}"],
    ["+launcher.foo=2"],
    ["launcher.foo=3"],
    ["hydra.job.name=x"],
]


def _write(tmp_path: Path, config: str) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
    return folder


def _outcome(folder: Path, args: list[str]) -> tuple[Any, bool]:
    """What a command composes (each point's overrides and config as YAML), or its error."""
    with Composer(folder, "config") as composer:
        try:
            user, launcher = composer.split(args)
            points = composer.points(user)
            if composer._literal:  # read without OmegaConf: where unknown keys are refused
                base, struct = composer._plain, True
            else:
                from omegaconf import OmegaConf

                config = composer._base([], "the main config")
                base, struct = OmegaConf.to_container(config), OmegaConf.is_struct(config)
        except Exception as exc:  # noqa: BLE001 - the error is part of what is compared
            return (type(exc).__name__, str(exc)), composer._plain is not None
        dumped = [(p.overrides, _dump(p.config)) for p in points]
        return (dumped, launcher, (_dump(base), struct)), composer._plain is not None


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


@pytest.mark.parametrize("name", list(CORPUS))
def test_the_plain_path_composes_what_hydra_composes(tmp_path, monkeypatch, name):
    folder = _write(tmp_path, CORPUS[name])
    composed, by_plain_path = 0, 0
    for args in OVERRIDES:
        ours, was_plain = _outcome(folder, args)
        with monkeypatch.context() as patch:
            patch.setattr(plain, "literal_config", lambda *a: None)  # the Hydra path
            patch.setattr(plain, "primary_config", lambda *a: None)
            hydras, _ = _outcome(folder, args)
        assert ours == hydras, args
        if not isinstance(ours[0], str):
            composed += 1
            by_plain_path += was_plain
    assert by_plain_path or not composed  # not a vacuous comparison (see also below)


def test_the_plain_path_composes_most_of_the_corpus(tmp_path):
    """The comparison above is meaningful: plain cases take the plain path.

    A config without interpolations is even read without OmegaConf (``_literal``);
    with them, OmegaConf composes it; a list value or a value over a node goes to Hydra.
    """
    cases = {"nested": True, "interpolations": False, "missing": False, "unicode": True}
    cases.update({"scalars, str keys": True, "scalars": False})  # (YAML's `off:` is a bool key)
    for name, literal in cases.items():
        folder = _write(tmp_path / name, CORPUS[name])
        for args in [[], ["+new=x"], ["++new.deep.key=2", "~new.deep.key"], ["+z=w,v", "++a.q=1"]]:
            with Composer(folder, "config") as composer:
                composer.points(composer.split(args)[0])
                assert composer._plain is not None and composer._literal is literal, (name, args)
        # (a value over a node: OmegaConf replaces the node; the literal path leaves it to Hydra)
        for args in [["a=[1,2]"], ["hydra.job.name=x"]] + ([["a=1"]] if literal else []):
            with Composer(folder, "config") as composer:
                with contextlib.suppress(ConfigError):  # (a list over a node: Hydra's error)
                    composer.points(composer.split(args)[0])
                assert composer._plain is None, (name, args)


@pytest.mark.parametrize(
    "files",
    [
        {"config.yaml": "defaults:\n  - _self_\na: 1\n"},
        {"config.yaml": "a: 1\n", "model/small.yaml": "depth: 1\n"},
        {"config.yaml": "# @package _global_.sub\na: 1\n"},
        {"config.yaml": "a: 1\nwhen: ${now:%Y}\n"},
        {"config.yaml": "a: 1\nhydra:\n  job:\n    name: x\n"},
        {"config.yaml": "- 1\n- 2\n"},
        {"config.yaml": "a: [1\n"},
    ],
    ids=[
        "defaults",
        "group folder",
        "package header",
        "hydra resolver",
        "hydra node",
        "list",
        "bad",
    ],
)
def test_a_config_hydra_must_compose_is_left_to_hydra(tmp_path, files):
    folder = tmp_path / "configs"
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    assert plain.primary_config(folder, "config") is None


def test_configs_from_a_hydra_plugin_or_the_config_store_are_left_to_hydra(tmp_path, monkeypatch):
    folder = _write(tmp_path, "a: 1\n")
    assert plain.primary_config(folder, "config") is not None
    plugins = tmp_path / "site" / "hydra_plugins"
    for name in ("hydra_submitit_launcher", "hydra_colorlog", "__pycache__"):
        (plugins / name).mkdir(parents=True)  # Hydra's own: configs under hydra/ only
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert plain.primary_config(folder, "config") is not None
    (plugins / "my_search_path").mkdir()
    assert plain.primary_config(folder, "config") is None  # a plugin may add search paths
    monkeypatch.undo()

    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="mlxlaunch_test_unrelated", node={"a": 1})  # reached only via defaults:
    assert plain.primary_config(folder, "config") is not None
    for group, name in [("mlxlaunch_test_group", "small"), (None, "config")]:
        store.store(group=group, name=name, node={"a": 1})  # a group, a schema of config.yaml
        try:
            assert plain.primary_config(folder, "config") is None
        finally:
            del store.repo[group or f"{name}.yaml"]
    del store.repo["mlxlaunch_test_unrelated.yaml"]


PROBE = """\
import sys
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("hydra", "omegaconf"))
    print("HEAVY", heavy)
    print("CONFIG", dict(ctx.config))

if __name__ == "__main__":
    main()
"""


def test_a_plain_run_of_a_group_free_config_never_imports_hydra(project):
    """Nor OmegaConf, for a config without interpolations (``plain.literal_config``)."""
    project.write("configs/config.yaml", "seed: 0\nlr: 0.1\nmodel:\n  depth: 2\n")
    project.write("main.py", PROBE)
    for args in [(), ("seed=3", "+new=x", "lr=0.5,0.7")]:
        proc = project.run(*args, check=True)
        assert proc.stdout.count("HEAVY []") == (2 if args else 1), proc.stdout
    assert "CONFIG {'seed': 3, 'lr': 0.7, 'model': {'depth': 2}, 'new': 'x'}" in proc.stdout


def test_a_config_with_groups_or_an_unusual_override_still_composes_with_hydra(project):
    project.write("configs/config.yaml", "defaults:\n  - model: small\n  - _self_\nseed: 0\n")
    project.write("configs/model/small.yaml", "depth: 1\n")
    project.write("configs/model/big.yaml", "depth: 8\n")
    project.write("main.py", PROBE)
    proc = project.run("model=big", check=True)
    assert "'model': {'depth': 8}" in proc.stdout and "'hydra'" in proc.stdout

    project.write("configs/config.yaml", "seed: 0\n")
    for path in ("configs/model/small.yaml", "configs/model/big.yaml"):
        (project.root / path).unlink()
    (project.root / "configs/model").rmdir()
    proc = project.run("+name='a b'", check=True)  # a quoted string: Hydra's parser
    assert "'name': 'a b'" in proc.stdout and "'hydra'" in proc.stdout


def test_a_typo_gives_the_same_one_line_error_on_the_plain_path(project):
    project.write("configs/config.yaml", "seed: 0\nlr: 0.1\n")
    project.write("main.py", PROBE)
    proc = project.run("sed=3")
    assert proc.returncode != 0
    assert proc.stderr == (
        "mlxlaunch: error: Unknown config key 'sed' in (sed=3). Did you mean 'seed'?\n"
        "To add a new key, write '+sed=3'.\n"
    )


YAML_SCALARS = [
    "1",
    "-1",
    "1_000",
    "012",
    "0x1F",
    "0o17",
    "1e5",
    "1E-3",
    "1.5",
    "-.5",
    "1.",
    ".5e+3",
    "1_0.5",
    "1:30",
    "1:30.5",
    ".inf",
    "-.Inf",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "~",
    "null",
    "Null",
    "2020-01-01",
    "2020-01-01 10:00:00",
    "'1'",
    '"1e5"',
    "abc",
    "a b",
    "+1",
    "+1.5",
    "0.",
    "1e",
    "e5",
    "!!str 5",
    "!!float 1",
    "!!int '7'",
    "[1, 1e5]",
    "{x: y}",
]


@pytest.mark.parametrize("scalar", YAML_SCALARS)
def test_the_yaml_read_without_omegaconf_is_what_omegaconf_reads(scalar):
    import io

    import yaml
    from omegaconf import OmegaConf

    text = f"value: {scalar}\n"
    ours = yaml.load(text, Loader=plain._omegaconf_yaml_loader())  # noqa: S506
    theirs = OmegaConf.to_container(OmegaConf.load(io.StringIO(text)))
    assert _dump(ours) == _dump(theirs)  # the same values of the same types
    assert repr(ours) == repr(theirs)


def test_a_duplicate_key_is_an_error_for_both_readers():
    import io

    import yaml
    from omegaconf import OmegaConf

    text = "a: 1\na: 2\n"
    with pytest.raises(yaml.YAMLError):
        yaml.load(text, Loader=plain._omegaconf_yaml_loader())  # noqa: S506
    with pytest.raises(yaml.YAMLError):
        OmegaConf.load(io.StringIO(text))


def test_a_plugin_that_stores_a_schema_for_the_main_config_is_honoured(project):
    """A third-party plugin, imported by Hydra's plugin discovery, changes the main config:
    the command goes to Hydra and the run gets what ``@hydra.main`` would give."""
    project.write("configs/config.yaml", "seed: 0\n")
    project.write("main.py", PROBE)
    project.write(
        "hydra_plugins/my_schema/__init__.py",
        "from hydra.core.config_store import ConfigStore\n"
        "ConfigStore.instance().store(name='config', node={'seed': 0, 'extra': 5})\n",
    )
    proc = project.run(check=True)
    assert "CONFIG {'seed': 0, 'extra': 5}" in proc.stdout, proc.stdout
    project.write("hydra_plugins/my_schema/__init__.py", "")  # now a plugin storing nothing
    (project.root / "hydra_plugins" / "my_schema").rename(
        project.root / "hydra_plugins" / "hydra_submitit_launcher"
    )
    proc = project.run(check=True)
    assert "HEAVY []" in proc.stdout and "CONFIG {'seed': 0}" in proc.stdout, proc.stdout
