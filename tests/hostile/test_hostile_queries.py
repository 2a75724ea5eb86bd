"""Threat: query strings and logged values built (or generated) to hang or crash the Reader.

* ``"config.seed == " + "1" * 50000 + "x"`` made the tokenizer's number pattern
  backtrack over every split of the digits (minutes); parsing is now linear
  (``benchmarks/bench_query_parse.py`` shows the time per KB, flat from 1 KB to 1 MB).
* 1,000 conditions joined by ``|`` or ``&`` raised ``RecursionError``: chains are
  now one n-ary node; nesting deeper than ``MAX_DEPTH`` is a one-line ``QueryTooDeep``.
* Diverged runs (NaN loss) can be found: ``isnan(train.loss.last)``, ``== nan``.
* ``log_metrics({"count": 10**400})`` was accepted, then every query over that log
  raised ``OverflowError``: it is refused at log time, naming the key, and such a
  value already on disk only costs its own column.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mlxlaunch.errors import MetricValueError, QueryError, QueryTooDeep
from mlxlaunch.logger.logger import Logger
from mlxlaunch.reader import Reader
from mlxlaunch.reader.query import MAX_DEPTH, evaluate, parse
from mlxlaunch.runfolder import allocate_run_dirs, write_config, write_info

REPO = Path(__file__).resolve().parents[2]


def make_runs(logs: Path, losses: list[list[float]]) -> list[Path]:
    """One COMPLETE run per list of losses (seed = its id), logged by the Logger."""
    made = []
    for log_id, run in allocate_run_dirs(logs, len(losses)):
        write_config(run, {"seed": log_id})
        write_info(run, {"status": "COMPLETE", "log_id": log_id})
        logger = Logger(run, log_id)
        for step, loss in enumerate(losses[log_id - 1]):
            logger.log_metrics({"loss": loss, "count": step}, log_name="train")
        made.append(run)
    return made


def reader(logs: Path) -> Reader:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # these folders are healthy: no warning expected
        return Reader(logs, cache_dir=False, progress=False)


# ---------------------------------------------------------------- parsing cannot hang


def test_a_huge_bad_number_is_refused_at_once_with_a_short_message() -> None:
    # 200,000 digits: hours with the backtracking pattern, milliseconds now. Run in a child
    # with a generous deadline: the assertion is "it returns", not a speed.
    code = (
        "from mlxlaunch.reader.query import parse, QueryError\n"
        "try:\n    parse('config.seed == ' + '1' * 200000 + 'x')\n"
        "except QueryError as err:\n    print(len(str(err)), err.column)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr
    length, column = map(int, proc.stdout.split())
    assert column == len("config.seed == ")
    assert length < 2000, "the error must show an excerpt, not the whole query"


def test_an_error_in_a_long_query_shows_the_part_around_it() -> None:
    query = " | ".join(f"config.seed == {i}" for i in range(5000)) + " | config.seed = 3"
    with pytest.raises(QueryError) as info:
        parse(query)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("'=' is not an operator (column")
    assert max(map(len, lines)) < 200
    caret = lines[2].index("^")
    assert lines[1][caret] == "=" and lines[1][caret - 12 : caret] == "config.seed "


# ---------------------------------------------------------------- long chains, deep nesting


@pytest.mark.parametrize("joint", [" | ", " & "])
@pytest.mark.parametrize("count", [1000, 50_000])
def test_long_chains_of_conditions_work(tmp_path: Path, joint: str, count: int) -> None:
    make_runs(tmp_path / "logs", [[1.0], [0.5], [0.1]])
    if joint == " | ":
        query = joint.join(f"config.seed == {i}" for i in range(count, 1, -1))  # ids 2..count
        expected = [2, 3]
    else:
        query = joint.join(f"config.seed <= {i}" for i in range(count, 1, -1))  # seed <= 2
        expected = [1, 2]
    assert reader(tmp_path / "logs").search(query).log_ids == expected
    summaries = joint.join(["train.loss.last < 0.8"] * count)
    assert reader(tmp_path / "logs").search(summaries).log_ids == [2, 3]


@pytest.mark.parametrize(
    "query",
    [
        "(" * 1000 + "config.seed == 1" + ")" * 1000,
        "~" * 1000 + "config.seed == 1",
        "~(" * 600 + "config.seed == 1" + ")" * 600,
        "(" * 100_000,  # unbalanced too: the depth is refused before the end is reached
    ],
)
def test_deep_nesting_is_one_clear_line(query: str) -> None:
    with pytest.raises(QueryTooDeep) as info:
        parse(query)
    err = info.value
    assert isinstance(err, QueryError) and err.exit_code == 2
    message = str(err)
    assert "\n" not in message and len(message) < 300
    assert f"more than {MAX_DEPTH} levels" in message and "remove redundant parentheses" in message
    assert err.column == MAX_DEPTH  # the first level too many


def test_nesting_up_to_the_limit_parses_and_evaluates() -> None:
    depth = MAX_DEPTH
    tree = parse("(" * depth + "config.seed == 1" + ")" * depth)
    assert evaluate(tree, {"config.seed": 1})
    tree = parse("~" * depth + "config.seed == 1")
    assert evaluate(tree, {"config.seed": 1}) is (depth % 2 == 0)
    mixed = "(~" * (depth // 2) + "config.seed == 1" + ")" * (depth // 2)
    assert evaluate(parse(mixed), {"config.seed": 2}) is ((depth // 2) % 2 == 1)


def test_deep_nesting_on_the_command_line_is_one_line_exit_2(tmp_path: Path) -> None:
    make_runs(tmp_path / "logs", [[1.0]])
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "runs", str(tmp_path / "logs"), "(" * 5000],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR="off"),
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "nested more than" in proc.stderr


# ---------------------------------------------------------------- diverged runs


def test_diverged_runs_can_be_found(tmp_path: Path) -> None:
    make_runs(
        tmp_path / "logs",
        [[1.0, 0.5], [1.0, math.nan], [1.0, math.inf], [1.0, 0.2, math.nan, 0.1]],
    )
    runs = reader(tmp_path / "logs")
    assert runs.search("isnan(train.loss.last)").log_ids == [2]
    assert runs.search("train.loss.last == nan").log_ids == [2]
    assert runs.search("train.loss.last in [nan, inf]").log_ids == [2, 3]
    assert runs.search("train.loss.last == inf | train.loss.last == -inf").log_ids == [3]
    assert runs.search("~isnan(train.loss.last) & train.loss.last < 1").log_ids == [1, 4]
    assert runs.search("train.loss.last != nan").log_ids == [1, 3, 4]
    assert runs.search("isnan(config.seed)").log_ids == []  # not a float: never NaN
    with pytest.raises(QueryError, match="Unknown key 'train.los.last'"):
        runs.search("isnan(train.los.last)")


# ---------------------------------------------------------------- values no log can hold


@pytest.mark.parametrize(
    "record, key",
    [
        ({"loss": 0.5, "count": 10**400}, "count"),
        ({"count": -(2**63) - 1}, "count"),
        ({"stats": {"n": 2**64}}, "stats.n"),
        ({"sizes": [1, 2, 10**30]}, "sizes[2]"),
    ],
)
def test_an_integer_beyond_64_bits_is_refused_at_log_time(
    tmp_path: Path, record: dict, key: str
) -> None:
    (run,) = make_runs(tmp_path / "logs", [[0.9]])
    path = run / "metrics" / "train.json"
    before = path.read_bytes()
    logger = Logger(run, 1)
    with pytest.raises(MetricValueError) as info:
        logger.log_metrics(record, log_name="train")
    message = str(info.value)
    assert f"Metric {key!r} is an integer of" in message and "\n" not in message
    assert isinstance(info.value, ValueError)
    assert path.read_bytes() == before, "nothing may be written"
    logger.log_metrics({"count": 2**63 - 1, "low": -(2**63)}, log_name="train")  # the limits fit
    assert reader(tmp_path / "logs").search("train.count.last == 9223372036854775807").log_ids == [
        1
    ]


def test_numpy_uint64_beyond_int64_is_refused(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    (run,) = make_runs(tmp_path / "logs", [[0.9]])
    with pytest.raises(MetricValueError, match="'count'"):
        Logger(run, 1).log_metrics({"count": np.uint64(2**64 - 1)}, log_name="train")


def test_a_huge_value_already_on_disk_costs_only_its_own_column(tmp_path: Path) -> None:
    runs = make_runs(tmp_path / "logs", [[0.9, 0.4], [0.8, 0.3], [0.7, 0.2]])
    with open(runs[1] / "metrics" / "train.json", "a") as f:  # written before it was refused
        f.write(json.dumps({"loss": 0.25, "count": 10**400}) + "\n")
    found = reader(tmp_path / "logs")
    assert found.search("train.loss.last < 1").log_ids == [1, 2, 3]
    assert found.search("train.count.last < 5").log_ids == [1, 3]
    assert found.search("train.count.last > 5").log_ids == [2]
    assert found.search("train.loss.min < 0.26").log_ids == [2, 3]
    count = found.search("log_id == 2")[0]["train.count"]
    assert count.dtype == object and count[-1] == 10**400, "the value is kept as it is"
    with open(runs[2] / "metrics" / "train.json", "a") as f:  # a float column meets it too
        f.write(json.dumps({"loss": 10**400}) + "\n")
    assert reader(tmp_path / "logs").search("train.loss.last < 1").log_ids == [1, 2]
