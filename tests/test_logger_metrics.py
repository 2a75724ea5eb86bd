"""log_metrics: one complete JSON line per call, converted values, NaN round-trip, no lost data."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlxlaunch.logger import jsonify
from mlxlaunch.logger.logger import Logger
from mlxlaunch.runfolder.metadata import load_yaml

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["orjson", "json"])
def encoder(request):
    """Run the test with orjson (when installed) and with the stdlib fallback."""
    if request.param == "orjson":
        pytest.importorskip("orjson")
    jsonify.use_orjson(request.param == "orjson")
    yield request.param
    jsonify.use_orjson(True)


def read_lines(path: Path) -> list[dict]:
    """Parse a metrics file as docs/logging.md says: UTF-8, records separated by b"\\n" only.

    (Not ``str.splitlines()``, which also splits on U+0085 and U+2028 inside strings.)
    """
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def same(a, b) -> bool:
    """Equality where NaN equals NaN (and the types match exactly)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def test_one_line_per_call_and_keys_file(tmp_path, encoder):
    logger = Logger(tmp_path, 1)
    logger.log_metrics({"loss": 0.5, "epoch": 0}, log_name="train")
    logger.log_metrics({"loss": 0.25, "epoch": 1, "lr": 0.1}, log_name="train")
    logger.log_metrics({"acc": 0.9}, log_name="eval")
    logger.close()
    assert read_lines(tmp_path / "metrics" / "train.json") == [
        {"loss": 0.5, "epoch": 0},
        {"loss": 0.25, "epoch": 1, "lr": 0.1},
    ]
    assert read_lines(tmp_path / "metrics" / "eval.json") == [{"acc": 0.9}]
    # MLXP's format: a mapping of every key ever logged to ""
    keys = load_yaml(tmp_path / "metrics" / ".keys" / "train.yaml")
    assert keys == {"loss": "", "epoch": "", "lr": ""}


def test_keys_survive_a_new_logger_on_the_same_run(tmp_path):
    Logger(tmp_path, 1).log_metrics({"a": 1}, log_name="train")
    resumed = Logger(tmp_path, 1)
    resumed.log_metrics({"b": 2}, log_name="train")
    assert load_yaml(tmp_path / "metrics" / ".keys" / "train.yaml") == {"a": "", "b": ""}


class Color(enum.Enum):
    RED = "red"


def test_numpy_path_enum_datetime_values_are_converted(tmp_path, encoder):
    np = pytest.importorskip("numpy")
    logger = Logger(tmp_path, 1)
    logger.log_metrics(
        {
            "f32": np.float32(1.5),
            "i64": np.int64(3),
            "flag": np.bool_(True),
            "zero_d": np.array(2.5),
            "vec": np.arange(3, dtype=np.int32),
            "mat": np.eye(2),
            "nan64": np.float64("nan"),
            "path": Path("/data/x"),
            "color": Color.RED,
            "when": dt.datetime(2024, 1, 2, 3, 4, 5),
            "nested": {"m": np.float16(0.5), "l": [np.int8(1), 2]},
        },
        log_name="train",
    )
    (row,) = read_lines(tmp_path / "metrics" / "train.json")
    expected = {
        "f32": 1.5,
        "i64": 3,
        "flag": True,
        "zero_d": 2.5,
        "vec": [0, 1, 2],
        "mat": [[1.0, 0.0], [0.0, 1.0]],
        "nan64": math.nan,
        "path": "/data/x",
        "color": "red",
        "when": "2024-01-02T03:04:05",
        "nested": {"m": 0.5, "l": [1, 2]},
    }
    assert same(row, expected), row


def test_torch_scalar_in_metrics(tmp_path):
    torch = pytest.importorskip("torch")
    logger = Logger(tmp_path, 1)
    logger.log_metrics({"loss": torch.tensor(0.5), "n": torch.tensor(3)}, log_name="train")
    assert read_lines(tmp_path / "metrics" / "train.json") == [{"loss": 0.5, "n": 3}]


def test_nan_and_inf_round_trip(tmp_path, encoder):
    logger = Logger(tmp_path, 1)
    record = {"nan": math.nan, "inf": math.inf, "ninf": -math.inf, "ok": 1.0, "l": [math.nan]}
    logger.log_metrics(record, log_name="train")
    (row,) = read_lines(tmp_path / "metrics" / "train.json")
    assert same(row, record), row  # never null: orjson's choice is not taken


