"""The Reader on mlxlaunch run folders: search, lazy metrics, statuses, caching, artifacts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings

import pytest
from test_reader_layouts import write_metrics, write_run

from mlxlaunch.errors import UsageError
from mlxlaunch.reader import QueryError, Reader, ReaderWarning, RunTable

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


def quiet_reader(path, **kw) -> Reader:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReaderWarning)  # a clean folder gives no warning
        return Reader(path, **kw)


def test_len_fields_searchable_and_search(logs):
    reader = quiet_reader(logs)
    assert len(reader) == 6
    fields = reader.fields
    assert fields.loc["config.optimizer.lr", "type"] == "float"
    assert fields.loc["config.optimizer.lr", "source"] == "config"
    assert fields.loc["info.status", "source"] == "info"
    assert fields.loc["train.loss", "source"] == "metric"
    assert "train.loss.last" in reader.searchable.index
    runs = reader.search("config.optimizer.lr <= 1e-2 & info.status == 'COMPLETE'")
    assert isinstance(runs, RunTable)
    assert runs.log_ids == [1, 2, 4, 5]
    assert reader.search("").log_ids == list(range(1, 7))
    assert reader.search("~(config.seed == 1) | info.status in ['FAILED']").log_ids == [2, 4, 6]
    frame = reader.search("config.seed == 0", as_pandas=True)
    assert list(frame.index) == [2, 4, 6] and frame.index.name == "log_id"
    # MLXP's spelling gives MLXP's table: rows from 0, metric columns loaded as lists
    mlxp_table = reader.search(query_string="config.seed == 0", asPandas=True)
    assert list(mlxp_table.index) == [0, 1, 2]
    assert list(mlxp_table["config.optimizer.lr"]) == list(frame["config.optimizer.lr"])
    assert all(isinstance(v, list) for v in mlxp_table["train.loss"])


def test_unknown_key_is_a_query_error_with_suggestion(logs):
    reader = quiet_reader(logs)
    with pytest.raises(QueryError, match="Did you mean.*'config.optimizer.lr'"):
        reader.search("config.optimizer.lrr < 1")
    with pytest.raises(QueryError, match="Unknown key 'train.los.last'") as info:
        reader.search("info.status == 'COMPLETE' & train.los.last < 1")
    assert info.value.column == len("info.status == 'COMPLETE' & ")
    with pytest.raises(QueryError, match="Expected a value"):
        reader.search("config.seed ==")


def test_metric_summaries_in_queries(logs):
    reader = quiet_reader(logs)
    assert reader.search("train.loss.last < 0.05").log_ids == [6]  # 1 / (6 * 4)
    assert reader.search("train.loss.max >= 0.5").log_ids == [1, 2]
    assert reader.search("train.epoch.count == 4").log_ids == list(range(1, 7))
    assert reader.search("train.loss.min == 'low'").log_ids == []  # a number never equals a string
    # A second reader answers from the summaries cached per run.
    again = quiet_reader(logs)
    assert again.search("train.loss.last < 0.05").log_ids == [6]


def test_lazy_metrics_loaded_once_and_reloaded_on_refresh_when_the_file_grows(logs):
    reader = quiet_reader(logs)
    runs = reader.search("config.seed == 1")
    run = runs[0]
    assert run._logs == {}, "metrics were read before being asked for"
    loss = run["train.loss"]
    assert list(loss) == pytest.approx([1.0, 0.5, 1 / 3, 0.25])
    assert run["train.loss"] is loss, "the series was parsed twice"
    write_metrics(logs / "1", "train", [{"loss": 0.1, "epoch": 4}])
    # one snapshot until the reader is refreshed: the columns of a log always agree
    assert len(run["train.loss"]) == len(run["train.epoch"]) == 4
    assert run["train.loss.count"] == 4
    reader.refresh()
    assert len(run["train.loss"]) == 5
    assert list(run["train"].columns) == ["step", "loss", "epoch"]
    assert run["train.loss.last"] == pytest.approx(0.1)
    assert run["config.optimizer.lr"] == 0.01
    with pytest.raises(KeyError, match="Did you mean.*'train.loss'"):
        run["train.losss"]


def test_refresh_after_a_loaded_log_changed_reads_it_again_in_every_run(logs):
    """Runs hold no log until one is loaded (all share one empty, read-only mapping):
    loading one run's log, then a refresh after it changed, touches only that run."""
    reader = quiet_reader(logs)
    one, two = reader.search("log_id in [1, 2]")
    assert one["train.loss"].size == 4 and two._logs == {} and two._summaries == {}
    write_metrics(logs / "1", "train", [{"loss": 0.1, "epoch": 4}])
    reader.refresh()
    assert one["train.loss"].size == 5 and two._logs == {}
    assert two["train.loss.count"] == 4 and list(two._summaries) == ["train"]
    assert one._summaries == {}


