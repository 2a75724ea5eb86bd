"""The run folder's on-disk names: every file and folder name of the format, defined once.

Layout of one run folder (``docs/run-folder.md`` is the user-facing contract)::

    <parent>/<id>/metadata/config.yaml      resolved user config, frozen before the run
    <parent>/<id>/metadata/info.yaml        status, attempt, times, host, ... (see docs)
    <parent>/<id>/metadata/launcher.yaml    launcher settings used
    <parent>/<id>/metadata/attempts/<n>.yaml  the final record of every attempt
    <parent>/<id>/heartbeat                 touched while RUNNING
    <parent>/<id>/metrics/<log_name>.json   JSON lines, one object per log_metrics call
    <parent>/<id>/metrics/.keys/<log_name>.yaml   keys ever logged in that log
    <parent>/<id>/artifacts/<type>/<name>, artifacts/.keys/artifacts.yaml
    <parent>/<id>/log.stdout, log.stderr    captured streams
"""

from __future__ import annotations

import re
from pathlib import Path

METADATA = "metadata"
CONFIG_FILE = "config.yaml"
INFO_FILE = "info.yaml"
LAUNCHER_FILE = "launcher.yaml"
ATTEMPTS_DIR = "attempts"
HEARTBEAT_FILE = "heartbeat"
LOCK_FILE = ".lock"
#: ``metadata/cancel_requested``: written by ``mlxlaunch cancel`` just before its SIGTERM, so
#: the run knows the signal is meant for it alone (a sequential sweep goes on with the next)
CANCEL_FILE = "cancel_requested"


class Status:
    """Run status values, as written in ``info.yaml`` (``LOST`` is only ever derived)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    LOST = "LOST"

    FINISHED = (COMPLETE, FAILED, INTERRUPTED, SUBMIT_FAILED)


#: A run id is a positive decimal number without leading zeros: ``1``, ``2``, ``10``.
RUN_ID = re.compile(r"[1-9][0-9]*\Z")


def metadata_path(run_dir: Path, name: str) -> Path:
    """``<run_dir>/metadata/<name>``."""
    return run_dir / METADATA / name


def is_run_dir(path: Path) -> bool:
    """A numeric folder is a run once it has its ``metadata`` folder."""
    return (path / METADATA).is_dir()
