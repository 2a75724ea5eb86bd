"""The exceptions mlxlaunch raises, and the exit code each one maps to.

Modelled on click's ``exceptions.py``: a small hierarchy, a process exit code per
class, and messages that list what is valid and suggest the closest match.
A *usage* error (exit code 2) is the user's input being wrong (an override typo,
an unknown setting); it is printed without a traceback unless ``--verbose``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class MlxlaunchError(Exception):
    """Base class of every error mlxlaunch raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(MlxlaunchError):
    """The command line, a config file or a setting is wrong: nothing ran."""

    exit_code = 2


class ConfigError(UsageError):
    """A point of the sweep cannot be composed (unknown key, bad value, bad group)."""


class SettingsError(UsageError):
    """A launcher setting is unknown or has a wrong value."""


class RunLockedError(MlxlaunchError):
    """Another live process holds the run folder (e.g. the same forced log id)."""

    exit_code = 2


class RunFolderError(MlxlaunchError):
    """A run folder is missing or damaged in a way that prevents using it."""


class ArtifactError(MlxlaunchError):
    """An artifact could not be saved or loaded (bad name, unknown type, failed save)."""


class ArtifactNotFound(MlxlaunchError, FileNotFoundError):
    """The run has no artifact of that name (a ``FileNotFoundError``, so generic code works)."""


class CheckpointNotFound(ArtifactNotFound):
    """The run has no checkpoint of that name: ``except FileNotFoundError`` starts from scratch."""


class HydraIncompatible(MlxlaunchError):
    """The installed Hydra lacks a private API mlxlaunch relies on (``launching/hydra_shim.py``)."""


def did_you_mean(word: str, valid: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` (or ``" Did you mean one of: ..."``), or ``""``."""
    matches = difflib.get_close_matches(word, list(valid), n=n, cutoff=0.6)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean '{matches[0]}'?"
    return " Did you mean one of: " + ", ".join(f"'{m}'" for m in matches) + "?"


class Aborted(MlxlaunchError):
    """The user declined a confirmation prompt: nothing was done."""

    exit_code = 1


def unknown_choice(kind: str, word: str, valid: Iterable[str], how: str = "") -> str:
    """The message for an unknown name: what was given, the closest match, what is valid.

    ``unknown_choice("backend", "gpu_lnog", ["gpu_long", "cpu"])`` gives
    ``"Unknown backend 'gpu_lnog'. Did you mean 'gpu_long'? Valid backends: cpu, gpu_long."``;
    ``how`` is appended as a last sentence (e.g. how to add one).
    """
    valid = sorted(valid)
    listed = ", ".join(valid) if valid else "none yet"
    message = f"Unknown {kind} '{word}'.{did_you_mean(word, valid)} Valid {kind}s: {listed}."
    return f"{message} {how}".rstrip()
