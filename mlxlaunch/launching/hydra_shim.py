"""Every use of a Hydra or OmegaConf *private* API, in one place.

mlxlaunch composes configs with Hydra's own code so that its overrides mean
exactly what they mean in Hydra. A few of the pieces it needs are not public API;
they are reached only through this module, so that a Hydra upgrade breaks in one
place, and ``tests/test_hydra_shim.py`` checks each against the installed Hydra
(setup.cfg pins ``hydra-core`` and ``omegaconf`` to the range that test passed on).

The private names, and why each is used:

- ``hydra._internal.core_plugins.basic_sweeper.BasicSweeper.split_arguments``:
  expands sweep overrides (``a=1,2 b=range(3)``) into points, in Hydra's order, with
  Hydra's ``choice``/``range``/``glob`` semantics; no public function does this
  without running Hydra's multirun launcher. (:func:`expand_sweep`)
- ``hydra._internal.config_loader_impl.ConfigLoaderImpl._apply_overrides_to_config``:
  applies value overrides (``key=v``, ``+key=v``, ``++key=v``, ``~key``) to an
  already-composed config. A sweep composes once per choice of config groups and
  applies each point's values with it: under a millisecond instead of ~40 ms for a
  full ``compose``. (:func:`apply_value_override`)
- ``ConfigLoaderImpl.repository`` (an attribute, not in the ``ConfigLoader``
  interface) and its ``group_exists``: whether ``key=value`` picks a config group
  option or sets a value. (:func:`group_exists`)
- ``GlobalHydra.instance().config_loader()``: the loader that ``hydra.initialize``
  made (public class, but its instance is Hydra's global state). (:func:`initialize`)
- ``Override._value``: the override's value as parsed, before conversion: only there
  does an unquoted ``@file.yaml`` differ from a quoted ``'@file.yaml'``. (:func:`raw_value`)
- ``Override(_value=...)``: building the override Hydra's parser makes of a plain
  ``key=INT`` line without parsing it (a ``range()`` sweep's 10,000 lines).
  (:func:`int_override`)
- OmegaConf ``DictConfig._get_node``: a child node *without* resolving
  interpolations or raising on ``???``, to list every key of a config for a "did
  you mean" hint. (:func:`child_node`)

``import hydra`` takes ~0.3 s, so every Hydra import here is inside a function: a
job that runs a prepared run folder, and ``import mlxlaunch``, never pay for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from mlxlaunch.errors import HydraIncompatible

if TYPE_CHECKING:  # annotations only: importing hydra is slow
    from hydra.core.config_loader import ConfigLoader
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Override

#: The Hydra versions tests/test_hydra_shim.py passed on (setup.cfg pins the same range).
TESTED = "hydra-core>=1.3.2,<1.4 and omegaconf>=2.3,<2.4"


def _incompatible(api: str, exc: BaseException) -> HydraIncompatible:
    import hydra  # heavy, but only reached when something is already broken

    return HydraIncompatible(
        f"mlxlaunch cannot use the installed hydra-core {hydra.__version__}: its private "
        f"API {api} changed ({type(exc).__name__}: {exc}). mlxlaunch was tested with "
        f"{TESTED}: pip install 'hydra-core>=1.3.2,<1.4'."
    )


# ---------------------------------------------------------------- Hydra's global state


@contextmanager
def initialize(config_dir: Optional[Path]) -> Iterator[ConfigLoader]:
    """Hydra initialised on ``config_dir`` (or on nothing); yields its config loader."""
    from hydra import initialize as hydra_initialize  # heavy: ~0.3 s
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    context: contextlib.AbstractContextManager[Any]
    if config_dir is not None:
        context = initialize_config_dir(
            config_dir=str(config_dir), version_base=None, job_name="mlxlaunch"
        )
    else:
        context = hydra_initialize(config_path=None, version_base=None, job_name="mlxlaunch")
    with context:
        yield GlobalHydra.instance().config_loader()


def override_parser(loader: Optional[ConfigLoader] = None) -> OverridesParser:
    """Hydra's parser of override strings (``loader`` lets it evaluate ``glob()``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser  # heavy

    return OverridesParser.create(config_loader=loader)


def group_exists(loader: ConfigLoader, group: str) -> bool:
    """Whether ``group`` is a config group of the loader's search path."""
    try:
        repository = loader.repository  # type: ignore[attr-defined]
    except AttributeError as exc:
        raise _incompatible("ConfigLoaderImpl.repository", exc) from None
    return bool(repository.group_exists(group))


# ---------------------------------------------------------------- overrides


def expand_sweep(overrides: list[Override]) -> list[list[str]]:
    """The points of a sweep, each a list of override strings, in Hydra's order."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper  # heavy

        split = BasicSweeper.split_arguments
    except (ImportError, AttributeError) as exc:
        raise _incompatible("BasicSweeper.split_arguments", exc) from None
    return [list(point) for point in split(overrides, None)[0]]


def apply_value_override(override: Override, cfg: Any) -> None:
    """Apply one value override to the composed ``cfg`` in place, as Hydra's compose does.

    Raises Hydra's or OmegaConf's own exceptions for a bad override (the caller
    words them for the user).
    """
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl  # heavy

        apply = ConfigLoaderImpl._apply_overrides_to_config
    except (ImportError, AttributeError) as exc:
        raise _incompatible("ConfigLoaderImpl._apply_overrides_to_config", exc) from None
    apply([override], cfg)


def int_override(
    plus: int, key: str, value: int, line: str, loader: Optional[ConfigLoader]
) -> Override:
    """The ``Override`` Hydra's parser makes of the line ``+``*plus ``key=value`` (an int).

    Built directly (the constructor's ``_value`` field is private): parsing costs
    ~0.3 ms a line, most of a 10,000-point ``range()`` sweep's expansion.
    """
    from hydra.core.override_parser.types import Override, OverrideType, ValueType  # heavy

    kind = (OverrideType.CHANGE, OverrideType.ADD, OverrideType.FORCE_ADD)[plus]
    try:
        return Override(
            type=kind,
            key_or_group=key,
            value_type=ValueType.ELEMENT,
            _value=value,
            input_line=line,
            config_loader=loader,
        )
    except TypeError as exc:
        raise _incompatible("Override(_value=...)", exc) from None


def as_force_add(override: Override) -> Override:
    """``override`` as a ``++key=value`` (the same call as ``+key`` once the key is known free)."""
    import dataclasses

    from hydra.core.override_parser.types import OverrideType  # heavy

    return dataclasses.replace(override, type=OverrideType.FORCE_ADD)


def raw_value(override: Override) -> Any:
    """The value as parsed: a ``str`` when unquoted, Hydra's ``QuotedString`` when quoted."""
    try:
        return override._value
    except AttributeError as exc:
        raise _incompatible("Override._value", exc) from None


# ---------------------------------------------------------------- OmegaConf


def child_node(cfg: Any, key: Any) -> Any:
    """The child node ``key`` of the ``DictConfig`` ``cfg``, unresolved (no interpolation)."""
    try:
        get_node = cfg._get_node
    except AttributeError as exc:
        raise _incompatible("DictConfig._get_node", exc) from None
    return get_node(key)
