"""The Reader's cache: one index per logs folder, outside it, pruned, shared by processes.

What a user relies on: a cached read gives exactly what an uncached read gives; the
logs folder is never written; deleted runs leave the index (issue 13, item 11);
several readers and writers at once never break a read or the index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from conftest import REPO
from test_reader_layouts import snapshot, write_metrics, write_mlxp_run, write_run

from mlxlaunch.reader import Reader, ReaderWarning, cache, scan
from mlxlaunch.runfolder.layout import CACHE_INDEX_FILE, CACHE_JOURNAL_FILE, CACHE_RUNS_DIR

pytestmark = pytest.mark.usefixtures("private_reader_cache")


@pytest.fixture
def logs(tmp_path):
    logs = tmp_path / "logs"
    for log_id in range(1, 7):
        write_run(
            logs,
            log_id,
            config={
                "seed": log_id % 2,
                "optimizer": {"lr": [0.1, 0.01, 0.001][log_id % 3], "name": "sgd"},
            },
            status="FAILED" if log_id == 6 else "COMPLETE",
            metrics={"train": [{"loss": 1.0 / (log_id * (s + 1)), "epoch": s} for s in range(4)]},
        )
    return logs


def quiet(path, **kw) -> Reader:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReaderWarning)
        return Reader(path, **kw)


def index_of(cache_root: Path, logs: Path) -> Path:
    return cache.index_dir(cache_root, str(logs.resolve()))


def entries(cache_root: Path, logs: Path) -> cache._Entries:
    return cache.read_entries(index_of(cache_root, logs))


def test_one_index_outside_the_logs_folder_that_follows_the_files(logs, tmp_path):
    before = snapshot(logs)
    reader = quiet(logs)
    assert snapshot(logs) == before, "the reader wrote in the logs folder"
    # one index folder for the logs folder, no file per run
    assert [p.name for p in (tmp_path / "cache" / "index").iterdir()] == [
        index_of(tmp_path / "cache", logs).name
    ]
    assert not (tmp_path / "cache" / CACHE_RUNS_DIR).exists()
    assert sorted(entries(tmp_path / "cache", logs).row_runs()) == [str(i) for i in range(1, 7)]
    # a status change is seen (size/mtime/inode differ), by a new reader and by refresh()
    write_run(logs, 3, status="FAILED", config={"seed": 1, "optimizer": {"lr": 0.1, "name": "sgd"}})
    assert reader.search("info.status == 'FAILED'").log_ids == [6]
    assert reader.search("info.status == 'FAILED'", refresh=True).log_ids == [3, 6]
    assert quiet(logs).search("info.status == 'FAILED'").log_ids == [3, 6]
    # a damaged index or journal costs only speed: its bad lines are skipped
    folder = index_of(tmp_path / "cache", logs)
    for name in (CACHE_INDEX_FILE, CACHE_JOURNAL_FILE):
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2] + b"{not json\n" + data[-40:])
    assert quiet(logs).search("config.seed == 0").log_ids == [2, 4, 6]
    assert quiet(logs).search("config.seed == 0").log_ids == [2, 4, 6]


def _varied_logs(logs: Path) -> None:
    """Runs of every kind the Reader meets: damaged, partial, MLXP's, live, odd values."""
    write_run(logs, 1, config={"lr": 0.1, "tags": ["a", "b"], "nested": {"x": None, "y": True}})
    write_run(logs, 2, config={"big": 2**70, "neg": -(2**63), "text": "é ü", "f": 1e-300})
    write_run(logs, 3, status="RUNNING", info={"hostname": "elsewhere", "pid": 1})
    write_run(logs, 4)
    (logs / "4" / "metadata" / "info.yaml").write_text("status: COMPL")  # cut mid-line
    write_run(logs, 5)
    (logs / "5" / "metadata" / "config.yaml").unlink()
    (logs / "6" / "metadata").mkdir(parents=True)  # being prepared
    (logs / "7").mkdir()  # no metadata at all
    write_mlxp_run(logs, 8, 0.01)
    write_run(logs, 9, config={"when": "2024-01-02", "date": None})
    (logs / "9" / "metadata" / "config.yaml").write_text("when: 2024-01-02\nempty: {}\n")
    for log_id in (1, 2):
        write_metrics(logs / str(log_id), "train", [{"loss": 0.5, "n": 1}, {"loss": 0.25}])
    write_metrics(logs / "8", "train", [{"loss": 0.5, "n": 1}, {"loss": float("nan")}])
    (logs / "stray.txt").write_text("")


