"""The exceptions: one module, data kept as fields, one style per kind of mistake."""

from __future__ import annotations

import ast
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from mlxlaunch import errors
from mlxlaunch.errors import (
    ConfigError,
    QueryError,
    SettingsError,
    UnknownBackend,
    UnknownConfigKey,
    UnknownName,
    UnknownOption,
    UnknownPresetField,
    UnknownScheduler,
    UnknownSetting,
    UsageError,
)

PACKAGE = Path(errors.__file__).parent
#: Private control-flow exceptions that never leave their module (see errors.py's docstring).
PRIVATE = {
    ("runfolder/fastyaml.py", "Unsupported"),
    ("runfolder/fastdump.py", "_Declined"),
    ("launching/schema.py", "_Mismatch"),
}


def test_every_exception_class_of_the_package_is_in_errors_py() -> None:
    errors_names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [ast.unparse(b).split(".")[-1] for b in node.bases]
            if any(b.endswith(("Error", "Exception")) or b in errors_names for b in bases):
                where = (str(path.relative_to(PACKAGE)), node.name)
                if where not in PRIVATE:
                    found.append(where)
    assert found == []


def test_old_import_paths_still_work() -> None:
    from mlxlaunch.executors.scheduler import SubmitError
    from mlxlaunch.reader import QueryError as FromReader
    from mlxlaunch.reader.query import QueryError as FromQuery
    from mlxlaunch.running.runner import Interrupted
    from mlxlaunch.vcs import DirtyTreeError, VersionManagerError

    assert FromReader is FromQuery is QueryError
    assert SubmitError is errors.SubmitError and Interrupted is errors.Interrupted
    assert issubclass(DirtyTreeError, VersionManagerError) and VersionManagerError.exit_code == 1


def _raised(call) -> UnknownName:  # noqa: ANN001
    with pytest.raises(UnknownName) as info:
        call()
    return info.value


def test_unknown_names_are_data_formatted_in_one_style() -> None:
    """Every "not one of the valid names" mistake carries the word and the valid names,
    and reads the same way, whichever part of mlxlaunch found it."""
    from mlxlaunch.executors.registry import scheduler_executor
    from mlxlaunch.launching.argv import parse_command_line
    from mlxlaunch.launching.presets import Presets, preset_settings
    from mlxlaunch.launching.settings import check_keys

    cases = [
        (lambda: parse_command_line(["--dryrun"]), UnknownOption, "--dryrun", "--dry-run"),
        (lambda: scheduler_executor("slrum"), UnknownScheduler, "slrum", "slurm"),
        (lambda: Presets({"gpu_long": {}}).get("gpu_lnog"), UnknownBackend, "gpu_lnog", "gpu_long"),
        (
            lambda: preset_settings("big", {"scheduler": "slurm", "cpu": 2}),
            UnknownPresetField,
            "cpu",
            "cpus",
        ),
        (lambda: check_keys({"n_wokers": 2}, "a test"), UnknownSetting, "n_wokers", "n_workers"),
    ]
    for call, cls, word, closest in cases:
        error = _raised(call)
        assert type(error) is cls
        assert error.word == word and closest in (error.suggest_from or error.possibilities)
        message = str(error)
        assert f"nknown {error.kind} '{word}'" in message
        assert f" Did you mean '{closest}'?" in message
        assert isinstance(error, UsageError) and error.exit_code == 2


def test_families_keep_their_classes_and_exit_codes() -> None:
    assert issubclass(UnknownConfigKey, ConfigError)
    assert issubclass(UnknownSetting, SettingsError) and issubclass(UnknownBackend, SettingsError)
    assert issubclass(QueryError, UsageError)
    assert errors.UnknownArtifactType("x", []).exit_code == 1  # an ArtifactError: not usage


def test_errors_survive_pickling_with_their_fields() -> None:
    error = UnknownPresetField(
        "cpu", ["scheduler", "cpus"], where=" for a slurm backend", context="Backend 'big'"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is UnknownPresetField and copy.word == "cpu" and str(copy) == str(error)
    query = pickle.loads(pickle.dumps(QueryError("Unknown key 'x'", "x == 1", 0, width=1)))
    assert query.column == 0 and str(query).endswith("  x == 1\n  ^")


def test_an_empty_word_says_nothing_was_chosen() -> None:
    message = str(UnknownScheduler("", ["slurm", "oar"]))
    assert message == "No scheduler chosen. Valid schedulers: slurm, oar."


@dataclass
class Opt:
    """A typed config (``@launch(schema=Opt)``) with a fixed set of values."""

    name: Literal["sgd", "adam"] = "sgd"


def test_bad_choices_are_data_formatted_in_one_style() -> None:
    """A setting and a typed config key with a fixed set of values read the same way."""
    from mlxlaunch.launching.schema import validate
    from mlxlaunch.launching.settings import VersionManagerSettings

    with pytest.raises(errors.BadSettingChoice) as setting:
        VersionManagerSettings(on_dirty="comit")
    with pytest.raises(errors.BadConfigChoice) as config:
        validate({"name": "adma"}, Opt)
    assert (setting.value.key, setting.value.value) == ("version_manager.on_dirty", "comit")
    assert "commit" in setting.value.choices and config.value.choices == ["sgd", "adam"]
    assert str(setting.value).startswith(
        "Bad value for launcher setting 'version_manager.on_dirty': 'comit'. Did you mean 'commit'?"
    )
    assert str(config.value) == (
        "Bad value for config key 'name': 'adma'. Did you mean 'adam'? Valid values: sgd, adam."
    )
    assert isinstance(setting.value, SettingsError) and isinstance(config.value, ConfigError)
