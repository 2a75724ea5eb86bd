"""Executors: where and how the prepared runs of a sweep are executed."""

from .base import Executor, LaunchSpec
from .local import LocalExecutor

__all__ = ["Executor", "LaunchSpec", "LocalExecutor", "get_executor"]


def get_executor(spec: LaunchSpec) -> Executor:
    """The executor the settings ask for."""
    return LocalExecutor()