def test_an_unconvertible_value_raises_and_leaves_files_untouched(tmp_path, encoder):
    logger = Logger(tmp_path, 1)
    logger.log_metrics({"loss": 1.0}, log_name="train")
    metrics = tmp_path / "metrics" / "train.json"
    keys = tmp_path / "metrics" / ".keys" / "train.yaml"
    before = (metrics.read_bytes(), keys.read_bytes())

    class Opaque:
        pass

    with pytest.raises(TypeError, match=r"'weird'.*Opaque"):
        logger.log_metrics({"loss": 2.0, "weird": Opaque()}, log_name="train")
    with pytest.raises(TypeError, match=r"'deep\.x\[1\]'"):
        logger.log_metrics({"deep": {"x": [1, {1, 2}]}}, log_name="train")
    name = b"caf\xe9.png".decode("utf-8", "surrogateescape")  # os.listdir of a latin-1 name
    with pytest.raises(TypeError, match=r"'file' holds a string that is not valid Unicode"):
        logger.log_metrics({"loss": 2.0, "file": name}, log_name="train")
    assert (metrics.read_bytes(), keys.read_bytes()) == before
    assert not (tmp_path / "metrics" / "other.json").exists()
    with pytest.raises(TypeError, match="dict"):
        logger.log_metrics([("loss", 1.0)], log_name="other")  # type: ignore[arg-type]
    assert not (tmp_path / "metrics" / "other.json").exists()


def test_the_callers_dict_is_not_modified(tmp_path, encoder):
    np = pytest.importorskip("numpy")
    record = {"a": np.float32(1.0), "b": 2}
    Logger(tmp_path, 1).log_metrics(record, log_name="train", step=4)
    assert type(record["a"]) is np.float32 and set(record) == {"a", "b"}


@pytest.mark.parametrize("name", ["info", "config", "launcher", "artifacts", "mlxp", "metadata"])
def test_reserved_log_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="reserved"):
        Logger(tmp_path, 1).log_metrics({"a": 1}, log_name=name)
    assert not (tmp_path / "metrics" / f"{name}.json").exists()


@pytest.mark.parametrize("name", ["a/b", "../train", "", ".keys", "x\\y", "/abs"])
def test_log_names_with_separators_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="Invalid log_name"):
        Logger(tmp_path, 1).log_metrics({"a": 1}, log_name=name)


def test_step_and_timestamp_fields(tmp_path):
    logger = Logger(tmp_path, 1)
    before = time.time()
    logger.log_metrics({"loss": 1.0}, log_name="train", step=7, timestamp=True)
    logger.log_metrics({"loss": 2.0}, log_name="train")
    first, second = read_lines(tmp_path / "metrics" / "train.json")
    assert first["_step"] == 7 and before <= first["_time"] <= time.time() + 1
    assert second == {"loss": 2.0}  # off by default: the record is exactly what was given
    with pytest.raises(ValueError, match="_step"):
        logger.log_metrics({"_step": 1}, log_name="train", step=2)


def open_fds() -> int:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc to count open files")
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("max_open", [None, 8])
def test_fifty_log_names_do_not_exhaust_file_handles(tmp_path, max_open):
    logger = Logger(tmp_path, 1, max_open_files=max_open)
    cap = logger._files.max_open
    assert cap <= 128
    baseline = open_fds()
    for step in range(3):
        for i in range(50):
            logger.log_metrics({"step": step, "i": i}, log_name=f"log{i}")
    assert open_fds() - baseline <= cap
    logger.close()
    assert open_fds() <= baseline
    for i in range(50):
        rows = read_lines(tmp_path / "metrics" / f"log{i}.json")
        assert rows == [{"step": s, "i": i} for s in range(3)]


def test_the_default_cap_follows_ulimit(monkeypatch):
    import resource

    from mlxlaunch.logger import logger as logger_module

    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 4096))
    assert logger_module.default_max_open_files() == 32
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert logger_module.default_max_open_files() == 128


def test_logging_after_close_reopens(tmp_path):
    logger = Logger(tmp_path, 1)
    logger.log_metrics({"a": 1}, log_name="train")
    logger.close()
    logger.log_metrics({"a": 2}, log_name="train")
    logger.close()
    assert read_lines(tmp_path / "metrics" / "train.json") == [{"a": 1}, {"a": 2}]


