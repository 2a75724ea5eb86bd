"""From a command line to validated sweep points, each composed exactly once.

Hydra's own parser reads the overrides, Hydra's basic sweeper expands them (the
cartesian product, in Hydra's order, with ``range()``, ``choice()`` and ``glob()``),
and Hydra's compose API builds the config. To make sweeps cheap, Hydra composes
once per distinct choice of config groups; a point's value overrides are then
applied to a copy of that composed config with the exact code Hydra uses for
them (``ConfigLoaderImpl._apply_overrides_to_config``), which costs well under a
millisecond instead of ~40 ms for a full composition. Hydra's private APIs are
reached only through ``hydra_shim.py``.

Per-point costs of a large sweep are kept out of the loop (10,000 points): an
override line is parsed once (and a plain ``key=INT`` line, what ``range()``
expands to, is built without Hydra's parser: the same ``Override``, checked in
the tests), whether a key is a config group is asked once per key, and points
whose value overrides set the same scalar leaves reuse one working copy of the
config instead of a deep copy each (see :meth:`Composer._working_copy`).

Every point is composed and resolved before anything runs, so a typo in the last
point of a sweep fails the whole command at once with a "did you mean".
"""

from __future__ import annotations

import copy
import math
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, cast

from mlxlaunch.errors import (
    ConfigError,
    HydraIncompatible,
    NeedsHydra,
    UnknownConfigKey,
    UsageError,
    did_you_mean,
)
from mlxlaunch.launching import factories, hydra_shim, mlxp, operations, placeholders, plain
from mlxlaunch.launching.configfiles import apply_file_override, base_from_file, is_file_reference
from mlxlaunch.launching.schema import defaults, validate
from mlxlaunch.launching.settings import NAMESPACE, set_path, valid_keys

if TYPE_CHECKING:  # annotations only: importing hydra takes ~0.3 s
    from hydra.core.config_loader import ConfigLoader
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Override


@dataclass
class Point:
    """One point of a sweep: its overrides and its resolved config."""

    index: int
    overrides: list[str]
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """Every point a command asks for, composed and validated."""

    points: list[Point]


def _sweep_length(override: Any) -> int:
    """How many values the sweep ``override`` has, without listing a range's values."""
    if isinstance(override, plain.PlainOverride):
        return len(override.sweep)
    from hydra.core.override_parser.types import RangeSweep  # heavy, deferred

    value = override.value()
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if start is not None and stop is not None and step:
            return max(0, math.ceil((stop - start) / step))
    return sum(1 for _ in override.sweep_string_iterator())


def _check_sweep_size(user: list[Any], max_points: int) -> None:
    """Raise ``UsageError`` if the cartesian product of the sweeps exceeds ``max_points``."""
    sizes = [(o.input_line, _sweep_length(o)) for o in user if o.is_sweep_override()]
    total = math.prod(n for _, n in sizes)
    if total > max_points:
        biggest = max(sizes, key=lambda item: item[1])
        raise UsageError(
            f"The sweep has {total:,} points ('{biggest[0]}' alone has {biggest[1]:,}), more "
            f"than launcher setting max_points ({max_points:,}). Check the sweep; if you "
            f"mean it, raise the limit: +launcher.max_points={total}."
        )


def describe_point(point_overrides: list[str], index: int, total: int) -> str:
    shown = " ".join(point_overrides) if point_overrides else "no overrides"
    if total == 1:
        return f"({shown})"
    return f"point {index + 1} of {total} ({shown})"


def _all_keys(cfg: Any, prefix: str = "") -> list[str]:
    from omegaconf import DictConfig

    keys = []
    if isinstance(cfg, DictConfig):
        for key in cfg.keys():
            path = f"{prefix}{key!s}"
            keys.append(path)
            try:
                child = hydra_shim.child_node(cfg, key)
            except Exception:  # pragma: no cover - defensive: odd nodes
                continue
            keys.extend(_all_keys(child, path + "."))
    return keys


#: ``key=INT`` as the sweeper writes it (``+i=3``, ``model.depth=-2``): Hydra's grammar
#: reads such a line as one ELEMENT override of an ``int``; see ``Composer._parse_line``.
_PLAIN_INT_LINE = re.compile(
    r"(?P<plus>\+{0,2})(?P<key>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*)"
    r"=(?P<value>-?(?:0|[1-9][0-9]*))"
)

