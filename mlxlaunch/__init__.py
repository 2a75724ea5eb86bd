"""mlxlaunch: decorate one function, get sweeps, run folders, clusters and a reader.

Importing this package has no side effect: no signal handler, no thread, no
file written, and no pandas (the Reader imports it when first used).
"""

from __future__ import annotations

from typing import Any

from mlxlaunch import store
from mlxlaunch._version import __version__
from mlxlaunch.errors import ArtifactNotFound, CheckpointNotFound, MlxlaunchError, UsageError
from mlxlaunch.launching.decorator import launch
from mlxlaunch.launching.factories import factory
from mlxlaunch.logger.logger import Logger
from mlxlaunch.running.context import Context

#: MLXP's name of the Logger (``mlxp.DefaultLogger``), for projects coming from MLXP.
DefaultLogger = Logger
__all__ = [
    "launch",
    "factory",
    "store",
    "Context",
    "Logger",
    "DefaultLogger",
    "MlxlaunchError",
    "UsageError",
    "ArtifactNotFound",
    "CheckpointNotFound",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # Heavy parts are imported on first use, not at ``import mlxlaunch``.
    if name == "Reader":
        # deferred: the Reader's modules are half of the package and a launch never needs them
        from mlxlaunch.reader import Reader

        return Reader
    raise AttributeError(f"module 'mlxlaunch' has no attribute {name!r}")