def test_threads_share_a_logger(tmp_path, encoder):
    logger = Logger(tmp_path, 1, max_open_files=2)

    def work(t: int) -> None:
        for i in range(300):
            logger.log_metrics({"t": t, "i": i}, log_name=f"log{i % 3}")

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = [r for i in range(3) for r in read_lines(tmp_path / "metrics" / f"log{i}.json")]
    assert sorted((r["t"], r["i"]) for r in rows) == [(t, i) for t in range(4) for i in range(300)]


def test_a_partial_last_line_stays_alone(tmp_path):
    """A record cut by a crash (full disk, older tool) never glues to the next good one."""
    path = tmp_path / "metrics" / "train.json"
    path.parent.mkdir()
    path.write_bytes(b'{"epoch": 0}\n{"epoch": 1, "lo')
    Logger(tmp_path, 1).log_metrics({"epoch": 2}, log_name="train")
    lines = path.read_text().splitlines()
    assert lines[0] == '{"epoch": 0}' and lines[1] == '{"epoch": 1, "lo'
    assert json.loads(lines[2]) == {"epoch": 2}


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # beyond: refused (tests/hostile)
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
records = st.dictionaries(
    st.text(max_size=10),
    st.one_of(
        scalars,
        st.lists(scalars, max_size=4),
        st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    ),
    max_size=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(records, min_size=1, max_size=5))
def test_any_json_record_round_trips(tmp_path_factory, batch):
    for use in (True, False):
        jsonify.use_orjson(use)
        folder = tmp_path_factory.mktemp("run")
        logger = Logger(folder, 1)
        for record in batch:
            logger.log_metrics(record, log_name="train")
        logger.close()
        rows = read_lines(folder / "metrics" / "train.json")
        assert len(rows) == len(batch)
        for row, record in zip(rows, batch):
            assert same(row, record), (row, record)
    jsonify.use_orjson(True)


KILL_SCRIPT = """
import sys
from mlxlaunch.logger import Logger
logger = Logger(sys.argv[1], 1)
payload = [i * 0.5 for i in range(200)]
for i in range(10_000_000):
    logger.log_metrics({"i": i, "payload": payload, "name": "x" * (i % 50)}, log_name="train")
"""


@pytest.mark.slow
def test_sigkill_during_thousands_of_calls_leaves_only_complete_lines(tmp_path):
    """Kill a process that logs as fast as it can: every line in the file is a whole record."""
    path = tmp_path / "metrics" / "train.json"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for attempt in range(2):  # the second process appends after the first one's death
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], env=env)
        try:
            deadline = time.time() + 60
            target = 3000 * (attempt + 1)
            while time.time() < deadline:
                if path.exists() and path.stat().st_size > target * 1100:
                    break
                time.sleep(0.01)
            else:
                pytest.fail("the logging process did not write enough")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
    data = path.read_bytes()
    assert data.endswith(b"\n")
    rows = [json.loads(line) for line in data.splitlines()]
    assert len(rows) >= 6000
    # each process wrote 0, 1, 2, ... with nothing lost or torn in between
    starts = [k for k, row in enumerate(rows) if row["i"] == 0]
    assert starts[0] == 0 and len(starts) == 2
    for chunk in (rows[: starts[1]], rows[starts[1] :]):
        assert [r["i"] for r in chunk] == list(range(len(chunk)))
        assert all(len(r["payload"]) == 200 for r in chunk)


def _log_from_another_process(logger: Logger, worker: int) -> None:
    for i in range(50):
        logger.log_metrics({"worker": worker, "i": i}, log_name="train")
    logger.close()


def test_a_logger_can_be_handed_to_worker_processes(tmp_path):
    import multiprocessing
    import pickle

    logger = Logger(tmp_path, 1)
    logger.log_metrics({"worker": -1, "i": 0}, log_name="train")
    assert pickle.loads(pickle.dumps(logger)).log_dir == tmp_path
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_log_from_another_process, args=(logger, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = read_lines(tmp_path / "metrics" / "train.json")
    assert len(rows) == 101 and sorted((r["worker"], r["i"]) for r in rows)[1:] == [
        (w, i) for w in range(2) for i in range(50)
    ]
