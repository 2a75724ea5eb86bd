"""The job program of ``mlxlaunch run``: a worker or cluster job runs one entry-point run.

Executors start ``python entry_job.py`` with ``MLXLAUNCH_RUN_DIR`` naming a
prepared run folder (``jobenv.py``), as they start a decorated script; this
program is that script for entry points: its task runs the command frozen in
the run's info (``mlproject.run_command``). ``mlxlaunch resubmit`` reruns such
runs the same way, since their ``info.script`` names this file.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    # run as a file: import this very mlxlaunch, and let no module of this folder
    # (settings.py, help.py...) shadow a top-level name
    sys.path[0] = os.path.dirname(os.path.dirname(_HERE))

from mlxlaunch.jobenv import ENV_RUN_DIR  # noqa: E402
from mlxlaunch.launching.decorator import launch  # noqa: E402
from mlxlaunch.launching.mlproject import run_command  # noqa: E402

main = launch()(run_command)

if __name__ == "__main__":
    if not os.environ.get(ENV_RUN_DIR):
        sys.stderr.write(
            "mlxlaunch: error: entry_job.py runs prepared entry-point runs for executors; "
            "start entry points with 'mlxlaunch run [ENTRY] key=value ...'.\n"
        )
        sys.exit(2)
    main()