#: values a reused working copy may receive (a container would be merged, not replaced)
_SCALARS = (int, float, bool, str, type(None))


#: "no such key" for OmegaConf.select (None is a value a key may hold)
_MISSING = object()

#: ``Composer._loader`` before Hydra is started
_NOT_STARTED = object()


class Composer:
    """Parses, expands and composes overrides against one config folder.

    Hydra is started only when a command needs it: a config folder without
    config groups, whose main config has no ``defaults:`` list, with plain
    overrides (``seed=3``, ``+new=x``, ``lr=0.1,0.01``) is composed with OmegaConf
    alone (``plain.py``), the same config as Hydra's; anything else, or anything
    the plain path cannot apply, is composed by Hydra, from the start.
    """

    def __init__(
        self,
        config_dir: Path,
        config_name: Optional[str],
        schema: Optional[type] = None,
        config_file: Optional[Path] = None,
    ) -> None:
        self.config_dir = config_dir
        #: ``@launch(schema=...)`` dataclass every point is checked against (``schema.py``)
        self.schema = schema
        #: a whole config read from a file (``@FILE`` argument) instead of the main YAML
        self.config_file = config_file
        if config_name is not None and not (config_dir / f"{config_name}.yaml").is_file():
            if not config_dir.is_dir() and schema is None and config_file is None:
                raise UsageError(
                    f"Config folder {config_dir} does not exist. Create it with a "
                    f"{config_name}.yaml, or pass config_path= to @mlxlaunch.launch."
                )
            config_name = None  # no main config: start from an empty one (`+key=value` works)
        self.config_name = config_name
        self._hydra_ctx: Optional[AbstractContextManager[ConfigLoader]] = None
        self._loader: Any = _NOT_STARTED  # Hydra's config loader, once started
        self._parser: Optional[OverridesParser] = None
        #: the composed main config while the plain path is on (``plain.py``), else None
        self._plain: Optional[Any] = None
        #: whether ``_plain`` is plain data, composed without OmegaConf (``plain.literal_config``)
        self._literal = False
        self._base_cache: dict[tuple[str, ...], Any] = {}
        self._parsed: dict[str, Any] = {}  # override line -> Hydra Override
        self._groups: dict[str, bool] = {}  # key -> is a config group
        self._work: dict[tuple[Any, ...], Any] = {}  # point shape -> working copy
        # point shape -> its resolved config to patch, or None (see _patched)
        self._templates: dict[tuple[Any, ...], Optional[_Template]] = {}

    # -- Hydra's global state: entered once per command, started when first needed ------
    def __enter__(self) -> Composer:
        # (a subclass composing from its own _base, or a schema, needs OmegaConf)
        if self.config_file is None and self.schema is None and type(self)._base is Composer._base:
            self._plain = plain.literal_config(self.config_dir, self.config_name)
            self._literal = self._plain is not None
        if not self._literal:
            placeholders.register()  # ${mlx:run_id} and co. resolve to markers, filled per run
            if self.config_file is None:
                self._plain = plain.primary_config(self.config_dir, self.config_name)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hydra_ctx is not None:
            self._hydra_ctx.__exit__(None, None, None)

    @property
    def config_loader(self) -> ConfigLoader:
        """Hydra's config loader (Hydra is initialised on the config folder the first time)."""
        if self._loader is _NOT_STARTED:
            # without a config folder (a schema or a config file only) Hydra searches nothing
            self._hydra_ctx = hydra_shim.initialize(
                self.config_dir if self.config_dir.is_dir() else None
            )
            self._loader = self._hydra_ctx.__enter__()
        return self._loader

    @property
    def parser(self) -> OverridesParser:
        """Hydra's override parser (``glob()`` lists the config folder through the loader)."""
        if self._parser is None:
            self._parser = hydra_shim.override_parser(self.config_loader)
        return self._parser

    def _use_hydra(self) -> None:
        """Leave the plain path: from now on this command is composed by Hydra."""
        if self._literal:
            placeholders.register()
        self._plain, self._literal = None, False
        self._base_cache.clear()
        self._parsed.clear()
        self._work.clear()
        self._templates.clear()

    # -- parsing ----------------------------------------------------------------------------
    def parse(self, args: list[str]) -> list[Override]:
        if self._plain is not None:
            lines = [plain.parse(arg) for arg in args]
            if all(line is not None for line in lines):
                return cast("list[Override]", lines)  # the same API, for what mlxlaunch uses
            self._use_hydra()  # a line only Hydra's parser reads: Hydra composes the command
        return parse_overrides(self.parser, args)

    def _parse_line(self, line: str) -> Override:
        """``parse([line])[0]``, each distinct line parsed once.

        A plain ``key=INT`` line (what ``range()`` sweeps expand to) is built
        directly: the same ``Override`` Hydra's parser returns for it (an equality
        the tests check on many lines), without the ~0.3 ms of its ANTLR parser.
        """
        parsed = self._parsed.get(line)
        if parsed is None and self._plain is not None:
            parsed = plain.parse(line)
            if parsed is None:  # (the plain sweeper writes plain lines)
                raise NeedsHydra(line)
            self._parsed[line] = parsed
        if parsed is None:
            match = _PLAIN_INT_LINE.fullmatch(line)
            if match is None or operations.split_operation(line) is not None:  # `seed-=1`
                parsed = self.parse([line])[0]
            else:
                parsed = hydra_shim.int_override(
                    len(match["plus"]), match["key"], int(match["value"]), line, self.config_loader
                )
            self._parsed[line] = parsed
        return parsed

    def is_group(self, override: Override) -> bool:
        if override.package is not None:
            return True
        key = override.key_or_group
        if key.startswith("hydra.") or key == "hydra":
            return True
        if self._plain is not None:  # a folder without sub-folders has no config groups
            return False
        known = self._groups.get(key)
        if known is None:
            known = self._groups[key] = hydra_shim.group_exists(self.config_loader, key)
        return known

    def group_options(self, group: str) -> list[str]:
        return list(self.config_loader.get_group_options(group))

    # -- planning ---------------------------------------------------------------------------
    def split(self, args: list[str]) -> tuple[list[Override], list[tuple[str, Any]]]:
        """Parse ``args``; return the user's overrides and the ``(path, value)`` launcher ones."""
        user, launcher = [], []
        for override in self.parse(args):
            key = override.key_or_group
            namespace = key.split(".", 1)[0]
            if namespace == NAMESPACE and self._users_own_key(key):
                if not (override.is_add() or override.is_force_add()):
                    user.append(override)  # launcher.foo=2 sets the config's own key
                    continue
                if key[len(NAMESPACE) + 1 :] not in valid_keys():
                    raise UsageError(
                        f"'{override.input_line}': +{NAMESPACE}.* is for launcher settings, "
                        f"but '{key}' is a key of your own config. To set it, write "
                        f"{key}={(override.input_line or '').partition('=')[2]} (without +)."
                    )
            if namespace in (NAMESPACE, *mlxp.NAMESPACES):
                if override.is_sweep_override():
                    raise UsageError(
                        f"Launcher settings cannot be swept: '{override.input_line}'. "
                        "Run one command per launcher setting."
                    )
                if override.is_delete():
                    raise UsageError(
                        f"Launcher settings cannot be deleted: '{override.input_line}'."
                    )
                path = key[len(namespace) + 1 :]
                if not path:
                    raise UsageError("Give a launcher setting: +launcher.<setting>=value.")
                if namespace == NAMESPACE:
                    launcher.append((path, override.value()))
                else:
                    launcher.extend(_from_mlxp(override, path))
            else:
                user.append(override)
        return user, launcher

    def _users_own_key(self, key: str) -> bool:
        """Whether ``key`` (``launcher.foo``) is a key of the user's own ``launcher:`` node.

        ``launcher.*`` overrides are launcher settings, unless the user's main config
        has that very key: then ``launcher.foo=2``, as any plain ``key=value``, sets
        the config's value (the main config is composed only when asked this).
        """
        if self._literal:
            return plain.literal_select(cast(dict[str, Any], self._plain), key)
        from omegaconf import OmegaConf

        base = self._base([], "the main config")
        if NAMESPACE not in base:
            return False
        return OmegaConf.select(base, key, default=_MISSING) is not _MISSING

    def points(
        self, user: list[Override], seed_required: bool = False, max_points: int = 0
    ) -> list[Point]:
        """Expand the user's overrides into points and compose (validate) every one.

        A sweep of more than ``max_points`` points (0: no limit) is refused before it
        is expanded: ``seed=range(0,100000000)`` would fill the memory first.
        """
        if self._plain is not None and all(isinstance(o, plain.PlainOverride) for o in user):
            try:
                return self._points(user, seed_required, max_points)
            except Exception:  # noqa: BLE001 - whatever it is, Hydra's path says it
                self._use_hydra()
        if any(isinstance(o, plain.PlainOverride) for o in user):
            self._use_hydra()
            user = self.parse([o.input_line or "" for o in user])
        return self._points(user, seed_required, max_points)

    def _points(self, user: list[Any], seed_required: bool, max_points: int) -> list[Point]:
        """``points`` on the current path (plain or Hydra)."""
        if max_points:
            _check_sweep_size(user, max_points)
        if self._plain is not None:
            batches = plain.expand(user)
        else:
            batches = self._expand_sweep(user)
        # a point's overrides are recorded as the user typed them (``lr*=2``, not encoded)
        points = [Point(index=i, overrides=[as_typed(o) for o in b]) for i, b in enumerate(batches)]
        for point in points:
            point.config = self.compose(point, len(points), seed_required)
        return points

    @staticmethod
    def _expand_sweep(user: list[Override]) -> list[list[str]]:
        """Hydra's basic sweeper's points, one clear error for a sweep it cannot expand."""
        try:
            return hydra_shim.expand_sweep(user)
        except HydraIncompatible:
            raise
        except Exception as exc:  # Hydra raises plain HydraException for sweep types
            raise UsageError(f"Cannot expand the sweep: {exc}") from None

    def plan(self, args: list[str], seed_required: bool = False) -> Plan:
        """Expand ``args`` into validated points; launcher overrides are split off."""
        user, _ = self.split(args)
        return Plan(self.points(user, seed_required))

    def _base(self, group_overrides: list[str], where: str) -> Any:
        key = tuple(group_overrides)
        if self._literal:  # (never asked: a literal config's points are composed without it)
            raise NeedsHydra(where)
        if key not in self._base_cache and self.config_file is not None:
            self._base_cache[key] = self._typed(base_from_file(self.config_file, groups=key))
        if key not in self._base_cache and self._plain is not None and not key:
            self._base_cache[key] = self._typed(self._plain)
        if key not in self._base_cache:
            import yaml
            from hydra import compose
            from hydra.errors import HydraException, MissingConfigException

            self.config_loader  # noqa: B018 - hydra.compose needs Hydra started on the folder
            try:
                self._base_cache[key] = self._typed(
                    compose(config_name=self.config_name, overrides=list(group_overrides))
                )
            except MissingConfigException as exc:
                text = str(exc).split("Config search path")[0].strip()
                hint = ""
                for line in group_overrides:
                    group, _, option = line.lstrip("+~").partition("=")
                    group = group.split("@")[0]
                    options = self.group_options(group) if option else []
                    if options and option not in options:
                        hint = (
                            f"\nValid options for '{group}': {', '.join(options)}."
                            + did_you_mean(option, options)
                        )
                if hint:  # Hydra's own list of options is replaced by ours
                    text = text.splitlines()[0]
                raise ConfigError(f"Cannot compose {where}: {text}{hint}") from None
            except HydraException as exc:
                raise ConfigError(f"Cannot compose {where}: {str(exc).strip()}") from None
            except yaml.YAMLError as exc:  # a config file of the folder is not valid YAML
                raise ConfigError(f"Cannot compose {where}: invalid YAML {exc}") from None
        return self._base_cache[key]

    def _typed(self, cfg: Any) -> Any:
        """``cfg`` over the schema's defaults (the YAML and the command line win)."""
        if self.schema is None:
            return cfg
        from omegaconf import OmegaConf

        merged = OmegaConf.merge(OmegaConf.create(defaults(self.schema)), cfg)
        OmegaConf.set_struct(merged, True)
        return merged

    def compose(self, point: Point, total: int, seed_required: bool = False) -> dict[str, Any]:
        where = describe_point(point.overrides, point.index, total)
        if self._literal:
            return self._literal_point(point, where, seed_required)
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        groups: list[Override] = []
        values: list[Override] = []
        for override in map(self._parse_line, point.overrides):
            is_group = (
                not is_file_reference(override)
                and not operations.is_operation(override)
                and not factories.is_call(override)
                and self.is_group(override)
            )
            (groups if is_group else values).append(override)
        # (input_line is Optional in Hydra's type; its parser always sets it)
        group_lines = tuple(o.input_line or "" for o in groups)
        base = self._base(list(group_lines), where)
        values.sort(key=is_file_reference)  # key=@FILE overrides apply last
        shape = _reusable_shape(group_lines, values)
        template = self._templates.get(shape) if shape is not None else None
        if template is not None:
            patched = template.patched(values)
            if patched is not None:
                return patched  # (its keys, so the checks below, are the template's)
        cfg = self._working_copy(base, group_lines, values, where)
        try:
            resolved = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(
                f"Cannot resolve the config of {where}: {str(exc).splitlines()[0]}"
            ) from None
        assert isinstance(resolved, dict)
        resolved = cast(dict[str, Any], resolved)
        check_distinct_keys(resolved, where)
        if self.schema is not None:
            resolved = validate(resolved, self.schema, where)
        _check_seed(resolved, where, seed_required)
        if shape is not None and shape not in self._templates and shape in self._work:
            self._templates[shape] = _Template.of(cfg, resolved, values, self.schema)
        return resolved

    def _literal_point(self, point: Point, where: str, seed_required: bool) -> dict[str, Any]:
        """A point of a config read as plain data (``plain.literal_config``): no OmegaConf."""
        config = _copy_tree(self._plain)
        for line in point.overrides:
            plain.apply_literal(cast(plain.PlainOverride, self._parse_line(line)), config)
        check_distinct_keys(config, where)
        _check_seed(config, where, seed_required)
        return cast(dict[str, Any], config)

    def _working_copy(
        self, base: Any, group_lines: tuple[str, ...], values: list[Any], where: str
    ) -> Any:
        """``base`` with the value overrides ``values`` applied (Hydra's code), for one point.

        The first point of a *shape* (same config groups, same value-override
        keys and kinds, each setting a scalar on a leaf) gets a deep copy of
        ``base``; the following points of that shape reuse the copy: every one of
        its overridden leaves is set again, so the previous point leaves no trace
        (its keys are the same and none nests in another), and the resolver cache
        is reset to ``base``'s, as a fresh copy would have it. A ``+key`` of a
        reused copy is applied as ``++key``: Hydra makes the same call for both,
        once the first point has checked that ``base`` has no value there.
        """
        from omegaconf import OmegaConf

        shape = _reusable_shape(group_lines, values)
        cfg = self._work.get(shape) if shape is not None else None
        if cfg is None:
            cfg = copy.deepcopy(base)
            _apply_value_overrides(cfg, values, where)
            if shape is not None and all(_is_leaf(cfg, o.key_or_group) for o in values):
                self._work[shape] = cfg
            return cfg
        again = [_as_force_add(o) if o.is_add() else o for o in values]
        _apply_value_overrides(cfg, again, where)
        if OmegaConf.get_cache(cfg) or OmegaConf.get_cache(base):  # a cached resolver ran
            OmegaConf.copy_cache(from_config=base, to_config=cfg)
        return cfg


