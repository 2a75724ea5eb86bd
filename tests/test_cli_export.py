"""``--to-yaml/--to-json/--to-toml`` and loading configs back (``@FILE``, ``KEY=@FILE``, -cp/-cn)."""

from __future__ import annotations

import json

import pytest
import yaml

from mlxlaunch import runfolder
from mlxlaunch.errors import UsageError
from mlxlaunch.launching.configfiles import dumps, export_paths, load_config_file


def _cfg(project, *args: str) -> dict:
    """The config a command would run with, from ``--cfg job``."""
    return yaml.safe_load(project.run(*args, "--cfg", "job", check=True).stdout)


def test_to_yaml_writes_the_config_the_run_would_freeze_and_runs_nothing(project):
    proc = project.run("optimizer.lr=0.5", "+extra.list=[1,2]", "--to-yaml", "out/cfg.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "wrote out/cfg.yaml\n"
    assert not project.logs.exists()
    exported = yaml.safe_load((project.root / "out/cfg.yaml").read_text())
    project.run("optimizer.lr=0.5", "+extra.list=[1,2]", check=True)
    assert exported == runfolder.read_config(project.logs / "1")
    assert exported["optimizer"]["lr"] == 0.5 and exported["extra"] == {"list": [1, 2]}


@pytest.mark.parametrize(
    "flag,suffix", [("--to-yaml", "yaml"), ("--to-json", "json"), ("--to-toml", "toml")]
)
def test_each_format_loads_back_with_a_bare_file_argument(project, flag, suffix):
    args = ["optimizer.lr=0.25", "model.num_layers=7"]
    project.run(*args, flag, f"cfg.{suffix}", check=True)
    assert _cfg(project, f"@cfg.{suffix}") == _cfg(project, *args)
    # value overrides still apply on top of the file
    assert _cfg(project, f"@cfg.{suffix}", "seed=9")["seed"] == 9


def test_yaml_export_loads_back_with_config_path_and_config_name(project):
    project.run("num_epoch=5", "--to-yaml", "exported/five.yaml", check=True)
    expected = _cfg(project, "num_epoch=5")
    assert _cfg(project, "--config-path", "exported", "--config-name", "five") == expected
    assert _cfg(project, "-cp", "exported", "-cn", "five.yaml") == expected
    project.run("num_epoch=5", "--to-json", "exported/five.json", check=True)
    assert _cfg(project, "--config-path=exported", "--config-name=five.json") == expected


def test_a_sweep_writes_one_file_per_point_and_needs_the_pattern(project):
    proc = project.run("seed=1,2,3", "--to-json", "out/s.json")
    assert proc.returncode == 2
    assert "put '{i}' in the file name" in proc.stderr and "out/s_{i}.json" in proc.stderr
    assert not (project.root / "out").exists()

    proc = project.run("seed=1,2,3", "--to-json", "out/s_{i}.json", check=True)
    assert proc.stdout.splitlines() == [f"wrote out/s_{i}.json" for i in (1, 2, 3)]
    for i in (1, 2, 3):
        data = json.loads((project.root / f"out/s_{i}.json").read_text())
        assert data == _cfg(project, f"seed={i}")
    assert not project.logs.exists()


def test_key_from_file_replaces_the_key_or_group_content(project):
    project.write("configs/config.yaml", "defaults:\n  - model: small\n  - _self_\nseed: 0\n")
    project.write("configs/model/small.yaml", "width: 8\ndepth: 2\n")
    project.write("big.toml", "width = 1024\n[extra]\nheads = 16\n")
    project.write("lrs.json", "[0.1, 0.01]")
    cfg = _cfg(project, "model=@big.toml", "+schedule=@lrs.json")
    assert cfg["model"] == {"width": 1024, "extra": {"heads": 16}}  # replaced, not merged
    assert cfg["schedule"] == [0.1, 0.01]
    # a sweep over files
    project.write("tiny.yaml", "width: 1\n")
    out = project.run("model=@big.toml,@tiny.yaml", "--dry-run", check=True).stdout
    assert "model.width" in out and "1024" in out and "  1  " in out
    # quoting keeps a literal string that starts with @
    assert _cfg(project, "+handle='@someone'")["handle"] == "@someone"


@pytest.mark.parametrize(
    "arg,message",
    [
        ("model=@nope.yaml", "Config file 'nope.yaml' does not exist."),
        ("model=@big.yaml", "Did you mean one of: 'bgi.yaml'"),
        ("modle=@bgi.yaml", "Unknown config key 'modle'"),
        ("+x=@data.csv", "unknown extension '.csv'"),
        ("+x=@broken.json", "is not valid JSON"),
        ("@list.yaml", "must hold a mapping"),
    ],
)
def test_bad_file_arguments_are_usage_errors(project, arg, message):
    project.write("bgi.yaml", "a: 1\n")
    project.write("data.csv", "a,b\n")
    project.write("broken.json", "{")
    project.write("list.yaml", "- 1\n")
    proc = project.run(arg)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not project.logs.exists()


def test_toml_export_of_a_null_names_the_key(project):
    proc = project.run("+opt.tag=null", "--to-toml", "c.toml")
    assert proc.returncode == 2
    assert "config key 'opt.tag' is null" in proc.stderr
    assert not (project.root / "c.toml").exists()


def test_export_flags_conflict_with_dry_run_and_need_a_value(project):
    assert project.run("--to-yaml", "a.yaml", "--dry-run").returncode == 2
    proc = project.run("--to-yaml")
    assert proc.returncode == 2 and "--to-yaml needs a value" in proc.stderr


def test_dumps_and_loads_round_trip_every_format(tmp_path):
    config = {"a": 1, "b": {"c": [1.5, "x"], "d": True}, "e": "é"}
    for fmt in ("yaml", "json", "toml"):
        path = tmp_path / f"c.{fmt}"
        path.write_text(dumps(config, fmt))
        assert load_config_file(path) == config
    assert 'e = "é"' in dumps(config, "toml")


def test_export_paths_number_points_from_one():
    assert [str(p) for p in export_paths("o/p{i}.yaml", 2)] == ["o/p1.yaml", "o/p2.yaml"]
    assert [str(p) for p in export_paths("single.yaml", 1)] == ["single.yaml"]
    with pytest.raises(UsageError):
        export_paths("single.yaml", 2)


def test_json_and_toml_export_refuse_keys_that_are_not_strings(project):
    """JSON would load ``{1: a}`` back as ``{'1': a}``; TOML cannot write it at all."""
    for flag, name in (("--to-json", "k.json"), ("--to-toml", "k.toml")):
        proc = project.run("+opt.k={1: a}", flag, name)
        assert proc.returncode == 2, proc.stderr
        assert "the config key 'opt.k.1' is not" in proc.stderr and "Traceback" not in proc.stderr
        assert not (project.root / name).exists()
    project.run("+opt.k={1: a}", "--to-yaml", "k.yaml", check=True)
    assert _cfg(project, "@k.yaml")["opt"]["k"] == {1: "a"}
