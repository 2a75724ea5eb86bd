"""The run folder: its layout, ids, metadata files and liveness (``docs/run-folder.md``).

Everything that reads or writes ``logs/<id>/metadata`` goes through this package,
so the on-disk contract has one implementation:

- ``layout``: every file and folder name of the format, and ``Status``;
- ``ids``: allocating run ids by exclusive ``mkdir``;
- ``metadata``: YAML in and out, atomic writes, info/config/settings;
- ``attempts``: the records of a run's life: queued, requeued, each attempt's start and end;
- ``liveness``: heartbeat, run lock, ``effective_status`` (LOST);
- ``fastyaml``: the fast reader of the YAML that ``metadata`` writes;
- ``fastdump``: the fast writer of that YAML (the text PyYAML writes, for plain trees).
"""

from mlxlaunch.runfolder.attempts import save_attempt
from mlxlaunch.runfolder.ids import allocate_run_dirs, claim_run_dir, peek_next_run_ids
from mlxlaunch.runfolder.layout import (
    ARTIFACT_INDEX_FILE,
    ARTIFACT_TYPES_FILE,
    ARTIFACTS_DIR,
    ATTEMPTS_DIR,
    CACHE_INDEX_DIR,
    CACHE_INDEX_FILE,
    CACHE_JOURNAL_FILE,
    CACHE_RUNS_DIR,
    CANCEL_FILE,
    CONFIG_FILE,
    DIFF_FILE,
    HEARTBEAT_FILE,
    INFO_FILE,
    JOBS_DIR,
    KEYS_DIR,
    LAUNCHER_FILE,
    LOCK_FILE,
    METADATA,
    METRICS_DIR,
    NEXT_ID_HINT,
    REQUIREMENTS_FILE,
    RUN_ID,
    STDERR_FILE,
    STDOUT_FILE,
    TMP_PREFIX,
    TRACEBACK_FILE,
    Status,
    is_run_dir,
    job_script_name,
    metadata_path,
)
from mlxlaunch.runfolder.liveness import (
    Heartbeat,
    RunLock,
    effective_status,
    launched_by,
    process_start,
    same_process,
    touch_heartbeat,
)
from mlxlaunch.runfolder.metadata import (
    atomic_write,
    dump_yaml,
    load_yaml,
    now_iso,
    read_config,
    read_info,
    read_settings,
    write_config,
    write_info,
    write_settings,
)

__all__ = [
    "ARTIFACT_INDEX_FILE",
    "ARTIFACT_TYPES_FILE",
    "ARTIFACTS_DIR",
    "CACHE_INDEX_DIR",
    "CACHE_INDEX_FILE",
    "CACHE_JOURNAL_FILE",
    "CACHE_RUNS_DIR",
    "DIFF_FILE",
    "JOBS_DIR",
    "KEYS_DIR",
    "METRICS_DIR",
    "NEXT_ID_HINT",
    "REQUIREMENTS_FILE",
    "STDERR_FILE",
    "STDOUT_FILE",
    "TMP_PREFIX",
    "TRACEBACK_FILE",
    "job_script_name",
    "ATTEMPTS_DIR",
    "CANCEL_FILE",
    "HEARTBEAT_FILE",
    "LOCK_FILE",
    "CONFIG_FILE",
    "INFO_FILE",
    "LAUNCHER_FILE",
    "METADATA",
    "RUN_ID",
    "Heartbeat",
    "RunLock",
    "Status",
    "allocate_run_dirs",
    "atomic_write",
    "claim_run_dir",
    "dump_yaml",
    "effective_status",
    "launched_by",
    "process_start",
    "same_process",
    "is_run_dir",
    "load_yaml",
    "metadata_path",
    "now_iso",
    "peek_next_run_ids",
    "read_config",
    "read_info",
    "read_settings",
    "save_attempt",
    "write_config",
    "write_info",
    "touch_heartbeat",
    "write_settings",
]
