"""Each function of ``launching/hydra_shim.py`` against the installed Hydra, on a tiny config.

The shim is the only place that touches Hydra's and OmegaConf's private APIs. If
an upgrade changes one of them, the test of that function fails with a message
naming the private API and the installed versions: pin ``hydra-core`` back to the
range in setup.cfg, or adapt the shim (and widen the range).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import hydra
import omegaconf
import pytest
from omegaconf import OmegaConf

from mlxlaunch.errors import HydraIncompatible
from mlxlaunch.launching import hydra_shim


@contextlib.contextmanager
def private_api(name: str) -> Iterator[None]:
    """Turn any failure inside into one that names ``name`` and the installed versions."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the point is to name what broke
        pytest.fail(
            f"Hydra's private API {name} no longer behaves as mlxlaunch expects with "
            f"hydra-core {hydra.__version__} / omegaconf {omegaconf.__version__} "
            f"({type(exc).__name__}: {exc}). mlxlaunch is tested with {hydra_shim.TESTED}: "
            f"adapt mlxlaunch/launching/hydra_shim.py or pin the tested range in setup.cfg.",
            pytrace=True,
        )


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "config.yaml").write_text("defaults:\n  - model: small\n  - _self_\nlr: 0.1\n")
    (tmp_path / "model" / "small.yaml").write_text("depth: 2\n")
    (tmp_path / "model" / "big.yaml").write_text("depth: 8\n")
    return tmp_path


def test_initialize_yields_the_loader_of_the_config_folder(config_dir: Path) -> None:
    with private_api("GlobalHydra.instance().config_loader()"):
        with hydra_shim.initialize(config_dir) as loader:
            assert sorted(loader.get_group_options("model")) == ["big", "small"]
            assert "model" in loader.list_groups("")
        with hydra_shim.initialize(None) as loader:
            assert loader is not None


def test_group_exists_tells_groups_from_keys(config_dir: Path) -> None:
    with private_api("ConfigLoaderImpl.repository.group_exists"):
        with hydra_shim.initialize(config_dir) as loader:
            assert hydra_shim.group_exists(loader, "model") is True
            assert hydra_shim.group_exists(loader, "lr") is False


def test_expand_sweep_gives_the_points_in_hydras_order() -> None:
    with private_api("BasicSweeper.split_arguments"):
        parsed = hydra_shim.override_parser().parse_overrides(["a=1,2", "b=x,y", "c=3"])
        assert hydra_shim.expand_sweep(parsed) == [
            ["a=1", "b=x", "c=3"],
            ["a=1", "b=y", "c=3"],
            ["a=2", "b=x", "c=3"],
            ["a=2", "b=y", "c=3"],
        ]
        parsed = hydra_shim.override_parser().parse_overrides(["s=range(0,3)"])
        assert hydra_shim.expand_sweep(parsed) == [["s=0"], ["s=1"], ["s=2"]]


def test_apply_value_override_has_hydras_semantics() -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    cfg = OmegaConf.create({"lr": 0.1, "model": {"depth": 2}})
    OmegaConf.set_struct(cfg, True)
    parse = hydra_shim.override_parser().parse_overrides
    with private_api("ConfigLoaderImpl._apply_overrides_to_config"):
        for override in parse(["lr=0.5", "+extra=1", "~model.depth", "++model.width=4"]):
            hydra_shim.apply_value_override(override, cfg)
        assert OmegaConf.to_container(cfg) == {"lr": 0.5, "model": {"width": 4}, "extra": 1}
    with private_api("ConfigLoaderImpl._apply_overrides_to_config (unknown key)"):
        with pytest.raises((HydraException, OmegaConfBaseException)):
            hydra_shim.apply_value_override(parse(["lrr=1"])[0], cfg)


def test_raw_value_tells_an_unquoted_file_reference_from_a_quoted_string() -> None:
    parse = hydra_shim.override_parser().parse_overrides
    with private_api("Override._value"):
        assert hydra_shim.raw_value(parse(["model=@big.yaml"])[0]) == "@big.yaml"
        quoted = hydra_shim.raw_value(parse(["model='@big.yaml'"])[0])
        assert not isinstance(quoted, str)  # Hydra's QuotedString
        assert parse(["model='@big.yaml'"])[0].value() == "@big.yaml"


def test_child_node_does_not_resolve_interpolations() -> None:
    cfg = OmegaConf.create({"a": 1, "b": "${a}", "c": "???"})
    with private_api("DictConfig._get_node"):
        assert hydra_shim.child_node(cfg, "b")._value() == "${a}"
        assert hydra_shim.child_node(cfg, "c") is not None  # no MissingMandatoryValue


def test_a_missing_private_api_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a user sees with an incompatible Hydra: one line naming the API and the version."""
    from hydra.core.override_parser.types import Override

    override = hydra_shim.override_parser().parse_overrides(["a=1"])[0]
    monkeypatch.delattr(Override, "_value", raising=False)
    monkeypatch.delattr(override, "_value")
    with pytest.raises(
        HydraIncompatible, match=rf"hydra-core {hydra.__version__}.*Override\._value"
    ):
        hydra_shim.raw_value(override)
    assert HydraIncompatible("x").exit_code == 1


def test_setup_cfg_pins_hydra_to_the_tested_range() -> None:
    """The range this file passed on is the one users get (and the one the shim's error names)."""
    from importlib.metadata import version

    setup = (Path(__file__).parent.parent / "setup.cfg").read_text()
    for requirement in hydra_shim.TESTED.split(" and "):
        assert f"    {requirement}\n" in setup, requirement
    major_minor = tuple(int(x) for x in version("hydra-core").split(".")[:2])
    assert (1, 3) <= major_minor < (1, 4), version("hydra-core")


def test_int_override_is_what_the_parser_makes_of_the_line() -> None:
    parser = hydra_shim.override_parser()
    for plus, line in ((0, "a.b=3"), (1, "+a=-2"), (2, "++a_b-c=0")):
        key, _, value = line.lstrip("+").partition("=")
        built = hydra_shim.int_override(plus, key, int(value), line, None)
        assert built == parser.parse_overrides([line])[0]
        forced = hydra_shim.as_force_add(built)
        assert forced.is_force_add() and (forced.key_or_group, forced.value()) == (key, int(value))
