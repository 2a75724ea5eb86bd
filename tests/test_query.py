"""The query language: tokenizer, parser, evaluator, error messages (no files involved)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlxlaunch.reader.query import (
    All,
    And,
    Compare,
    In,
    IsNan,
    Not,
    Or,
    QueryError,
    check_keys,
    evaluate,
    evaluate_columns,
    parse,
    to_text,
)

ROW = {
    "config.optimizer.lr": 0.01,
    "config.seed": 3,
    "config.name": "resnet",
    "config.flag": True,
    "config.nothing": None,
    "info.status": "COMPLETE",
}


def match(query: str, row: dict = ROW) -> bool:
    return evaluate(parse(query), row)


def strip_pos(node):
    """The tree without source positions, to compare trees parsed from different texts."""
    if isinstance(node, Compare):
        return Compare(node.key, node.op, node.value)
    if isinstance(node, In):
        return In(node.key, node.values)
    if isinstance(node, Not):
        return Not(strip_pos(node.operand))
    if isinstance(node, IsNan):
        return IsNan(node.key)
    if isinstance(node, (And, Or)):
        return type(node)(*map(strip_pos, node.operands))
    return node


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e-3", 1e-3),
        ("-2.5E+4", -2.5e4),
        ("12", 12),
        ("-3", -3),
        (".5", 0.5),
        ("1.", 1.0),
        ("+7", 7),
    ],
)
def test_numbers(text, value):
    tree = parse(f"config.x == {text}")
    assert tree.value == value and type(tree.value) is type(value)


@pytest.mark.parametrize(
    "word, value",
    [("true", True), ("TRUE", True), ("False", False), ("NULL", None), ("Null", None)],
)
def test_keywords_any_case(word, value):
    assert parse(f"config.x == {word}").value is value


def test_strings_both_quotes_and_escapes():
    assert parse("info.status == 'COMPLETE'").value == "COMPLETE"
    assert parse('info.status == "COMPLETE"').value == "COMPLETE"
    assert parse(r"config.name == 'it\'s'").value == "it's"
    assert parse(r'config.name == "a \"b\" c"').value == 'a "b" c'
    assert parse("config.name == 'a & b | ~ (c)'").value == "a & b | ~ (c)"


def test_precedence_and_grouping():
    assert parse("config.a == 1 | config.b == 2 & config.c == 3") == Or(
        Compare("config.a", "==", 1, 0),
        And(Compare("config.b", "==", 2, 16), Compare("config.c", "==", 3, 32)),
    )
    assert strip_pos(parse("(config.a == 1 | config.b == 2) & ~config.c == 3")) == And(
        Or(Compare("config.a", "==", 1), Compare("config.b", "==", 2)),
        Not(Compare("config.c", "==", 3)),
    )
    assert isinstance(parse(""), All) and isinstance(parse("   "), All)


def test_evaluation():
    assert match("config.optimizer.lr <= 1e-2 & info.status == 'COMPLETE'")
    assert not match("config.optimizer.lr < 1e-2")
    assert match("config.seed in [1, 2, 3]") and not match("config.seed in [1, 2]")
    assert match("config.seed in []") is False
    assert match("~(config.seed == 4)")
    assert match("config.seed == 3.0")  # numbers compare by value
    assert match("config.name >= 'res'")  # strings order lexically
    assert match("config.flag == TRUE") and not match("config.flag == 1")  # booleans stay booleans
    assert not match("config.seed == true")
    assert match("config.nothing == null") and match("config.missing == null")
    assert match("config.missing != 1")


def test_incompatible_types_are_false_not_errors():
    assert not match("config.name < 3")
    assert not match("config.name > 3")
    assert not match("config.seed < 'a'")
    assert not match("config.missing < 1")
    assert not match("config.nothing >= 0")
    assert match("~(config.name < 3)")
    assert not match("config.name == 3") and match("config.name != 3")


def test_nan_and_numpy_values():
    np = pytest.importorskip("numpy")
    assert match("train.loss.last < 1", {"train.loss.last": np.float64(0.5)})
    assert not match("train.loss.last < 1", {"train.loss.last": math.nan})
    assert match("train.loss.count == 3", {"train.loss.count": np.int64(3)})


@pytest.mark.parametrize(
    "query, column, fragment",
    [
        ("config.lr = 1", 10, "'=' is not an operator"),
        ("config.lr == ", 13, "Expected a value"),
        ("config.lr == 1 &", 16, "Expected a key"),
        ("(config.lr == 1", 15, "Expected ')'"),
        ("config.lr == 1)", 14, "Unexpected ')'"),
        ("config.lr 1", 10, "Expected an operator"),
        ("config.lr == 1 config.x == 2", 15, "Unexpected 'config.x'"),
        ("config.lr == 'abc", 13, "Unterminated string"),
        ("config.lr == 1 && config.x == 2", 16, "Expected a key"),
        ("config.lr == $", 13, "Unexpected character '$'"),
        ("info.status == COMPLETE", 15, "Quote strings: 'COMPLETE'"),
        ("config.lr in 1", 13, "Expected '['"),
        ("config.lr in [1 2]", 16, "Expected ',' or ']'"),
        ("== 3", 0, "Expected a key"),
        ("true == 3", 0, "Expected a key"),
        ("config.lr == 1e", 13, "'1e' is not a number"),
        ("config.lr in [1, 2x]", 17, "'2x' is not a number"),
    ],
)
def test_syntax_errors_point_at_the_column(query, column, fragment):
    with pytest.raises(QueryError) as info:
        parse(query)
    err = info.value
    assert err.column == column
    assert fragment in str(err)
    lines = str(err).splitlines()
    query_line = next(i for i, line in enumerate(lines) if line == f"  {query}")
    caret = lines[query_line + 1]
    assert caret.index("^") == column + 2
    assert err.exit_code == 2


def test_unknown_key_suggests_close_names():
    query = "config.optimizer.lrr <= 1e-2 & info.status == 'COMPLETE'"
    tree = parse(query)
    with pytest.raises(QueryError) as info:
        check_keys(query, tree, ["config.optimizer.lr", "info.status"], lambda key: False)
    assert "Unknown key 'config.optimizer.lrr'" in str(info.value)
    assert "Did you mean 'config.optimizer.lr'?" in str(info.value)
    assert info.value.column == 0
    assert "^" * len("config.optimizer.lrr") in str(info.value)
    query = "info.status == 'X' | info.stat == 'Y'"
    with pytest.raises(QueryError) as info:
        check_keys(query, parse(query), ["info.status"], lambda key: False)
    assert info.value.column == query.index("info.stat ")
    check_keys(query, parse(query), ["info.status"], lambda key: key == "info.stat")


# ---------------------------------------------------------------- property-based

keys = st.from_regex(
    r"(config|info|train)\.[a-z_][a-z0-9_]{0,6}(\.[a-z_][a-z0-9_]{0,4}){0,2}", fullmatch=True
)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
)


def query_trees(keys, values, operands: int, max_leaves: int):
    """Parsed query trees over ``keys`` and ``values``: leaves, ``~``, ``&``, ``|``."""
    leaves = st.one_of(
        st.builds(Compare, keys, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), values),
        st.builds(In, keys, st.lists(values, max_size=operands).map(tuple)),
        st.builds(IsNan, keys),
    )
    return st.recursive(
        leaves,
        lambda sub: st.one_of(
            st.builds(Not, sub),
            st.lists(sub, min_size=2, max_size=operands).map(lambda ops: And(*ops)),
            st.lists(sub, min_size=2, max_size=operands).map(lambda ops: Or(*ops)),
        ),
        max_leaves=max_leaves,
    )


trees = query_trees(keys, values, operands=4, max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_round_trip_text_to_tree(tree):
    assert strip_pos(parse(to_text(tree))) == tree


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="cinfog.lr =!<>&|~()[],'\"0123456789eE+-_ tTrRuUeE$", max_size=40))
def test_any_text_parses_or_raises_query_error(text):
    try:
        tree = parse(text)
    except QueryError as err:
        assert 0 <= err.column <= len(text)
    else:
        evaluate(tree, ROW)  # never crashes on a parsed tree


@settings(max_examples=200, deadline=None)
@given(trees, st.dictionaries(keys, values, max_size=6))
def test_not_is_the_complement(tree, row):
    assert evaluate(Not(tree), row) is (not evaluate(tree, row))


few_keys = st.sampled_from(["config.lr", "config.seed", "info.status"])
row_values = st.one_of(
    values,
    st.floats(),  # NaN and infinities too: NaN is never one memoised value
    st.sampled_from([1, 1.0, True, 0, 0.0, -0.0, False, "1"]),  # equal in Python, not here
    st.lists(st.integers(0, 2), max_size=2),  # unhashable: decided each time
)
few_trees = query_trees(few_keys, row_values, operands=3, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(few_trees, st.lists(st.dictionaries(few_keys, row_values, max_size=3), max_size=12))
def test_columns_give_what_rows_give(tree, rows):
    """A search over whole columns (each condition decided once per distinct value)
    matches exactly the runs a row-by-row evaluation matches."""
    column = lambda key: [row.get(key) for row in rows]  # noqa: E731
    assert evaluate_columns(tree, column, len(rows)) == [evaluate(tree, row) for row in rows]
