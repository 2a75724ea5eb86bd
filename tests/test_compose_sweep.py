"""Large sweeps compose each point as Hydra would, without Hydra's per-point costs.

``Composer`` parses a plain ``key=INT`` line without Hydra's parser and lets the
points of one shape share a working copy of the config (``compose.py``). These
tests hold both shortcuts to the reference: Hydra's own parser for the lines, and
``hydra.compose`` of each point on its own for the configs.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlxlaunch.errors import ConfigError
from mlxlaunch.launching.compose import Composer

CONFIG = """\
seed: 0
lr: 0.1
name: base
nothing: null
model:
  depth: 2
  width: ${model.depth}
  tag: d${model.depth}-s${seed}
optimizer:
  lr: ${lr}
  betas: [0.9, 0.99]
scaled: ${oc.env:MLXLAUNCH_TEST_UNSET,${seed}}
"""


def _composer(tmp_path: Path, config: str = CONFIG) -> Composer:
    folder = tmp_path / "configs"
    folder.mkdir(exist_ok=True)
    (folder / "config.yaml").write_text(config)
    return Composer(folder, "config")


def _hydra_configs(composer: Composer, args: list[str]) -> list[dict]:
    """Each point of ``args`` composed by Hydra alone, from scratch."""
    from hydra import compose
    from omegaconf import OmegaConf

    user, _ = composer.split(args)
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    batches = BasicSweeper.split_arguments(user, None)[0]
    return [
        OmegaConf.to_container(compose(config_name="config", overrides=b), resolve=True)
        for b in batches
    ]


SWEEPS = [
    ["seed=range(0,30)"],
    ["+i=range(0,25)", "lr=0.1,0.01"],
    ["++seed=range(5,-5,-1)", "model.depth=1,2,3"],
    ["+new.deep.key=range(0,4)", "name=a,b,'c d'"],
    ["nothing=range(0,3)", "+nothing2=x,y"],
    ["model.depth=range(0,4)", "optimizer.lr=${seed},0.5"],
    ["model.tag=x,${name},${model.width}", "seed=1,2"],
    ["lr=1e-3,2e-3,inf", "name=true,null,'1e3'"],
    ["~optimizer.betas", "seed=range(0,3)"],
    ["optimizer.betas=[1,2],[3]", "seed=range(0,3)"],
    ["model={depth:7},{width:1}", "seed=range(0,3)"],
    ["+model.extra=range(0,3)", "model.depth=4,5"],
    ["seed=range(0,3)", "+seed2=${seed},5"],
]


@pytest.mark.parametrize("args", SWEEPS, ids=[" ".join(a) for a in SWEEPS])
def test_every_point_is_the_config_hydra_composes_for_it(tmp_path, args):
    with _composer(tmp_path) as composer:
        ours = [p.config for p in composer.plan(args).points]
        assert ours == _hydra_configs(composer, args)


#: a config without interpolations: points of one shape patch the first point's resolved config
PLAIN = """\
seed: 0
lr: 0.1
name: base
nothing: null
flag: false
model:
  depth: 2
  layers: [1, 2]
optimizer:
  lr: 0.01
