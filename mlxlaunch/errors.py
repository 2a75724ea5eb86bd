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


def did_you_mean(word: str, valid: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` (or ``" Did you mean one of: ..."``), or ``""``."""
    matches = difflib.get_close_matches(word, list(valid), n=n, cutoff=0.6)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean '{matches[0]}'?"
    return " Did you mean one of: " + ", ".join(f"'{m}'" for m in matches) + "?"
