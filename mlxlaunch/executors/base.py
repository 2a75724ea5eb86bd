"""The executor interface (client side): hand over prepared runs, get results back.

A *prepared run* is a run folder that already holds its frozen config, its
settings and an ``info.yaml`` with status QUEUED; it is the job's only input.
Local executors run the batch and return final results; scheduler executors
submit it, record job ids in each run's info, and return QUEUED results.
"""

from __future__ import annotations

import abc
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from mlxlaunch import jobenv
from mlxlaunch.launching.settings import Settings
from mlxlaunch.runfolder.liveness import RunLock
from mlxlaunch.running.runner import RunResult, SeedingFunction


@dataclass
class PreparedRun:
    """A run folder ready to run: its id, path and frozen config."""

    log_id: int
    log_dir: Path
    config: dict[str, Any]
    overrides: list[str]
    #: a resumed run's lock, held from its preparation on (see ``release_lock``)
    lock: Optional[RunLock] = None
    #: the ``info.yaml`` bytes the launch wrote for it, if known (a scheduler appends its
    #: job record to them instead of parsing the file again)
    info_text: Optional[bytes] = None
    #: ``info.yaml`` is not written yet: ``info_text`` is all of it, and the executor
    #: writes it (a scheduler with its job record; see ``Executor.writes_info``)
    info_pending: bool = False

    def release_lock(self) -> None:
        """Let another process (a worker, a job) take the run: its run lock is released."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


class Progress:
    """Told when each point of a sweep starts and ends; shows nothing (``--quiet``, one run).

    ``launching/progress.py`` draws it; the local executors call it, scheduler
    executors (which only submit) do not.
    """

    def started(self, run: PreparedRun) -> None:
        """``run`` starts now."""

    def finished(self, run: PreparedRun, result: RunResult) -> None:
        """``run`` ended with ``result``."""

    def close(self) -> None:
        """The sweep is over: put the terminal back as it was."""


@dataclass
class LaunchSpec:
    """What every executor needs to know about the command that launched the sweep."""

    task: Callable[..., Any]
    settings: Settings
    seeding_function: SeedingFunction
    #: the user's script; a job or worker runs ``python <script>`` with MLXLAUNCH_RUN_DIR set
    script: Path
    parent_log_dir: Path
    #: folder a job or worker starts in (the version manager points it at a code snapshot)
    workdir: Path = field(default_factory=Path.cwd)
    #: the interpreter jobs and workers use
    python: str = field(default_factory=lambda: sys.executable)
    #: a command entry point's MLproject file (``launching/mlproject.py``): the version
    #: manager snapshots its repository (``script`` is then mlxlaunch's job program)
    project_file: Optional[Path] = None
    #: extra ``info.yaml`` fields of a point, from its config, frozen when its folder is
    #: prepared (an entry point's rendered command)
    run_info: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None
    #: told when each point starts and ends (local and parallel executors)
    progress: Progress = field(default_factory=Progress)
    #: the project's ``launcher.yaml``, if it has one (named in the advice after a failed submit)
    settings_file: Optional[Path] = None
    #: ``mypkg.train`` when the user ran ``python -m mypkg.train``: workers and jobs do too
    module: Optional[str] = None
    #: what the command read its configs from (the config folder, an @FILE): read as they
    #: are, uncommitted changes included, before the version manager's snapshot
    config_inputs: list[Path] = field(default_factory=list)

    def job_command(self, run_dir: Path) -> tuple[list[str], dict[str, str]]:
        """The command and extra environment that run the prepared ``run_dir`` elsewhere."""
        return jobenv.job_command(self.python, self.script, run_dir, self.module)


class Executor(abc.ABC):
    """Runs or submits a batch of prepared runs."""

    #: short name, as used in settings and printed to the user
    name: str = ""
    #: runs the points on this machine before ``launch`` returns (progress is shown)
    runs_locally: bool = True
    #: runs the prepared runs in this process, so it can use the run locks already held
    #: (a resume stays locked from its preparation to its end); others get them released
    in_process: bool = False
    #: writes the ``info.yaml`` of the runs a sweep prepared (``PreparedRun.info_pending``)
    #: itself, once, with what it adds (a scheduler: the job record), instead of
    #: rewriting the QUEUED one the launch would write first
    writes_info: bool = False

    @abc.abstractmethod
    def launch(self, runs: list[PreparedRun], spec: LaunchSpec) -> list[RunResult]:
        """Run or submit ``runs``; return one result per run, in order."""
