"""A start without Hydra: plain overrides of a config that has no config groups.

``import hydra`` and a Hydra compose cost ~150 ms, most of a do-nothing run. For
the common case they compute nothing OmegaConf alone cannot: a config folder
without config groups, whose main config has no ``defaults:`` list, gets from
Hydra's compose exactly ``OmegaConf.load`` of that file in struct mode. This
module does that case, and reads the simplest override lines itself:

- ``key=v``, ``+key=v``, ``++key=v``, ``~key`` and ``~key=v``, where ``key`` is a
  dotted path of names (not ``hydra.*``) and ``v`` an int, a float, ``true``/
  ``false``, ``null`` or an unquoted word (letters, digits, ``_ - . /``), or a
  comma sweep of such values (``lr=0.1,0.01``);

giving a :class:`PlainOverride` with the part of the API of Hydra's ``Override``
that mlxlaunch uses, with the same values (``tests/test_plain_compose.py``
compares both on generated lines), the same sweep expansion as Hydra's basic
sweeper and the same value-override semantics as Hydra's compose.

A config with no interpolation (``${``) and no ``???`` does not even need
OmegaConf (~50 ms to import): :func:`literal_config` reads it with OmegaConf's
YAML rules and :func:`apply_literal` applies the overrides to the plain data,
which is what OmegaConf would give back resolved.

Anything else (a config group, ``defaults:``, a ``@package`` header, Hydra's
resolvers ``${now:}``/``${hydra:}``, quoted strings, lists, functions, a Hydra
plugin, a ConfigStore...) is left to Hydra: :func:`primary_config` returns None
or :func:`parse` returns None, and the ``Composer`` uses Hydra for the whole
command. An override the plain path cannot apply raises :class:`NeedsHydra`;
the ``Composer`` then composes the command again with Hydra, so every error
message is Hydra's path's own.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.errors import NeedsHydra
from mlxlaunch.launching import factories, operations

#: Hydra's override kinds, spelled as Hydra's ``OverrideType`` names them
CHANGE, ADD, FORCE_ADD, DELETE = "CHANGE", "ADD", "FORCE_ADD", "DEL"
_PREFIXES = {"": CHANGE, "+": ADD, "++": FORCE_ADD, "~": DELETE}
_KEY_PREFIX = {CHANGE: "", ADD: "+", FORCE_ADD: "++", DELETE: "~"}

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_LINE = re.compile(rf"(?P<prefix>\+\+|\+|~|)(?P<key>{_NAME}(?:\.{_NAME})*)(?:=(?P<value>.*))?")
#: the one-token values of Hydra's grammar the plain path types (a subset of its lexer's)
_UNSIGNED = r"(?:0|[1-9][0-9]*)"
_INT = re.compile(rf"[+-]?{_UNSIGNED}")
_FLOAT = re.compile(
    rf"[+-]?(?:{_UNSIGNED}?\.[0-9]+(?:[eE][+-]?[0-9]+)?|{_UNSIGNED}[eE][+-]?[0-9]+)"
)
#: an unquoted string: a first character no typed token starts with, then ``_ - . /``
_WORD = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
#: words Hydra's lexer reads as a bool, null or float (any case), not a string
_KEYWORDS = {"true": True, "false": False, "null": None}
_FLOAT_WORDS = {"inf", "nan"}

#: Hydra's resolvers (registered when Hydra starts): a config using one needs Hydra
_HYDRA_RESOLVER = re.compile(r"\b(?:now|hydra|python_version)\b")


@dataclass(frozen=True)
class PlainOverride:
    """One override line read without Hydra's parser (the part of ``Override`` mlxlaunch uses).

    ``_value`` is the value as Hydra's parser types it; a comma sweep keeps its
    values in ``sweep`` (and ``_value`` is None).
    """

    type: str
    key_or_group: str
    _value: Any
    input_line: str
    sweep: tuple[Any, ...] = ()
    package: None = None

    def is_add(self) -> bool:
        return self.type == ADD

    def is_force_add(self) -> bool:
        return self.type == FORCE_ADD

    def is_delete(self) -> bool:
        return self.type == DELETE

    def is_sweep_override(self) -> bool:
        return bool(self.sweep)

    def value(self) -> Any:
        if self.sweep:
            raise NeedsHydra(self.input_line)  # mlxlaunch reads a sweep's values only via Hydra
        return self._value

    def with_type(self, kind: str) -> PlainOverride:
        """This override as another kind (``+key`` applied as ``++key`` or ``key``)."""
        return dataclasses.replace(self, type=kind)

    def get_key_element(self) -> str:
        """The key as Hydra's sweeper writes it (``+a.b``, ``~c``)."""
        return _KEY_PREFIX[self.type] + self.key_or_group

    def sweep_strings(self) -> list[str]:
        """The sweep's values as Hydra's sweeper writes them back into lines."""
        return [as_str(v) for v in self.sweep]