def test_runs_go_to_other_processes_with_or_without_loaded_logs(logs):
    """A table of runs pickles (multiprocessing, joblib): loaded logs travel, and a run
    without any loads its own after the trip."""
    import pickle

    runs = quiet_reader(logs).search("log_id in [1, 2]")
    assert runs[0]["train.loss"].size == 4
    one, two = pickle.loads(pickle.dumps(runs))
    assert one._logs["train"].loaded == ["loss"] and one["train.epoch"].size == 4
    assert two["train.loss"].size == 4 and two.log_names == ["train"]
    assert runs[1]._logs == {}, "the trip loaded nothing in the original"


def test_summary_columns_come_from_the_cache_without_parsing_logs(logs):
    reader = quiet_reader(logs)
    assert reader.search("train.loss.last < 1").log_ids == list(range(1, 7))  # fills the cache
    runs = quiet_reader(logs).search("")
    frame = runs.to_pandas(metrics=["train.loss.last"])
    assert frame.loc[2, "train.loss.last"] == pytest.approx(1 / 8)
    assert all(run._logs == {} for run in runs), "a cached summary parsed the log again"


def test_runs_compare_by_folder_without_loading_metrics(logs):
    runs = quiet_reader(logs).search("")
    again = quiet_reader(logs).search("")[0]
    assert again == runs[0] and again != runs[1] and {again, runs[0]} == {runs[0]}
    assert runs.index(runs[4]) == 4 and again in runs
    assert all(run._logs == {} for run in runs) and again._logs == {}
    assert "train.loss" in again and "train" in again and "config.seed" in again
    assert again._logs == {}, "'in' loaded the log"
    assert "train.nope" not in again and "nope" not in again and 3 not in again
    assert "train.loss.last" in again and "train.loss.nope" not in again


def test_to_pandas_metrics_diff(logs):
    runs = quiet_reader(logs).search("info.status == 'COMPLETE'")
    frame = runs.to_pandas()
    assert "config.optimizer.lr" in frame and "train.loss" not in frame
    frame = runs.to_pandas(metrics=["train.loss", "train.loss.last"])
    assert len(frame.loc[3, "train.loss"]) == 4
    assert frame.loc[2, "train.loss.last"] == pytest.approx(1 / 8)
    long = runs.metrics("train", columns=["config.optimizer.lr"])
    assert list(long.columns) == ["log_id", "step", "loss", "epoch", "config.optimizer.lr"]
    assert len(long) == 5 * 4
    means = long.groupby("config.optimizer.lr")["loss"].mean()
    assert len(means) == 3
    assert list(runs.diff().columns) == ["config.seed", "config.optimizer.lr"]
    assert runs[1:3].log_ids == [2, 3]
    assert list(runs["config.seed"]) == [1, 0, 1, 0, 1]
    with pytest.raises(Exception, match="Logs found: train"):
        runs.metrics("eval")
    with pytest.raises(UsageError, match="'config.optimizer.lrr'.*'config.optimizer.lr'"):
        runs.metrics("train", columns=["config.optimizer.lrr"])  # not a column of None


def test_repr_shows_placeholders_not_loaded_metrics(logs):
    runs = quiet_reader(logs).search("")
    text = repr(runs)
    assert text.startswith("RunTable: 6 runs (5 COMPLETE, 1 FAILED)")
    assert "<lazy>" in text and "config.optimizer.lr" in text
    assert "<table" in runs._repr_html_()
    assert all(run._logs == {} for run in runs), "rendering loaded metrics"
    runs[0]["train.loss"]  # once loaded, a log shows its length instead of the placeholder
    lines = repr(runs).splitlines()
    assert lines[3].endswith("4 records") and lines[4].endswith("<lazy>")


