"""Launcher settings: defaults, launcher.yaml, +launcher.* overrides, and their errors."""

from __future__ import annotations

import pytest

from mlxlaunch.errors import SettingsError
from mlxlaunch.launching.settings import Settings, load_settings


def test_defaults():
    settings = load_settings()
    assert settings == Settings()
    assert settings.logger.forced_log_id == -1


def test_the_defaults_without_any_layer_are_what_omegaconf_gives_back():
    """``load_settings`` skips OmegaConf when nothing is layered: the same settings."""
    from omegaconf import OmegaConf

    assert load_settings() == OmegaConf.to_object(OmegaConf.structured(Settings))


def test_file_then_overrides(tmp_path):
    path = tmp_path / "launcher.yaml"
    path.write_text("use_logger: false\nlogger:\n  parent_log_dir: /tmp/x\n")
    settings = load_settings(path, [("logger.parent_log_dir", "/tmp/y")])
    assert settings.use_logger is False
    assert settings.logger.parent_log_dir == "/tmp/y"


@pytest.mark.parametrize(
    "content, expected",
    [
        ("use_loger: false\n", "'use_loger'.*Did you mean.*'use_logger'"),
        ("logger:\n  parent_log_dri: x\n", "'logger.parent_log_dri'.*'logger.parent_log_dir'"),
        ("logger: 3\n", "is a section"),
        ("- a\n- b\n", "must hold a mapping"),
        ("use_logger: [\n", "not valid YAML"),
    ],
)
def test_bad_file_names_file_and_key(tmp_path, content, expected):
    path = tmp_path / "launcher.yaml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=expected) as info:
        load_settings(path)
    assert str(path) in str(info.value)


def test_bad_override_value_names_key():
    with pytest.raises(SettingsError, match="logger.forced_log_id.*abc"):
        load_settings(None, [("logger.forced_log_id", "abc")])


def test_typo_in_launcher_yaml_fails_command(project):
    project.write("configs/launcher.yaml", "logger:\n  forced_logid: 3\n")
    proc = project.run()
    assert proc.returncode == 2
    assert "launcher.yaml" in proc.stderr and "logger.forced_log_id" in proc.stderr
    assert not project.logs.exists()


def test_typo_in_launcher_override_fails_command(project):
    proc = project.run("+launcher.use_loger=false")
    assert proc.returncode == 2
    assert "Did you mean" in proc.stderr and "'use_logger'" in proc.stderr
    assert not project.logs.exists()


def test_launcher_settings_cannot_be_swept(project):
    proc = project.run("+launcher.fail_fast=true,false")
    assert proc.returncode == 2 and "cannot be swept" in proc.stderr


def test_every_setting_is_documented():
    from pathlib import Path

    from mlxlaunch.launching.settings import valid_keys

    doc = (Path(__file__).resolve().parent.parent / "docs" / "settings.md").read_text()
    missing = [key for key in valid_keys() if f"`{key}`" not in doc]
    assert not missing, f"settings missing from docs/settings.md: {missing}"
