"""``fastdump`` writes exactly the text PyYAML writes for mlxlaunch's files, or declines.

``metadata.dump_yaml`` writes every config.yaml, info.yaml and launcher.yaml with
``fastdump`` when it can: the files must be byte-for-byte those PyYAML (libyaml's
emitter, mlxlaunch's dumper) wrote before, for every tree, or readers (MLXP's
included) and the docs' examples would see a change.
"""

from __future__ import annotations

import string

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mlxlaunch.runfolder import fastdump
from mlxlaunch.runfolder.metadata import dump_yaml, pyyaml_dump

#: strings PyYAML quotes, folds, escapes or resolves to another type
TRICKY = [
    "",
    " ",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "true",
    "~",
    "null",
    "Null",
    " lead",
    "trail ",
    "in  side",
    "1e-3",
    "1e3",
    "-2E-4",
    ".5e1",
    "1.0e-06",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "12:30:05",
    "190:20:30",
    "2023-11-18",
    "2026-12-04T20:39:37.123456+00:00",
    "2001-12-14 21:59:43.10 -5",
    "18/11/2023",
    "007",
    "3.11.7",
    "-",
    "--",
    "---",
    "--- a",
    "...",
    "- a",
    "-a",
    "?",
    "? x",
    "?x",
    ":",
    ":x",
    ": x",
    "a:",
    "a: b",
    "a:b",
    "http://x.org/a?b=c#d",
    "a #b",
    "a#b",
    "#c",
    "'q'",
    "it's",
    '"dq"',
    'say "hi"',
    "[1]",
    "{a}",
    "a,b",
    "&a",
    "*a",
    "!t",
    "|",
    ">",
    "%",
    "@",
    "`",
    "é",
    "naïve",
    "日本",
    "\U0001f600",
    "\x85",
    "\u2028",
    "\ufeff",
    "\x7f",
    "\x00",
    "tab\there",
    ".inf",
    "-.INF",
    ".nan",
    ".NaN",
    ".5",
    "-.5",
    "+1",
    "+i=0",
    "seed=range(0,10)",
    "1.",
    "=",
    "<<",
    "line\nbreak",
    "trailing\n",
    "\nleading",
    "x" * 100 + " " + "y" * 30,
    "word " * 20,
    "a" * 200,
    "/tmp/logs/1/metadata",
]
_alphabet = string.ascii_letters + string.digits + " -_.:#'\"?,[]{}&*!|>%@`=+~/\\<é\n\t\x85"
texts = st.one_of(st.sampled_from(TRICKY), st.text(_alphabet, max_size=24), st.text(max_size=6))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.sampled_from([0.0, -0.0, 1e17, 1e-5, 1e16, 123456789.0, 1e300, 5e-324, 0.1]),
    texts,
)
keys = st.one_of(
    st.sampled_from(["a", "b_c", "lr", "1", "true", "null", "x y", "-k", "é", "", "a" * 120]),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    texts,
)
trees = st.recursive(
    scalars,
    lambda sub: st.one_of(st.lists(sub, max_size=4), st.dictionaries(keys, sub, max_size=4)),
    max_leaves=16,
)
documents = st.one_of(st.dictionaries(keys, trees, max_size=6), st.lists(trees, max_size=4))


@settings(max_examples=800, deadline=None)
@given(documents)
@example({"a": {"b": [{"c": [[], {}], "d": [[1, [2]]]}], "e": {}}, "f": []})
@example([[{"a": 1, "b": [1, 2]}, []], {}, [[]]])
@example({"k": "word " * 14 + "w"})  # exactly at the fold width
@example({"kk": ["word " * 15 + "w"]})
def test_same_text_as_pyyaml_or_declines(data):
    text = fastdump.dump(data)
    expected = pyyaml_dump(data)
    if text is not None:
        assert text == expected
    assert dump_yaml(data) == expected


def test_the_files_mlxlaunch_writes_are_handled():
    """The trees of a sweep's files take the fast path (else it would not be faster)."""
    info = {
        "status": "QUEUED",
        "log_id": 12,
        "log_dir": "/home/me/project/logs/12",
        "overrides": ["+i=3", "optimizer.lr=0.1", "model=resnet"],
        "queued_time": "2026-12-04T20:39:37.123456+00:00",
        "start_time": None,
        "heartbeat_interval": 30.0,
        "argv": ["main.py", "+i=range(0,10000)", "+launcher.use_scheduler=true"],
        "launched_by": {"host": "node-1", "pid": 4242, "pid_start": 123456},
        "scheduler": {"name": "slurm", "job_id": "1001_3", "array_index": 3},
    }
    config = {"seed": 0, "lr": 1e-3, "decay": "1e-4", "model": {"depth": 4, "name": "mlp"}}
    for data in (info, config, {}, {"empty": [], "none": {}}):
        assert fastdump.dump(data) == pyyaml_dump(data)


def test_a_shared_object_is_left_to_pyyaml():
    """PyYAML writes an anchor and an alias for an object met twice: declined here."""
    shared = [1, 2]
    data = {"a": shared, "b": shared}
    assert fastdump.dump(data) is None
    assert "&id001" in dump_yaml(data)
    assert fastdump.dump({"a": [1, 2], "b": [1, 2]}) == pyyaml_dump({"a": [1, 2], "b": [1, 2]})


def test_other_types_are_left_to_pyyaml():
    for data in ({"t": (1, 2)}, {(1, 2): 3}, {"b": b"x"}, "scalar", 5, None):
        assert fastdump.dump(data) is None
