"""Benchmark: ``Logger.log_metrics`` against a raw write+flush loop and MLXP 1.0.5, in one run.

The goal (docs/logging.md, ARCHITECTURE section 9): at least 0.7x the records/s of

    f.write(json.dumps(r) + "\\n"); f.flush()      # the file kept open

for records of three scalars, and no slow-down with 50 log names in one run.
Every figure is the best of ``--repeat`` rounds, the rounds interleaved so
that the machine's load hits every contestant alike. MLXP runs in its own venv
(a subprocess), which measures its own raw loop too, so its ratio is against
the same baseline in the same interpreter::

    python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install mlxp==1.0.5
    .venv/bin/python benchmarks/bench_logger.py --peer-python /tmp/peers-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

#: Measures a raw loop and, when importable, MLXP's logger; prints {"raw": rate, "mlxp": rate}.
PEER_SCRIPT = r"""
import json, os, sys, tempfile, time
n, repeat = int(sys.argv[1]), int(sys.argv[2])
records = [{"loss": 1.0 / (i + 1), "epoch": i, "acc": 0.5 + i * 1e-6} for i in range(n)]

def raw(folder):
    with open(os.path.join(folder, "raw.json"), "w") as f:
        t = time.perf_counter()
        for r in records:
            f.write(json.dumps(r) + "\n"); f.flush()
        return n / (time.perf_counter() - t)

def mlxp(folder):
    from mlxp.logger import DefaultLogger
    logger = DefaultLogger(folder, forced_log_id=-1)
    t = time.perf_counter()
    for r in records:
        logger.log_metrics(r, "train")
    return n / (time.perf_counter() - t)

best = {"raw": 0.0, "mlxp": 0.0}
for _ in range(repeat):
    for name, fn in (("raw", raw), ("mlxp", mlxp)):
        with tempfile.TemporaryDirectory() as folder:
            best[name] = max(best[name], fn(folder))
from importlib.metadata import version
best["version"] = version("mlxp")
print(json.dumps(best))
"""


def make_records(n: int) -> list[dict]:
    return [{"loss": 1.0 / (i + 1), "epoch": i, "acc": 0.5 + i * 1e-6} for i in range(n)]


def bench_raw(folder: Path, records: list[dict]) -> float:
    with open(folder / "raw.json", "w") as f:
        t = time.perf_counter()
        for r in records:
            f.write(json.dumps(r) + "\n")
            f.flush()
        return len(records) / (time.perf_counter() - t)


def bench_raw_many(folder: Path, records: list[dict], names: int) -> float:
    files = [open(folder / f"raw{i}.json", "w") for i in range(names)]
    try:
        t = time.perf_counter()
        for k, r in enumerate(records):
            f = files[k % names]
            f.write(json.dumps(r) + "\n")
            f.flush()
        return len(records) / (time.perf_counter() - t)
    finally:
        for f in files:
            f.close()


def bench_logger(folder: Path, records: list[dict], names: int = 1, orjson: bool = True) -> float:
    from mlxlaunch.logger import jsonify
    from mlxlaunch.logger.logger import Logger

    jsonify.use_orjson(orjson)
    logger = Logger(folder, 1)
    log_names = [f"log{i}" for i in range(names)]
    try:
        t = time.perf_counter()
        for k, r in enumerate(records):
            logger.log_metrics(r, log_names[k % names])
        return len(records) / (time.perf_counter() - t)
    finally:
        logger.close()
        jsonify.use_orjson(True)


def run_peer(python: str, n: int, repeat: int) -> dict | None:
    try:
        proc = subprocess.run(
            [python, "-c", PEER_SCRIPT, str(n), str(repeat)],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"MLXP: not measured ({exc})")
        return None
    if proc.returncode != 0:
        print(f"MLXP: not measured:\n{proc.stderr.strip()[-800:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    default_peer = next(
        (
            p
            for p in ("/tmp/peers-venv/bin/python", "/tmp/peers-venv-logger/bin/python")
            if Path(p).exists()
        ),
        "",
    )
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best one counts")
    parser.add_argument("--names", type=int, default=50, help="log names for the many-logs case")
    parser.add_argument("--peer-python", default=default_peer, help="python with mlxp==1.0.5")
    args = parser.parse_args()

    try:
        import orjson  # noqa: F401

        has_orjson = True
    except ImportError:
        has_orjson = False
    records = make_records(args.records)
    cases = {
        "raw write+flush": lambda d: bench_raw(d, records),
        "mlxlaunch (orjson)": (lambda d: bench_logger(d, records)) if has_orjson else None,
        "mlxlaunch (stdlib json)": lambda d: bench_logger(d, records, orjson=False),
        f"raw, {args.names} files": lambda d: bench_raw_many(d, records, args.names),
        f"mlxlaunch, {args.names} log names": lambda d: bench_logger(d, records, args.names),
    }
    best = {name: 0.0 for name, fn in cases.items() if fn is not None}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            if fn is None:
                continue
            folder = Path(tempfile.mkdtemp(prefix="bench_logger_"))
            try:
                best[name] = max(best[name], fn(folder))
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    raw = best["raw write+flush"]
    raw_many = best[f"raw, {args.names} files"]
    print(f"log_metrics, records of 3 scalars, {args.records} records, best of {args.repeat}")
    print(f"{'contestant':34} {'records/s':>12} {'vs raw':>8}")
    for name, rate in best.items():
        base = raw_many if name.startswith(("raw,", "mlxlaunch,")) else raw
        print(f"{name:34} {rate:12,.0f} {rate / base:8.2f}x")
    if args.peer_python:
        peer = run_peer(args.peer_python, max(args.records // 5, 1000), args.repeat)
        if peer:
            print(
                f"{'MLXP ' + str(peer['version']) + ' (its own venv)':34} {peer['mlxp']:12,.0f} "
                f"{peer['mlxp'] / peer['raw']:8.2f}x  (raw there: {peer['raw']:,.0f}/s)"
            )
            ours = best.get("mlxlaunch (orjson)", best["mlxlaunch (stdlib json)"])
            print(f"mlxlaunch / MLXP: {ours / peer['mlxp']:.1f}x the records/s")
    else:
        print("MLXP: not measured (give --peer-python, a python with mlxp==1.0.5)")
    print(
        f"(python {sys.version.split()[0]}, orjson {'yes' if has_orjson else 'no'}, pid {os.getpid()})"
    )


if __name__ == "__main__":
    main()