def _check_seed(config: dict[str, Any], where: str, seed_required: bool) -> None:
    if seed_required and "seed" not in config:
        raise ConfigError(
            f"A seeding_function was given but the config of {where} has no 'seed' key. "
            "Add 'seed: 0' to your config, or pass +seed=<int> on the command line."
        )


def _copy_tree(data: Any) -> Any:
    """A copy of a tree of dicts and lists sharing none of them (the scalars are immutable)."""
    if type(data) is dict:
        return {key: _copy_tree(value) for key, value in data.items()}
    if type(data) is list:
        return [_copy_tree(value) for value in data]
    return data


def _has_interpolation(data: Any) -> bool:
    """Whether a string of the unresolved tree ``data`` may be an interpolation (``${``)."""
    if type(data) is dict:
        return any(_has_interpolation(value) for value in data.values())
    if type(data) is list:
        return any(_has_interpolation(value) for value in data)
    return isinstance(data, str) and "${" in data


def _plain_scalar(value: Any) -> bool:
    """A value an untyped node stores and gives back as it is: no interpolation, not ``???``."""
    if type(value) is str:
        return "${" not in value and value != "???"
    return type(value) in (int, float, bool, type(None))


@dataclass
class _Template:
    """The resolved config of a shape's first point, whose overridden leaves the next points set.

    A point of a shared shape (see :meth:`Composer._working_copy`) differs from
    the shape's first one only by the scalars its value overrides set. When the
    config holds no interpolation (nothing else depends on those leaves, no
    resolver runs again) and each overridden leaf is an untyped, writable node
    (OmegaConf stores a plain scalar there unchanged), the point's resolved config
    is the first point's with those leaves replaced: a copy of a few dicts instead
    of Hydra's override code and ``OmegaConf.to_container`` (~0.3 ms a point). A
    point setting anything else (``${...}``, ``???``, a list) is composed in full.
    """

    resolved: dict[str, Any]
    #: for each value override, in order: the dicts from the root to its leaf's parent, by key
    paths: list[list[str]]

    @classmethod
    def of(
        cls,
        cfg: Any,
        resolved: dict[str, Any],
        values: list[Any],
        schema: Optional[type],
    ) -> Optional[_Template]:
        """The template of the point just composed (``cfg``, ``resolved``), or None if unsafe."""
        from omegaconf import AnyNode, OmegaConf

        if schema is not None:  # typed nodes convert and validate what they are given
            return None
        if _has_interpolation(OmegaConf.to_container(cfg, resolve=False)):
            return None
        paths = []
        for override in values:
            key = override.key_or_group
            parent_key, _, last = key.rpartition(".")
            parent = OmegaConf.select(cfg, parent_key) if parent_key else cfg
            node = hydra_shim.child_node(parent, last)
            if type(node) is not AnyNode or OmegaConf.is_readonly(node):
                return None
            path = key.split(".")
            where: Any = resolved
            for part in path:
                if type(where) is not dict or part not in where:
                    return None  # e.g. an int key 1 named by "1": let OmegaConf find it
                where = where[part]
            paths.append(path)
        return cls(_copy_tree(resolved), paths)

    def patched(self, values: list[Any]) -> Optional[dict[str, Any]]:
        """The resolved config of a point of this shape, or None if it must be composed."""
        new = [override.value() for override in values]
        if not all(map(_plain_scalar, new)):
            return None
        config = _copy_tree(self.resolved)
        for path, value in zip(self.paths, new):
            where = config
            for part in path[:-1]:
                where = where[part]
            where[path[-1]] = value
        return cast(dict[str, Any], config)


