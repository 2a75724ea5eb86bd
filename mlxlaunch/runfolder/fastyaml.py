"""A fast reader for the plain block YAML that PyYAML writes for configs and run info.

``yaml.load(..., CSafeLoader)`` spends most of its time in Python-level node
construction (about 90 us for a 22-key config); reading 20,000 such files is
most of a first search over 10,000 runs. The files mlxlaunch and MLXP write are
all PyYAML dumps of nested mappings of scalars: one ``key: value`` per line,
nested mappings indented, lists as ``- item`` lines. This module parses exactly
that subset, several times faster, and gives up (``Unsupported``) on anything
else so the caller falls back to libyaml: multi-line or double-quoted strings,
anchors, tags, flow collections, lists of mappings, comments after values,
and any scalar PyYAML would resolve to a type not handled here (timestamps,
``0x1F``, ``1_000``, ``1:30``...).

Scalars are resolved with PyYAML's own implicit-resolver table, so a value
parses to what ``yaml.safe_load`` gives (a test checks this on generated data).
"""

from __future__ import annotations

import re
from typing import Any

_SIMPLE_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_SIMPLE_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+][0-9]+)?\Z")
_KEY = re.compile(r"([^\s'\"#\[\]{},&*!|>%@`?:-][^:#]*?|-[^\s:#][^:#]*?)( *):(?: +(.*))?\Z")
_QUOTED_KEY = re.compile(r"'((?:[^']|'')*)'( *):(?: +(.*))?\Z")
_BOOLS = {
    **dict.fromkeys(("yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_SPECIAL_FLOATS = {
    ".inf": float("inf"),
    ".Inf": float("inf"),
    ".INF": float("inf"),
    "+.inf": float("inf"),
    "+.Inf": float("inf"),
    "+.INF": float("inf"),
    "-.inf": float("-inf"),
    "-.Inf": float("-inf"),
    "-.INF": float("-inf"),
    ".nan": float("nan"),
    ".NaN": float("nan"),
    ".NAN": float("nan"),
}
_resolvers: dict[str, list] = {}


class Unsupported(Exception):
    """The text uses YAML this parser does not handle: use libyaml instead.

    Private control flow, not an error anyone sees: the caller catches it at once and
    hands the file to PyYAML, so it stays here rather than in ``errors.py``.
    """


def _resolver_table() -> dict[str, list]:
    if not _resolvers:
        import yaml

        _resolvers.update(yaml.resolver.Resolver.yaml_implicit_resolvers)
    return _resolvers


def _plain(text: str) -> Any:
    """The value of a plain (unquoted) scalar, resolved as PyYAML's SafeLoader does."""
    if text == "" or text == "~":
        return None
    for tag, regexp in _resolver_table().get(text[0], ()):
        if regexp.match(text):
            kind = tag.rsplit(":", 1)[-1]
            if kind == "null":
                return None
            if kind == "bool":
                return _BOOLS[text]
            if kind == "int" and _SIMPLE_INT.match(text):
                return int(text)
            if kind == "float":
                if text in _SPECIAL_FLOATS:
                    return _SPECIAL_FLOATS[text]
                if _SIMPLE_FLOAT.match(text):
                    return float(text)
            raise Unsupported(text)  # timestamps, 0x.., 1_000, 1:30, merge keys...
    return text


def _scalar(text: str) -> Any:
    """A value written on one line: plain, single-quoted, or an empty ``[]`` / ``{}``."""
    first = text[:1]
    if first == "'":
        if len(text) < 2 or text[-1] != "'" or "'" in text[1:-1].replace("''", ""):
            raise Unsupported(text)
        return text[1:-1].replace("''", "'")
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if first in '"[]{}&*!|>%@`#,' or " #" in text or ": " in text or text.endswith(":"):
        raise Unsupported(text)
    if first in "-?:" and (len(text) == 1 or text[1] == " "):
        raise Unsupported(text)
    return _plain(text)


#: Parsed line contents, memoised: configs of a sweep repeat the same lines thousands of times.
_LINES: dict[str, tuple] = {}
_EMPTY_LIST, _EMPTY_DICT, _OPEN = object(), object(), object()


def _parse_line(content: str) -> tuple:
    """``("item", value)`` for ``- value``; ``("key", key, value or _OPEN)`` for ``key: value``."""
    if content == "-" or content.startswith("- "):
        item = content[2:].strip()
        if not item or (item[0] != "'" and (": " in item or item.endswith(":"))):
            raise Unsupported(content)  # nested lists/mappings inside a list
        return ("item", _marked(item))
    match = _KEY.match(content) or _QUOTED_KEY.match(content)
    if match is None:
        raise Unsupported(content)
    key = _plain(match.group(1)) if match.re is _KEY else match.group(1).replace("''", "'")
    value = match.group(3)
    return ("key", key, _OPEN if not value else _marked(value))


def _marked(text: str) -> Any:
    value = _scalar(text)
    if isinstance(value, list):
        return _EMPTY_LIST
    if isinstance(value, dict):
        return _EMPTY_DICT
    return value


def _fresh(value: Any) -> Any:
    if value is _EMPTY_LIST:
        return []
    if value is _EMPTY_DICT:
        return {}
    return value


def load(text: str) -> Any:
    """Parse ``text``; raise ``Unsupported`` when it is outside the handled subset."""
    if "\t" in text or "\r" in text or text.startswith("%") or "\n---" in text or "\n..." in text:
        raise Unsupported("tabs, directives, CR or several documents")
    if text.startswith("---"):
        raise Unsupported("document marker")
    if text.strip() == "{}":
        return {}
    if len(_LINES) > 200_000:
        _LINES.clear()
    root: dict[Any, Any] = {}
    # Open containers: (indent of their entries, container); the root's entries are at 0.
    stack: list[tuple[int, Any]] = [(0, root)]
    open_key: Any = None  # a "key:" with nothing after it, waiting for a nested block
    open_in: dict = root
    open_indent = -1
    empty = True
    for line in text.split("\n"):
        content = line.lstrip(" ")
        if not content or content[0] == "#":
            continue
        indent = len(line) - len(content)
        parsed = _LINES.get(content)
        if parsed is None:
            parsed = _LINES[content] = _parse_line(content.rstrip(" "))
        empty = False
        is_item = parsed[0] == "item"
        if open_indent >= 0:  # the line after "key:" decides what the key holds
            if indent > open_indent and not is_item:
                child: Any = {}
            elif indent >= open_indent and is_item:
                child = []
            else:
                child = None
            open_in[open_key] = child
            if child is not None:
                stack.append((indent, child))
            open_indent = -1
        while stack[-1][0] > indent:
            stack.pop()
            if not stack:
                raise Unsupported(f"unexpected indentation: {line!r}")
        if stack[-1][0] != indent:
            raise Unsupported(f"unexpected indentation: {line!r}")
        container = stack[-1][1]
        if is_item:
            if not isinstance(container, list):
                raise Unsupported(line)
            container.append(_fresh(parsed[1]))
            continue
        if not isinstance(container, dict):
            if len(stack) > 1 and isinstance(stack[-2][1], dict) and stack[-2][0] == indent:
                stack.pop()  # an indentless list ended: back to its mapping
                container = stack[-1][1]
            else:
                raise Unsupported(line)
        key, value = parsed[1], parsed[2]
        if key in container:
            raise Unsupported(line)
        if value is _OPEN:
            open_key, open_in, open_indent = key, container, indent
        else:
            container[key] = _fresh(value)
    if empty:
        return None
    if open_indent >= 0:
        open_in[open_key] = None
    return root


def safe_load(data: bytes) -> Any:
    """``yaml.safe_load(data)``: through ``load`` when it handles the text, else libyaml.

    Raises ``yaml.YAMLError`` for text that is not valid YAML.
    """
    try:
        return load(data.decode("utf-8"))
    except (Unsupported, UnicodeDecodeError):
        import yaml

        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
