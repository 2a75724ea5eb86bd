"""The query language of ``Reader.search``: a tokenizer, a recursive-descent parser, an evaluator.

Grammar (lowest precedence first; ``~`` binds tightest)::

    query      := or_expr | <empty>
    or_expr    := and_expr ("|" and_expr)*
    and_expr   := not_expr ("&" not_expr)*
    not_expr   := "~" not_expr | primary
    primary    := "(" or_expr ")" | KEY OP value | KEY "in" "[" [value ("," value)*] "]"
                | "isnan" "(" KEY ")"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := NUMBER | STRING | "true" | "false" | "null" | "nan" | "inf"
                  (keywords in any case; "-inf" and "-nan" too)

A KEY is dotted names: ``config.optimizer.lr``, ``info.status``, ``train.loss.last``.
A NUMBER is ``12``, ``-3``, ``0.5``, ``1e-3``, ``-2.5E+4`` or ``.5``. A STRING is single- or double-quoted with
backslash escapes for the quote and the backslash.

The text is never passed to ``eval``. Errors raise :class:`QueryError`, which shows
the query with a caret under the problem.

Hostile or generated text cannot hang or crash it: tokenizing is one left-to-right
pass whose patterns never backtrack over what they matched (time linear in the
query's length, ``benchmarks/bench_query_parse.py``); ``a | b | c ...`` chains become
one n-ary node (a query of 50,000 conditions evaluates without deep recursion); and
parentheses and ``~`` nested more than :data:`MAX_DEPTH` levels raise
:class:`~mlxlaunch.errors.QueryTooDeep` (the parser and evaluator recurse once per
level).

Comparison semantics, per run:

* a key the run does not have has the value ``null`` (so ``key == null`` finds them);
* ``==``/``!=``/``in`` compare numbers by value (``1 == 1.0``), a string is never equal
  to a number, and ``true``/``false`` only equal booleans;
* ``< <= > >=`` between values that cannot be ordered (a string and a number, or
  ``null``) are **false** for that run, never an error;
* NaN (a diverged loss) fails every ordering comparison, but ``key == nan`` and
  ``isnan(key)`` find it (``nan`` equals NaN here, unlike IEEE, so that it can be
  searched for).
"""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Union

from mlxlaunch.errors import QueryError, QueryTooDeep, UsageError, did_you_mean

# QueryError lives in errors.py; users import it from here or mlxlaunch.reader (docs/reader.md)
__all__ = ["QueryError", "QueryTooDeep", "parse", "check_keys"]