def _reusable_shape(group_lines: tuple[str, ...], values: list[Any]) -> Optional[tuple[Any, ...]]:
    """What points sharing a working copy have in common, or None if this one cannot share.

    Only value overrides that set a scalar (``key=1``, ``+key=abc``, not ``~key``,
    ``key=@FILE`` or ``key={a: 1}``, which merge or remove) on distinct keys, none
    inside another (``a`` and ``a.b``), can be applied again over a previous point.
    Operations (``lr*=2``) read the value before them and factories (``model=f(...)``,
    or a bare registered name) replace a node: applied again they would compound.
    """
    keys = [o.key_or_group for o in values]
    if len(set(keys)) != len(keys):
        return None
    for override in values:
        if override.is_delete() or override.package is not None or is_file_reference(override):
            return None
        if operations.is_operation(override) or factories.is_call(override):
            return None
        value = override.value()
        if not isinstance(value, _SCALARS) or (
            isinstance(value, str) and value in factories.REGISTRY
        ):
            return None
    for key in keys:
        if any(other.startswith(key + ".") for other in keys):
            return None
    return (group_lines, tuple((o.type, o.key_or_group) for o in values))


def _as_force_add(override: Any) -> Any:
    """``override`` (a ``+key=value``) as a ``++key=value``."""
    if isinstance(override, plain.PlainOverride):
        return override.with_type(plain.FORCE_ADD)
    return hydra_shim.as_force_add(override)


