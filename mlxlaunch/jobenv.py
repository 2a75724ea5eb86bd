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