#: Parentheses and ``~`` nest at most this deep (each level is one recursive call).
MAX_DEPTH = 100


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<special>[-+](?i:inf|nan)\b)
  | (?P<string>"[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')
  | (?P<op>==|!=|<=|>=|<|>|=)
  | (?P<punct>[&|~()\[\],])
  | (?P<word>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)
    """,
    re.VERBOSE,
)
#: the keywords a sign may precede (``-inf``, ``+nan``)
_SIGNED = {"nan": math.nan, "inf": math.inf}
_KEYWORDS = {
    "true": True,
    "false": False,
    "null": None,
    "none": None,
    "nan": math.nan,
    "inf": math.inf,
}
#: Characters that may not follow a number (``2x``, ``1.5.3``, ``1e``).
_AFTER_NUMBER = re.compile(r"[\w.]")
#: What a bad number looks like, for the error (at most 1 KB of it is shown).
_BAD_NUMBER = re.compile(r"[-+]?\.?\d[\w.+-]{0,1024}")


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, op, punct, word, end
    text: str
    pos: int
    value: Any = None


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; raise :class:`QueryError` at the first unknown character.

    One pass; each pattern matches greedily and is never retried on a shorter match
    (the old ``(?![\\w.])`` look-ahead on numbers backtracked over every split of a long
    digit run: 50,000 digits took minutes), so the time is linear in the length.
    """
    tokens: list[Token] = []
    pos = 0
    end = len(query)
    while pos < end:
        match = _TOKEN.match(query, pos)
        kind = match.lastgroup if match else None
        if match is not None and kind == "number" and _AFTER_NUMBER.match(query, match.end()):
            match = None  # "2x", "1.5.3": not a number, and not a key either
        if match is None:
            raise _bad_character(query, pos)
        text = match.group()
        if kind == "number":
            value: Any = float(text) if any(c in text for c in ".eE") else int(text)
            tokens.append(Token(kind, text, pos, value))
        elif kind == "special":
            sign = -1.0 if text[0] == "-" else 1.0
            tokens.append(Token("number", text, pos, sign * _SIGNED[text[1:].lower()]))
        elif kind == "string":
            tokens.append(Token(kind, text, pos, _UNESCAPE.sub(r"\1", text[1:-1])))
        elif kind != "space":
            tokens.append(Token(kind or "", text, pos))
        pos = match.end()
    tokens.append(Token("end", "", end))
    return tokens


_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _bad_character(query: str, pos: int) -> QueryError:
    """The error for text at ``pos`` that starts no token."""
    char = query[pos]
    if char in "\"'":
        return QueryError("Unterminated string", query, pos, "Close the quote.")
    bad = _BAD_NUMBER.match(query, pos)
    if bad:
        return QueryError(
            f"{_clip(bad.group())!r} is not a number",
            query,
            pos,
            "Numbers look like 3, -2, 0.5, 1e-3; quote strings: 'a1'.",
            width=len(bad.group()),
        )
    return QueryError(
        f"Unexpected character {char!r}",
        query,
        pos,
        "Use == != < <= > >= in [..] & | ~ ( ) with keys, numbers and quoted strings.",
    )


def _clip(text: str, limit: int = 40) -> str:
    """``text``, shortened in the middle when longer than ``limit`` (for messages)."""
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


# ---------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Compare:
    """``key op value``."""

    key: str
    op: str
    value: Any
    pos: int = 0


@dataclass(frozen=True)
class In:
    """``key in [values]``."""

    key: str
    values: tuple
    pos: int = 0


@dataclass(frozen=True)
class IsNan:
    """``isnan(key)``: the run's value is a float NaN (a diverged loss)."""

    key: str
    pos: int = 0


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True, init=False)
class And:
    """``a & b & ...``: one node for a whole chain (``And(a, b, c)``), so a query of
    thousands of conditions is one level deep, not thousands."""

    operands: tuple

    def __init__(self, *operands: Node) -> None:
        object.__setattr__(self, "operands", operands)


@dataclass(frozen=True, init=False)
class Or:
    """``a | b | ...``: one node for a whole chain (``Or(a, b, c)``)."""

    operands: tuple

    def __init__(self, *operands: Node) -> None:
        object.__setattr__(self, "operands", operands)


@dataclass(frozen=True)
class All:
    """The empty query: every run matches."""


Node = Union[Compare, In, IsNan, Not, And, Or, All]
Leaf = Union[Compare, In, IsNan]