def _is_leaf(cfg: Any, key: str) -> bool:
    """Whether ``key`` (dotted) names a value node of a mapping in ``cfg``."""
    from omegaconf import DictConfig, OmegaConf, ValueNode

    parent_key, _, last = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, throw_on_missing=False) if parent_key else cfg
    return isinstance(parent, DictConfig) and isinstance(
        hydra_shim.child_node(parent, last), ValueNode
    )


def _from_mlxp(override: Override, path: str) -> list[tuple[str, Any]]:
    """``+mlxp.<path>=value`` (MLXP's spelling) as launcher settings, with a one-line note."""
    value = override.value()
    source = f"'{override.input_line}'"
    tree: dict[str, Any] = {}
    set_path(tree, path, value)
    pairs, notes = mlxp.translate(tree, source)
    native = " ".join(f"+{NAMESPACE}.{p}={_shown(v)}" for p, v in pairs)
    if native:
        mlxp.note(f"{source} is MLXP's spelling of '{native}'.")
    for text in notes:
        mlxp.note(text)
    return pairs


def _shown(value: Any) -> str:
    """A setting's value as an override would spell it."""
    if isinstance(value, list):
        return "[" + ",".join(repr(v) if isinstance(v, str) else _shown(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _unknown_key_error(override: Override, cfg: Any, where: str) -> Optional[ConfigError]:
    """The error for an override of a key ``cfg`` lacks (unless ``+`` adds it), else None."""
    from omegaconf import OmegaConf

    key = override.key_or_group
    exists = OmegaConf.select(cfg, key, throw_on_missing=False, default=KeyError) is not KeyError
    if exists or override.is_add() or override.is_force_add():
        return None
    keys = _all_keys(cfg)
    if override.is_delete():
        return ConfigError(
            f"Cannot delete '{key}' in {where}: no such key.{did_you_mean(key, keys)}"
        )
    return UnknownConfigKey(
        key,
        keys,
        where=f" in {where}",
        how=f"\nTo add a new key, write '+{override.input_line}'.",
        list_valid=False,  # every key of the config: too many; --help lists them
    )


def _override_error(override: Override, cfg: Any, where: str, exc: Exception) -> ConfigError:
    """A clear error for an override Hydra refused: unknown key (with suggestions) or bad value."""
    from omegaconf.errors import ValidationError

    key = override.key_or_group
    unknown = _unknown_key_error(override, cfg, where)
    if unknown is not None:
        return unknown
    message = str(exc).strip()
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause).strip():
        message += " " + str(cause).strip().splitlines()[0]
    if isinstance(cause, ValidationError):  # a typed (ConfigStore) key: the type's message
        message = f"config key '{key}': {str(cause).strip().splitlines()[0]}"
    return ConfigError(f"Cannot apply '{override.input_line}' in {where}: {message}")


def check_distinct_keys(
    config: dict[Any, Any],
    where: str,
    prefix: str = "",
    leaves: Optional[dict[str, tuple[Any, ...]]] = None,
    path: tuple[Any, ...] = (),
) -> None:
    """Refuse two keys that read as one: ``1`` and ``"1"`` in one mapping (YAML), or a
    key with a dot and a nested one (``"a.b": 1`` next to ``a: {b: 2}``).

    The Reader's columns and the query language name keys by text, joined with
    dots (``config.d.1``, ``config.a.b``): one of the two values would be silently
    lost there. ``leaves``: the values met so far, by that name (``scan.flatten``'s).
    """
    leaves = {} if leaves is None else leaves
    seen: dict[str, Any] = {}
    for key, value in config.items():
        text = str(key)
        if text in seen:
            raise ConfigError(
                f"The config of {where} has two keys '{prefix}{text}' ({seen[text]!r} and "
                f"{key!r}): runs are read by key name, so one value would be lost. "
                "Rename one of them (YAML reads 1 as a number, '1' as text)."
            )
        seen[text] = key
        name = f"{prefix}{text}"
        if isinstance(value, dict) and value:
            check_distinct_keys(value, where, f"{name}.", leaves, (*path, key))
        elif name in leaves:
            first, second = list(leaves[name]), [*path, key]
            raise ConfigError(
                f"The config of {where} has two keys that read as '{name}' ({first} and "
                f"{second}): runs are read by key name, so one value would be lost. "
                "Rename one of them (a key with a dot in it reads as a nested key)."
            )
        else:
            leaves[name] = (*path, key)


def as_typed(line: str) -> str:
    """An override line as the user typed it (operations and factory calls decoded)."""
    return factories.decode(operations.decode(line))


def parse_overrides(parser: OverridesParser, args: list[str]) -> list[Override]:
    """Hydra's parse of ``args``; one clear error per bad one.

    Operations (``lr*=2``, ``operations.py``) and factory calls
    (``model=my_model(...)``, ``factories.py``) are encoded first, in spellings
    Hydra's grammar accepts, so the sweeper expands them like any override.
    """
    from hydra.errors import HydraException

    parsed = []
    for arg in args:
        try:
            one = parser.parse_overrides([factories.encode(operations.encode(arg))])
        except HydraException as exc:
            unknown = factories.unknown_factory_error(arg)
            if unknown is not None and "Unknown function" in str(exc):
                raise unknown from None
            raise UsageError(
                f"Cannot parse the override '{arg}': {str(exc).strip()}\n"
                "Overrides use Hydra's grammar: key=value, +new_key=value, ~key, "
                "key=1,2 (sweep), 'key=range(0,5)', and operations key*=2, key/=10, "
                "key+=16, key-=1, list+=[x]."
            ) from None
        if any(not o.key_or_group for o in one):  # Hydra takes '=5' as a group named ''
            raise UsageError(
                f"The override '{arg}' has no key before '=': write key=value "
                "(e.g. seed=5), or +new_key=value to add a key."
            )
        parsed.extend(one)
    return parsed


def _plus_sets_existing(override: Override, cfg: Any) -> Override:
    """``+key=value`` on a key ``cfg`` already has, as ``key=value`` (other overrides unchanged).

    Hydra refuses ``+`` on an existing key ("Could not append to config"), but MLXP's
    tutorial types ``+optimizer.lr=0.01,0.1`` for a key of ``config.yaml``: here the
    ``+`` of a value override means "set it, adding it if needed", as ``++`` does.
    Config groups never come here: ``+group=option`` keeps Hydra's meaning.
    """
    import dataclasses

    from omegaconf import OmegaConf

    if not override.is_add():
        return override
    key = override.key_or_group
    if OmegaConf.select(cfg, key, throw_on_missing=False, default=KeyError) is KeyError:
        return override
    if isinstance(override, plain.PlainOverride):
        return override.with_type(plain.CHANGE)
    from hydra.core.override_parser.types import OverrideType  # heavy, deferred

    return dataclasses.replace(override, type=OverrideType.CHANGE)


def _apply_value_overrides(cfg: Any, overrides: list[Override], where: str) -> None:
    """Apply value overrides, operations, factories and ``key=@FILE`` to ``cfg``, in order.

    Plain overrides go through Hydra's own code; operations (``operations.py``)
    read the value the overrides before them left; factory calls (``factories.py``)
    replace a node with the factory's result.
    """
    from omegaconf.errors import OmegaConfBaseException

    for override in overrides:
        if isinstance(override, plain.PlainOverride):  # errors: Hydra's path words them
            plain.apply(_plus_sets_existing(override, cfg), cfg)
            continue
        from hydra.errors import HydraException  # heavy: ~0.3 s

        if operations.is_operation(override):
            operations.apply_operation(cfg, override, where, _all_keys(cfg))
            continue
        if factories.is_call(override) or factories.bare_factory(override, cfg):
            factories.apply_call(cfg, override, where, _all_keys(cfg))
            continue
        override = _plus_sets_existing(override, cfg)
        if is_file_reference(override):
            unknown = _unknown_key_error(override, cfg, where)
            if unknown is not None:
                raise unknown
            apply_file_override(cfg, override, where)
            continue
        try:
            hydra_shim.apply_value_override(override, cfg)
        except (HydraException, OmegaConfBaseException) as exc:
            raise _override_error(override, cfg, where, exc) from None


def apply_overrides(config: dict[str, Any], overrides: list[str], where: str) -> dict[str, Any]:
    """Apply value overrides to an existing (frozen) config, with Hydra's semantics.

    Used when a run is resumed: its frozen config is the base, and the command's
    overrides change it (``+launcher.logger.forced_log_id=3 num_epoch=20``).
    """
    from omegaconf import OmegaConf  # heavy

    cfg = OmegaConf.create(config)
    OmegaConf.set_struct(cfg, True)
    parsed = parse_overrides(hydra_shim.override_parser(), overrides)
    for override in parsed:
        if override.package is not None or override.is_sweep_override():
            raise ConfigError(
                f"Cannot apply '{override.input_line}' to {where}: a resumed run keeps its "
                "config groups and cannot be swept; pass plain key=value overrides."
            )
    _apply_value_overrides(cfg, parsed, where)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(resolved, dict)
    return cast(dict[str, Any], resolved)
