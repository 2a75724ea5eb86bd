"""Python-like operations on config values (NeMo-Run's ``key*=2``): composed per point."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlxlaunch.errors import ConfigError, UsageError
from mlxlaunch.launching.compose import Composer
from mlxlaunch.launching.operations import decode, encode, split_operation

CONFIG = """\
seed: 0
model:
  hidden_size: 512
  layers: [a, b]
  name: net
  width: ${model.hidden_size}
optimizer:
  lr: 0.1
  steps: ???
"""


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    (tmp_path / "configs" / "db").mkdir(parents=True)
    (tmp_path / "configs" / "config.yaml").write_text(CONFIG)
    (tmp_path / "configs" / "db" / "small.yaml").write_text("size: 8\n")
    (tmp_path / "configs" / "db" / "big.yaml").write_text("size: 64\n")
    return tmp_path / "configs"


def plan(configs: Path, *args: str) -> list:
    with Composer(configs, "config") as composer:
        return composer.plan(list(args)).points


def test_each_operation_applies_to_the_composed_value(configs):
    (point,) = plan(
        configs, "model.hidden_size*=2", "optimizer.lr/=10", "seed+=16", "model.layers+=[c]"
    )
    assert point.config["model"]["hidden_size"] == 1024
    assert point.config["optimizer"]["lr"] == pytest.approx(0.01)
    assert point.config["seed"] == 16
    assert point.config["model"]["layers"] == ["a", "b", "c"]
    (point,) = plan(configs, "seed-=1", "model.name+=_v2")
    assert point.config["seed"] == -1 and point.config["model"]["name"] == "net_v2"


def test_operations_apply_in_command_line_order_with_plain_overrides(configs):
    (point,) = plan(configs, "optimizer.lr=0.5", "optimizer.lr*=2")
    assert point.config["optimizer"]["lr"] == 1.0
    (point,) = plan(configs, "optimizer.lr*=2", "optimizer.lr=0.5")
    assert point.config["optimizer"]["lr"] == 0.5


def test_interpolations_follow_the_changed_value(configs):
    (point,) = plan(configs, "model.hidden_size*=2")
    assert point.config["model"]["width"] == 1024


def test_operations_combine_with_sweeps_and_groups(configs):
    points = plan(configs, "+db=small,big", "optimizer.lr=0.1,0.2", "db.size*=2")
    assert [(p.config["db"]["size"], p.config["optimizer"]["lr"]) for p in points] == [
        (16, 0.1),
        (16, 0.2),
        (128, 0.1),
        (128, 0.2),
    ]


def test_an_operation_operand_can_be_swept(configs):
    points = plan(configs, "model.hidden_size*=1,2,4")
    assert [p.config["model"]["hidden_size"] for p in points] == [512, 1024, 2048]
    # each point records the operation as the user typed it, not Hydra's encoding
    assert [p.overrides for p in points] == [
        ["model.hidden_size*=1"],
        ["model.hidden_size*=2"],
        ["model.hidden_size*=4"],
    ]


def test_a_missing_key_names_the_point_and_suggests(configs):
    with pytest.raises(ConfigError) as err:
        plan(configs, "optimizer.lr=0.1,0.2", "model.hiden_size*=2")
    message = str(err.value)
    assert "no config key 'model.hiden_size'" in message
    assert "point 1 of 2" in message and "model.hidden_size" in message


@pytest.mark.parametrize(
    "arg, words",
    [
        ("model.name*=2", ["a string ('net')", "*= works on numbers"]),
        ("model.layers+=c", ["a list", "write 'model.layers+=[c]'"]),
        ("seed*=[1]", ["a list ([1])"]),
        ("optimizer.lr/=0", ["division by zero"]),
        ("optimizer.steps+=1", ["'optimizer.steps' has no value yet"]),
        ("model*=2", ["a mapping"]),
    ],
)
def test_a_wrong_type_is_a_one_line_error(configs, arg, words):
    with pytest.raises(ConfigError) as err:
        plan(configs, arg)
    assert f"Cannot apply '{arg}'" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_a_bad_operand_is_a_parse_error_naming_the_argument(configs):
    with pytest.raises(UsageError, match=r"'seed\+=\[1'"):
        plan(configs, "seed+=[1")


def test_spellings_that_are_not_operations_stay_hydra_overrides():
    for arg in ("lr=-1", "+lr=2", "~lr", "x=a+=b", "name=a*=b", "key=@f.yaml", "a.-=1"):
        assert split_operation(arg) is None and encode(arg) == arg
    assert split_operation("a-b-=1") == ("a-b", "-=", "1")
    for arg in ("lr*=2", "a.b/=1,2", "xs+=[1,2]", "n-=1"):
        assert decode(encode(arg)) == arg


def test_the_run_records_the_operation_and_its_result(project):
    project.run("optimizer.lr*=1,2", "num_epoch+=1", check=True)
    assert [project.info(i)["overrides"] for i in (1, 2)] == [
        ["optimizer.lr*=1", "num_epoch+=1"],
        ["optimizer.lr*=2", "num_epoch+=1"],
    ]
    config = yaml.safe_load((project.logs / "2" / "metadata" / "config.yaml").read_text())
    assert config["optimizer"]["lr"] == 0.2 and config["num_epoch"] == 3


def test_a_bad_operation_in_a_late_point_runs_nothing(project):
    proc = project.run("+fold=1,2", "model.num_layers*=x")
    assert proc.returncode != 0 and project.run_ids() == []
    assert proc.stderr.count("\n") == 1 and "Cannot apply 'model.num_layers*=x'" in proc.stderr


def test_a_resumed_run_applies_operations_to_its_frozen_config(project):
    project.run("num_epoch=4", check=True)
    project.run("+launcher.logger.forced_log_id=1", "num_epoch*=2", check=True)
    config = yaml.safe_load((project.logs / "1" / "metadata" / "config.yaml").read_text())
    assert config["num_epoch"] == 8
    assert project.info(1)["resume_overrides"] == [["num_epoch*=2"]]


def test_a_typed_schema_checks_the_result(project):
    project.write(
        "main.py",
        """\
        from dataclasses import dataclass
        import mlxlaunch

        @dataclass
        class Config:
            epochs: int = 3

        @mlxlaunch.launch(config_path="configs", schema=Config)
        def main(ctx):
            print("RAN", ctx.config.epochs)

        if __name__ == "__main__":
            main()
        """,
    )
    project.write("configs/config.yaml", "epochs: 3\n")
    assert "RAN 9" in project.run("epochs*=3", check=True).stdout
    proc = project.run("epochs/=2")  # 1.5 is not an int
    assert proc.returncode != 0 and "epochs" in proc.stderr and "int" in proc.stderr
