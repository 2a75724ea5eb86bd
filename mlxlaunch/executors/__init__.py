"""Executors: where and how the prepared runs of a sweep are executed."""

from mlxlaunch.executors.base import Executor, LaunchSpec
from mlxlaunch.executors.local import LocalExecutor
from mlxlaunch.executors.parallel import ParallelExecutor
from mlxlaunch.executors.registry import executor_for
from mlxlaunch.executors.scheduler import check_job_paths

__all__ = ["Executor", "LaunchSpec", "LocalExecutor", "get_executor"]


def get_executor(spec: LaunchSpec) -> Executor:
    """The executor the settings ask for."""
    settings = spec.settings
    if settings.use_scheduler:
        check_job_paths(spec)  # before any run folder exists
        return executor_for(settings.scheduler)
    # the version manager runs every point in a fresh interpreter on the code snapshot
    if settings.n_workers != 1 or settings.gpus or settings.use_version_manager:
        return ParallelExecutor.from_settings(settings)
    return LocalExecutor()
