"""Run folders written by hand (our layout and MLXP 1.0.5's), and the Reader on MLXP's layout.

The helpers here are imported by the other Reader tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

from mlxlaunch.runfolder.metadata import dump_yaml

MLXP_INFO_KEYS = (
    "hostname",
    "process_id",
    "executable",
    "current_file_path",
    "start_date",
    "start_time",
)


def write_run(
    logs: Path,
    log_id: int,
    config: Optional[dict[str, Any]] = None,
    status: str = "COMPLETE",
    metrics: Optional[dict[str, list[dict[str, Any]]]] = None,
    info: Optional[dict[str, Any]] = None,
) -> Path:
    """A run folder in mlxlaunch's layout (info written by ``store.dump_yaml``, like the runner)."""
    run = logs / str(log_id)
    (run / "metadata").mkdir(parents=True, exist_ok=True)
    config = (
        {"seed": log_id, "optimizer": {"lr": 0.1 / log_id, "name": "sgd"}}
        if config is None
        else config
    )
    (run / "metadata" / "config.yaml").write_text(dump_yaml(config))
    full_info = {
        "status": status,
        "log_id": log_id,
        "log_dir": str(run),
        "attempt": 1,
        "queued_time": "2026-11-24T10:00:00.000000+00:00",
        "hostname": "some-other-host",
        "pid": 12345,
        "heartbeat_interval": 30.0,
    }
    full_info.update(info or {})
    (run / "metadata" / "info.yaml").write_text(dump_yaml(full_info))
    for name, records in (metrics or {}).items():
        write_metrics(run, name, records)
    return run


def write_metrics(
    run: Path, name: str, records: list[dict[str, Any]], keys_as_mapping: bool = False
) -> Path:
    folder = run / "metrics"
    (folder / ".keys").mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    with open(path, "a") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    keys = sorted({k for r in records for k in r})
    (folder / ".keys" / f"{name}.yaml").write_text(
        dump_yaml({k: "" for k in keys} if keys_as_mapping else keys)
    )
    return path


def write_mlxp_run(
    logs: Path, log_id: int, lr: float, status: str = "COMPLETE", n_steps: int = 5
) -> Path:
    """A run folder as MLXP 1.0.5 writes it (mlxp/launcher.py, mlxp/logger.py; checked against
    folders written by ``mlxp==1.0.5`` itself: same files, same keys, same YAML styles)."""
    import yaml

    run = logs / str(log_id)
    for sub in ("metadata", "metrics/.keys", "artifacts/.keys", "artifacts/pickle"):
        (run / sub).mkdir(parents=True, exist_ok=True)
    config = {"seed": 0, "model": {"num_layers": 2}, "optimizer": {"lr": lr}}
    info = {
        "hostname": "mlxp-host",
        "process_id": 4242,
        "executable": "/usr/bin/python3",
        "current_file_path": "/home/u/main.py",
        "start_date": "18/11/2023",
        "start_time": "12:30:05",
        "status": status,
        "work_dir": "/home/u",
        "logger": {
            "log_id": log_id,
            "log_dir": str(run),
            "metrics_dir": str(run / "metrics"),
            "metadata_dir": str(run / "metadata"),
            "artifacts_dir": str(run / "artifacts"),
        },
        "end_date": "18/11/2023",
        "end_time": "12:31:00",
        "scheduler": None,
        "version_manager": None,
    }
    mlxp = {"use_logger": True, "use_scheduler": False, "logger": {"parent_log_dir": str(logs)}}
    for name, data in (("config", config), ("info", info), ("mlxp", mlxp)):
        with open(run / "metadata" / f"{name}.yaml", "w") as f:
            yaml.dump(data, f)  # MLXP uses OmegaConf.save / yaml.dump: the default dumper
    with open(run / "metrics" / "train.json", "a") as f:
        for step in range(n_steps):
            json.dump({"loss": lr / (step + 1), "epoch": step}, f)
            f.write("\n")
    with open(run / "metrics" / ".keys" / "train.yaml", "w") as f:
        yaml.dump({"loss": "", "epoch": ""}, f)
    with open(run / "artifacts" / "pickle" / "last_ckpt", "wb") as f:  # log_checkpoint's file
        f.write(b"not read by the reader")
    with open(run / "artifacts" / ".keys" / "artifacts.yaml", "w") as f:
        yaml.dump({"pickle": {"": {"last_ckpt": ""}}}, f)  # written as "? ''" by yaml.dump
    return run


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``folder`` with its size and mtime (to prove nothing was written)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            out[path] = (st.st_size, st.st_mtime_ns)
    return out


# ---------------------------------------------------------------- MLXP 1.0.5 folders

import pytest  # noqa: E402

pytestmark = pytest.mark.usefixtures("private_reader_cache")


def test_reads_an_mlxp_folder_unchanged(tmp_path):
    from mlxlaunch import Reader

    logs = tmp_path / "logs"
    for log_id, lr in enumerate([0.1, 0.01, 0.001], start=1):
        write_mlxp_run(logs, log_id, lr, status="RUNNING" if log_id == 3 else "COMPLETE")
    (logs / "database.json").write_text("{}")  # what MLXP's own Reader leaves behind
    before = snapshot(logs)

    reader = Reader(logs)
    assert len(reader) == 3 and reader.problems == []
    runs = reader.search("config.optimizer.lr < 0.05 & info.status == 'COMPLETE'")
    assert runs.log_ids == [2]
    run = runs[0]
    assert run["info.logger.log_id"] == 2
    assert run["info.start_time"] == "12:30:05"  # a quoted YAML string stays a string
    assert list(run["train.loss"]) == pytest.approx([0.01 / (s + 1) for s in range(5)])
    assert "train.loss" in reader.fields.index and "train.epoch.last" in reader.searchable.index
    assert reader.search("train.loss.min < 0.001").log_ids == [3]  # 0.001 / 5
    artifact = run.artifacts["last_ckpt"]
    assert artifact.type == "pickle" and artifact.path.endswith("artifacts/pickle/last_ckpt")
    frame = reader.search(query_string="info.status == 'RUNNING'", asPandas=True)
    assert list(frame.index) == [0] and frame.loc[0, "config.optimizer.lr"] == 0.001
    assert frame.loc[0, "train.loss"] == pytest.approx([0.001 / (s + 1) for s in range(5)])
    assert snapshot(logs) == before, "the reader wrote in the logs folder"


def test_a_killed_mlxp_run_on_this_host_shows_as_lost(tmp_path):
    import socket
    import subprocess
    import sys

    import yaml

    from mlxlaunch import Reader

    logs = tmp_path / "logs"
    run = write_mlxp_run(logs, 1, 0.1, status="RUNNING")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    info = yaml.safe_load((run / "metadata" / "info.yaml").read_text())
    info.update(hostname=socket.gethostname(), process_id=int(dead.stdout))
    (run / "metadata" / "info.yaml").write_text(yaml.dump(info))
    write_mlxp_run(logs, 2, 0.1, status="RUNNING")  # another host: nothing to check, stays RUNNING
    assert [r.status for r in Reader(logs).search()] == ["LOST", "RUNNING"]
