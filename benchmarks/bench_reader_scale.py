"""The Reader at 1,000 / 10,000 / 100,000 runs, each figure as a ratio to its bare limit.

    .venv/bin/python benchmarks/bench_reader_scale.py [--sizes 1000,10000,100000] [--lines 50]

Generates run folders (the nested 22-leaf config, 17-leaf info of ``bench_reader.py``,
and ``metrics/train.json`` of ``--lines`` ``{loss, iter, epoch}`` records) under
``/tmp/mlxlaunch-bench-scale`` (removed at the end unless ``--keep``), then measures,
each in a fresh process (times exclude interpreter start and imports):

- first search (empty cache, index written included) vs the bare walk a first
  search cannot avoid: ``os.scandir`` + libyaml's ``CSafeLoader`` on both YAML files;
- repeat search in a new process vs its floor: ``os.scandir``, two ``stat`` per run,
  and reading + parsing the one index file (orjson);
- one metric column (``train.loss`` of every run) vs a bare read + orjson parse +
  ``numpy`` of that key, and of every key of the log (what parsing each file once
  into typed columns must do); memory is the growth of the resident set (after a
  ``gc.collect()``) from before to after loading.

Each figure is the best of ``--times`` processes (2), for ours and the bare limit alike
(the first of a series may find the files out of the page cache, whichever it is).
Growth from size to size is printed per run (linear growth: a constant per run).
No figure here is a test: run it by hand on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_reader import CONFIG, INFO, run_snippet

REPO = Path(__file__).resolve().parent.parent
STATUSES = ["COMPLETE"] * 8 + ["FAILED", "RUNNING"]


def generate(root: Path, n_runs: int, n_lines: int) -> None:
    """``n_runs`` run folders under ``root`` (plain os calls: 100,000 folders in about a minute)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for log_id in range(1, n_runs + 1):
        run = f"{root}/{log_id}"
        os.mkdir(run)
        os.mkdir(f"{run}/metadata")
        os.mkdir(f"{run}/metrics")
        lr = [0.1, 0.01, 0.001, 0.0001][log_id % 4]
        with open(f"{run}/metadata/config.yaml", "w") as f:
            f.write(CONFIG.format(seed=log_id % 5, layers=2 + log_id % 3, lr=lr))
        with open(f"{run}/metadata/info.yaml", "w") as f:
            status = STATUSES[log_id % len(STATUSES)] if log_id % 10 != 9 else "COMPLETE"
            f.write(
                INFO.format(
                    host=log_id % 7,
                    pid=10000 + log_id,
                    mm=log_id % 60,
                    status=status,
                    log_id=log_id,
                    log_dir=run,
                )
            )
        with open(f"{run}/metrics/train.json", "w") as f:
            f.write(
                "".join(
                    json.dumps(
                        {"loss": lr / (i + 1) + (log_id % 13) * 1e-4, "iter": i, "epoch": i // 10}
                    )
                    + "\n"
                    for i in range(n_lines)
                )
            )


QUERY = "config.optimizer.lr <= 1e-2 & info.status == 'COMPLETE'"

OURS_SEARCH = """
import time, json
import mlxlaunch, pandas, numpy
from mlxlaunch import Reader  # imports mlxlaunch.reader (lazy in mlxlaunch): not timed
t1 = time.perf_counter()
reader = Reader({root!r}, progress=False)
n = len(reader.search({query!r}))
print(json.dumps({{"t": time.perf_counter() - t1, "n": n}}))
"""

BARE_FIRST = """
import os, time, json, yaml
t1 = time.perf_counter()
n = 0
for entry in os.scandir({root!r}):
    for name in ("config.yaml", "info.yaml"):
        with open(f"{{entry.path}}/metadata/{{name}}", "rb") as f:
            yaml.load(f, Loader=yaml.CSafeLoader)
    n += 1
print(json.dumps({{"t": time.perf_counter() - t1, "n": n}}))
"""

BARE_REPEAT = """
import os, time, json, glob, orjson
t1 = time.perf_counter()
n = 0
for entry in os.scandir({root!r}):
    os.stat(f"{{entry.path}}/metadata/config.yaml"); os.stat(f"{{entry.path}}/metadata/info.yaml")
    n += 1
for path in glob.glob({index!r}):  # the one index file (and its journal)
    with open(path, "rb") as f:
        lines = [l for l in f.read().split(b"\\n") if l]
    orjson.loads(b"[" + b",".join(lines) + b"]")
print(json.dumps({{"t": time.perf_counter() - t1, "n": n}}))
"""

OURS_COLUMN = """
import time, json, gc
import mlxlaunch, pandas, numpy
from mlxlaunch import Reader
def rss():  # resident now (not the peak: the index read before would hide the column)
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6
reader = Reader({root!r}, progress=False)
runs = reader.search("")
rss0 = rss()
t1 = time.perf_counter()
cols = [run["train.loss"] for run in runs]
t2 = time.perf_counter()
print(json.dumps({{"t": t2 - t1, "n": sum(map(len, cols)), "rss_mb": rss() - rss0}}))
"""

BARE_COLUMN = """
import os, time, json, gc, operator, orjson, numpy as np
def rss():
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6
names = sorted((e.name for e in os.scandir({root!r})), key=int)
keys = {keys!r}
rss0 = rss()
t1 = time.perf_counter()
cols = []
for name in names:
    with open(f"{root}/{{name}}/metrics/train.json", "rb") as f:
        data = f.read()
    records = orjson.loads(b"[" + data.rstrip(b"\\n").replace(b"\\n", b",") + b"]")
    cols.append([np.array(list(map(operator.itemgetter(k), records))) for k in keys])
t2 = time.perf_counter()
n = sum(len(c[0]) for c in cols)
print(json.dumps({{"t": t2 - t1, "n": n, "rss_mb": rss() - rss0}}))
"""


def _best(code: str, env: dict[str, str], times: int, before=None) -> dict:
    """The fastest of ``times`` fresh processes running ``code`` (``before`` each one):
    the first of a series may find the files out of the page cache, whichever it is."""
    results = []
    for _ in range(times):
        if before is not None:
            before()
        results.append(run_snippet(sys.executable, code, env))
    return min(results, key=lambda r: r["t"])


def measure(root: Path, env: dict[str, str], cache: Path, times: int) -> list:
    """``(figure, ours, bare)`` for one logs folder, each the best of ``times`` processes."""
    empty = lambda: shutil.rmtree(cache, ignore_errors=True)  # noqa: E731 - a first search
    ours_first = _best(OURS_SEARCH.format(root=str(root), query=QUERY), env, times, empty)
    bare_first = _best(BARE_FIRST.format(root=str(root)), env, times)
    ours_repeat = _best(OURS_SEARCH.format(root=str(root), query=QUERY), env, times)
    index = f"{cache}/index/*/*.jsonl"
    bare_repeat = _best(BARE_REPEAT.format(root=str(root), index=index), env, times)
    ours_col = _best(OURS_COLUMN.format(root=str(root)), env, times)
    bare_one = _best(BARE_COLUMN.format(root=str(root), keys=["loss"]), env, times)
    bare_all = _best(BARE_COLUMN.format(root=str(root), keys=["loss", "iter", "epoch"]), env, times)
    index_bytes = sum(p.stat().st_size for p in cache.glob("index/*/*.jsonl"))
    ours_repeat["index_mb"] = index_bytes / 1e6
    return [
        ("first search", ours_first, bare_first),
        ("repeat search, new process", ours_repeat, bare_repeat),
        ("one column (vs that key)", ours_col, bare_one),
        ("one column (vs every key)", ours_col, bare_all),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--data", default="/tmp/mlxlaunch-bench-scale")
    parser.add_argument("--keep", action="store_true", help="keep the generated folders")
    parser.add_argument("--times", type=int, default=2, help="processes per figure (best kept)")
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    cache = Path(tempfile.mkdtemp(prefix="mlxlaunch-bench-scale-cache-"))
    env = dict(os.environ, MLXLAUNCH_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            root = Path(args.data) / f"logs-{size}"
            t = time.perf_counter()
            generate(root, size, args.lines)
            print(
                f"\n{size} runs x {args.lines} lines: generated in {time.perf_counter() - t:.0f} s"
            )
            for figure, ours, bare in measure(root, env, cache, args.times):
                ratio = ours["t"] / bare["t"]
                notes = f"n={ours['n']}"
                if "rss_mb" in ours:
                    notes += f", memory +{ours['rss_mb']:.0f} MB vs +{bare['rss_mb']:.0f} MB"
                    notes += f" ({ours['rss_mb'] / max(bare['rss_mb'], 1e-9):.2f}x)"
                if "index_mb" in ours:
                    notes += f", index {ours['index_mb']:.1f} MB"
                per_run = ours["t"] / size * 1e6
                print(
                    f"  {figure:28} {ours['t']:8.3f} s  bare {bare['t']:8.3f} s  "
                    f"{ratio:5.2f}x  {per_run:6.1f} us/run  {notes}"
                )
                rows.append((size, figure, ours, bare, ratio, per_run))
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(args.data, ignore_errors=True)
    print("\n| runs | figure | mlxlaunch | bare limit | ratio | per run |")
    print("|---|---|---|---|---|---|")
    for size, figure, ours, bare, ratio, per_run in rows:
        extra = f", +{ours['rss_mb']:.0f} / +{bare['rss_mb']:.0f} MB" if "rss_mb" in ours else ""
        print(
            f"| {size:,} | {figure} | {ours['t']:.3f} s | {bare['t']:.3f} s{extra} | "
            f"{ratio:.2f}x | {per_run:.1f} us |"
        )


if __name__ == "__main__":
    main()