"""

PLAIN_SWEEPS = [
    ["seed=range(0,30)"],
    ["+i=range(0,25)", "lr=0.1,1,true"],
    ["model.depth=1,2.5,null,abc,'3'", "name='a b',''"],
    ["+new.deep.key=range(0,4)", "flag=true,false"],
    ["seed=1,${lr},4,???", "lr=2,3"],
    ["optimizer.lr=1e-3,2e-3,inf,nan", "++seed=range(5,-5,-1)"],
    ["model.layers=[3],[4,5]", "seed=range(0,3)"],
    ["nothing=range(0,3)", "+nothing2=x,y"],
    ["model.depth=range(0,3)", "model=x,y"],
]


@pytest.mark.parametrize("args", PLAIN_SWEEPS, ids=[" ".join(a) for a in PLAIN_SWEEPS])
def test_a_patched_point_is_the_config_hydra_composes_for_it(tmp_path, args):
    """Byte for byte as written to config.yaml: 1, 1.0 and true are three values here."""
    from mlxlaunch.runfolder.metadata import dump_yaml

    with _composer(tmp_path, PLAIN) as composer:
        ours = [dump_yaml(p.config) for p in composer.plan(args).points]
        assert ours == [dump_yaml(c) for c in _hydra_configs(composer, args)]


def test_points_of_one_shape_are_not_each_converted_by_omegaconf(tmp_path, monkeypatch):
    """A 10,000-point ``range()`` sweep of a plain config patches one resolved config."""
    from omegaconf import OmegaConf

    calls = []
    to_container = OmegaConf.to_container

    def counted(*args, **kwargs):
        calls.append(1)
        return to_container(*args, **kwargs)

    monkeypatch.setattr(OmegaConf, "to_container", counted)
    with _composer(tmp_path, PLAIN) as composer:
        points = composer.plan(["+i=range(0,200)", "lr=1,2"]).points
    assert [(p.config["i"], p.config["lr"]) for p in points[-2:]] == [(199, 1), (199, 2)]
    assert len(calls) < 5  # the first point's, and the template's check


def test_a_typed_node_converts_the_value_of_every_point(tmp_path):
    """A leaf typed by a structured schema (float) turns ``lr=1`` into 1.0 on every point."""
    from dataclasses import dataclass

    from hydra.core.config_store import ConfigStore

    @dataclass
    class TypedSchema:
        lr: float = 0.1
        seed: int = 0

    ConfigStore.instance().store(name="mlxlaunch_test_typed_schema", node=TypedSchema)
    config = "defaults:\n  - mlxlaunch_test_typed_schema\n  - _self_\nlr: 0.5\n"
    with _composer(tmp_path, config) as composer:
        points = composer.plan(["lr=1,2,3", "seed=range(0,2)"]).points
    assert [p.config["lr"] for p in points] == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    assert {type(p.config["lr"]) for p in points} == {float}


def test_a_schema_checks_the_value_of_every_point(tmp_path):
    from dataclasses import dataclass

    @dataclass
    class Schema:
        lr: float = 0.1
        seed: int = 0

    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "config.yaml").write_text("lr: 0.5\n")
    with Composer(folder, "config", schema=Schema) as composer:
        points = composer.plan(["lr=1,2", "seed=range(0,2)"]).points
        assert {type(p.config["lr"]) for p in points} == {float}
        with pytest.raises(ConfigError, match="point 3 of 3"):
            composer.plan(["seed=1,2,abc"])


def test_a_cached_resolver_runs_again_for_every_point_as_on_a_fresh_copy(tmp_path):
    from omegaconf import OmegaConf

    calls = itertools.count()
    OmegaConf.register_new_resolver("mlxlaunch_test_counter", lambda: next(calls), use_cache=True)
    try:
        config = "seed: 0\ncount: ${mlxlaunch_test_counter:}\n"
        with _composer(tmp_path, config) as composer:
            counts = [p.config["count"] for p in composer.plan(["seed=range(0,4)"]).points]
    finally:
        OmegaConf.clear_resolver("mlxlaunch_test_counter")
    assert len(set(counts)) == 4  # a shared copy would have kept the first point's value


def test_an_error_in_a_later_point_of_a_shared_copy_names_that_point(tmp_path):
    with _composer(tmp_path) as composer:
        with pytest.raises(ConfigError, match=r"point 3 of 4 .*'nope' not found"):
            composer.plan(["seed=1,2,${nope},4"])
    with _composer(tmp_path) as composer:  # and the points before it were right
        assert [p.config["seed"] for p in composer.plan(["seed=1,2"]).points] == [1, 2]


def test_adding_a_key_the_config_has_sets_it_on_every_point_of_a_shared_shape(tmp_path):
    # MLXP's `+key=value` on an existing key sets it (docs/migrating-from-mlxp.md)
    with _composer(tmp_path) as composer:
        points = composer.plan(["+seed=range(0,3)"]).points
    assert [p.config["seed"] for p in points] == [0, 1, 2]


def test_an_operation_applies_once_to_every_point_of_a_shared_shape(tmp_path):
    # a working copy shared by points must not compound `lr*=2` (0.2, 0.4, 0.8, ...)
    with _composer(tmp_path) as composer:
        points = composer.plan(["seed=range(0,4)", "lr*=2", "model.depth+=1"]).points
    assert [(p.config["lr"], p.config["model"]["depth"]) for p in points] == [(0.2, 3)] * 4


def test_a_factory_applies_to_every_point_of_a_shared_shape(tmp_path):
    from mlxlaunch.launching import factories

    @factories.factory(name="mlxlaunch_test_deep")
    def deep(depth: int = 9) -> dict:
        return {"depth": depth, "width": 1, "tag": "f"}

    try:
        with _composer(tmp_path) as composer:
            called = composer.plan(["seed=range(0,3)", "model=mlxlaunch_test_deep(depth=5)"])
            bare = composer.plan(["seed=range(0,3)", "model=mlxlaunch_test_deep"])
    finally:
        factories.REGISTRY.pop("mlxlaunch_test_deep", None)
    assert [p.config["model"]["depth"] for p in called.points] == [5, 5, 5]
    assert [p.config["model"]["depth"] for p in bare.points] == [9, 9, 9]


KEY = st.from_regex(
    r"[A-Za-z_][A-Za-z0-9_-]{0,6}(\.[A-Za-z_][A-Za-z0-9_-]{0,6}){0,2}", fullmatch=True
)
VALUE = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["0", "-0", "+1", "01", "1_000", "1.5", "1e3", "true", "null", "x", "", "1,2"]),
)


@settings(max_examples=300, deadline=None)
@given(prefix=st.sampled_from(["", "+", "++", "~"]), key=KEY, value=VALUE)
@example(prefix="", key="A-", value="0")  # `A-=0`: an operation (issue 16), not key `A-`
def test_a_line_built_without_hydras_parser_is_the_override_it_parses_to(prefix, key, value):
    """Every line goes through ``_parse_line``; the shortcut must change nothing.

    The reference is Hydra's parser, except for lines mlxlaunch reads as an operation
    (``A-=0`` subtracts 0 from ``A``, docs/operations.md): their reference is the
    composer's own full parse."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlxlaunch.launching import operations

    line = f"{prefix}{key}={value}"
    composer = Composer(Path("/nonexistent"), None)
    composer._loader = None  # (Hydra not started: the parser has no config loader)
    composer._parser = OverridesParser.create()
    try:
        if operations.split_operation(line) is not None:
            expected = composer.parse([line])[0]
        else:
            expected = composer.parser.parse_overrides([line])[0]
    except Exception:
        return  # not a valid line: Hydra's parser (and ours, through it) refuses it
    assert composer._parse_line(line) == expected
    assert composer._parse_line(line) is composer._parse_line(line)  # parsed once


