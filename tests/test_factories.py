"""Factories (NeMo-Run's ``model=my_model(hidden_size=1024)``), run as a user would."""

from __future__ import annotations

import pytest
import yaml

from mlxlaunch.launching import factories

TASK = """\
from dataclasses import dataclass, field
import mlxlaunch


@dataclass
class Model:
    hidden_size: int = 512
    num_layers: int = 2
    activation: str = "relu"


@dataclass
class Config:
    seed: int = 0
    model: Model = field(default_factory=Model)
    encoder: Model = field(default_factory=Model)


@mlxlaunch.factory
def wide(hidden_size: int = 1024, activation: str = "gelu") -> Model:
    return Model(hidden_size=hidden_size, num_layers=4, activation=activation)


@mlxlaunch.factory(key="model")
def tiny() -> dict:
    return {"hidden_size": 8, "num_layers": 1, "activation": "relu"}


@mlxlaunch.factory
def broken(size: int = 1) -> dict:
    if size < 0:
        raise ValueError("size must be >= 0")
    return {"hidden_size": "many"}


@mlxlaunch.launch(config_path="configs", schema=Config)
def main(ctx):
    print("RAN", ctx.info.log_id, ctx.config.model.hidden_size, ctx.config.model.num_layers)


if __name__ == "__main__":
    main()
"""


@pytest.fixture
def typed(project):
    project.write("main.py", TASK)
    project.write("configs/config.yaml", "seed: 0\n")
    return project


def _cfg(project, *args: str) -> dict:
    return yaml.safe_load(project.run(*args, "--cfg", "job", check=True).stdout)


def test_a_call_sets_the_node_and_later_overrides_still_apply(typed):
    config = _cfg(typed, "model=wide(hidden_size=2048,activation='tanh')", "model.num_layers=5")
    assert config["model"] == {"hidden_size": 2048, "num_layers": 5, "activation": "tanh"}
    # a bare word is a string, positional arguments work too
    assert _cfg(typed, "encoder=wide(64,tanh)")["encoder"]["activation"] == "tanh"


def test_a_bare_name_calls_the_factory_with_its_defaults(typed):
    assert _cfg(typed, "model=wide")["model"] == {
        "hidden_size": 1024,
        "num_layers": 4,
        "activation": "gelu",
    }
    assert _cfg(typed, "model=tiny")["model"]["hidden_size"] == 8


def test_factories_can_be_swept_and_the_run_records_the_call_as_typed(typed):
    proc = typed.run("model=tiny,wide", "model.num_layers*=2", check=True)
    assert "RAN 1 8 2" in proc.stdout and "RAN 2 1024 8" in proc.stdout
    typed.run("model=wide(hidden_size=16)", check=True)
    assert typed.info(3)["overrides"] == ["model=wide(hidden_size=16)"]
    frozen = yaml.safe_load((typed.logs / "3" / "metadata" / "config.yaml").read_text())
    assert frozen["model"]["hidden_size"] == 16


@pytest.mark.parametrize(
    "arg, words",
    [
        ("model=wide(hiden_size=3)", ["unexpected keyword argument", "Did you mean 'hidden_size'"]),
        ("model=wide(hidden_size=abc)", ["argument 'hidden_size' expects int, got 'abc'"]),
        ("model=wdie(1)", ["Unknown factory 'wdie'", "Did you mean 'wide'"]),
        ("model=broken(-1)", ["factory broken (", "raised ValueError: size must be >= 0"]),
        ("model=broken", ["model.hidden_size", "expects int"]),  # the schema checks the result
        ("modl=wide()", ["Unknown config key 'modl'", "Did you mean 'model'"]),
        ("model=wide(x for x in y)", ["Cannot parse the factory call"]),
    ],
)
def test_mistakes_are_one_line_errors_and_nothing_runs(typed, arg, words):
    proc = typed.run("seed=1,2", arg)
    assert proc.returncode != 0 and typed.run_ids() == []
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_a_string_value_equal_to_a_factory_name_stays_a_string(project):
    project.write(
        "main.py",
        """\
        import mlxlaunch

        @mlxlaunch.factory
        def tiny() -> dict:
            return {"size": 1}

        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            pass

        if __name__ == "__main__":
            main()
        """,
    )
    project.write("configs/config.yaml", "name: x\nmodel: {size: 3}\n")
    config = _cfg(project, "name=tiny", "model=tiny")
    assert config == {"name": "tiny", "model": {"size": 1}}


def test_help_lists_factories_by_key_with_signature_and_file_line(typed):
    out = typed.run("--help", check=True).stdout
    lines = [line.split() for line in out.splitlines()]
    rows = [line for line in lines if line and line[0] in ("model", "encoder", "(any")]
    wide_line = 'wide(hidden_size: int = 1024, activation: str = "gelu") -> Model'
    assert any(r[0] == "model" and "tiny()" in " ".join(r) for r in rows)
    assert any(r[0] == "encoder" and "wide(hidden_size:" in " ".join(r) for r in rows)
    assert not any(r[0] == "encoder" and "tiny()" in " ".join(r) for r in rows)
    assert "main.py:29" in out and wide_line.replace('"', "'") in out


def test_a_resumed_run_can_take_a_factory(typed):
    typed.run(check=True)
    typed.run("+launcher.logger.forced_log_id=1", "model=wide(hidden_size=32)", check=True)
    frozen = yaml.safe_load((typed.logs / "1" / "metadata" / "config.yaml").read_text())
    assert frozen["model"]["hidden_size"] == 32


def test_two_factories_with_one_name_are_refused():
    def first() -> dict:
        return {}

    factories.factory(name="twice_test")(first)
    factories.factory(name="twice_test")(first)  # the same function again: fine
    try:
        with pytest.raises(Exception, match="Two factories are named 'twice_test'"):

            @factories.factory(name="twice_test")
            def second() -> dict:
                return {}
    finally:
        factories.REGISTRY.pop("twice_test", None)


def test_a_factory_cannot_take_the_name_of_a_hydra_function():
    def make() -> dict:
        return {}

    with pytest.raises(Exception, match="Hydra's own function"):
        factories.factory(name="range")(make)
    assert "range" not in factories.REGISTRY
