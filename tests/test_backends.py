"""Backend presets: the ``mlxlaunch backend`` command, the file, and presets at launch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from mlxlaunch.launching import presets as backends
from mlxlaunch.launching.settings import load_settings


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


def cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "backend", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def ok(*args: str) -> str:
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def usage_error(*args: str) -> str:
    proc = cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    return proc.stderr


def test_file_location_honours_xdg_config_home(config_home, tmp_path, monkeypatch):
    assert backends.backends_file() == config_home / "mlxlaunch" / "backends.yaml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert backends.backends_file() == tmp_path / "home" / ".config" / "mlxlaunch" / "backends.yaml"


def test_add_list_set_remove(config_home):
    out = ok("add", "gpu_long", "scheduler=slurm", "cpus=8", "mem=64G", "gpus=1", "time=24:00:00")
    assert "Added backend 'gpu_long'" in out
    ok("add", "four", "n_workers=4", "gpus=[0,1]")
    path = config_home / "mlxlaunch" / "backends.yaml"
    presets = backends.read_presets(path)
    assert presets.backends == {
        "gpu_long": {"scheduler": "slurm", "cpus": 8, "mem": "64G", "gpus": 1, "time": "24:00:00"},
        "four": {"scheduler": "local", "n_workers": 4, "gpus": [0, 1]},
    }
    assert presets.default == ""

    listing = ok("list")
    for name in ("local", "slurm", "oar", "gpu_long", "four"):
        assert f" {name} " in listing
    assert "time=24:00:00" in listing

    ok("set", "gpu_long")
    assert backends.read_presets(path).default == "gpu_long"
    assert ok("list", "gpu_long").startswith("* gpu_long")
    assert ok("list", "four").startswith("  four")

    out = ok("remove", "gpu_long")
    assert "It was the default" in out
    presets = backends.read_presets(path)
    assert list(presets.backends) == ["four"] and presets.default == ""


def test_builtin_names_can_be_the_default_but_not_redefined_or_removed(config_home):
    ok("set", "oar")
    assert backends.read_presets().default == "oar"
    assert "built-in" in usage_error("add", "slurm", "cpus=2")
    assert "built-in" in usage_error("remove", "local")
    assert backends.read_presets().default == "oar"


def test_add_refuses_to_replace_without_force(config_home):
    ok("add", "p", "scheduler=slurm", "cpus=2")
    err = usage_error("add", "p", "scheduler=slurm", "cpus=4")
    assert "already exists" in err and "--force" in err
    assert backends.read_presets().backends["p"]["cpus"] == 2
    ok("add", "p", "scheduler=oar", "cpus=4", "--force")
    assert backends.read_presets().backends["p"] == {"scheduler": "oar", "cpus": 4}


def test_one_line_of_a_list_of_lines_is_given_as_is(config_home):
    ok("add", "p", "scheduler=slurm", "env=export A=1: b", "extra=--exclusive")
    ok("add", "q", "scheduler=slurm", "extra=[--exclusive, '#SBATCH --x']")
    presets = backends.read_presets().backends
    assert presets["p"] == {
        "scheduler": "slurm",
        "env": ["export A=1: b"],
        "extra": ["--exclusive"],
    }
    assert presets["q"]["extra"] == ["--exclusive", "#SBATCH --x"]


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            ["scheduler=slurm", "cpu=3"],
            "unknown field 'cpu' for a slurm backend. Did you mean 'cpus'?",
        ),
        (["scheduler=slrum"], "unknown scheduler 'slrum'. Did you mean 'slurm'?"),
        (["scheduler=slurm", "cpus=many"], "'scheduler.cpus'"),
        (["n_workers=2", "mem=4G"], "unknown field 'mem' for a local backend"),
        (["scheduler=slurm", "cpus"], "Expected KEY=VALUE"),
        # checked as a launch checks them, not only their types
        (["scheduler=slurm", "time=1:2:3:4"], "Bad launcher setting 'scheduler.time'"),
        (["scheduler=oar", "mem=4G"], "'scheduler.mem' is not supported by oar"),
        (["scheduler=slurm", "partition=a b"], "Bad launcher setting 'scheduler.partition'"),
        (["n_workers=0"], "'n_workers' must be at least 1"),
    ],
)
def test_bad_fields_are_usage_errors_that_change_nothing(config_home, fields, message):
    ok("add", "keep", "scheduler=slurm")
    path = backends.backends_file()
    before = path.read_bytes()
    assert message in usage_error("add", "new", *fields)
    assert path.read_bytes() == before


def test_unknown_names_get_suggestions(config_home):
    ok("add", "gpu_long", "scheduler=slurm")
    before = backends.backends_file().read_bytes()
    for action in ("set", "remove", "list"):
        err = usage_error(action, "gpu_lnog")
        assert "Unknown backend 'gpu_lnog'. Did you mean 'gpu_long'?" in err
    assert backends.backends_file().read_bytes() == before


def test_a_damaged_file_is_reported_and_left_alone(config_home):
    path = backends.backends_file()
    path.parent.mkdir(parents=True)
    path.write_text("backends: {a: [unclosed\n")
    err = usage_error("add", "b", "cpus=1", "scheduler=slurm")
    assert str(path) in err and "not valid YAML" in err
    assert path.read_text() == "backends: {a: [unclosed\n"


def test_concurrent_adds_all_land(config_home):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlxlaunch.cli",
                "backend",
                "add",
                f"p{i}",
                f"n_workers={i + 1}",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for i in range(6)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * 6
    assert sorted(backends.read_presets().backends) == [f"p{i}" for i in range(6)]


def test_scheduler_preset_maps_onto_scheduler_settings(config_home):
    ok(
        "add",
        "gpu",
        "scheduler=slurm",
        "cpus=8",
        "mem=64G",
        "time=24:00:00",
        "requeue=true",
        "extra=[--exclusive]",
        "partition=gpu",
    )
    settings = load_settings(None, [("scheduler.cpus", 2)], backends.resolve_preset("gpu"))
    assert settings.use_scheduler is True
    s = settings.scheduler
    assert (s.name, s.cpus, s.mem, s.time, s.requeue, s.extra, s.partition) == (
        "slurm",
        2,
        "64G",
        "24:00:00",
        True,
        ["--exclusive"],
        "gpu",
    )  # cpus: the explicit override wins over the preset


def test_no_file_and_no_backend_means_no_preset(config_home):
    assert backends.resolve_preset("") is None
    assert backends.resolve_preset("local") == ("backend 'local'", {"use_scheduler": False})


# -- presets at launch --------------------------------------------------------------


def frozen(project, log_id: int) -> dict:
    from mlxlaunch.runfolder.metadata import read_settings

    return read_settings(project.logs / str(log_id))


def test_launch_picks_the_named_backend_and_explicit_settings_win(project, config_home):
    ok("add", "two", "n_workers=2", "gpus=[4,5]")
    proc = project.run("+launcher.backend=two", "optimizer.lr=0.1,0.2")
    assert proc.returncode == 0, proc.stderr
    assert (frozen(project, 1)["n_workers"], frozen(project, 1)["gpus"]) == (2, [4, 5])
    proc = project.run("+launcher.backend=two", "+launcher.gpus=[9]", "+launcher.n_workers=1")
    assert proc.returncode == 0, proc.stderr
    assert (frozen(project, 3)["n_workers"], frozen(project, 3)["gpus"]) == (1, [9])


def test_the_default_backend_applies_when_none_is_named(project, config_home):
    ok("add", "two", "n_workers=2")
    ok("set", "two")
    assert project.run().returncode == 0
    assert frozen(project, 1)["n_workers"] == 2
    assert project.run("+launcher.backend=local").returncode == 0
    assert frozen(project, 2)["n_workers"] == 1


def test_preset_sits_between_launcher_yaml_and_overrides(project, config_home):
    project.write("configs/launcher.yaml", "n_workers: 3\nfail_fast: true\n")
    ok("add", "two", "n_workers=2")
    assert project.run("+launcher.backend=two").returncode == 0
    assert (frozen(project, 1)["n_workers"], frozen(project, 1)["fail_fast"]) == (2, True)


def test_unknown_backend_at_launch_is_a_usage_error_before_any_run_folder(project, config_home):
    ok("add", "gpu_long", "scheduler=slurm")
    proc = project.run("+launcher.backend=gpu_lnog")
    assert proc.returncode == 2
    assert "Unknown backend 'gpu_lnog'. Did you mean 'gpu_long'?" in proc.stderr
    assert project.run_ids() == []
