"""Threat (bad luck): several processes share one run's Logger and race on its indexes.

``docs/logging.md`` lets a Logger be pickled to worker processes. Each keeps its own
memory of the keys index (``metrics/.keys/<log>.yaml``) and of the artifact index
(``artifacts/.keys/artifacts.yaml``); both used to be rewritten from that memory, so
worker A (``a``), B (``b``), A (``c``) left ``a, c`` and lost ``b``: a fresh
``Reader.search("train.b.last > 0")`` raised ``Unknown key``. Updates are now merged
with what is on disk under a lock on the index folder.
"""

from __future__ import annotations

import multiprocessing
import pickle
from pathlib import Path

import pytest

from mlxlaunch.logger.logger import Logger
from mlxlaunch.runfolder import allocate_run_dirs, load_yaml, write_config, write_info


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    ((_, path),) = allocate_run_dirs(tmp_path / "logs", 1)
    write_config(path, {"seed": 0})
    write_info(path, {"status": "RUNNING", "log_id": 1})
    return path


def _workers(run_dir: Path) -> tuple[Logger, Logger]:
    """Two processes' copies of one Logger (what pickling to a worker gives each)."""
    logger = Logger(run_dir, 1)
    return pickle.loads(pickle.dumps(logger)), pickle.loads(pickle.dumps(logger))


def test_interleaved_workers_lose_no_metric_key(run_dir: Path, private_reader_cache) -> None:
    a, b = _workers(run_dir)
    a.log_metrics({"a": 1.0}, log_name="train")
    b.log_metrics({"b": 2.0}, log_name="train")
    a.log_metrics({"c": 3.0}, log_name="train")
    keys = load_yaml(run_dir / "metrics" / ".keys" / "train.yaml")
    assert sorted(keys) == ["a", "b", "c"]

    import mlxlaunch

    found = mlxlaunch.Reader(run_dir.parent).search("train.b.last > 0")
    assert list(found["info.log_id"]) == [1]


def test_interleaved_workers_lose_no_artifact(run_dir: Path) -> None:
    a, b = _workers(run_dir)
    a.log_artifacts(1, "a.pkl", "pickle")
    b.log_artifacts(2, "b.pkl", "pickle")
    a.log_artifacts(3, "c.pkl", "pickle")
    index = load_yaml(run_dir / "artifacts" / ".keys" / "artifacts.yaml")
    assert sorted(index["pickle"][""]) == ["a.pkl", "b.pkl", "c.pkl"]
    fresh = Logger(run_dir, 1)
    assert fresh.load_artifacts("b.pkl") == 2  # found through the index, no type given


def _log_many(args: tuple[bytes, int, multiprocessing.synchronize.Barrier]) -> None:
    data, worker, barrier = args
    logger = pickle.loads(data)
    barrier.wait()
    for i in range(15):
        logger.log_metrics({f"w{worker}_{i}": float(i)}, log_name="train")
        logger.log_artifacts(i, f"w{worker}_{i}.pkl", "pickle")


def test_many_workers_at_once_lose_no_index_entry(run_dir: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    n = 6
    barrier = ctx.Barrier(n)
    data = pickle.dumps(Logger(run_dir, 1))
    procs = [ctx.Process(target=_log_many, args=((data, w, barrier),)) for w in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    expected = sorted(f"w{w}_{i}" for w in range(n) for i in range(15))
    assert sorted(load_yaml(run_dir / "metrics" / ".keys" / "train.yaml")) == expected
    index = load_yaml(run_dir / "artifacts" / ".keys" / "artifacts.yaml")
    assert sorted(index["pickle"][""]) == sorted(f"{k}.pkl" for k in expected)