class _Parser:
    """Recursive descent over the token list, one method per grammar rule.

    Chains (``|``, ``&``, ``~~~``) are loops; only parentheses recurse, and
    ``depth`` (parentheses and ``~`` around the current point) is capped at
    :data:`MAX_DEPTH`, so no query can exhaust Python's stack here or in
    :func:`evaluate`.
    """

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, problem: str, tok: Optional[Token] = None, hint: str = "") -> QueryError:
        tok = tok or self.tok
        return QueryError(problem, self.query, tok.pos, hint, width=len(tok.text) or 1)

    def take(self, kind: str, text: Optional[str] = None) -> Optional[Token]:
        tok = self.tok
        if tok.kind == kind and (text is None or tok.text == text):
            self.i += 1
            return tok
        return None

    def parse(self) -> Node:
        if self.tok.kind == "end":
            return All()
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self.error(
                f"Unexpected {self.tok.text!r} after a complete condition",
                hint="Join conditions with & (and) or | (or).",
            )
        return node

    def or_expr(self) -> Node:
        operands = [self.and_expr()]
        while self.take("punct", "|"):
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else Or(*operands)

    def and_expr(self) -> Node:
        operands = [self.not_expr()]
        while self.take("punct", "&"):
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else And(*operands)

    def not_expr(self) -> Node:
        nots = 0
        while self.tok.kind == "punct" and self.tok.text == "~":
            self.enter(self.tok)
            self.i += 1
            nots += 1
        node = self.primary()
        self.depth -= nots
        for _ in range(nots):
            node = Not(node)
        return node

    def enter(self, tok: Token) -> None:
        """One level deeper at ``tok``; :class:`QueryTooDeep` past :data:`MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryTooDeep(MAX_DEPTH, self.query, tok.pos)

    def primary(self) -> Node:
        opening = self.take("punct", "(")
        if opening:
            self.enter(opening)
            node = self.or_expr()
            if not self.take("punct", ")"):
                raise self.error("Expected ')'", hint="Every '(' needs a matching ')'.")
            self.depth -= 1
            return node
        key = self.tok
        if (
            key.kind == "word"
            and key.text.lower() == "isnan"
            and self.tokens[self.i + 1].text == "("
        ):
            return self.isnan()
        if key.kind != "word" or key.text.lower() in _KEYWORDS or key.text == "in":
            what = "the end of the query" if key.kind == "end" else repr(key.text)
            raise self.error(
                f"Expected a key such as config.lr, found {what}",
                hint="A condition is KEY OP VALUE, e.g. config.optimizer.lr <= 1e-2.",
            )
        self.i += 1
        if self.take("word", "in"):
            return In(key.text, self.value_list(), key.pos)
        op = self.tok
        if op.kind != "op":
            raise self.error(
                f"Expected an operator after {key.text!r}",
                hint="Operators: == != < <= > >= in.",
            )
        if op.text == "=":
            raise self.error("'=' is not an operator", op, "Use '==' to test equality.")
        self.i += 1
        return Compare(key.text, op.text, self.value(), key.pos)

    def isnan(self) -> Node:
        self.i += 2  # isnan (
        key = self.tok
        if key.kind != "word" or key.text.lower() in _KEYWORDS:
            raise self.error("isnan( takes one key", hint="Write: isnan(train.loss.last).")
        self.i += 1
        if not self.take("punct", ")"):
            raise self.error(
                "Expected ')' after the key of isnan(", hint="Write: isnan(train.loss.last)."
            )
        return IsNan(key.text, key.pos)

    def value_list(self) -> tuple:
        if not self.take("punct", "["):
            raise self.error("Expected '[' after 'in'", hint="Write: key in [1, 2, 'a'].")
        values: list[Any] = []
        if self.take("punct", "]"):
            return ()
        while True:
            values.append(self.value())
            if self.take("punct", "]"):
                return tuple(values)
            if not self.take("punct", ","):
                raise self.error("Expected ',' or ']' in the list")

    def value(self) -> Any:
        tok = self.tok
        if tok.kind in ("number", "string"):
            self.i += 1
            return tok.value
        if tok.kind == "word" and tok.text.lower() in _KEYWORDS:
            self.i += 1
            return _KEYWORDS[tok.text.lower()]
        if tok.kind == "word":
            raise self.error(
                f"Expected a value, found the bare word {tok.text!r}",
                hint=f"Quote strings: '{tok.text}'.",
            )
        what = "the end of the query" if tok.kind == "end" else repr(tok.text)
        raise self.error(
            f"Expected a value (number, quoted string, true, false or null), found {what}"
        )


def parse(query: str) -> Node:
    """Parse ``query`` into a syntax tree; raise :class:`QueryError` if it is not valid."""
    if not isinstance(query, str):
        raise UsageError(f"A query is a string, got {type(query).__name__}.")
    return _Parser(query).parse()


# ---------------------------------------------------------------- keys and evaluation


def keys(node: Node) -> list[Leaf]:
    """The leaf conditions of ``node``, in query order (iterative: any size of tree)."""
    found: list[Leaf] = []
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, (Compare, In, IsNan)):
            found.append(node)
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, (And, Or)):
            stack.extend(reversed(node.operands))
    return found


def check_keys(
    query: str,
    node: Node,
    known: Iterable[str],
    accept: Optional[Callable[[str], bool]] = None,
) -> None:
    """Raise :class:`QueryError` for the first key neither in ``known`` nor ``accept``-ed."""
    known = set(known)
    for leaf in keys(node):
        if leaf.key not in known and not (accept and accept(leaf.key)):
            hint = did_you_mean(leaf.key, known) or (
                " Keys start with config., info. or a metric log name "
                "(train.loss.last); reader.fields lists them."
            )
            raise QueryError(
                f"Unknown key {leaf.key!r}", query, leaf.pos, hint, width=len(leaf.key)
            )


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b or _isnan(a) and _isnan(b)  # ``== nan`` finds NaN
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def _isnan(x: Any) -> bool:
    return isinstance(x, float) and x != x


_ORDER = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _ordered(op: str, a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b) or isinstance(a, str) and isinstance(b, str):
        return bool(_ORDER[op](a, b))
    return False


def _as_scalar(value: Any) -> Any:
    """numpy scalars (from metric summaries) become Python values."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "shape", None) == ():
        return item()
    return value