def _everything(reader: Reader) -> tuple:
    runs = reader.search("")
    rows = [(run.log_id, run.row) for run in runs]
    summaries = [(run.log_id, run.summary("train")) for run in runs if "train" in run.log_names]
    queries = [
        reader.search(q).log_ids
        for q in ("info.status == 'COMPLETE'", "train.loss.count == 2", "log_id > 2")
    ]
    return rows, repr(summaries), queries, sorted(reader.problems)


def test_a_cached_read_is_identical_to_an_uncached_one(tmp_path, monkeypatch):
    logs = tmp_path / "logs"
    _varied_logs(logs)
    uncached = _everything(quiet(logs, cache_dir=False))
    first = _everything(quiet(logs))  # fills the index
    parsed = []
    real = scan.load_yaml_tolerant
    monkeypatch.setattr(scan, "load_yaml_tolerant", lambda p: parsed.append(p) or real(p))
    cached = _everything(quiet(logs))
    assert first == uncached
    assert cached == uncached
    # only what JSON cannot keep faithfully (a YAML date, an int beyond 64 bits) is parsed
    # again, and a run being prepared (it changes within seconds)
    assert sorted({Path(p).parent.parent.name for p in parsed}) == ["2", "6", "9"]


def test_entries_of_deleted_runs_are_pruned_on_read(logs, tmp_path):
    reader = quiet(logs)
    reader.search("train.loss.last < 1")  # rows and summaries of runs 1..6
    shutil.rmtree(logs / "2")
    shutil.rmtree(logs / "5")
    quiet(logs)
    held = entries(tmp_path / "cache", logs)
    assert sorted(held.row_runs()) == ["1", "3", "4", "6"]
    assert sorted(run for run, _ in held.summaries) == ["1", "3", "4", "6"]
    # the index is compacted: nothing about the deleted runs is left on disk
    folder = index_of(tmp_path / "cache", logs)
    assert (folder / CACHE_JOURNAL_FILE).read_bytes() == b""
    assert b'"2"' not in (folder / CACHE_INDEX_FILE).read_bytes()


def test_the_journal_is_folded_into_the_index(logs, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "JOURNAL_MIN_BYTES", 0)
    folder = index_of(tmp_path / "cache", logs)
    quiet(logs)
    for step in range(30):  # a live run: its info changes between reads
        write_run(logs, 1, status="RUNNING" if step % 2 else "COMPLETE")
        quiet(logs).search("train.loss.last < 1")
        index, journal = (
            (folder / n).stat().st_size for n in (CACHE_INDEX_FILE, CACHE_JOURNAL_FILE)
        )
        assert journal <= cache.JOURNAL_SHARE * index + 2000
    assert len(entries(tmp_path / "cache", logs).row_runs()) == 6


def test_summaries_follow_the_log_and_the_index_is_not_rewritten_needlessly(logs, tmp_path):
    reader = quiet(logs)
    assert reader.search("train.loss.last < 0.05").log_ids == [6]
    folder = index_of(tmp_path / "cache", logs)
    stamps = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert len(entries(tmp_path / "cache", logs).summaries) == 6
    assert quiet(logs).search("train.loss.last < 0.05").log_ids == [6]
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    write_metrics(logs / "1", "train", [{"loss": 0.01, "epoch": 4}])  # run 1 goes on
    assert reader.search("train.loss.last < 0.05").log_ids == [6], "one snapshot until refresh"
    assert reader.search("train.loss.last < 0.05", refresh=True).log_ids == [1, 6]
    assert reader.search("train.loss.count == 5").log_ids == [1]
    assert quiet(logs).search("train.loss.count == 5").log_ids == [1]


def test_cache_location_settings(logs, tmp_path, monkeypatch):
    monkeypatch.delenv("MLXLAUNCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    quiet(logs)
    assert len(entries(tmp_path / "xdg" / "mlxlaunch", logs).row_runs()) == 6
    quiet(logs, cache_dir=tmp_path / "explicit")
    assert len(entries(tmp_path / "explicit", logs).row_runs()) == 6
    monkeypatch.setenv("MLXLAUNCH_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg2"))
    assert len(quiet(logs)) == 6
    assert not (tmp_path / "xdg2").exists()


def test_a_cache_inside_the_logs_folder_is_never_written(logs):
    before = snapshot(logs)
    assert quiet(logs, cache_dir=logs / ".cache").search("config.seed == 1").log_ids == [1, 3, 5]
    assert snapshot(logs) == before


