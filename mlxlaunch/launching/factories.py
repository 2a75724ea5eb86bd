"""Factories (NeMo-Run's ``@run.cli.factory``): ``model=my_model(hidden_size=1024)``.

``@mlxlaunch.factory`` registers a typed function whose result (a dict or a
dataclass) can replace a config node on the command line:

- ``model=my_model(hidden_size=1024,activation='tanh')`` calls it with those
  arguments (Python's literal syntax; a bare word is a string), checked against
  the function's type hints;
- ``model=my_model`` calls it with its defaults, when the factory is registered
  for that key (``@mlxlaunch.factory(key="model")``) or the key holds a node.

The call is applied to each point's composed config in command-line order, so
``model=my_model model.num_layers=5`` changes the factory's result; a
``schema=`` then validates the whole point. Only the result is frozen in the
run's ``config.yaml``: a job never calls the factory again. Like operations
(``operations.py``), a call is hidden from Hydra's parser (which would take it
for one of its own functions) by an encoded spelling, decoded back for the run's
info.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional, TypeVar, Union, overload

from mlxlaunch.errors import ConfigError, UsageError, did_you_mean
from mlxlaunch.launching.schema import describe_type, fit, plain

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Factory:
    """A registered factory: its function, the key it is meant for, where it is defined."""

    name: str
    fn: Callable[..., Any]
    #: the config key it is registered for (``@factory(key=...)``); None: any node
    key: Optional[str]
    #: ``file:line`` of its definition, as ``--help`` shows it
    where: str

    def hints(self) -> dict[str, Any]:
        try:
            return typing.get_type_hints(self.fn)
        except Exception:  # noqa: BLE001 - an unresolvable hint: show and check nothing
            return {}

    def signature(self) -> str:
        """``name(hidden_size: int = 512, activation: str = 'relu') -> dict``."""
        hints = self.hints()
        params = []
        for p in inspect.signature(self.fn).parameters.values():
            text = p.name
            if p.name in hints:
                text += f": {describe_type(hints[p.name])}"
            if p.default is not inspect.Parameter.empty:
                text += f" = {p.default!r}"
            params.append(text)
        returns = f" -> {describe_type(hints['return'])}" if "return" in hints else ""
        return f"{self.name}({', '.join(params)}){returns}"


#: every factory registered in this process, by name
REGISTRY: dict[str, Factory] = {}
#: the functions of Hydra's override grammar (``seed=range(0,5)``): no factory takes their names
HYDRA_FUNCTIONS = frozenset(
    "choice range interval glob sort shuffle tag str int float bool json_str extend_list".split()
)


@overload
def factory(fn: F) -> F: ...
@overload
def factory(*, key: Optional[str] = None, name: Optional[str] = None) -> Callable[[F], F]: ...
def factory(
    fn: Optional[F] = None, *, key: Optional[str] = None, name: Optional[str] = None
) -> Union[F, Callable[[F], F]]:
    """Register ``fn`` as a factory usable on the command line as ``KEY=name(arg=value)``.

    ``key`` names the config key it builds (``--help`` lists it there, and
    ``KEY=name`` without parentheses calls it); ``name`` defaults to the
    function's name. The function is returned unchanged.
    """

    def register(fn: F) -> F:
        factory_name = name or fn.__name__
        if factory_name in HYDRA_FUNCTIONS:
            raise UsageError(
                f"A factory cannot be named '{factory_name}': 'key={factory_name}(...)' is "
                "Hydra's own function on the command line. Pass @mlxlaunch.factory(name=...)."
            )
        try:
            where = f"{inspect.getsourcefile(fn)}:{inspect.getsourcelines(fn)[1]}"
        except (TypeError, OSError):  # defined interactively
            where = "<interactive>"
        previous = REGISTRY.get(factory_name)
        if previous is not None and previous.where != where:
            raise UsageError(
                f"Two factories are named '{factory_name}' ({previous.where} and {where}); "
                "rename one, or pass @mlxlaunch.factory(name=...)."
            )
        REGISTRY[factory_name] = Factory(factory_name, fn, key, where)
        return fn

    return register(fn) if fn is not None else register


# ------------------------------------------------------------------ the command line

#: encoded keys start with this; no config key of a user does
PREFIX = "__mlxfac__"
_CALL = re.compile(
    r"^\+{0,2}(?P<key>[A-Za-z_][\w.\-]*)=(?P<name>[A-Za-z_]\w*)\((?P<args>.*)\)$", re.S
)
_ENCODED = re.compile(r"^" + PREFIX + r"\.[^=]+=x(?P<hex>[0-9a-f]*)$")


def encode(arg: str) -> str:
    """``arg`` in a spelling Hydra parses if it calls a registered factory, else ``arg``."""
    match = _CALL.match(arg)
    if match is None or match.group("name") not in REGISTRY:
        return arg
    # hex digits keep any text out of Hydra's grammar; the 'x' keeps it a string
    return f"{PREFIX}.{match.group('key')}=x{arg.encode().hex()}"


def decode(line: str) -> str:
    """The user's spelling of an encoded factory call (other lines unchanged)."""
    match = _ENCODED.match(line)
    return bytes.fromhex(match.group("hex")).decode() if match else line


def is_call(override: Any) -> bool:
    """Whether a parsed Hydra override is an encoded factory call."""
    return str(override.key_or_group).startswith(PREFIX + ".")