def _scalar(text: str) -> tuple[bool, Any]:
    """``(True, value)`` if ``text`` is one plain value, as Hydra's parser types it."""
    if _INT.fullmatch(text):
        return True, int(text)
    if _FLOAT.fullmatch(text):
        return True, float(text)
    lowered = text.lower()
    if lowered in _KEYWORDS:
        return True, _KEYWORDS[lowered]
    if _WORD.fullmatch(text) and lowered not in _FLOAT_WORDS and text not in factories.REGISTRY:
        return True, text
    return False, None


def parse(line: str) -> Optional[PlainOverride]:
    """``line`` as a :class:`PlainOverride`, or None if only Hydra's parser may read it."""
    match = _LINE.fullmatch(line)
    if match is None or operations.encode(line) != line or factories.encode(line) != line:
        return None
    kind, key, text = _PREFIXES[match["prefix"]], match["key"], match["value"]
    if key.split(".", 1)[0] == "hydra" or key.startswith((operations.PREFIX, factories.PREFIX)):
        return None
    if text is None:  # only ``~key`` may omit its value
        return PlainOverride(kind, key, None, line) if kind == DELETE else None
    values = []
    for part in text.split(","):
        ok, value = _scalar(part)
        if not ok:
            return None
        values.append(value)
    if len(values) == 1:
        return PlainOverride(kind, key, values[0], line)
    if kind == DELETE:
        return None
    return PlainOverride(kind, key, None, line, sweep=tuple(values))


def as_str(value: Any) -> str:
    """A plain value as Hydra's ``Override._get_value_element_as_str`` writes it."""
    if value is None:
        return "null"
    return str(value)  # a plain word has no character Hydra escapes


def expand(overrides: list[PlainOverride]) -> list[list[str]]:
    """The points of a sweep of plain overrides, as Hydra's ``BasicSweeper.split_arguments``.

    The cartesian product in the order of first appearance of each key element
    (a repeated ``key=`` replaces the earlier one's values, in its place).
    """
    lines: dict[str, list[str]] = {}
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            lines[key] = [f"{key}={v}" for v in override.sweep_strings()]
        else:
            lines[key] = [f"{key}={as_str(override._value)}"]
    return [list(point) for point in itertools.product(*lines.values())]


def apply(override: PlainOverride, cfg: Any) -> None:
    """Apply one plain value override to ``cfg`` in place, as Hydra's compose does.

    The same OmegaConf calls as ``ConfigLoaderImpl._apply_overrides_to_config``;
    where Hydra would refuse the override, :class:`NeedsHydra` (Hydra's path then
    words the error).
    """
    from omegaconf import OmegaConf, open_dict  # heavy (~50 ms), deferred

    key, value = override.key_or_group, override.value()
    if override.is_delete():
        found = OmegaConf.select(cfg, key, throw_on_missing=False)
        if found is None or (value is not None and value != found):
            raise NeedsHydra(override.input_line)
        parent_key, dot, last = key.rpartition(".")
        with open_dict(cfg):
            del (OmegaConf.select(cfg, parent_key) if dot else cfg)[last]
    elif override.is_add():
        if OmegaConf.select(cfg, key, throw_on_missing=False) is not None:
            raise NeedsHydra(override.input_line)
        OmegaConf.update(cfg, key, value, merge=True, force_add=True)
    elif override.is_force_add():
        OmegaConf.update(cfg, key, value, merge=True, force_add=True)
    else:
        OmegaConf.update(cfg, key, value, merge=True)


