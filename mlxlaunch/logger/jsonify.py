"""Turning a metrics record into one line of JSON, fast, and without losing values.

``encode_record`` is the whole job of ``Logger.log_metrics`` before the write:

* values JSON cannot take are converted first (numpy/torch scalars and arrays,
  ``Path``, ``Enum``, ``datetime``); a value that cannot be converted raises
  ``TypeError`` naming the key, before any file is touched;
* an integer beyond 64 bits raises ``MetricValueError`` naming the key: JSON would
  take it, but readers keep integer columns as ``int64`` (``10**400`` used to make
  every later query over that log fail with ``OverflowError``);
* the record is encoded with ``orjson`` when it is installed (the ``fast``
  extra), else with the standard library's ``json``;
* NaN, inf and -inf are written as ``NaN``, ``Infinity`` and ``-Infinity``, the
  tokens Python's ``json`` module writes and reads back. ``orjson`` would write
  them as ``null``, so records holding a non-finite float always go through
  ``json``: the value round-trips whichever encoder is installed.

The fast path (a flat dict of ``str`` keys and ``int``/``float``/``str``/``bool``/
``None`` values, by far the common case) copies nothing and checks each value
with one ``type()`` call.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import os
from collections.abc import Mapping
from typing import Any, Callable, Optional

from mlxlaunch.errors import MetricValueError

#: Value types written as they are (exact types: subclasses take the slow path).
_PLAIN = frozenset({str, int, bool, type(None)})
#: The integers a metric log holds faithfully (readers keep integer columns as int64).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
#: Key types converted with ``str()`` (what ``json.dumps`` does silently).
_KEY_TYPES = (str, int, float, bool)

#: The standard library encoder (made once: ``json.dumps`` with options builds one per call).
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=True, separators=(",", ":"))

_UNSET: Any = object()
_orjson_dumps: Any = _UNSET


def _orjson() -> Optional[Callable[[Any], bytes]]:
    """``orjson.dumps`` if orjson is installed, else None (looked up once)."""
    global _orjson_dumps
    if _orjson_dumps is _UNSET:
        try:
            import orjson
        except ImportError:
            _orjson_dumps = None
        else:
            _orjson_dumps = orjson.dumps
    return _orjson_dumps


def use_orjson(enabled: bool) -> None:
    """Switch the orjson fast path on (when installed) or off (benchmarks, tests)."""
    global _orjson_dumps
    _orjson_dumps = _UNSET
    if not enabled:
        _orjson_dumps = None


def _type_name(value: Any) -> str:
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def to_json_value(key: str, value: Any) -> Any:
    """``value`` as plain JSON data (dict/list/str/int/float/bool/None), or ``TypeError``.

    ``key`` only serves the error message (``'weights[3]'``, ``'stats.mean'``).
    """
    cls = type(value)
    if cls is int and not INT_MIN <= value <= INT_MAX:
        raise MetricValueError(key, value)
    if cls in _PLAIN or cls is float:
        return value
    if isinstance(value, enum.Enum):
        return to_json_value(key, value.value)
    if isinstance(value, (bool, int, float, str)):  # subclasses: keep the plain value
        for base in (bool, int, float, str):
            if isinstance(value, base):
                return to_json_value(key, base(value))
    if isinstance(value, Mapping):
        return _json_mapping(key, value)
    if isinstance(value, (list, tuple)):
        return [to_json_value(f"{key}[{i}]", v) for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    detach = getattr(value, "detach", None)  # torch tensors: off the graph and the GPU first
    if callable(detach) and callable(getattr(value, "cpu", None)):
        value = detach().cpu()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(tolist):
        try:
            converted = tolist()
        except Exception as exc:  # e.g. a numpy array of objects that tolist() chokes on
            raise TypeError(
                f"Metric {key!r}: converting {_type_name(value)} failed: {exc}"
            ) from exc
        if type(converted) is not cls:  # guard against objects whose tolist() returns self
            return to_json_value(key, converted)
    raise TypeError(
        f"Metric {key!r} has a value of type {_type_name(value)}, which cannot be written as "
        "JSON. Log numbers, strings, bools, None, lists/dicts of those, numpy or torch values, "
        "Path, Enum or datetime; or convert it first (e.g. float(x), str(x))."
    )


def _json_key(context: str, key: Any) -> str:
    if type(key) is str:
        return key
    if isinstance(key, _KEY_TYPES):
        return str(key)
    raise TypeError(
        f"Metric key {key!r} under {context!r} is a {_type_name(key)}; keys must be strings."
    )


def _json_mapping(context: str, mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """``mapping`` with JSON (string) keys and converted values.

    Two keys that become one string (``1`` and ``"1"``) are a ``TypeError`` naming
    them: JSON keeps one value only, and which one would be silently lost.
    """
    out: dict[str, Any] = {}
    first: dict[str, Any] = {}
    for k, v in mapping.items():
        name = _json_key(context, k)
        if name in out:
            raise TypeError(
                f"Metric keys {first[name]!r} and {k!r} under {context!r} are both {name!r} in "
                "JSON, "
                "which would keep only one of their values: rename one of them."
            )
        first[name] = k
        out[name] = to_json_value(name if context == "the record" else f"{context}.{k}", v)
    return out


def _all_finite(value: Any) -> bool:
    """Whether converted JSON data holds no NaN/inf (orjson would write those as null)."""
    if type(value) is float:
        return not (value - value)  # inf - inf and nan - nan are nan, which is truthy
    if type(value) is list:
        return all(_all_finite(v) for v in value)
    if type(value) is dict:
        return all(_all_finite(v) for v in value.values())
    return True


def prepare_record(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``(record, finite)``: the record as plain JSON data, and whether it has no NaN/inf.

    The record is ``metrics`` itself when nothing needs converting (no copy);
    otherwise a converted copy (the caller's dict is never modified). Raises
    ``TypeError``, naming the key, for a value that cannot be converted, and
    ``MetricValueError`` for an integer beyond 64 bits.
    """
    if type(metrics) is dict:
        finite = True
        for key, value in metrics.items():
            if type(key) is not str:
                break
            cls = type(value)
            if cls is float:
                if value - value:  # inf - inf and nan - nan are nan, which is truthy
                    finite = False
            elif cls not in _PLAIN or cls is int and not INT_MIN <= value <= INT_MAX:
                break  # the slow path converts, or names the key of a too-large int
        else:
            return metrics, finite
    elif not isinstance(metrics, Mapping):
        raise TypeError(
            f"log_metrics takes a dict of metric name -> value, got {_type_name(metrics)}."
        )
    record = _json_mapping("the record", metrics)
    return record, _all_finite(record)