def test_unwritable_cache_does_not_break_reading(logs, tmp_path):
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    reader = quiet(logs, cache_dir=blocker / "sub")
    assert reader.search("config.seed == 1").log_ids == [1, 3, 5]
    assert reader.search("train.loss.last < 1").log_ids == [1, 2, 3, 4, 5, 6]


def test_cache_command_shows_prunes_and_clears(logs, tmp_path):
    cache_root = tmp_path / "cache"
    other = tmp_path / "other"
    write_run(other, 1)
    quiet(logs)
    quiet(other)
    (cache_root / CACHE_RUNS_DIR).mkdir()  # what versions before the index left
    (cache_root / CACHE_RUNS_DIR / "0123.json").write_text("{}")
    env = dict(os.environ, PYTHONPATH=str(REPO))

    def cli(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "mlxlaunch.cli", "cache", *args],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return out.stdout

    shown = cli()
    assert f"{cache_root}: 2 index(es)" in shown and str(other) in shown
    shutil.rmtree(other)
    shutil.rmtree(logs / "3")
    assert "removed 2 stale index(es)" in cli("prune")  # the gone folder's, and runs/
    assert not (cache_root / CACHE_RUNS_DIR).exists()
    assert [p.name for p in (cache_root / "index").iterdir()] == [index_of(cache_root, logs).name]
    assert "3" not in entries(cache_root, logs).row_runs()
    assert "cleared" in cli("clear")
    assert not (cache_root / "index").exists()
    assert quiet(logs).search("config.seed == 1").log_ids == [1, 5]


READER = """
import sys, warnings
warnings.simplefilter("ignore")
from mlxlaunch.reader import Reader

for i in range(int(sys.argv[2])):
    reader = Reader(sys.argv[1], progress=False)
    reader.search("train.loss.last < 10 | info.status == 'COMPLETE'")
print("ok")
"""

WRITER = """
import json, shutil, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from test_reader_layouts import write_metrics, write_run

logs = Path(sys.argv[1])
for i in range(int(sys.argv[2])):
    log_id = 100 + i
    write_run(logs, log_id, config={"seed": i}, metrics={"train": [{"loss": 1.0}]})
    write_metrics(logs / str(log_id - 1), "train", [{"loss": 0.5}]) if i else None
    if i % 3 == 2:
        shutil.rmtree(logs / str(log_id - 2))
    write_run(logs, 1 + i % 6, status=["COMPLETE", "FAILED"][i % 2])
print("ok")
"""


@pytest.mark.slow
def test_several_readers_and_writers_share_one_index(logs, tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "JOURNAL_MIN_BYTES", 0)  # children: compact often, see below
    env = dict(os.environ, PYTHONPATH=str(REPO))
    small = "import mlxlaunch.reader.cache as c; c.JOURNAL_MIN_BYTES = 0\n"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", small + textwrap.dedent(READER), str(logs), "15"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    procs.append(
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(WRITER), str(logs), "40", str(REPO / "tests")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
    # whatever the interleaving, the index gives what the files say
    assert _everything(quiet(logs)) == _everything(quiet(logs, cache_dir=False))
    present = {p.name for p in logs.iterdir()}
    assert set(entries(tmp_path / "cache", logs).row_runs()) <= present


SUMMARIES = """
import sys, time, warnings
warnings.simplefilter("ignore")
import mlxlaunch.reader.cache as c
c.JOURNAL_MIN_BYTES = 0; c.JOURNAL_SHARE = 0  # every write is a compaction: the riskiest path
from mlxlaunch.reader import Reader

reader = Reader(sys.argv[1], progress=False)
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all write at the same moment
reader.search(f"{sys.argv[2]}.loss.last < 10")
print("ok")
"""


@pytest.mark.slow
def test_no_process_loses_another_ones_entries(tmp_path):
    logs = tmp_path / "logs"
    names = ["a", "b", "c", "d"]
    for log_id in range(1, 301):
        write_run(logs, log_id, metrics={name: [{"loss": 1.0}] for name in names})
    quiet(logs)  # the rows are in the index; each process adds the summaries of one log
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = f"{__import__('time').time() + 3:.3f}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(SUMMARIES), str(logs), name, start],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.strip() == "ok", err[-2000:]
    held = entries(tmp_path / "cache", logs)
    assert len(held.row_runs()) == 300
    missing = {name: 300 - sum(log == name for _, log in held.summaries) for name in names}
    assert missing == dict.fromkeys(names, 0)