class Row(Protocol):
    """What a query is evaluated against: anything with ``get(key, default)``."""

    def get(self, key: str, default: Any = None) -> Any: ...


def evaluate(node: Node, row: Row) -> bool:
    """Whether the run ``row`` (key -> value; missing keys are null) matches ``node``.

    Recursion only follows parentheses and ``~`` (at most :data:`MAX_DEPTH` levels
    in a parsed query); chains are loops that stop at the first deciding operand.
    """
    if isinstance(node, Compare):
        value = _as_scalar(row.get(node.key))
        if node.op == "==":
            return _equal(value, node.value)
        if node.op == "!=":
            return not _equal(value, node.value)
        return _ordered(node.op, value, node.value)
    if isinstance(node, In):
        value = _as_scalar(row.get(node.key))
        return any(_equal(value, v) for v in node.values)
    if isinstance(node, IsNan):
        return _isnan(_as_scalar(row.get(node.key)))
    if isinstance(node, And):
        for operand in node.operands:
            if not evaluate(operand, row):
                return False
        return True
    if isinstance(node, Or):
        for operand in node.operands:
            if evaluate(operand, row):
                return True
        return False
    if isinstance(node, Not):
        return not evaluate(node.operand, row)
    return True


#: ``evaluate_columns`` is for queries of at most this many conditions; a longer one
#: (generated) is evaluated run by run, each stopping at its first deciding condition.
MAX_COLUMN_LEAVES = 64


def evaluate_columns(node: Node, column: Callable[[str], list], n: int) -> list[bool]:
    """``[evaluate(node, row) for row in rows]``, condition by condition over whole columns.

    ``column(key)`` gives the value of ``key`` in each of the ``n`` rows (``None``
    where missing). Each condition is decided once per distinct value (a column of
    10,000 runs has a handful of learning rates and statuses), then ``& | ~`` combine
    lists of booleans: the same answers as ``evaluate``, at a fraction of the cost.
    Only for rows whose values need no loading (no metric summaries): ``evaluate``
    stops at the first deciding condition, this evaluates every one.
    """
    if isinstance(node, (Compare, In, IsNan)):
        values = column(node.key)
        try:
            if len(set(map(type, values)) - {type(None)}) <= 1:  # all floats, all text...
                decided = {value: evaluate(node, {node.key: value}) for value in set(values)}
                return list(map(decided.__getitem__, values))  # no Python code per row
            memos = list(zip(map(type, values), values))  # 1, 1.0 and True are three values
            decided = {memo: evaluate(node, {node.key: memo[1]}) for memo in set(memos)}
            return list(map(decided.__getitem__, memos))
        except TypeError:  # a list or a mapping among the values: decided one by one below
            pass
        decided = {}
        out: list[bool] = []
        append = out.append
        for value in values:
            memo = (value.__class__, value)  # 1, 1.0 and True are three values here
            try:
                append(decided[memo])
            except KeyError:
                decided[memo] = hit = evaluate(node, {node.key: value})
                append(hit)
            except TypeError:  # a list or a mapping: decided each time
                append(evaluate(node, {node.key: value}))
        return out
    if isinstance(node, (And, Or)):
        parts = [evaluate_columns(operand, column, n) for operand in node.operands]
        if not parts:
            return [isinstance(node, And)] * n
        combine = operator.and_ if isinstance(node, And) else operator.or_  # on bools: bools
        return functools.reduce(lambda a, b: list(map(combine, a, b)), parts)
    if isinstance(node, Not):
        return list(map(operator.not_, evaluate_columns(node.operand, column, n)))
    return [True] * n


def to_text(node: Node) -> str:
    """Query text for ``node`` (fully parenthesised); ``parse(to_text(n)) == n`` up to positions."""
    if isinstance(node, Compare):
        return f"{node.key} {node.op} {_value_text(node.value)}"
    if isinstance(node, In):
        return f"{node.key} in [{', '.join(_value_text(v) for v in node.values)}]"
    if isinstance(node, IsNan):
        return f"isnan({node.key})"
    if isinstance(node, Not):
        return f"~({to_text(node.operand)})"
    if isinstance(node, (And, Or)):
        joint = " & " if isinstance(node, And) else " | "
        return joint.join(f"({to_text(operand)})" for operand in node.operands)
    return ""


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)  # nan, inf and -inf read back as themselves