def dumps_line(record: dict[str, Any], finite: bool = True) -> bytes:
    """One record as UTF-8 JSON followed by a newline.

    ``record`` must already be plain data (see ``prepare_record``). With
    ``finite=False`` the standard library writes NaN/inf as ``NaN``/``Infinity``.
    """
    if finite:
        fast = _orjson_dumps if _orjson_dumps is not _UNSET else _orjson()
        if fast is not None:
            try:
                return fast(record) + b"\n"
            except TypeError:  # e.g. a uint64 beyond int64: json takes it
                pass
    return (_JSON_ENCODER.encode(record) + "\n").encode("utf-8")


def encode_record(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    """``(record, line)``: the converted record and its JSON line, ready for one ``write``."""
    record, finite = prepare_record(metrics)
    try:
        return record, dumps_line(record, finite)
    except UnicodeEncodeError:  # a lone surrogate: a file name decoded with surrogateescape
        raise _not_unicode_error(record) from None


def _not_unicode_error(record: dict[str, Any]) -> TypeError:
    """The ``TypeError`` naming the key whose name or value is not valid Unicode."""
    bad = "?"
    for key, value in record.items():
        try:
            _JSON_ENCODER.encode({key: value}).encode("utf-8")
        except UnicodeEncodeError:
            bad = key
            break
    return TypeError(
        f"Metric {bad!r} holds a string that is not valid Unicode (a lone surrogate, as in a "
        "file name that is not UTF-8), which cannot be written as UTF-8 JSON. Clean it first, "
        "e.g. s.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')."
    )
