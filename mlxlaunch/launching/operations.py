"""Python-like operations on config values: ``key*=2``, ``key/=10``, ``key+=16``, ``key-=1``.

NeMo-Run users change a value relative to the composed config
(``model.hidden_size*=2``, ``callbacks+=[early_stop]``); Hydra's grammar has no
such spelling (``key-=1`` even parses as an assignment to a key named ``key-``).
An operation is recognised before Hydra parses the command line and handed to
Hydra in an encoded form (``__mlxop_mul__.model.hidden_size=2``), so its value
takes Hydra's grammar (``lr*=1,2,4`` is a sweep, ``tags+=[a,b]`` a list) and
Hydra's sweeper expands it like any override. ``compose.py`` decodes it back to
the user's spelling for each point (that spelling is what the run's info records)
and applies it to the point's composed config, in command-line order with the
ordinary overrides (``lr=0.1 lr*=2`` gives 0.2).
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable, Optional

from mlxlaunch.errors import ConfigError, did_you_mean

#: operator spelling -> (name in the encoded key, function)
OPERATIONS: dict[str, tuple[str, Callable[[Any, Any], Any]]] = {
    "+=": ("add", operator.add),
    "-=": ("sub", operator.sub),
    "*=": ("mul", operator.mul),
    "/=": ("div", operator.truediv),
}
_BY_NAME = {name: op for op, (name, _) in OPERATIONS.items()}
#: encoded keys start with this; no config key of a user does
PREFIX = "__mlxop_"
#: ``key<op>=value``: a dotted key (Hydra's key characters), an operator, the value
_OPERATION = re.compile(r"^(?P<key>[A-Za-z_][\w.\-]*?)(?P<op>[-+*/])=(?P<value>.*)$", re.S)
_ENCODED = re.compile(r"^" + PREFIX + r"(?P<name>[a-z]+)__\.(?P<key>[^=]+)=(?P<value>.*)$", re.S)


def split_operation(arg: str) -> Optional[tuple[str, str, str]]:
    """``(key, operator, value text)`` if ``arg`` is an operation like ``lr*=2``, else None."""
    match = _OPERATION.match(arg)
    if match is None or match.group("key").endswith((".", "-")):
        return None
    return match.group("key"), match.group("op") + "=", match.group("value")


def encode(arg: str) -> str:
    """``arg`` in a spelling Hydra parses (operations encoded), for the parser and sweeper."""
    split = split_operation(arg)
    if split is None:
        return arg
    key, op, value = split
    return f"{PREFIX}{OPERATIONS[op][0]}__.{key}={value}"


def decode(line: str) -> str:
    """The user's spelling of a Hydra override line (the inverse of ``encode``)."""
    match = _ENCODED.match(line)
    if match is None:
        return line
    return f"{match.group('key')}{_BY_NAME[match.group('name')]}{match.group('value')}"


def is_operation(override: Any) -> bool:
    """Whether a parsed Hydra override is an encoded operation."""
    return str(override.key_or_group).startswith(PREFIX)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "null"
    return type(value).__name__


def _allowed(op: str, current: Any, operand: Any) -> bool:
    """Python's rules, narrowed to what makes sense for a config value."""

    def number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if number(current) and number(operand):
        return True
    if op == "+=":
        both_lists = isinstance(current, list) and isinstance(operand, list)
        return both_lists or (isinstance(current, str) and isinstance(operand, str))
    return False


def apply_operation(cfg: Any, override: Any, where: str, all_keys: list[str]) -> None:
    """Apply the encoded operation ``override`` to the OmegaConf ``cfg`` in place."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    line = decode(override.input_line)
    key = override.key_or_group.split(".", 1)[1]
    op = _BY_NAME[override.key_or_group[len(PREFIX) :].split("__", 1)[0]]
    missing = object()
    try:
        current = OmegaConf.select(cfg, key, default=missing, throw_on_missing=True)
    except OmegaConfBaseException as exc:
        raise ConfigError(
            f"Cannot apply '{line}' in {where}: '{key}' has no value yet "
            f"({str(exc).splitlines()[0]}). Set it first: {key}=<value>."
        ) from None
    if current is missing:
        raise ConfigError(
            f"Cannot apply '{line}' in {where}: no config key '{key}'.{did_you_mean(key, all_keys)}"
        )
    if OmegaConf.is_config(current):
        current = OmegaConf.to_container(current, resolve=True)
    operand = override.value()
    if not _allowed(op, current, operand):
        what = "numbers, lists (+=[...]) and strings (+=)" if op == "+=" else "numbers"
        hint = ""
        if op == "+=" and isinstance(current, list):
            hint = f" To append it, write '{key}+=[{override.get_value_element_as_str()}]'."
        raise ConfigError(
            f"Cannot apply '{line}' in {where}: '{key}' is {_kind(current)} ({current!r}) and "
            f"the operand is {_kind(operand)} ({operand!r}); {op} works on {what}.{hint}"
        )
    try:
        result = OPERATIONS[op][1](current, operand)
    except ZeroDivisionError:
        raise ConfigError(f"Cannot apply '{line}' in {where}: division by zero.") from None
    try:
        OmegaConf.update(cfg, key, result, merge=False, force_add=False)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"Cannot apply '{line}' in {where}: {str(exc).splitlines()[0]}") from None
