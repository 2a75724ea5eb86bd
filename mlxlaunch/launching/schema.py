"""Typed configs: check every point's config against a dataclass before anything runs.

``@mlxlaunch.launch(schema=Config)`` names a dataclass whose fields are the
config keys. Its defaults sit under the YAML (the YAML and the command line
override them), and every composed point is checked against its type hints, so
``optimizer.lr=abc`` fails in the first second with the key, the expected type
and the value, and a ``Literal``/``Enum`` field lists its valid values.

Supported field types: ``bool``, ``int``, ``float``, ``str``, ``pathlib.Path``,
``Any``, ``Optional[X]``/``Union``, ``list[X]``, ``tuple[X, ...]``,
``dict[str, X]``, ``Literal[...]``, ``Enum`` subclasses and nested dataclasses.
Values stay plain data (an ``Enum`` is stored by its name) so the frozen
``config.yaml`` is readable without the user's code.

Hydra's own ``ConfigStore`` schemas (a dataclass stored with ``cs.store`` and
named in the config's ``defaults`` list) also work: Hydra validates them while
composing, and ``compose.py`` reports its errors with the key and the value.

The module also reads the one-line comments written above dataclass fields
(the convention of ``settings.py``), which ``--help`` shows next to each key.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import io
import pathlib
import tokenize
import typing
from typing import Any, Union

from mlxlaunch.errors import BadConfigChoice, ConfigError, UnknownConfigKey, UsageError

#: OmegaConf's marker of a mandatory value that was never given.
MISSING = "???"


def check_schema(schema: Any) -> type:
    """Return ``schema`` if it is a dataclass type; raise ``UsageError`` otherwise."""
    if not (isinstance(schema, type) and dataclasses.is_dataclass(schema)):
        raise UsageError(
            f"@mlxlaunch.launch(schema=...) takes a dataclass type, got {schema!r}. "
            "Declare it with @dataclasses.dataclass."
        )
    return schema


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, once per class: most of a point's check otherwise."""
    return typing.get_type_hints(cls)


# ---------------------------------------------------------------- defaults


def _plain(value: Any) -> Any:
    """A default value as plain config data (Enum -> name, Path -> str, dataclass -> dict)."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def field_default(f: dataclasses.Field, hint: Any) -> Any:
    """The default of field ``f`` as plain data (``"???"`` when it has none)."""
    if f.default is not dataclasses.MISSING:
        return _plain(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _plain(f.default_factory())
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return defaults(hint)
    return MISSING


def defaults(schema: type) -> dict[str, Any]:
    """The schema's default config as plain data; fields without a default are ``'???'``."""
    hints = _hints(schema)
    return {f.name: field_default(f, hints[f.name]) for f in dataclasses.fields(schema)}


# ---------------------------------------------------------------- types