# ---------------------------------------------------------------- metric log names


def _age(folder: Path, seconds: float = 60.0) -> int:
    """Set ``folder``'s mtime ``seconds`` in the past (as if written then); its new mtime_ns."""
    stamp = folder.stat().st_mtime_ns - int(seconds * 1e9)
    os.utime(folder, ns=(stamp, stamp))
    return stamp


def _names_listed(monkeypatch) -> list[str]:
    """Record each listing of a ``metrics/`` folder (a cached read lists none)."""
    from mlxlaunch.reader import metrics

    listed: list[str] = []
    real = metrics.log_names
    monkeypatch.setattr(metrics, "log_names", lambda d, p=None: listed.append(d) or real(d, p))
    return listed


def test_log_names_come_from_the_index_until_a_log_is_added_or_removed(logs, monkeypatch):
    for log_id in range(1, 7):
        _age(logs / str(log_id) / "metrics")
    listed = _names_listed(monkeypatch)
    assert [run.log_names for run in quiet(logs).search("")] == [["train"]] * 6
    assert len(listed) == 6
    listed.clear()
    assert [run["train.loss"].size for run in quiet(logs).search("")] == [4] * 6
    assert listed == [], "the names were listed again though no metrics/ changed"
    # a run gets a new log (a resumed run, a file copied in), another loses its log
    write_metrics(logs / "2", "eval", [{"acc": 0.5}])
    (logs / "3" / "metrics" / "train.json").unlink()
    runs = quiet(logs).search("")
    assert runs[1].log_names == ["eval", "train"]
    assert runs[1]["eval.acc"].tolist() == [0.5]
    assert runs[2].log_names == []
    assert "train.loss" not in runs[2]
    assert [run.log_names for run in runs[3:]] == [["train"]] * 3


def test_a_live_run_starting_a_log_is_seen_even_within_one_clock_tick(logs, monkeypatch):
    import socket

    write_run(
        logs, 7, status="RUNNING", info={"hostname": socket.gethostname(), "pid": os.getpid()}
    )
    write_metrics(logs / "7", "train", [{"loss": 1.0}])
    metrics_dir = logs / "7" / "metrics"
    stamp = _age(metrics_dir)
    assert quiet(logs).search("log_id == 7")[0].log_names == ["train"]
    write_metrics(logs / "7", "eval", [{"acc": 0.5}])
    os.utime(metrics_dir, ns=(stamp, stamp))  # a file system whose clock did not move
    run = quiet(logs).search("log_id == 7")[0]
    assert run.status == "RUNNING"
    assert run.log_names == ["eval", "train"]


def test_a_metrics_folder_changed_just_now_is_not_cached(logs):
    metrics_dir = logs / "1" / "metrics"
    stamp = metrics_dir.stat().st_mtime_ns  # written just now (the fixture)
    assert quiet(logs).search("log_id == 1")[0].log_names == ["train"]
    write_metrics(logs / "1", "eval", [{"acc": 0.5}])  # within the same tick of a coarse clock
    os.utime(metrics_dir, ns=(stamp, stamp))
    assert quiet(logs).search("log_id == 1")[0].log_names == ["eval", "train"]


