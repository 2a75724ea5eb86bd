"""A fast writer of the YAML that ``metadata.dump_yaml`` writes: the very same text.

A 10,000-point sweep writes 30,000 YAML files (each run's config, ``info.yaml``,
and its scheduler record); ``yaml.dump`` spends most of its time in Python-level
representation (~0.25 ms for a 25-key ``info.yaml``), about 40% of the CPU time
of such a launch. The trees mlxlaunch writes are plain: mappings, lists and
scalars (``str``, ``int``, ``float``, ``bool``, ``None``). :func:`dump` writes
those in PyYAML's block style directly, character for character what
``yaml.dump(data, Dumper=<mlxlaunch's dumper>, sort_keys=False,
default_flow_style=False)`` gives (a property test checks it on generated
trees), and returns None for anything else, so the caller uses PyYAML then:
another type (a tuple, an enum, a ``str`` subclass), an object referenced twice
(PyYAML writes an anchor), a string with a line break, a tab, non-ASCII text
(PyYAML escapes it in double quotes), or a string with spaces long enough that
PyYAML would fold it over two lines.

Strings get PyYAML's style: plain when the plain text reads back as the same
string (PyYAML's implicit-resolver table, as ``fastyaml`` uses it) and no
indicator forbids it, else single-quoted; strings a config loader would read as
a float (``1e3``, ``FLOAT_LIKE``) are always single-quoted, as ``metadata``'s
dumper asks.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional

from mlxlaunch.runfolder.fastyaml import _resolver_table

#: Strings that PyYAML writes unquoted but OmegaConf/Hydra read back as floats
#: (YAML 1.2 style exponents without a dot, e.g. '1e3', '-2E-4'): always quoted.
FLOAT_LIKE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)\Z")

#: PyYAML folds a plain or quoted scalar at a space past this column (libyaml's best width).
WIDTH = 80
#: A longer mapping key is written as an explicit ``? key`` by PyYAML (limit 128): declined.
MAX_KEY = 100

_STR_TAG = "tag:yaml.org,2002:str"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_BLOCK_INDICATORS = frozenset("#,[]{}&*!|>'\"%@`")


class _Declined(Exception):
    """``data`` holds something this writer does not handle (private: :func:`dump` says None)."""


def _resolves_to(text: str) -> Optional[str]:
    """The tag PyYAML's resolver gives the plain scalar ``text`` (None: a string)."""
    table = _resolver_table()
    for tag, regexp in (*table.get(text[:1], ()), *table.get(None, ())):  # type: ignore[call-overload]
        if regexp.match(text):
            return str(tag)
    return None


def _plain_allowed(text: str) -> bool:
    """Whether PyYAML's scalar analysis allows ``text`` plain in block context.

    ``text`` is non-empty printable ASCII here (no breaks, no tabs).
    """
    first = text[0]
    if text.startswith(("---", "...")) or first in _BLOCK_INDICATORS:
        return False
    if first == " " or text[-1] == " ":
        return False
    if first in "?:-" and (len(text) == 1 or text[1] == " "):
        return False
    return not (": " in text or text.endswith(":") or " #" in text)


#: rendered strings: a sweep's files repeat the same keys and values thousands of times
_STRINGS: dict[str, str] = {}
_MAX_CACHED = 100_000


def _str(text: str) -> str:
    """``text`` as PyYAML writes it (plain or single-quoted), or ``_Declined``."""
    done = _STRINGS.get(text)
    if done is not None:
        return done
    if not text.isascii() or not text.isprintable():
        raise _Declined  # breaks, tabs, control characters, non-ASCII: double quotes
    if FLOAT_LIKE.match(text):
        done = f"'{text}'"
    elif text and _resolves_to(text) is None and _plain_allowed(text):
        done = text
    else:
        done = "'" + text.replace("'", "''") + "'"
    if len(_STRINGS) < _MAX_CACHED:
        _STRINGS[text] = done
    return done


