"""The name ``mlxlaunch.store`` from earlier releases: the run folder now lives in ``mlxlaunch.runfolder``.

Kept so that notebooks and scripts using ``mlxlaunch.store.effective_status`` (as
``docs/launching.md`` showed) keep working.
"""

from mlxlaunch.runfolder import *  # noqa: F403
from mlxlaunch.runfolder import __all__  # noqa: F401
