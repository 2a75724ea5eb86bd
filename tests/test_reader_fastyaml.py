"""``fastyaml`` parses PyYAML's block output exactly like ``yaml.safe_load``, or declines."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mlxlaunch.runfolder import fastyaml
from mlxlaunch.runfolder.metadata import dump_yaml

TRICKY = [
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "~",
    "null",
    "",
    " lead",
    "trail ",
    "1e-3",
    "1.0e-06",
    "0x1F",
    "1_000",
    "12:30:05",
    "2023-11-18",
    "18/11/2023",
    "007",
    "-",
    "- a",
    "a: b",
    "a #b",
    "#c",
    "'q'",
    '"dq"',
    "[1]",
    "{a}",
    "é",
    ".inf",
    "-.INF",
    ".nan",
    ".5",
    "-.5",
    "+1",
    "1.",
    "=",
    "<<",
    "? x",
    "line\nbreak",
    "x" * 100 + " " + "y" * 30,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.sampled_from(TRICKY),
    st.text(max_size=20),
)
keys = st.one_of(
    st.sampled_from(["a", "b_c", "lr", "1", "true", "null", "x y", "-k", "é"]), st.text(max_size=8)
)
values = st.recursive(
    st.one_of(scalars, st.lists(scalars, max_size=3)),
    lambda sub: st.dictionaries(keys, sub, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(keys, values, max_size=6)


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=200, deadline=None)
@given(documents, st.sampled_from(["pyyaml-default", "mlxlaunch"]))
def test_same_result_as_safe_load_or_declines(data, dumper):
    text = yaml.dump(data) if dumper == "pyyaml-default" else dump_yaml(data)
    expected = yaml.safe_load(text)
    try:
        got = fastyaml.load(text)
    except fastyaml.Unsupported:
        return
    assert same(got, expected), text


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb:\n  c: 2\n  d:\n  - x\n  - 'y'\n  e: null\nf: []\ng: {}\nh:\ni: 2\n",
        "status: COMPLETE\nstart_time: '12:30:05'\nend: 18/11/2023\nlr: 1.0e-06\nn: -3\nok: false\n",
        "# comment\n\nseed: 0\n",
    ],
)
def test_common_files_take_the_fast_path(text):
    assert fastyaml.load(text) == yaml.safe_load(text)


@pytest.mark.parametrize(
    "text",
    [
        "when: 2023-11-18\n",
        "x: 0x1F\n",
        "a: &anchor 1\nb: *anchor\n",
        "a: !!str 1\n",
        'a: "double"\n',
        "a: [1, 2]\n",
        "a: long plain\n  continued\n",
        "- a\n- b\n",
        "a:\n- b: 1\n",
        "---\na: 1\n",
        "a: 1\na: 2\n",
        "a: 1 # note\n",
    ],
)
def test_everything_else_is_declined(text):
    with pytest.raises(fastyaml.Unsupported):
        fastyaml.load(text)


simple_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(),
    st.from_regex(r"[A-Za-z/][A-Za-z0-9_/.-]{0,15}", fullmatch=True),
)
simple_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
simple_documents = st.dictionaries(
    simple_keys,
    st.recursive(
        st.one_of(simple_scalars, st.lists(simple_scalars, max_size=3)),
        lambda sub: st.dictionaries(simple_keys, sub, min_size=1, max_size=4),
        max_leaves=10,
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(simple_documents, st.sampled_from(["pyyaml-default", "mlxlaunch"]))
def test_configs_of_numbers_words_and_lists_take_the_fast_path(data, dumper):
    text = yaml.dump(data) if dumper == "pyyaml-default" else dump_yaml(data)
    assert same(fastyaml.load(text), yaml.safe_load(text)), text  # never declines