# ------------------------------------------------------------------ the config folder


#: Hydra's own plugin packages (in ``hydra_plugins/``): they store launcher, sweeper and
#: logging configs under ``hydra/`` only, which a main config without a ``defaults:`` list
#: never sees (checked in their 1.2 and 1.3 wheels). Any other plugin sends the command to
#: Hydra, since importing it may add a search path or store a schema for the main config.
HYDRA_OWN_PLUGINS = frozenset(
    {
        "hydra_ax_sweeper",
        "hydra_colorlog",
        "hydra_joblib_launcher",
        "hydra_nevergrad_sweeper",
        "hydra_optuna_sweeper",
        "hydra_ray_launcher",
        "hydra_rq_launcher",
        "hydra_submitit_launcher",
        "__pycache__",
    }
)


def _other_hydra_plugins() -> bool:
    """Whether a ``hydra_plugins`` folder on ``sys.path`` holds a plugin not in
    :data:`HYDRA_OWN_PLUGINS` (or cannot be listed)."""
    for entry in sys.path:
        try:
            names = os.listdir(os.path.join(entry or ".", "hydra_plugins"))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            return True  # unreadable: Hydra decides what it holds
        if not HYDRA_OWN_PLUGINS.issuperset(names):
            return True
    return False


def _hydra_may_add_configs(config_name: Optional[str]) -> bool:
    """Whether configs could come from elsewhere than the config folder.

    Hydra plugins (a ``hydra_plugins`` package on ``sys.path``) other than Hydra's
    own (:data:`HYDRA_OWN_PLUGINS`) may add search paths or store configs when Hydra
    imports them, and the script may have stored configs in Hydra's ConfigStore: a
    config group (besides Hydra's own ``hydra``), or a schema Hydra matches to
    the main config by its name. (Other stored configs are reached only through
    a ``defaults:`` list.) Without ``hydra`` imported, the store is empty.
    """
    if _other_hydra_plugins():
        return True
    store = sys.modules.get("hydra.core.config_store")
    if store is None:
        return False
    for name, node in store.ConfigStore.instance().repo.items():
        if isinstance(node, dict) and name != "hydra":
            return True  # a config group
        if name == f"{config_name}.yaml":
            return True
    return False


def _has_sub_folders(config_dir: Path) -> bool:
    """Whether ``config_dir`` has a sub-folder: a possible config group (Hydra then decides)."""
    try:
        with os.scandir(config_dir) as entries:
            return any(entry.is_dir() for entry in entries)
    except OSError:
        return True


def primary_config(config_dir: Path, config_name: Optional[str]) -> Optional[Any]:
    """What Hydra's compose makes of the main config with no overrides, or None if unsure.

    A main config without a ``defaults:`` list, ``hydra:`` node or ``@package``
    header, in a folder without sub-folders, composes to ``OmegaConf.load`` of the
    file in struct mode (and no main config at all to an empty one).
    """
    from omegaconf import DictConfig, OmegaConf  # heavy (~50 ms), deferred

    if _hydra_may_add_configs(config_name):
        return None
    if config_dir.is_dir() and _has_sub_folders(config_dir):
        return None
    cfg: Any = OmegaConf.create()
    if config_name is not None:
        try:
            text = (config_dir / f"{config_name}.yaml").read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            return None
        if "@package" in text or ("${" in text and _HYDRA_RESOLVER.search(text)):
            return None
        try:
            cfg = OmegaConf.load(io.StringIO(text))
        except Exception:  # noqa: BLE001 - invalid YAML: Hydra's path words the error
            return None
        if not isinstance(cfg, DictConfig) or "defaults" in cfg or "hydra" in cfg:
            return None
    OmegaConf.set_struct(cfg, True)
    return cfg


# ------------------------------------------------------------------ without OmegaConf

