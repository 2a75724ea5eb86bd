"""Benchmark: mlxlaunch's Reader against MLXP 1.0.5's Reader, on the same data, in the same run.

Data is generated in MLXP's exact on-disk layout (nested 22-leaf ``config.yaml``,
17-leaf ``info.yaml``, ``mlxp.yaml``, ``metrics/train.json`` with ``--lines`` JSON
lines of ``{loss, iter, epoch}``, ``metrics/.keys/train.yaml``), under ``/tmp``.

Each measurement runs in a fresh Python process, so imports and OS caches are
treated alike for both readers; the time printed excludes the interpreter start
and ``import`` (reported separately). MLXP must be installed in another venv::

    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install mlxp==1.0.5
    .venv/bin/python benchmarks/bench_reader.py --runs 1000 --peer-python /tmp/peers-venv/bin/python

Use ``--runs 10000`` for the large case (MLXP is then skipped unless ``--peer-max``
allows it: it needs about an hour).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONFIG = """\
seed: {seed}
num_epoch: 10
device: cuda
model:
  name: resnet
  num_layers: {layers}
  hidden: 128
  activation: relu
  dropout: 0.1
optimizer:
  name: sgd
  lr: {lr}
  momentum: 0.9
  weight_decay: 0.0001
  nesterov: false
  scheduler:
    name: cosine
    warmup: 5
    min_lr: 1.0e-06
data:
  name: cifar10
  batch_size: 128
  num_workers: 4
  augment: true
  root: /data/cifar
"""

INFO = """\
hostname: node-{host}
process_id: {pid}
executable: /usr/bin/python3
current_file_path: /home/user/project/main.py
start_date: 18/11/2023
start_time: '12:{mm:02d}:05'
status: {status}
work_dir: /home/user/project
logger:
  log_id: {log_id}
  log_dir: {log_dir}
  metrics_dir: {log_dir}/metrics
  metadata_dir: {log_dir}/metadata
  artifacts_dir: {log_dir}/artifacts
end_date: 18/11/2023
end_time: '13:{mm:02d}:41'
user: someone
"""

MLXP_YAML = """\
use_logger: true
use_version_manager: false
use_scheduler: false
interactive_mode: false
logger:
  parent_log_dir: {parent}
  forced_log_id: -1
  log_streams_to_files: false