# -- the plain path (plain.py): lines read without Hydra's parser, for a group-free config

PLAIN_VALUE = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"[A-Za-z0-9_./+-]{1,8}", fullmatch=True),
    st.sampled_from(
        ["0", "-0", "+1", "01", "1_000", "1.", ".5", "1.5e-3", "1E5", "-2e+3", "0.0", "1.50"]
        + ["true", "False", "TRUE", "null", "NULL", "Null", "inf", "-inf", "NaN", "infinity"]
        + ["x", "a-b", "a.b", "/tmp/x", "v1.2.3", "x,y", "1,2,3", "a,1,true,null", "", "'q'"]
        + ["${a}", "@f.yaml", "[1,2]", "{a:1}", "a b", "choice(1,2)", "é", "a=b", "a:b"]
    ),
)
PLAIN_LINE = st.builds(
    lambda prefix, key, values: f"{prefix}{key}" + ("" if values is None else "=" + values),
    st.sampled_from(["", "+", "++", "~"]),
    st.one_of(KEY, st.sampled_from(["hydra.run.dir", "hydra", "a.0", "a@b", "a/b", "__mlxop_x"])),
    st.one_of(st.none(), PLAIN_VALUE, st.lists(PLAIN_VALUE, min_size=2, max_size=3).map(",".join)),
)


def _same_value(ours, hydras) -> bool:
    return type(ours) is type(hydras) and ours == hydras


@settings(max_examples=500, deadline=None)
@given(line=PLAIN_LINE)
@example(line="a=1e5")  # Hydra types it a float: the sweeper writes it back as 100000.0
@example(line="a=inf")  # a float to Hydra, left to it
@example(line="~a=1")
@example(line="+a=x,TRUE,null,-3,0.5")
def test_a_line_read_without_hydra_is_the_override_hydras_parser_makes(line):
    """What ``plain.parse`` accepts, it reads as Hydra's parser does: kind, key, value
    and its Python type, sweep values, and the lines Hydra's sweeper writes back."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlxlaunch.launching import plain

    ours = plain.parse(line)
    if ours is None:
        return  # left to Hydra's parser
    (hydras,) = OverridesParser.create().parse_overrides([line])  # never refuses what we read
    assert ours.type == hydras.type.name
    assert ours.key_or_group == hydras.key_or_group
    assert ours.package is hydras.package is None
    assert ours.input_line == hydras.input_line
    assert ours.is_sweep_override() == hydras.is_sweep_override()
    assert ours.get_key_element() == hydras.get_key_element()
    if hydras.is_sweep_override():
        sweep = hydras.value().list
        assert len(ours.sweep) == len(sweep)
        assert all(_same_value(a, b) for a, b in zip(ours.sweep, sweep))
        assert ours.sweep_strings() == list(hydras.sweep_string_iterator())
    else:
        assert _same_value(ours.value(), hydras.value())
    assert plain.expand([ours]) == BasicSweeper.split_arguments([hydras], None)[0]


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(PLAIN_LINE, min_size=0, max_size=4))
@example(lines=["a=1,2", "+b=x", "a=3", "~c"])  # a repeated key keeps its first place
def test_plain_sweeps_expand_to_hydras_points_in_hydras_order(lines):
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from mlxlaunch.launching import plain

    ours = [plain.parse(line) for line in lines]
    if any(o is None for o in ours):
        return
    hydras = OverridesParser.create().parse_overrides(lines)
    assert plain.expand(ours) == BasicSweeper.split_arguments(hydras, None)[0]
