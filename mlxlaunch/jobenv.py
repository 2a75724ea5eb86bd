"""The job protocol: how a launcher hands one prepared run folder to another process.

A worker subprocess or a cluster job runs ``python <script>`` with
``MLXLAUNCH_RUN_DIR`` naming the prepared run folder; the decorated script sees
the variable and runs that folder, and nothing else (``launching/decorator.py``).
Executors (which start such processes) and the decorator (which obeys them)
both import these names from here, so neither depends on the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

#: Set by executors for a job/worker process: the prepared run folder to run.
ENV_RUN_DIR = "MLXLAUNCH_RUN_DIR"
#: ``MLXLAUNCH_RUN_DIR`` value of a standby worker: it imports, then reads its run folder on stdin.
STANDBY_RUN_DIR = "-"
#: Set by scheduler job scripts: the job's id (``info.scheduler.job_id``; OAR renumbers requeues).
ENV_JOB_ID = "MLXLAUNCH_JOB_ID"
#: Set for the command of an ``mlxlaunch run`` entry point: its run folder and run id
#: (``Logger.from_env()`` reads them). Distinct from ``MLXLAUNCH_RUN_DIR``, so a decorated
#: script started by an entry point launches normally instead of acting as a job.
ENV_LOG_DIR = "MLXLAUNCH_LOG_DIR"
ENV_LOG_ID = "MLXLAUNCH_LOG_ID"
#: Set by ``mlxlaunch submit`` for the launch it starts: a YAML file of launcher settings (the
#: job script's directives and environment lines), applied before the ``+launcher.*`` overrides.
ENV_SETTINGS_FILE = "MLXLAUNCH_SETTINGS_FILE"
#: Variables of the submitting shell that a cluster job gets too (the job's imports depend on it).
PASSED_ENV = ("PYTHONPATH",)


def job_command(
    python: str, script: Path, run_dir: Path, module: Optional[str] = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and the extra environment that run the prepared ``run_dir`` in a new process.

    ``module``: the task was started as ``python -m module``; it starts the same way
    (``python script.py`` would break the package's relative imports).
    """
    argv = [python, "-m", module] if module else [python, str(script)]
    return argv, {ENV_RUN_DIR: str(run_dir)}
