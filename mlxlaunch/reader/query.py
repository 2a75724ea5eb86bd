"""The query language of ``Reader.search``: a tokenizer, a recursive-descent parser, an evaluator.

Grammar (lowest precedence first; ``~`` binds tightest)::

    query      := or_expr | <empty>
    or_expr    := and_expr ("|" and_expr)*
    and_expr   := not_expr ("&" not_expr)*
    not_expr   := "~" not_expr | primary
    primary    := "(" or_expr ")" | KEY OP value | KEY "in" "[" [value ("," value)*] "]"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    value      := NUMBER | STRING | "true" | "false" | "null"      (keywords in any case)

A KEY is dotted names: ``config.optimizer.lr``, ``info.status``, ``train.loss.last``.
A NUMBER is ``12``, ``-3``, ``0.5``, ``1e-3``, ``-2.5E+4`` or ``.5``. A STRING is single- or double-quoted with
backslash escapes for the quote and the backslash.

The text is never passed to ``eval``. Errors raise :class:`QueryError`, which shows
the query with a caret under the problem.

Comparison semantics, per run:

* a key the run does not have has the value ``null`` (so ``key == null`` finds them);
* ``==``/``!=``/``in`` compare numbers by value (``1 == 1.0``), a string is never equal
  to a number, and ``true``/``false`` only equal booleans;
* ``< <= > >=`` between values that cannot be ordered (a string and a number, or
  ``null``) are **false** for that run, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, Union

from mlxlaunch.errors import QueryError, UsageError, did_you_mean

# QueryError lives in errors.py; users import it from here or mlxlaunch.reader (docs/reader.md)
__all__ = ["QueryError", "parse", "check_keys"]


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|=)
  | (?P<punct>[&|~()\[\],])
  | (?P<word>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"true": True, "false": False, "null": None, "none": None}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, op, punct, word, end
    text: str
    pos: int
    value: Any = None


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; raise :class:`QueryError` at the first unknown character."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:
            char = query[pos]
            if char in "\"'":
                raise QueryError("Unterminated string", query, pos, "Close the quote.")
            bad = re.match(r"[-+]?\.?\d[\w.+-]*", query[pos:])
            if bad:
                raise QueryError(
                    f"{bad.group()!r} is not a number",
                    query,
                    pos,
                    "Numbers look like 3, -2, 0.5, 1e-3; quote strings: 'a1'.",
                    width=len(bad.group()),
                )
            raise QueryError(
                f"Unexpected character {char!r}",
                query,
                pos,
                "Use == != < <= > >= in [..] & | ~ ( ) with keys, numbers and quoted strings.",
            )
        kind = match.lastgroup
        text = match.group()
        if kind == "number":
            value: Any = float(text) if any(c in text for c in ".eE") else int(text)
            tokens.append(Token(kind, text, pos, value))
        elif kind == "string":
            tokens.append(Token(kind, text, pos, re.sub(r"\\(.)", r"\1", text[1:-1])))
        elif kind != "space":
            tokens.append(Token(kind or "", text, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(query)))
    return tokens


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
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class All:
    """The empty query: every run matches."""


Node = Union[Compare, In, Not, And, Or, All]


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.i = 0

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
        node = self.and_expr()
        while self.take("punct", "|"):
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.take("punct", "&"):
            node = And(node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.take("punct", "~"):
            return Not(self.not_expr())
        return self.primary()

    def primary(self) -> Node:
        if self.take("punct", "("):
            node = self.or_expr()
            if not self.take("punct", ")"):
                raise self.error("Expected ')'", hint="Every '(' needs a matching ')'.")
            return node
        key = self.tok
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


def keys(node: Node) -> list[Compare | In]:
    """The leaf conditions of ``node``, in query order."""
    if isinstance(node, (Compare, In)):
        return [node]
    if isinstance(node, Not):
        return keys(node.operand)
    if isinstance(node, (And, Or)):
        return keys(node.left) + keys(node.right)
    return []


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
        return a == b
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


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
    """Whether the run ``row`` (key -> value; missing keys are null) matches ``node``."""
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
    if isinstance(node, And):
        return evaluate(node.left, row) and evaluate(node.right, row)
    if isinstance(node, Or):
        return evaluate(node.left, row) or evaluate(node.right, row)
    if isinstance(node, Not):
        return not evaluate(node.operand, row)
    return True


def to_text(node: Node) -> str:
    """Query text for ``node`` (fully parenthesised); ``parse(to_text(n)) == n`` up to positions."""
    if isinstance(node, Compare):
        return f"{node.key} {node.op} {_value_text(node.value)}"
    if isinstance(node, In):
        return f"{node.key} in [{', '.join(_value_text(v) for v in node.values)}]"
    if isinstance(node, Not):
        return f"~({to_text(node.operand)})"
    if isinstance(node, And):
        return f"({to_text(node.left)}) & ({to_text(node.right)})"
    if isinstance(node, Or):
        return f"({to_text(node.left)}) | ({to_text(node.right)})"
    return ""


def _value_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)