def describe_type(tp: Any) -> str:
    """A short, readable name for a type hint: ``float``, ``list[int]``, ``'a' | 'b'``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return "any"
    if tp is type(None):
        return "null"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " | ".join(m.name for m in tp)
    if origin is Union or type(tp).__name__ == "UnionType":
        return " | ".join(describe_type(a) for a in args)
    if origin in (list, tuple, dict):
        inner = ", ".join("..." if a is Ellipsis else describe_type(a) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return tp.__name__
    return getattr(tp, "__name__", str(tp))


def choices(tp: Any) -> list[str]:
    """The valid values of a ``Literal`` or ``Enum`` type, as shown to the user ([] otherwise)."""
    if typing.get_origin(tp) is typing.Literal:
        return [str(a) for a in typing.get_args(tp)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return [m.name for m in tp]
    return []


class _Mismatch(Exception):
    """A value does not fit a type (one branch of a Union may still fit).

    Private control flow, never seen outside this module: ``_check_value`` turns it
    into a ``ConfigError`` naming the key, so it stays here rather than in ``errors.py``.
    """


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to fit ``tp`` (lossless conversions only) or raise."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin is Union or type(tp).__name__ == "UnionType":
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except (_Mismatch, ConfigError):
                continue
        raise _Mismatch()
    if origin is typing.Literal:
        # True == 1 in Python: a boolean only matches a boolean choice, a number a number
        if any(value == a and isinstance(value, bool) == isinstance(a, bool) for a in args):
            return value
        raise _Mismatch()
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if value == member.name or (not isinstance(value, bool) and value == member.value):
                return member.name
        raise _Mismatch()
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _Mismatch()
        return _check_mapping(value, tp, key + ".")
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch()
        if not args:
            return list(value)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                raise _Mismatch()
            return [_check_value(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args))]
        return [_check_value(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise _Mismatch()
        inner = args[1] if len(args) == 2 else Any
        return {k: _check_value(v, inner, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch()
    if tp is str or tp is pathlib.Path:
        # like OmegaConf: a number or boolean typed on the command line is also a valid string
        if isinstance(value, (str, int, float)):
            return str(value) if not isinstance(value, bool) else str(value).lower()
        raise _Mismatch()
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch()
    return value  # a typing construct we do not check (TypeVar, NewType...)


def fit(value: Any, tp: Any) -> Any:
    """``value`` converted to fit the type hint ``tp`` (lossless conversions only).

    Raises ``ValueError`` if it does not fit; used for arguments typed on the command
    line (factories, entry-point parameters) with the rules of config keys.
    """
    try:
        return _coerce(value, tp, "")
    except (_Mismatch, ConfigError):
        raise ValueError(f"expects {describe_type(tp)}, got {value!r}") from None


def plain(value: Any) -> Any:
    """``value`` as plain config data: a dataclass becomes a dict, an Enum its name."""
    return _plain(value)


def _check_value(value: Any, tp: Any, key: str) -> Any:
    if value == MISSING:
        raise ConfigError(
            f"Config key '{key}' ({describe_type(tp)}) has no value. "
            f"Set it in the YAML or on the command line: {key}=<value>."
        )
    try:
        return _coerce(value, tp, key)
    except _Mismatch:
        valid = choices(tp)
        if valid:
            raise BadConfigChoice(key, value, valid) from None
        raise ConfigError(
            f"Config key '{key}' expects {describe_type(tp)}, got {value!r} "
            f"({type(value).__name__})."
        ) from None


def _check_mapping(config: dict[str, Any], schema: type, prefix: str) -> dict[str, Any]:
    hints = _hints(schema)
    names = [f.name for f in dataclasses.fields(schema)]
    for key in config:
        if key not in names:
            raise UnknownConfigKey(
                f"{prefix}{key}",
                names,
                where=f" in the schema {schema.__name__}",
                within=prefix.rstrip("."),
            )
    checked = {}
    for f in dataclasses.fields(schema):
        # the schema's defaults are merged under the top level before this; a nested mapping
        # given whole (``+extra.lr=1`` for ``extra: Optional[Opt] = None``) gets them here
        value = config[f.name] if f.name in config else field_default(f, hints[f.name])
        checked[f.name] = _check_value(value, hints[f.name], prefix + f.name)
    return checked


def validate(config: dict[str, Any], schema: type, where: str = "") -> dict[str, Any]:
    """Check ``config`` against ``schema``; return it with values converted to their types.

    Raises ``ConfigError`` naming the key, the expected type (or the valid
    choices) and the value, for the first key that does not fit; ``where``
    (e.g. ``"point 3 of 8 (lr=abc)"``) says which point of a sweep it was.
    """
    try:
        return _check_mapping(config, schema, "")
    except ConfigError as exc:
        if where:
            where = where if where.startswith("(") else f"of {where}"
            raise ConfigError(f"Invalid config {where}: {exc.message}") from None
        raise


# ---------------------------------------------------------------- documentation


def field_comments(cls: type) -> dict[str, str]:
    """The comment lines written right above each field of a dataclass, by field name.

    Reads the class's source with ``tokenize`` (so ``#`` inside strings is not
    mistaken for a comment); returns ``{}`` when the source is not available.
    """
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    comments: dict[str, str] = {}
    pending: list[str] = []
    line_start = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                pending.append(tok.string.lstrip("#").strip())
            elif tok.type in (tokenize.NL, tokenize.NEWLINE):
                line_start = True
                continue
            elif tok.type in (tokenize.INDENT, tokenize.DEDENT):
                continue
            elif tok.type == tokenize.NAME and line_start:
                if tok.string in names and pending and tok.string not in comments:
                    comments[tok.string] = " ".join(pending)
                pending = []
            elif line_start:
                pending = []
            line_start = False
    except (tokenize.TokenError, IndentationError):
        pass
    return comments


def rows(schema: type, prefix: str = "") -> list[tuple[str, str, Any, str]]:
    """``(key, type, default, comment)`` for each leaf of ``schema``, nested keys dotted."""
    hints = _hints(schema)
    comments = field_comments(schema)
    out = []
    for f in dataclasses.fields(schema):
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out.extend(rows(hint, f"{prefix}{f.name}."))
            continue
        out.append(
            (prefix + f.name, describe_type(hint), field_default(f, hint), comments.get(f.name, ""))
        )
    return out
