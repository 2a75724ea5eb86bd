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
import shutil
from typing import Optional

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

#: What on ``PATH`` says which scheduler a machine submits to, when ``scheduler.name`` is
#: not set: every program of an entry must be there (PBS and SGE both have ``qsub``;
#: ``pbsnodes`` and ``qconf`` tell them apart). submitit's AutoExecutor looks the same way.
SIGNATURES: dict[str, tuple[str, ...]] = {
    "slurm": ("sbatch",),
    "oar": ("oarsub",),
    "pbs": ("qsub", "pbsnodes"),
    "sge": ("qsub", "qconf"),
    "lsf": ("bsub",),
}
_HOW = "Set launcher setting 'scheduler.name' (e.g. +launcher.scheduler.name=slurm)."


def backend_kinds() -> tuple[str, ...]:
    """What a backend preset's ``scheduler:`` may be: ``local``, then every scheduler."""
    return (LOCAL, *SCHEDULERS)


def scheduler_class(name: str) -> type[SchedulerExecutor]:
    """The executor class of scheduler ``name``; an ``UnknownScheduler`` naming the valid ones."""
    if name not in SCHEDULERS:
        raise UnknownScheduler(
            name,
            list(SCHEDULERS),
            how=_HOW,
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


def detect_scheduler(path: Optional[str] = None) -> str:
    """The one scheduler whose programs (:data:`SIGNATURES`) are on ``path`` (``PATH``).

    For ``use_scheduler`` without ``scheduler.name``: on a cluster's login node the
    scheduler is whichever one is installed. None or several found is an
    ``UnknownScheduler`` that says what was found.
    """
    found = {
        name: programs
        for name, programs in SIGNATURES.items()
        if all(shutil.which(program, path=path) for program in programs)
    }
    if len(found) == 1:
        return next(iter(found))
    if found:
        seen = " and ".join(f"{' + '.join(p)} ({name})" for name, p in found.items())
        why = f"{seen} are on PATH: choose one."
    else:
        looked = ", ".join(" with ".join(p) for p in SIGNATURES.values())
        why = f"No scheduler on PATH (looked for {looked}): submit from the cluster's login node."
    raise UnknownScheduler("", list(SCHEDULERS), how=f"{_HOW} {why}")
