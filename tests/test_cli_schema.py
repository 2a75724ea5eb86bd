"""Typed configs: ``@launch(schema=Config)`` and Hydra ConfigStore schemas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

import pytest
import yaml

from mlxlaunch.errors import ConfigError, UsageError
from mlxlaunch.launching.schema import check_schema, defaults, describe_type, validate

TYPED_TASK = """\
import enum
from dataclasses import dataclass, field
from typing import Literal, Optional
import mlxlaunch

class Act(enum.Enum):
    relu = "relu"
    gelu = "gelu"

@dataclass
class Optim:
    lr: float = 0.1
    name: Literal["sgd", "adam"] = "sgd"

@dataclass
class Config:
    seed: int = 0
    epochs: int = 2
    act: Act = Act.relu
    tag: Optional[str] = None
    layers: list[int] = field(default_factory=lambda: [64, 64])
    optimizer: Optim = field(default_factory=Optim)

@mlxlaunch.launch(config_path="configs", schema=Config)
def main(ctx):
    print("RAN", ctx.info.log_id, ctx.config.optimizer.lr, ctx.config.act, flush=True)

if __name__ == "__main__":
    main()
"""


@pytest.fixture
def typed(project):
    project.write("main.py", TYPED_TASK)
    project.write("configs/config.yaml", "epochs: 5\n")
    return project


def _cfg(project, *args: str) -> dict:
    return yaml.safe_load(project.run(*args, "--cfg", "job", check=True).stdout)


def test_defaults_come_from_the_schema_under_the_yaml(typed):
    cfg = _cfg(typed)
    assert cfg == {
        "seed": 0,
        "epochs": 5,  # from the YAML
        "act": "relu",
        "tag": None,
        "layers": [64, 64],
        "optimizer": {"lr": 0.1, "name": "sgd"},
    }


def test_a_wrong_type_fails_before_anything_runs_naming_key_type_and_value(typed):
    proc = typed.run("optimizer.lr=abc")
    assert proc.returncode == 2
    assert "Config key 'optimizer.lr' expects float, got 'abc' (str)" in proc.stderr
    assert "Traceback" not in proc.stderr and "RAN" not in proc.stdout
    assert not typed.logs.exists()


def test_a_bad_value_in_the_last_point_fails_the_whole_sweep(typed):
    proc = typed.run("seed=1,2,3", "epochs=1,1.5")
    assert proc.returncode == 2
    assert "point 2 of 6 (seed=1 epochs=1.5)" in proc.stderr
    assert "'epochs' expects int, got 1.5 (float)" in proc.stderr
    assert "RAN" not in proc.stdout and not typed.logs.exists()


@pytest.mark.parametrize(
    "arg,message",
    [
        (
            "optimizer.name=adma",
            "config key 'optimizer.name': 'adma'. Did you mean 'adam'? Valid values: sgd, adam.",
        ),
        ("act=gleu", "config key 'act': 'gleu'. Did you mean 'gelu'? Valid values: relu, gelu."),
        ("+optimizer.momentum=0.9", "Unknown config key 'optimizer.momentum' in the schema Optim."),
        ("+epoch=3", "Did you mean 'epochs'?"),
        ("layers=[1,x]", "'layers[1]' expects int, got 'x'"),
        ("tag=[1]", "'tag' expects str | null"),
    ],
)
def test_choices_unknown_keys_and_nested_types_are_reported(typed, arg, message):
    proc = typed.run(arg)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr


def test_valid_values_are_converted_and_the_run_gets_them(typed):
    proc = typed.run("optimizer.lr=1", "act=gelu", "tag=7", check=True)
    assert "RAN 1 1.0 gelu" in proc.stdout
    frozen = yaml.safe_load((typed.logs / "1/metadata/config.yaml").read_text())
    assert frozen["optimizer"]["lr"] == 1.0 and isinstance(frozen["optimizer"]["lr"], float)
    assert frozen["tag"] == "7" and frozen["act"] == "gelu"


def test_a_yaml_key_missing_from_the_schema_is_reported(typed):
    typed.write("configs/config.yaml", "epochs: 5\nepohcs: 6\n")
    proc = typed.run()
    assert proc.returncode == 2
    assert "Unknown config key 'epohcs' in the schema Config. Did you mean 'epochs'?" in proc.stderr


def test_configstore_schema_errors_name_key_type_and_value(project):
    project.write(
        "main.py",
        """\
        import enum
        from dataclasses import dataclass
        from hydra.core.config_store import ConfigStore
        import mlxlaunch

        class Act(enum.Enum):
            relu = 1
            gelu = 2

        @dataclass
        class Config:
            lr: float = 0.1
            act: Act = Act.relu

        ConfigStore.instance().store(name="base", node=Config)

        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            print("RAN", ctx.config.act)

        if __name__ == "__main__":
            main()
        """,
    )
    project.write("configs/config.yaml", "defaults:\n  - base\n  - _self_\n")
    proc = project.run("lr=abc")
    assert proc.returncode == 2
    assert "config key 'lr'" in proc.stderr and "'abc'" in proc.stderr and "Float" in proc.stderr
    proc = project.run("act=gleu")
    assert proc.returncode == 2 and "expected one of [relu, gelu]" in proc.stderr
    assert "RAN gelu" in project.run("act=gelu", check=True).stdout  # enums are stored by name


# ------------------------------------------------------------ the validator itself


class Color(enum.Enum):
    red = 1
    blue = 2


@dataclass
class Inner:
    size: int = 1


@dataclass
class Every:
    b: bool = False
    f: float = 0.0
    p: Path = Path("x")
    o: Optional[int] = None
    t: tuple[int, str] = (1, "a")
    d: dict[str, float] = field(default_factory=dict)
    c: Color = Color.red
    anything: Any = None
    inner: Inner = field(default_factory=Inner)
    required: int = field(default=None)  # type: ignore[assignment]


def test_validate_converts_lossless_values_and_rejects_the_rest():
    config = defaults(Every)
    assert config["p"] == "x" and config["c"] == "red" and config["t"] == [1, "a"]
    config.update(f=3, c=2, d={"a": 1}, required=4, anything={"x": [1]})
    checked = validate(config, Every)
    assert checked["f"] == 3.0 and checked["c"] == "blue" and checked["d"] == {"a": 1.0}
    for key, bad in [("b", 1), ("o", "x"), ("t", [1, "a", 3]), ("inner", 3), ("f", True)]:
        with pytest.raises(ConfigError, match=f"'{key}"):
            validate(dict(config, **{key: bad}), Every)
    with pytest.raises(ConfigError, match="'inner.size' expects int"):
        validate(dict(config, inner={"size": "big"}), Every)


def test_a_literal_of_numbers_rejects_booleans_and_the_reverse():
    """``True == 1`` in Python: ``level=true`` must not pass for ``Literal[1, 2]``."""

    @dataclass
    class Levels:
        level: Literal[1, 2] = 1
        flag: Literal[True, "auto"] = "auto"

    assert validate({"level": 2, "flag": True}, Levels) == {"level": 2, "flag": True}
    with pytest.raises(ConfigError, match="'level': True. Valid values: 1, 2."):
        validate({"level": True, "flag": "auto"}, Levels)
    with pytest.raises(ConfigError, match="'flag': 1. Valid values: True, auto."):
        validate({"level": 1, "flag": 1}, Levels)


@dataclass
class Opt:
    lr: float = 0.1
    name: str = "sgd"


@dataclass
class Top:
    extra: Optional[Opt] = None


def test_an_optional_nested_dataclass_given_in_part_gets_its_defaults():
    """``+extra.lr=1`` for ``extra: Optional[Opt] = None``: the other fields keep their defaults."""
    assert validate({"extra": {"lr": 1}}, Top) == {"extra": {"lr": 1.0, "name": "sgd"}}
    assert validate({"extra": None}, Top) == {"extra": None}
    with pytest.raises(ConfigError, match="'extra' expects Opt | null"):
        validate({"extra": {"lr": "abc"}}, Top)


def test_a_field_without_default_must_be_given():
    @dataclass
    class Needs:
        lr: float

    assert defaults(Needs) == {"lr": "???"}
    with pytest.raises(ConfigError, match=r"'lr' \(float\) has no value.*lr=<value>"):
        validate(defaults(Needs), Needs, where="(no overrides)")


def test_describe_type_and_check_schema():
    assert describe_type(Optional[list[int]]) == "list[int] | null"
    assert describe_type(Literal["a", 1]) == "'a' | 1"
    assert describe_type(Color) == "red | blue"
    with pytest.raises(UsageError, match="takes a dataclass type"):
        check_schema(dict)


def test_resuming_a_typed_run_checks_the_new_overrides(typed):
    typed.run(check=True)
    typed.write("lr.yaml", "lr: 0.5\nname: adam\n")
    proc = typed.run("+launcher.logger.forced_log_id=1", "optimizer.lr=abc")
    assert proc.returncode == 2
    assert "Invalid config of run 1: Config key 'optimizer.lr' expects float" in proc.stderr
    proc = typed.run("+launcher.logger.forced_log_id=1", "optimizer=@lr.yaml", check=True)
    assert "RAN 1 0.5 relu" in proc.stdout