"""

STATUSES = ["COMPLETE"] * 8 + ["FAILED", "RUNNING"]


def generate(root: Path, n_runs: int, n_lines: int) -> None:
    """Write ``n_runs`` run folders in MLXP 1.0.5's layout under ``root`` (idempotent)."""
    stamp = root / f".generated-{n_runs}-{n_lines}"
    if stamp.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for log_id in range(1, n_runs + 1):
        run = root / str(log_id)
        (run / "metadata").mkdir(parents=True)
        (run / "metrics" / ".keys").mkdir(parents=True)
        (run / "artifacts").mkdir()
        lr = [0.1, 0.01, 0.001, 0.0001][log_id % 4]
        (run / "metadata" / "config.yaml").write_text(
            CONFIG.format(seed=log_id % 5, layers=2 + log_id % 3, lr=lr)
        )
        (run / "metadata" / "info.yaml").write_text(
            INFO.format(
                host=log_id % 7,
                pid=10000 + log_id,
                mm=log_id % 60,
                status=STATUSES[log_id % len(STATUSES)] if log_id % 10 != 9 else "COMPLETE",
                log_id=log_id,
                log_dir=run,
            )
        )
        (run / "metadata" / "mlxp.yaml").write_text(MLXP_YAML.format(parent=root))
        lines = "".join(
            json.dumps({"loss": lr / (i + 1) + (log_id % 13) * 1e-4, "iter": i, "epoch": i // 100})
            + "\n"
            for i in range(n_lines)
        )
        (run / "metrics" / "train.json").write_text(lines)
        (run / "metrics" / ".keys" / "train.yaml").write_text("epoch: ''\niter: ''\nloss: ''\n")
    stamp.touch()


# Each snippet prints one JSON object: {"import_s":..., "t": ..., "n": ..., "rss_mb": ...}.
OURS_SEARCH = """
import time, json, resource, warnings
t0 = time.perf_counter()
import mlxlaunch, pandas
t1 = time.perf_counter()
reader = mlxlaunch.Reader({root!r})
runs = reader.search("config.optimizer.lr <= 1e-2 & info.status == 'COMPLETE'")
n = len(runs)
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "t": t2 - t1, "n": n}}))
"""

OURS_METRIC = """
import time, json, resource
import mlxlaunch, pandas, numpy
reader = mlxlaunch.Reader({root!r})
runs = reader.search("")
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
cols = [run["train.loss"] for run in runs]
t2 = time.perf_counter()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"t": t2 - t1, "n": sum(len(c) for c in cols), "rss_mb": (rss1 - rss0) / 1024}}))
"""

OURS_SUMMARY = """
import time, json
import mlxlaunch, pandas
reader = mlxlaunch.Reader({root!r})
t1 = time.perf_counter()
n = len(reader.search("train.loss.last < 1e-6"))
print(json.dumps({{"t": time.perf_counter() - t1, "n": n}}))
"""

OURS_ALL_METRICS = """
import time, json, resource
import mlxlaunch, pandas, numpy
reader = mlxlaunch.Reader({root!r})
runs = reader.search("")
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
logs = [run.log("train") for run in runs]
t2 = time.perf_counter()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = sum(len(c) for log in logs for c in log.columns.values())
print(json.dumps({{"t": t2 - t1, "n": n, "rss_mb": (rss1 - rss0) / 1024}}))
"""

MLXP_SEARCH = """
import time, json, io, contextlib
t0 = time.perf_counter()
import mlxp, pandas
t1 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    reader = mlxp.Reader({root!r}, dst_dir={dst!r}, refresh=True)
    # MLXP's lexer has no exponent notation: 1e-2 is a syntax error there
    runs = reader.filter(query_string="config.optimizer.lr <= 0.01 & info.status == 'COMPLETE'")
n = len(runs)
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "t": t2 - t1, "n": n}}))
"""

MLXP_METRIC = """
import time, json, io, contextlib, resource
import mlxp, pandas
with contextlib.redirect_stdout(io.StringIO()):
    reader = mlxp.Reader({root!r}, dst_dir={dst!r}, refresh=False)
    runs = reader.filter(query_string="")
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1 = time.perf_counter()
cols = [run["train.loss"] for run in runs]
t2 = time.perf_counter()
rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"t": t2 - t1, "n": sum(len(c) for c in cols), "rss_mb": (rss1 - rss0) / 1024}}))
"""


def run_snippet(python: str, code: str, env: dict[str, str]) -> dict:
    """Run ``code`` with ``python`` in a fresh process; its last stdout line, parsed as JSON."""
    out = subprocess.run(
        [python, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/tmp",
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark snippet failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--data", default="/tmp/mlxlaunch-bench-reader")
    parser.add_argument("--peer-python", default="/tmp/peers-venv/bin/python")
    parser.add_argument("--peer-max", type=int, default=2000, help="skip MLXP above this many runs")
    args = parser.parse_args()

    root = Path(args.data) / f"logs-{args.runs}"
    t = time.perf_counter()
    generate(root, args.runs, args.lines)
    print(
        f"data: {root} ({args.runs} runs x {args.lines} lines), ready in {time.perf_counter() - t:.1f} s"
    )

    cache = Path(tempfile.mkdtemp(prefix="mlxlaunch-bench-cache-"))
    env = dict(os.environ, MLXLAUNCH_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    ours: dict[str, dict] = {}
    ours["first search (fresh cache)"] = run_snippet(
        sys.executable, OURS_SEARCH.format(root=str(root)), env
    )
    ours["repeat search (new process)"] = run_snippet(
        sys.executable, OURS_SEARCH.format(root=str(root)), env
    )
    ours["one metric column"] = run_snippet(sys.executable, OURS_METRIC.format(root=str(root)), env)
    ours["metric summary query"] = run_snippet(
        sys.executable, OURS_SUMMARY.format(root=str(root)), env
    )
    ours["same, new process"] = run_snippet(
        sys.executable, OURS_SUMMARY.format(root=str(root)), env
    )
    ours["all metric columns"] = run_snippet(
        sys.executable, OURS_ALL_METRICS.format(root=str(root)), env
    )
    shutil.rmtree(cache, ignore_errors=True)

    peer: dict[str, dict] = {}
    if args.runs <= args.peer_max and Path(args.peer_python).exists():
        dst = tempfile.mkdtemp(prefix="mlxp-bench-db-")
        penv = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        peer["first search (fresh cache)"] = run_snippet(
            args.peer_python, MLXP_SEARCH.format(root=str(root), dst=dst), penv
        )
        peer["one metric column"] = run_snippet(
            args.peer_python, MLXP_METRIC.format(root=str(root), dst=dst), penv
        )
        shutil.rmtree(dst, ignore_errors=True)
    else:
        print(f"MLXP skipped (runs > --peer-max={args.peer_max} or {args.peer_python} missing)")

    print(f"\n{'measure':32} {'mlxlaunch':>10} {'MLXP':>10} {'ratio':>8}  notes")
    for name, mine in ours.items():
        theirs = peer.get(name)
        other = f"{theirs['t']:10.3f}" if theirs else f"{'-':>10}"
        ratio = f"{mine['t'] / theirs['t']:8.3f}" if theirs else f"{'-':>8}"
        notes = f"n={mine['n']}"
        if "rss_mb" in mine:
            notes += f", +{mine['rss_mb']:.0f} MB"
            if theirs:
                notes += f" (MLXP +{theirs['rss_mb']:.0f} MB)"
        if "import_s" in mine:
            notes += f", import {mine['import_s']:.2f} s"
        if theirs and theirs["n"] != mine["n"]:
            notes += f", MLXP n={theirs['n']}"
        print(f"{name:32} {mine['t']:10.3f} {other} {ratio}  {notes}")


if __name__ == "__main__":
    main()
