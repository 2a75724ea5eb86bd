"""The one list of backends mlxlaunch knows: ``local`` and the cluster schedulers.

Every place that names a scheduler (the ``scheduler.name`` setting, a backend
preset's ``scheduler:`` key, ``mlxlaunch status/cancel/resubmit`` reading a run's
``info.scheduler.name``) goes through this module. Each scheduler is a
``"module:Class"`` string resolved with :mod:`importlib` on first use, so a launch
imports only the backend it submits to.

Adding a scheduler: write ``executors/<name>.py`` with a
:class:`~mlxlaunch.executors.scheduler.SchedulerExecutor` subclass, add one line to
:data:`SCHEDULERS`, and a golden job script in ``tests/golden/``.
"""

from __future__ import annotations

import importlib

from mlxlaunch.errors import UnknownScheduler
from mlxlaunch.executors.scheduler import SchedulerExecutor, validate
from mlxlaunch.launching.settings import SchedulerSettings

#: The backend that runs on this machine (one process, or local workers).
LOCAL = "local"
#: Scheduler name -> ``"module:Class"`` inside ``mlxlaunch.executors``, imported only when used.
SCHEDULERS: dict[str, str] = {
    "slurm": "slurm:SlurmExecutor",
    "oar": "oar:OarExecutor",
    "pbs": "pbs:PbsExecutor",
    "sge": "sge:SgeExecutor",
    "lsf": "lsf:LsfExecutor",
}


def backend_kinds() -> tuple[str, ...]:
    """What a backend preset's ``scheduler:`` may be: ``local``, then every scheduler."""
    return (LOCAL, *SCHEDULERS)


def scheduler_class(name: str) -> type[SchedulerExecutor]:
    """The executor class of scheduler ``name``; an ``UnknownScheduler`` naming the valid ones."""
    if name not in SCHEDULERS:
        raise UnknownScheduler(
            name,
            list(SCHEDULERS),
            how="Set launcher setting 'scheduler.name' (e.g. +launcher.scheduler.name=slurm).",
        )
    module, cls = SCHEDULERS[name].split(":")
    found = getattr(importlib.import_module(f"{__package__}.{module}"), cls)
    assert issubclass(found, SchedulerExecutor), SCHEDULERS[name]
    return found


def scheduler_executor(name: str) -> SchedulerExecutor:
    """An executor of scheduler ``name`` (``slurm``, ``oar``, ``pbs``, ``sge``, ``lsf``)."""
    return scheduler_class(name)()


def executor_for(settings: SchedulerSettings) -> SchedulerExecutor:
    """The executor of ``settings.name``, after checking ``settings`` (before any folder exists)."""
    executor = scheduler_executor(settings.name)
    validate(settings, executor.unsupported)
    return executor
