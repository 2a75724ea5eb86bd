"""Four reader processes built at once on a folder whose runs are being written: none fails.

(MLXP 1.0.5: 15 of 16 concurrent readers crashed on its shared ``database.json``.)
The readers share one cache folder; the writers create runs, change statuses
atomically (like the runner) and in place (like MLXP), and append metric records
in two pieces, so readers meet half-written files.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import REPO
from test_reader_layouts import write_mlxp_run, write_run

WRITER = """
import json, os, sys, time
from pathlib import Path
from mlxlaunch import store
from mlxlaunch.logger import Logger

logs = Path(sys.argv[1]); deadline = time.time() + float(sys.argv[2])
n = 0
while time.time() < deadline:
    [(log_id, run)] = store.allocate_run_dirs(logs, 1)
    store.write_config(run, {"lr": 0.1 / log_id, "seed": n})
    info = {"status": "QUEUED", "log_id": log_id}
    store.write_info(run, info)
    info.update(status="RUNNING", pid=os.getpid(), hostname="x", heartbeat_interval=30)
    store.write_info(run, info)
    store.touch_heartbeat(run)
    logger = Logger(run, log_id)
    for step in range(20):
        logger.log_metrics({"loss": 1.0 / (step + 1), "step": step}, log_name="train")
    logger.close()
    info["status"] = "COMPLETE"
    store.write_info(run, info)
    n += 1
print("wrote", n)
"""

MLXP_STYLE_WRITER = """
import sys, time, yaml
from pathlib import Path

logs = Path(sys.argv[1]); deadline = time.time() + float(sys.argv[2])
info_path = logs / "1" / "metadata" / "info.yaml"
metrics = logs / "1" / "metrics" / "train.json"
info = yaml.safe_load(info_path.read_text())
i = 0
while time.time() < deadline:
    info["status"] = ["RUNNING", "COMPLETE"][i % 2]
    with open(info_path, "w") as f:  # MLXP rewrites in place: readers may see it half-written
        text = yaml.dump(info)
        f.write(text[: len(text) // 2]); f.flush(); time.sleep(0.001); f.write(text[len(text) // 2 :])
    with open(metrics, "a") as f:
        f.write('{"loss": 0.5, '); f.flush(); time.sleep(0.001); f.write('"epoch": %d}\\n' % i)
    i += 1
print("wrote", i)
"""

READER = """
import sys, warnings
warnings.simplefilter("ignore")  # half-written files are reported, not fatal
from mlxlaunch.reader import Reader

logs = sys.argv[1]
for _ in range(int(sys.argv[2])):
    reader = Reader(logs, progress=False)
    runs = reader.search("info.status in ['QUEUED', 'RUNNING', 'COMPLETE', 'LOST'] | config.lr > 0")
    reader.search("train.loss.last < 10 & train.loss.count >= 0")
    for run in runs:
        if "train" in run.log_names:
            run["train.loss"]
    runs.to_pandas()
    repr(runs)
print("ok", len(reader))
"""


def _spawn(code: str, *args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
def test_four_readers_while_runs_are_written(tmp_path):
    import os

    logs = tmp_path / "logs"
    write_mlxp_run(logs, 1, 0.1, status="RUNNING")
    for log_id in range(2, 30):
        write_run(logs, log_id, config={"lr": 0.1 / log_id}, metrics={"train": [{"loss": 1.0}]})
    env = dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(tmp_path / "shared-cache"))
    writers = [
        _spawn(WRITER, str(logs), "6", env=env),
        _spawn(MLXP_STYLE_WRITER, str(logs), "6", env=env),
    ]
    readers = [_spawn(READER, str(logs), "6", env=env) for _ in range(4)]
    outcomes = [r.communicate(timeout=180) + (r.returncode,) for r in readers]
    for w in writers:
        out, err = w.communicate(timeout=60)
        assert w.returncode == 0, err
        assert int(out.split()[-1]) > 0, "the writer wrote nothing while readers ran"
    failed = [(rc, err[-2000:]) for out, err, rc in outcomes if rc != 0 or not out.startswith("ok")]
    assert failed == [], failed
    allocator = {".mlxlaunch-next-id"}  # written by store.allocate_run_dirs (the writers)
    strays = [p.name for p in logs.iterdir() if not p.name.isdigit() and p.name not in allocator]
    assert strays == [], "a reader wrote in the logs folder"


APPENDER = """
import sys, time
logs = sys.argv[1]; deadline = time.time() + float(sys.argv[2])
i = 0
while time.time() < deadline:
    extra = ', "lr": 0.1' if i % 3 == 2 else ""  # a key only some later records have
    with open(f"{logs}/1/metrics/train.json", "a") as f:  # in two pieces, as a slow disk would
        f.write('{"loss": 0.5, '); f.flush(); time.sleep(0.0005)
        f.write('"epoch": %d%s}\\n' % (i, extra))
    i += 1
print("wrote", i)
"""

COLUMNS_READER = """
import sys, warnings
warnings.simplefilter("ignore")
from mlxlaunch.reader import Reader

reader = Reader(sys.argv[1], progress=False)
for _ in range(int(sys.argv[2])):
    run = reader.search("log_id == 1", refresh=True)[0]
    run.forget()
    loss = run["train.loss"]  # a first access: the log found without listing metrics/
    keys = run.metric_keys("train")  # every key of that snapshot, learnt from its bytes
    lengths = {key: len(run[f"train.{key}"]) for key in keys}
    assert set(lengths.values()) == {len(loss)}, (len(loss), lengths)
    assert ("lr" in keys) == (len(loss) >= 4), (len(loss), keys)  # the 4th record has it
print("ok")
"""


@pytest.mark.slow
def test_columns_of_a_log_another_process_appends_to_share_one_snapshot(tmp_path):
    """While a live run appends records (a key appearing in only some of them), every
    column and key a reader in another process gets of one log comes from one snapshot."""
    import os

    logs = tmp_path / "logs"
    write_run(
        logs,
        1,
        config={"lr": 0.1},
        status="RUNNING",
        metrics={"train": [{"loss": 1.0, "epoch": -1}]},
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(tmp_path / "cache"))
    writer = _spawn(APPENDER, str(logs), "4", env=env)
    readers = [_spawn(COLUMNS_READER, str(logs), "300", env=env) for _ in range(2)]
    outcomes = [r.communicate(timeout=180) + (r.returncode,) for r in readers]
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0 and int(out.split()[-1]) > 0, err
    failed = [(rc, err[-2000:]) for out, err, rc in outcomes if rc != 0 or not out.startswith("ok")]
    assert failed == [], failed