#: YAML 1.2-style floats OmegaConf adds to PyYAML's SafeLoader (``1e-3``, ``1_000.5``)
_OMEGACONF_FLOAT = re.compile(
    r"""^(?:
     [-+]?[0-9]+(?:_[0-9]+)*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+)
    |\.[0-9]+(?:_[0-9]+)*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9]+(?:_[0-9]+)*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)

_ABSENT = object()


def _omegaconf_yaml_loader() -> Any:
    """PyYAML's SafeLoader set up as ``omegaconf._utils.get_yaml_loader`` does (omegaconf 2.3).

    Its float resolver, no timestamps, and an error for a duplicate key; its
    ``pathlib`` tags are left out (such a config goes to OmegaConf).
    ``tests/test_plain_compose.py`` checks both read the same values.
    """
    import yaml  # heavy third-party import (~10 ms), only for a config read without OmegaConf

    class Loader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            keys = set()
            for key_node, _ in node.value:
                if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                    continue
                if key_node.value in keys:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark, "duplicate key"
                    )
                keys.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _OMEGACONF_FLOAT, list("-+0123456789."))
    Loader.yaml_implicit_resolvers = {
        key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for key, resolvers in Loader.yaml_implicit_resolvers.items()
    }
    return Loader


def _is_literal(data: Any) -> bool:
    """Whether OmegaConf gives ``data`` back unchanged once resolved: str keys, plain scalars."""
    if type(data) is dict:
        return all(type(k) is str and _is_literal(v) for k, v in data.items())
    if type(data) is list:
        return all(_is_literal(v) for v in data)
    if type(data) is str:
        return "${" not in data and data != "???"
    return type(data) in (int, float, bool, type(None))


def literal_config(config_dir: Path, config_name: Optional[str]) -> Optional[dict[str, Any]]:
    """The main config as plain data, when composing it needs neither Hydra nor OmegaConf.

    The conditions of :func:`primary_config`, and moreover no interpolation
    (``${``) and no ``???``: OmegaConf would give the YAML's values back as they
    are. Else None.
    """
    if _hydra_may_add_configs(config_name):
        return None
    if config_dir.is_dir() and _has_sub_folders(config_dir):
        return None
    if config_name is None:
        return {}
    try:
        text = (config_dir / f"{config_name}.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return None
    if "@package" in text or "${" in text or "???" in text:
        return None
    try:
        import yaml  # heavy third-party import (~10 ms), only for a config read without OmegaConf

        data = yaml.load(text, Loader=_omegaconf_yaml_loader())  # noqa: S506 - a SafeLoader
    except Exception:  # noqa: BLE001 - invalid YAML: Hydra's path words the error
        return None
    if data is None:
        data = {}
    if type(data) is not dict or "defaults" in data or "hydra" in data or not _is_literal(data):
        return None
    return data


def apply_literal(override: PlainOverride, data: dict[str, Any]) -> None:
    """Apply one plain override to plain data, as Hydra and mlxlaunch apply it to the config.

    A ``+key`` on a key the config has sets it (mlxlaunch's rule, see
    ``compose._plus_sets_existing``); missing parents of ``+key``/``++key`` are
    created. Anything OmegaConf might treat otherwise (a container at the key, a
    list on the way, an unknown key without ``+``, a failing ``~key``) raises
    :class:`NeedsHydra`.
    """
    parts = override.key_or_group.split(".")
    parent = data
    for part in parts[:-1]:
        child = parent.get(part, _ABSENT)
        if child is _ABSENT and override.type in (ADD, FORCE_ADD):
            child = parent[part] = {}
        if type(child) is not dict:
            raise NeedsHydra(override.input_line)
        parent = child
    last = parts[-1]
    found = parent.get(last, _ABSENT)
    if isinstance(found, (dict, list)):
        raise NeedsHydra(override.input_line)  # OmegaConf merges into or replaces a node
    value = override.value()
    if override.type == DELETE:
        if found is _ABSENT or found is None or (value is not None and value != found):
            raise NeedsHydra(override.input_line)
        del parent[last]
    elif override.type == CHANGE and found is _ABSENT:
        raise NeedsHydra(override.input_line)  # struct mode: the unknown-key error
    else:
        parent[last] = value


def literal_select(data: dict[str, Any], key: str) -> bool:
    """Whether the plain data ``data`` has the dotted ``key``."""
    node: Any = data
    for part in key.split("."):
        if type(node) is not dict or part not in node:
            return False
        node = node[part]
    return True
