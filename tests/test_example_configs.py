"""The ready-to-copy settings in ``configs/`` load as they are and list every setting.

They are what the docs point users at, so a renamed or new setting must show
up here or this test fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlxlaunch.executors.registry import executor_for
from mlxlaunch.launching.presets import check_preset, read_presets, resolve_preset
from mlxlaunch.launching.settings import load_settings, valid_keys

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
LAUNCHERS = sorted(CONFIGS.glob("launcher.*.yaml"))


def _paths(tree: dict, prefix: str = "") -> set[str]:
    found = set()
    for key, value in tree.items():
        found.add(prefix + key)
        if isinstance(value, dict):
            found |= _paths(value, f"{prefix}{key}.")
    return found


def test_there_is_one_launcher_file_per_documented_target():
    assert [p.name for p in LAUNCHERS] == [
        "launcher.local.yaml",
        "launcher.oar.yaml",
        "launcher.slurm.yaml",
    ]


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_each_launcher_file_loads_and_lists_every_setting(path):
    settings = load_settings(path)
    written = _paths(yaml.safe_load(path.read_text()))
    # a local file need not list the scheduler section; every other setting is there
    expected = {k for k in valid_keys() if settings.use_scheduler or not k.startswith("scheduler")}
    assert sorted(expected - written) == []
    if settings.use_scheduler:
        executor_for(settings.scheduler)  # what a launch checks before making any run folder


@pytest.mark.parametrize("path", LAUNCHERS, ids=lambda p: p.name)
def test_each_setting_line_says_what_it_does(path):
    uncommented = [
        line
        for line in path.read_text().splitlines()
        if ":" in line
        and not line.lstrip().startswith(("#", "-"))
        and line.split("#")[0].rstrip().split(":", 1)[1].strip()  # a value, not a section
        and "#" not in line
    ]
    assert uncommented == []


def test_backends_file_is_a_valid_presets_file(tmp_path):
    presets = read_presets(CONFIGS / "backends.yaml")
    assert presets.default in presets.backends
    for name, preset in presets.backends.items():
        check_preset(name, preset)
    source, tree = resolve_preset("", CONFIGS / "backends.yaml")
    settings = load_settings(preset=(source, tree))
    assert settings.use_scheduler and settings.scheduler.name == "slurm"