def _float(value: float) -> str:
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    if _resolves_to(text) != _FLOAT_TAG:
        raise _Declined  # PyYAML would add an explicit !!float tag
    return text


_SCALARS: dict[type, Callable[[Any], str]] = {
    str: _str,
    bool: lambda value: "true" if value else "false",
    int: str,
    float: _float,
    type(None): lambda value: "null",
}


def _scalar(value: Any, column: int) -> str:
    """A scalar written at ``column``; declined where PyYAML would fold it."""
    render = _SCALARS.get(type(value))
    if render is None:
        raise _Declined
    text = render(value)
    if column + len(text) > WIDTH and " " in text:
        raise _Declined
    return text


def _key(key: Any) -> str:
    if type(key) is str and key in _STRINGS:
        text = _STRINGS[key]
    else:
        render = _SCALARS.get(type(key))
        if render is None:
            raise _Declined  # a tuple key: PyYAML writes a complex key
        text = render(key)
    if len(text) > MAX_KEY:
        raise _Declined
    return text


class _Writer:
    """The lines of one document, written depth-first."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.seen: set[int] = set()  # containers met: a second meeting is an anchor in PyYAML

    def container(self, value: Any) -> None:
        if id(value) in self.seen:
            raise _Declined
        self.seen.add(id(value))

    def mapping(self, data: dict[Any, Any], indent: int, lead: str) -> None:
        """A non-empty mapping at ``indent``; its first line starts with ``lead``."""
        pad = " " * indent
        out = self.out
        for key, value in data.items():
            prefix = f"{lead}{_key(key)}:"
            kind = type(value)
            if kind is dict or kind is list:
                self.value(value, prefix, indent)
            else:  # most values: a scalar on the key's line (the branch of value(), inlined)
                out.append(f"{prefix} {_scalar(value, len(prefix) + 1)}\n")
            lead = pad

    def sequence(self, data: list[Any], indent: int, lead: str) -> None:
        """A non-empty list at ``indent``; its first line starts with ``lead``."""
        pad = " " * indent
        for value in data:
            prefix = lead + "-"
            kind = type(value)
            if kind is dict or kind is list:
                self.container(value)
                if not value:
                    self.out.append(prefix + (" {}\n" if kind is dict else " []\n"))
                elif kind is dict:
                    self.mapping(value, indent + 2, prefix + " ")
                else:
                    self.sequence(value, indent + 2, prefix + " ")
            else:
                self.out.append(f"{prefix} {_scalar(value, len(prefix) + 1)}\n")
            lead = pad

    def value(self, value: Any, prefix: str, indent: int) -> None:
        """The value of a mapping key at ``indent``, after ``prefix`` (``key:``)."""
        kind = type(value)
        if kind is dict or kind is list:
            self.container(value)
            if not value:
                self.out.append(prefix + (" {}\n" if kind is dict else " []\n"))
                return
            self.out.append(prefix + "\n")
            if kind is dict:
                self.mapping(value, indent + 2, " " * (indent + 2))
            else:  # PyYAML does not indent a list under its key
                self.sequence(value, indent, " " * indent)
            return
        self.out.append(f"{prefix} {_scalar(value, len(prefix) + 1)}\n")


def dump(data: Any) -> Optional[str]:
    """The YAML ``metadata.dump_yaml`` writes for ``data``, or None if not handled here.

    ``data``: a mapping or list of plain values (see the module docstring).
    """
    kind = type(data)
    if kind is not dict and kind is not list:
        return None
    if not data:
        return "{}\n" if kind is dict else "[]\n"
    writer = _Writer()
    try:
        writer.container(data)
        if kind is dict:
            writer.mapping(data, 0, "")
        else:
            writer.sequence(data, 0, "")
    except (_Declined, ValueError):  # ValueError: an int too long for str()
        return None
    return "".join(writer.out)
