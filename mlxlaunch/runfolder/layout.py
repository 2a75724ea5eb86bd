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
    <parent>/<id>/metadata/traceback.txt    the task's traceback, when it raised
    <parent>/<id>/metadata/git.diff, requirements.txt   the version manager's records
    <parent>/.mlxlaunch-next-id             hint of the next free run id
    <parent>/.jobs/<user>/<scheduler>-<stamp>-<k>.sh   array job scripts (and the schedulers' output)
    <parent>/.jobs/<user>/<scheduler>-<stamp>-<k>.held  an array submitted held, not released yet

The Reader's cache lives outside the logs folder: one index per logs folder,
``<cache dir>/index/<sha1>.v<format>/index.jsonl`` (+ ``journal.jsonl``).
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
#: Room held while a run runs, freed to record how it ended on a disk it filled.
RESERVE_FILE = ".reserve"
TRACEBACK_FILE = "traceback.txt"
#: The version manager's records in ``metadata/``.
DIFF_FILE = "git.diff"
REQUIREMENTS_FILE = "requirements.txt"

#: Captured streams, at the top of the run folder.
STDOUT_FILE = "log.stdout"
STDERR_FILE = "log.stderr"

#: ``metrics/<log_name>.json`` (JSON lines) and ``metrics/.keys/<log_name>.yaml``.
METRICS_DIR = "metrics"
METRICS_SUFFIX = ".json"
#: Folder of the key indexes, in ``metrics/`` and in ``artifacts/``.
KEYS_DIR = ".keys"
#: ``artifacts/<type>/<name>``; the index is ``artifacts/.keys/artifacts.yaml`` (MLXP's format),
#: the user's artifact types ``artifacts/.keys/types.yaml``.
ARTIFACTS_DIR = "artifacts"
ARTIFACT_INDEX_FILE = "artifacts.yaml"
ARTIFACT_TYPES_FILE = "types.yaml"
#: Prefix of the temporary files of artifacts and checkpoints being written.
TMP_PREFIX = ".tmp."

#: In the parent log folder: the next-id hint, and the folder of job scripts.
NEXT_ID_HINT = ".mlxlaunch-next-id"
JOBS_DIR = ".jobs"

#: The Reader's cache folder: ``index/<sha1 of the logs folder>.v<format>/`` per logs folder,
#: holding the compacted index and the journal of entries appended since.
CACHE_INDEX_DIR = "index"
CACHE_INDEX_FILE = "index.jsonl"
CACHE_JOURNAL_FILE = "journal.jsonl"
#: What versions before the index kept there (one file per run); ``mlxlaunch cache prune`` removes it.
CACHE_RUNS_DIR = "runs"
#: ``metadata/cancel_requested``: written by ``mlxlaunch cancel`` just before its SIGTERM, so
#: the run knows the signal is meant for it alone (a sequential sweep goes on with the next)
CANCEL_FILE = "cancel_requested"


class Status:
    """Run status values, as written in ``info.yaml`` (``LOST`` and ``PREPARING`` are only
    ever derived: a dead RUNNING run, and a run folder whose ``info.yaml`` is not written yet)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    INTERRUPTED = "INTERRUPTED"
    SUBMIT_FAILED = "SUBMIT_FAILED"
    LOST = "LOST"
    PREPARING = "PREPARING"

    FINISHED = (COMPLETE, FAILED, INTERRUPTED, SUBMIT_FAILED)


#: A run id is a positive decimal number without leading zeros: ``1``, ``2``, ``10``.
RUN_ID = re.compile(r"[1-9][0-9]*\Z")


def metadata_path(run_dir: Path, name: str) -> Path:
    """``<run_dir>/metadata/<name>``."""
    return run_dir / METADATA / name


def job_script_name(scheduler: str, stamp: str, index: int) -> str:
    """Name of the ``index``-th array job script of one submission, in ``JOBS_DIR``."""
    return f"{scheduler}-{stamp}-{index}.sh"


def held_record_name(script_name: str) -> str:
    """Name of the record of an array submitted held from ``script_name``, next to it.

    Written (JSON: scheduler, job ids, run folders) as soon as the submit command
    returns and removed once the array is released or withdrawn: a launcher killed
    in between leaves it, and ``mlxlaunch status``/``cancel`` find the held array.
    """
    return script_name.removesuffix(".sh") + HELD_SUFFIX


#: Suffix of the records of arrays submitted held and not released yet (``.jobs/<user>/``).
HELD_SUFFIX = ".held"


def is_run_dir(path: Path) -> bool:
    """A numeric folder is a run once it has its ``metadata`` folder."""
    return (path / METADATA).is_dir()