def test_entries_queued_outside_a_search_are_written_once_at_exit(logs, tmp_path):
    for log_id in range(1, 7):
        _age(logs / str(log_id) / "metrics")
    script = textwrap.dedent(
        f"""
        import mlxlaunch
        runs = mlxlaunch.Reader({str(logs)!r}, progress=False).search("")
        print(sum(run["train.loss"].size for run in runs if run.log_names == ["train"]))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "24"
    assert sorted(entries(tmp_path / "cache", logs).names) == [str(i) for i in range(1, 7)]
    journal = (index_of(tmp_path / "cache", logs) / CACHE_JOURNAL_FILE).read_bytes()
    assert journal.count(b'["L"') == 6
    assert journal.strip().count(b"\n\n") == 0, "one append for the loop, not one per run"


def _columns_read(reader: Reader) -> set[str]:
    """The keys whose column a reader parsed from its compacted index."""
    entries = reader._context.cache.entries
    return {
        entries.shapes[block.shape][position]
        for block in entries.blocks
        for position in range(block.width)
        if block._columns[position] is not None
    }


def test_a_repeated_search_parses_only_the_columns_it_reads(logs):
    """The compacted index holds rows by column: a search over 100,000 runs parses the
    two or three keys it looks at, not forty values per run (issue 17)."""
    expected = quiet(logs, cache_dir=False).search("config.optimizer.lr <= 0.01")
    quiet(logs)  # writes the index
    reader = quiet(logs)
    runs = reader.search("config.optimizer.lr <= 0.01")
    assert runs.log_ids == expected.log_ids == [1, 2, 4, 5]
    assert _columns_read(reader) == {"config.optimizer.lr", "info.status"}
    assert [run.row for run in runs] == [run.row for run in expected]  # every key, alike
    assert "config.seed" in _columns_read(reader)


def test_runs_read_from_the_index_travel_alone(logs):
    """A run read from the index pickles (to a worker process) with its own values, not
    the whole index, and compares equal to the same run read from its files."""
    import pickle

    quiet(logs)
    runs = quiet(logs).search("")
    assert runs[1]["train.loss"].size == 4  # a loaded run, and a cache that holds entries
    data = pickle.dumps(runs[0])
    assert str(logs / "2").encode() not in data, "another run's entries went along"
    assert pickle.loads(data).row == runs[0].row == quiet(logs, cache_dir=False).search("")[0].row


def test_a_block_that_does_not_add_up_is_read_again_from_the_files(logs, tmp_path, monkeypatch):
    quiet(logs)
    index = index_of(tmp_path / "cache", logs) / CACHE_INDEX_FILE
    lines = index.read_bytes().split(b"\n")
    column = next(i for i, line in enumerate(lines) if line.startswith(b'["V",'))
    lines[column] = lines[column][:-2] + b"]"  # one value short: not the recorded length
    index.write_bytes(b"\n".join(lines))
    parsed = []
    real = scan.load_yaml_tolerant
    monkeypatch.setattr(scan, "load_yaml_tolerant", lambda p: parsed.append(p) or real(p))
    assert quiet(logs).search("config.seed == 0").log_ids == [2, 4, 6]
    assert len(parsed) == 12, "the block's runs are misses, parsed again"


def test_a_column_changed_in_place_is_a_one_line_error_and_clear_mends_it(logs, tmp_path):
    from mlxlaunch.errors import CacheDamaged

    quiet(logs)
    index = index_of(tmp_path / "cache", logs) / CACHE_INDEX_FILE
    data = index.read_bytes()
    start = data.index(b'["V",')
    end = data.index(b"\n", start)
    start += 5  # a column's line still, of the length its block recorded, but not JSON
    index.write_bytes(data[:start] + b"x" * (end - start) + data[end:])
    runs = quiet(logs).search("")
    with pytest.raises(CacheDamaged, match=r"damaged; remove it with `mlxlaunch cache clear`"):
        [run.row for run in runs]
    cache.clear(tmp_path / "cache")
    assert quiet(logs).search("config.seed == 0").log_ids == [2, 4, 6]


def test_rows_of_several_shapes_and_a_run_that_changed_shape(logs, tmp_path, monkeypatch):
    """Two config shapes make two blocks; a run whose config gains a key moves from one
    to the other through the journal, and a compaction keeps exactly the newest rows."""
    monkeypatch.setattr(cache, "JOURNAL_MIN_BYTES", 0)
    write_run(logs, 7, config={"seed": 3, "extra": {"depth": 4}})
    quiet(logs)
    assert len(entries(tmp_path / "cache", logs).blocks) == 2
    write_run(logs, 2, config={"seed": 0, "optimizer": {"lr": 0.5, "name": "adam"}, "new": 1})
    reader = quiet(logs)  # the journal now holds run 2's new row (or a compaction did)
    for held in (entries(tmp_path / "cache", logs), reader._context.cache.entries):
        assert held.row_runs() == {str(i) for i in range(1, 8)}
    monkeypatch.setattr(cache, "JOURNAL_SHARE", 0.0)
    write_run(logs, 5, status="FAILED", config={"seed": 1, "optimizer": {"lr": 0.1, "name": "sgd"}})
    quiet(logs)  # compacts
    held = entries(tmp_path / "cache", logs)
    assert not held.rows and len(held.blocks) == 3
    in_blocks = sorted((run for block in held.blocks for run in block.runs), key=int)
    assert in_blocks == [str(i) for i in range(1, 8)], "each run's newest row, once"
    fresh = quiet(logs)
    uncached = quiet(logs, cache_dir=False)
    assert [r.row for r in fresh.search("")] == [r.row for r in uncached.search("")]
    assert fresh.search("config.new == 1").log_ids == [2]
    assert fresh.search("info.status == 'FAILED'").log_ids == [5, 6]