def test_lost_and_queued_statuses(tmp_path):
    logs = tmp_path / "logs"
    write_run(logs, 1, status="QUEUED", info={"hostname": None, "pid": None})
    stale = write_run(logs, 2, status="RUNNING", info={"heartbeat_interval": 1.0})
    (stale / "heartbeat").touch()
    old = time.time() - 3600
    os.utime(stale / "heartbeat", (old, old))
    fresh = write_run(logs, 3, status="RUNNING", info={"heartbeat_interval": 1.0})
    (fresh / "heartbeat").touch()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    write_run(
        logs, 4, status="RUNNING", info={"hostname": socket.gethostname(), "pid": int(dead.stdout)}
    )
    for _ in ("parsed", "from the index"):
        reader = quiet_reader(logs)
        assert [run.status for run in reader.search()] == ["QUEUED", "LOST", "RUNNING", "LOST"]
        assert reader.search("info.status == 'LOST'").log_ids == [2, 4]
        assert reader.search("info.status == 'QUEUED'").log_ids == [1]


def test_missing_logs_folder_or_a_run_folder_is_a_clear_error(logs, tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        Reader(tmp_path / "nope")
    with pytest.raises(Exception, match="is one run's folder; pass .*logs'"):
        Reader(logs / "2")


def test_artifacts_are_lazy_handles(logs):
    np = pytest.importorskip("numpy")
    from mlxlaunch.logger.logger import Logger

    logger = Logger(logs / "2", 2)
    logger.log_artifacts(np.arange(3), artifact_name="sub/w.npy", artifact_type="numpy")
    logger.close()
    run = quiet_reader(logs).search("log_id == 2")[0]
    handle = run.artifacts["sub/w.npy"]
    assert "not loaded" in repr(handle)
    assert list(handle.load()) == [0, 1, 2]
    assert "artifacts" in repr(quiet_reader(logs).search("log_id <= 2"))


@pytest.mark.parametrize(
    "query, suggestion",
    [
        ("train.los.last < 1", "'train.loss.last'"),
        ("train.loss.lst < 1", "'train.loss.last'"),
        ("train.loss < 1", "'train.loss.m"),  # a series: its summaries are searchable
    ],
)
def test_unknown_metric_summary_suggests_close_summaries(logs, query, suggestion):
    with pytest.raises(QueryError, match=f"Did you mean.*{suggestion}"):
        quiet_reader(logs).search(query)


def test_plot_method_writes_a_png(logs, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    reader = quiet_reader(logs)
    reader.plot("train.loss", "info.status == 'COMPLETE'", by="config.optimizer.lr", output=out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(Exception, match="no key 'los'"):
        reader.plot("train.los")


def test_plot_by_a_list_column_and_unwritable_output(logs, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")

    for log_id in (1, 2):  # a list value (like info.overrides) cannot be a dict/set key
        write_run(logs, log_id, config={"layers": [log_id, 8], "seed": 0}, metrics={})
        write_metrics(logs / str(log_id), "train", [{"loss": 1.0}, {"loss": 0.5}])
    runs = quiet_reader(logs).search("log_id <= 2")
    ax = runs.plot("train.loss", by="config.layers", output=tmp_path / "layers.png")
    legend = ax.get_legend()  # the key is the legend's title, each entry a value
    assert legend.get_title().get_text() == "config.layers"
    assert [t.get_text() for t in legend.get_texts()] == ["[1, 8]", "[2, 8]"]
    with pytest.raises(UsageError, match="Cannot write the plot to .*missing"):
        runs.plot("train.loss", output=tmp_path / "missing" / "x.png")
    with pytest.raises(UsageError, match="Cannot write the plot to .*x.abc"):
        runs.plot("train.loss", output=tmp_path / "x.abc")


def test_progress_line_only_when_slow(logs, capsys):
    quiet_reader(logs)
    assert "reading runs" not in capsys.readouterr().err


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_line_appears_after_a_second(capsys, monkeypatch, with_tqdm):
    from mlxlaunch.reader import scan

    if with_tqdm:
        pytest.importorskip("tqdm")
    else:  # without tqdm installed: a plain counter
        monkeypatch.setattr(scan, "_tqdm_bar", lambda total, label: None)
    clock = iter([100.0, 100.5, 101.5, 101.6])
    monkeypatch.setattr(scan.time, "perf_counter", lambda: next(clock))
    progress = scan.Progress(256, None)  # started at t=100
    progress.update(64)  # t=100.5: under a second, nothing
    assert capsys.readouterr().err == ""
    progress.update(128)  # t=101.5
    progress.close()
    err = capsys.readouterr().err
    if with_tqdm:
        assert "reading runs: 100%" in err and "256/256" in err and "|" in err
    else:
        assert err == "\rreading runs: 128/256\rreading runs: 256/256\n"
    hidden = scan.Progress(256, False)
    hidden.update(64)
    hidden.close()
    assert capsys.readouterr().err == ""


def test_unknown_metric_column_is_a_clear_error(logs):
    runs = quiet_reader(logs).search("")
    with pytest.raises(Exception, match="No run here has 'train.los'.*Did you mean.*'train.loss'"):
        runs.to_pandas(metrics=["train.los"])


def test_a_log_is_parsed_once_into_typed_columns_that_share_one_length(logs):
    """One snapshot of metrics/train.json gives every column: float64 / int64 arrays, no
    per-record objects kept, and the collector is running again afterwards."""
    import gc

    np = pytest.importorskip("numpy")
    write_metrics(logs / "1", "train", [{"loss": 0.5, "epoch": 4, "lr": 1}])
    run = quiet_reader(logs).search("log_id == 1")[0]
    loss, epoch, lr = run["train.loss"], run["train.epoch"], run["train.lr"]
    assert gc.isenabled()
    assert (loss.dtype, epoch.dtype) == (np.float64, np.int64)
    assert lr.dtype == np.float64 and np.isnan(lr[0]) and lr[-1] == 1.0  # missing -> NaN
    assert len(loss) == len(epoch) == len(lr) == 5
    assert run["train.loss"] is loss, "the log was parsed again"
    assert set(run._logs) == {"train"} and run._logs["train"].column("epoch") is epoch


def test_only_the_columns_asked_for_stay_in_memory(logs):
    """Loading train.loss of many runs keeps one array per run, not every key of the log;
    a query on summaries keeps none (the summaries are numbers in the index)."""
    reader = quiet_reader(logs)
    first = reader.search("log_id == 2")[0]
    assert first["train.loss"].size == 4 and first._logs["train"].loaded == ["loss"]
    runs = reader.search("train.loss.last < 1")  # every run's summaries
    assert [run._logs["train"].loaded for run in runs] == [[]] + [["loss"]] + [[]] * 4
    run = runs[0]
    loss = run["train.loss"]
    assert run._logs["train"].loaded == ["loss"]
    assert len(run["train.epoch"]) == len(loss) == 4
    assert run._logs["train"].loaded == ["loss", "epoch"]
    assert list(run.metrics("train").columns) == ["step", "loss", "epoch"]


@pytest.mark.parametrize("how", ["replaced", "rewritten in place"])
def test_a_log_rewritten_between_two_columns_moves_every_column_together(logs, how):
    """A column asked for later comes from the same bytes as the first; if the file no
    longer starts with them (replaced, or rewritten in place by another tool), the log
    is read anew and every column of it moves to the new content together."""
    run = quiet_reader(logs).search("log_id == 1")[0]
    assert run["train.loss"].tolist() == [1.0, 0.5, 1 / 3, 0.25]
    path = logs / "1" / "metrics" / "train.json"
    old = path.read_bytes()
    # the same lines with other values (same lengths: as many records in the old size)
    new = old.replace(b'"loss": 1.0', b'"loss": 9.0').replace(b'"loss": 0.5', b'"loss": 0.7')
    new += b'{"loss": 0.1, "epoch": 4}\n'
    if how == "replaced":
        (logs / "1" / "metrics" / "new.tmp").write_bytes(new)
        os.replace(logs / "1" / "metrics" / "new.tmp", path)
    else:
        with open(path, "r+b") as f:  # same inode, longer: the old size is a prefix of it
            f.write(new)
    assert run["train.epoch"].tolist() == [0, 1, 2, 3, 4]
    assert run["train.loss"].tolist() == [9.0, 0.7, 1 / 3, 0.25, 0.1]
    assert run["train.loss.count"] == 5


@pytest.mark.parametrize("how", ["replaced", "rewritten in place"])
def test_a_log_changed_between_two_columns_with_its_size_and_mtime_moves_together(logs, how):
    """The snapshot is the file's bytes, not only its size, mtime and inode: another
    content of the same size, given the same mtime (by a tool, or within one tick of the
    file system's clock), still moves every column of the log together."""
    run = quiet_reader(logs).search("log_id == 1")[0]
    assert run["train.loss"].tolist() == [1.0, 0.5, 1 / 3, 0.25]
    path = logs / "1" / "metrics" / "train.json"
    old, st = path.read_bytes(), path.stat()
    new = old.replace(b'"epoch": 0', b'"epoch": 7').replace(b'"loss": 1.0', b'"loss": 9.0')
    assert len(new) == len(old) and new != old
    if how == "replaced":  # a new file renamed over it: a new inode (or the old one, reused)
        (logs / "1" / "metrics" / "new.tmp").write_bytes(new)
        os.replace(logs / "1" / "metrics" / "new.tmp", path)
    else:
        with open(path, "r+b") as f:
            f.write(new)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    assert run["train.epoch"].tolist() == [7, 1, 2, 3]
    assert run["train.loss"].tolist() == [9.0, 0.5, 1 / 3, 0.25], "one snapshot for both"


def test_keys_only_later_records_have_are_found_from_the_same_snapshot(logs):
    """A first column reads only what it needs of the log's keys; a key that only later
    records have is still a column, a key, and a summary of that same snapshot, and a
    file replaced before it was looked for moves every column and key together."""
    write_metrics(logs / "1", "train", [{"loss": 0.5, "epoch": 4, "lr": 0.1}])
    write_metrics(logs / "2", "train", [{"loss": 0.5, "epoch": 4, "lr": 0.1}])
    one, two = quiet_reader(logs).search("log_id in [1, 2]")
    assert one["train.loss"].size == 5
    assert "train.lr" in one and one.metric_keys("train") == ["loss", "epoch", "lr"]
    assert one["train.lr"].tolist()[-1] == 0.1 and one["train.lr.count"] == 1
    assert list(one.metrics("train").columns) == ["step", "loss", "epoch", "lr"]
    assert two["train.loss"].size == 5
    path = logs / "2" / "metrics" / "train.json"
    path.write_text('{"loss": 3.0, "epoch": 0}\n{"loss": 2.0, "epoch": 1, "wd": 0.5}\n')
    assert two._logs["train"].keys == ("loss", "epoch", "wd"), "the file as it is now"
    assert two["train.loss"].tolist() == [3.0, 2.0] and two["train.wd"].size == 2
    with pytest.raises(KeyError, match="train.lr"):
        two["train.lr"]


def test_a_first_metric_access_finds_its_log_without_listing_metrics(logs, monkeypatch):
    """run["train.loss"] looks for metrics/train.loss.json then metrics/train.json (the
    longest log name wins, as with the listing); metrics/ is listed only when unsure."""
    from mlxlaunch.reader import metrics

    write_metrics(logs / "1", "a", [{"b.c": 1.0, "x": 2}])
    write_metrics(logs / "1", "a.b", [{"c": 3.0}])
    os.mkfifo(logs / "2" / "metrics" / "val.json")
    listed: list[str] = []
    real = metrics.log_names
    monkeypatch.setattr(metrics, "log_names", lambda d, p=None: listed.append(d) or real(d, p))
    reader = Reader(logs, cache_dir=False, progress=False)
    one, two = reader.search("log_id in [1, 2]")
    assert one["train.loss"].tolist() == [1.0, 0.5, 1 / 3, 0.25]
    assert one["a.b.c"].tolist() == [3.0], "the longest log name wins"
    assert one["a.x"].tolist() == [2]
    assert list(one["a.b"].columns) == ["step", "c"]
    assert one["train.loss.last"] == 0.25
    assert listed == []
    with pytest.warns(ReaderWarning, match="val.json: not a regular file"):
        with pytest.raises(KeyError, match="val.acc"):
            two["val.acc"]  # a FIFO: listed, reported, and not a log
    assert "val.json: not a regular file" in " ".join(reader.problems)
    assert one.log_names == ["a", "a.b", "train"]


def test_a_log_deleted_between_two_columns_moves_to_no_columns(logs):
    """The other column cannot come from the same bytes any more: like a replaced file,
    the log moves to what the file is now (gone), every column together."""
    run = quiet_reader(logs).search("log_id == 1")[0]
    assert run["train.loss"].size == 4
    (logs / "1" / "metrics" / "train.json").unlink()
    with pytest.raises(KeyError, match="run 1 has no key 'train.epoch'"):
        run["train.epoch"]
    assert run._logs["train"].signature == ()
    with pytest.raises(KeyError, match="run 1 has no key 'train.loss'"):
        run["train.loss"]