def bare_factory(override: Any, cfg: Any) -> Optional[Factory]:
    """The factory a plain ``key=name`` override calls, if any.

    A name calls a factory registered for that key, or one registered for any
    key when the key holds a node (a mapping): a string value that happens to
    equal a factory's name stays a string.
    """
    from omegaconf import OmegaConf

    if override.is_delete() or override.is_sweep_override():
        return None
    value = override.value()
    found = REGISTRY.get(value) if isinstance(value, str) else None
    if found is None:
        return None
    key = override.key_or_group
    if found.key is not None:
        return found if found.key == key else None
    return found if OmegaConf.is_dict(OmegaConf.select(cfg, key, default=None)) else None


def _literal(node: ast.AST, arg: str) -> Any:
    """A Python literal, with a bare word as a string and true/false/null as YAML has them."""
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        pass
    if isinstance(node, ast.Name):
        return {"true": True, "false": False, "null": None, "none": None}.get(
            node.id.lower(), node.id
        )
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, arg) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_literal(k, arg): _literal(v, arg) for k, v in zip(node.keys, node.values) if k}
    raise UsageError(
        f"Cannot parse the factory call '{arg}': {ast.unparse(node)!r} is not a value. "
        "Arguments are literals: 1024, 0.1, 'tanh' (or tanh), true, [1, 2], {'a': 1}."
    )


def _call_arguments(arg: str) -> tuple[str, str, list[Any], dict[str, Any]]:
    """``(key, factory name, args, kwargs)`` of the factory call ``arg``."""
    match = _CALL.match(arg)
    assert match is not None
    source = f"{match.group('name')}({match.group('args')})"
    try:
        call = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise UsageError(f"Cannot parse the factory call '{arg}': {exc.msg}.") from None
    assert isinstance(call, ast.Call)
    if any(k.arg is None for k in call.keywords) or any(
        isinstance(a, ast.Starred) for a in call.args
    ):
        raise UsageError(f"Cannot parse the factory call '{arg}': no * or ** arguments.")
    args = [_literal(a, arg) for a in call.args]
    kwargs = {str(k.arg): _literal(k.value, arg) for k in call.keywords}
    return match.group("key"), match.group("name"), args, kwargs


def build(found: Factory, args: list[Any], kwargs: dict[str, Any], line: str, where: str) -> Any:
    """Call the factory with type-checked arguments; its result as plain config data."""
    context = f"Cannot apply '{line}' in {where}"
    signature = inspect.signature(found.fn)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        names = list(signature.parameters)
        hint = "".join(did_you_mean(k, names) for k in kwargs if k not in names)
        raise ConfigError(
            f"{context}: {exc}.{hint} Signature: {found.signature()} ({found.where})."
        ) from None
    hints = found.hints()
    for param, value in list(bound.arguments.items()):
        if param in hints and signature.parameters[param].kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            try:
                bound.arguments[param] = fit(value, hints[param])
            except ValueError as exc:
                raise ConfigError(f"{context}: argument '{param}' {exc}.") from None
    try:
        result = found.fn(*bound.args, **bound.kwargs)
    except Exception as exc:  # noqa: BLE001 - the user's function: report it on one line
        raise ConfigError(
            f"{context}: factory {found.name} ({found.where}) raised {type(exc).__name__}: {exc}"
        ) from None
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return plain(result)
    if isinstance(result, (dict, list, str, int, float, bool)) or result is None:
        return plain(result)
    raise ConfigError(
        f"{context}: factory {found.name} ({found.where}) returned a {type(result).__name__}; "
        "a factory returns a dict or a dataclass (or a plain value)."
    )


def apply_call(cfg: Any, override: Any, where: str, all_keys: list[str]) -> None:
    """Apply a factory override (encoded ``key=name(...)`` or bare ``key=name``) to ``cfg``."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if is_call(override):
        line = decode(override.input_line)
        key, name, args, kwargs = _call_arguments(line)
        adds = line.startswith("+")
    else:
        line, key, name, args, kwargs = override.input_line, override.key_or_group, "", [], {}
        name = override.value()
        adds = override.is_add() or override.is_force_add()
    exists = OmegaConf.select(cfg, key, default=KeyError, throw_on_missing=False) is not KeyError
    if not exists and not adds:
        raise ConfigError(
            f"Unknown config key '{key}' in {where}.{did_you_mean(key, all_keys)}\n"
            f"To add a new key, write '+{line}'."
        )
    result = build(REGISTRY[name], args, kwargs, line, where)
    try:
        OmegaConf.update(cfg, key, result, merge=False, force_add=True)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"Cannot apply '{line}' in {where}: {str(exc).splitlines()[0]}") from None


def unknown_factory_error(arg: str) -> Optional[UsageError]:
    """For ``key=name(...)`` naming no factory and no Hydra function: say which exist."""
    match = _CALL.match(arg)
    if match is None or not REGISTRY:
        return None
    name = match.group("name")
    return UsageError(
        f"Unknown factory '{name}' in '{arg}'.{did_you_mean(name, list(REGISTRY))} "
        f"Factories: {', '.join(sorted(REGISTRY))} (see --help)."
    )


def keys_for(found: Factory, schema: Optional[type]) -> list[str]:
    """The config keys ``--help`` lists ``found`` under: its key, or schema fields of its type."""
    if found.key is not None:
        return [found.key]
    returns = found.hints().get("return")
    if schema is None or returns is None:
        return []
    out = []

    def walk(cls: type, prefix: str) -> None:
        for f in dataclasses.fields(cls):
            hint = typing.get_type_hints(cls).get(f.name)
            if hint is returns:
                out.append(prefix + f.name)
            elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
                walk(hint, f"{prefix}{f.name}.")

    walk(schema, "")
    return out
