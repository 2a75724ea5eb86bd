"""Damaged input costs only what is damaged, with one warning naming the file."""

from __future__ import annotations

import shutil
import warnings

import pytest
from test_reader_layouts import write_run

from mlxlaunch.reader import Reader, ReaderWarning

GOOD = [{"loss": 1.0, "epoch": 0}, {"loss": 0.5, "epoch": 1}, {"loss": 0.25, "epoch": 2}]


pytestmark = pytest.mark.usefixtures("private_reader_cache")


@pytest.fixture
def logs(tmp_path):
    logs = tmp_path / "logs"
    for log_id in (1, 2, 3):
        write_run(logs, log_id, metrics={"train": GOOD})
    return logs


def read(logs, **kw):
    """A Reader, with the ReaderWarnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = Reader(logs, **kw)
        runs = reader.search("")
        for run in runs:
            for name in run.log_names:
                run.log(name)
    return reader, runs, [str(w.message) for w in caught if issubclass(w.category, ReaderWarning)]


def only_warning(messages, path):
    assert len(messages) == 1, messages
    assert str(path) in messages[0]
    return messages[0]


def test_truncated_last_line_loses_only_that_line(logs):
    path = logs / "2" / "metrics" / "train.json"
    with open(path, "a") as f:
        f.write('{"loss": 0.1, "ep')
    reader, runs, messages = read(logs)
    assert "last line is truncated" in only_warning(messages, path)
    assert list(runs[1]["train.loss"]) == [1.0, 0.5, 0.25]
    assert len(reader) == 3 and list(runs[0]["train.loss"]) == [1.0, 0.5, 0.25]


def test_truncated_last_line_of_a_live_run_is_silent(tmp_path):
    logs = tmp_path / "logs"
    run = write_run(logs, 1, status="RUNNING", metrics={"train": GOOD})
    (run / "heartbeat").touch()
    with open(run / "metrics" / "train.json", "a") as f:
        f.write('{"loss": 0.1, "ep')  # the writer is between two bytes of a record
    _, runs, messages = read(logs)
    assert messages == []
    assert len(runs[0]["train.loss"]) == 3


def test_complete_last_line_without_newline_is_kept(logs):
    path = logs / "1" / "metrics" / "train.json"
    with open(path, "a") as f:
        f.write('{"loss": 0.1, "epoch": 3}')
    _, runs, messages = read(logs)
    assert messages == []
    assert list(runs[0]["train.loss"]) == [1.0, 0.5, 0.25, 0.1]


def test_bad_middle_line_loses_only_that_line(logs):
    path = logs / "3" / "metrics" / "train.json"
    lines = path.read_text().splitlines()
    lines.insert(1, '{"loss": 0.7, "epo')
    lines.insert(3, "[1, 2]")
    path.write_text("\n".join(lines) + "\n")
    _, runs, messages = read(logs)
    assert len(messages) == 2 and all(str(path) in m for m in messages)
    assert "line 2" in messages[0] and "line 4" in messages[1]
    assert list(runs[2]["train.loss"]) == [1.0, 0.5, 0.25]
    assert list(runs[2]["train.epoch"]) == [0, 1, 2]


def test_non_numeric_values_keep_their_column(logs):
    path = logs / "1" / "metrics" / "train.json"
    with open(path, "a") as f:
        f.write('{"loss": "nan-ish", "epoch": 3}\n{"loss": NaN, "epoch": 4}\n')
    _, runs, messages = read(logs)
    assert messages == []
    loss = runs[0]["train.loss"]
    assert loss.dtype == object and loss[3] == "nan-ish" and loss[4] != loss[4]
    assert runs[0]["train.epoch"].dtype.kind == "i"  # ints stay ints


def test_empty_info_yaml(logs):
    path = logs / "2" / "metadata" / "info.yaml"
    path.write_text("")
    reader, runs, messages = read(logs)
    assert "empty" in only_warning(messages, path)
    assert runs[1].status == "UNKNOWN" and runs[1]["config.seed"] == 2
    assert reader.search("info.status == 'UNKNOWN'").log_ids == [2]
    assert reader.search("info.status == 'COMPLETE'").log_ids == [1, 3]


def test_partial_info_yaml_keeps_its_readable_beginning(logs):
    path = logs / "2" / "metadata" / "info.yaml"
    text = path.read_text()
    cut = text.index("hostname")
    path.write_text(text[:cut] + 'hostname: "unterminated\n')
    _, runs, messages = read(logs)
    assert "damaged; kept the first" in only_warning(messages, path)
    assert runs[1].status == "COMPLETE" and runs[1]["info.attempt"] == 1
    assert "info.hostname" not in runs[1].row


def test_partial_config_yaml(logs):
    path = logs / "1" / "metadata" / "config.yaml"
    path.write_text("seed: 1\noptimizer:\n  lr: [0.1,\n")
    _, runs, messages = read(logs)
    only_warning(messages, path)
    assert runs[0]["config.seed"] == 1 and runs[0].status == "COMPLETE"


def test_missing_config_yaml(logs):
    path = logs / "3" / "metadata" / "config.yaml"
    path.unlink()
    reader, runs, messages = read(logs)
    assert "missing" in only_warning(messages, path)
    assert runs[2].status == "COMPLETE" and "config.seed" not in runs[2].row
    assert reader.search("config.seed >= 1").log_ids == [1, 2]


def test_missing_metadata_folder(logs):
    shutil.rmtree(logs / "3" / "metadata")
    reader, runs, messages = read(logs)
    only_warning(messages, logs / "3" / "metadata")
    assert runs.log_ids == [1, 2, 3] and runs[2].status == "UNKNOWN"
    assert len(runs[2]["train.loss"]) == 3, "its metrics are still readable"


def test_stray_folders_and_files(logs):
    (logs / "notes.txt").write_text("hello")
    (logs / "old_runs").mkdir()
    (logs / "7").write_text("a file with a numeric name")
    (logs / "007").mkdir()
    (logs / ".hidden").mkdir()  # dot entries (editors, sync tools) are ignored silently
    _, runs, messages = read(logs)
    assert runs.log_ids == [1, 2, 3]
    assert len(messages) == 4
    for name in ("notes.txt", "old_runs", "7", "007"):
        assert sum(str(logs / name) + ":" in m for m in messages) == 1, name


@pytest.mark.parametrize("name", ["7", "007", "\u0663", "12\u00b2"])
def test_a_stray_with_a_numeric_looking_name_among_runs_only_is_reported(logs, name):
    """A logs folder of run folders only is listed without Python code per entry; one
    entry that only looks like a run (a file, a leading zero, non-ASCII digits) is still
    reported and skipped."""
    if name == "7":
        (logs / name).write_text("a file with a numeric name")
    else:
        (logs / name).mkdir()
    _, runs, messages = read(logs)
    assert runs.log_ids == [1, 2, 3]
    assert only_warning(messages, logs / name).endswith("skipped")


def test_each_problem_warns_once_and_again_from_the_cache(logs):
    (logs / "2" / "metadata" / "info.yaml").write_text("")
    reader, _, messages = read(logs)
    assert len(messages) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader.refresh()
        reader.search("")
    assert [w for w in caught if issubclass(w.category, ReaderWarning)] == []
    again, _, messages = read(logs)  # from the cache entry: the problem is still reported
    assert len(messages) == 1 and again.problems == messages


def test_many_problems_are_capped(tmp_path):
    logs = tmp_path / "logs"
    for log_id in range(1, 31):
        write_run(logs, log_id)
        (logs / str(log_id) / "metadata" / "info.yaml").write_text("")
    reader, runs, messages = read(logs)
    assert len(runs) == 30 and len(reader.problems) == 30
    assert len(messages) == 21 and "reader.problems lists all" in messages[-1]


def test_missing_keys_file_still_lets_queries_use_the_metric(logs):
    (logs / "2" / "metrics" / ".keys" / "train.yaml").unlink()
    for log_id in (1, 3):
        (logs / str(log_id) / "metrics" / ".keys" / "train.yaml").write_text("")
    reader, _, messages = read(logs)
    assert messages == []
    assert reader.search("train.loss.last < 0.3").log_ids == [1, 2, 3]
    assert "train.epoch" in reader.fields.index


# ---------------------------------------------------------------- property: only bad lines are lost

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mlxlaunch.reader.metrics import _records  # noqa: E402

records = st.lists(
    st.dictionaries(
        st.sampled_from(["loss", "acc", "epoch", "name"]),
        st.one_of(
            st.integers(-1000, 1000), st.floats(allow_nan=False), st.text(max_size=5), st.none()
        ),
        min_size=1,
    ),
    max_size=8,
)
garbage = st.sampled_from(['{"loss": 0.1, "ep', "not json", "[1, 2]", '{"x":}', "3", '"s"', "{"])


@settings(max_examples=200, deadline=None)
@given(records, st.lists(st.tuples(st.integers(0, 8), garbage), max_size=4), st.booleans())
def test_damaged_lines_cost_only_themselves(good, bad, final_newline):
    import json

    lines = [json.dumps(r) for r in good]
    for position, junk in sorted(bad, reverse=True):
        lines.insert(min(position, len(lines)), junk)
    data = "\n".join(lines) + ("\n" if final_newline else "")
    parsed, problems = _records(data.encode(), "train.json", live=False)
    assert parsed == good
    assert len(problems) == len(bad)


def test_summaries_tell_a_missing_value_from_a_logged_nan(tmp_path):
    logs = tmp_path / "logs"
    run = write_run(logs, 1)
    (run / "metrics").mkdir()
    (run / "metrics" / "train.json").write_text(
        '{"loss": 1.0, "acc": 0.5}\n{"loss": 0.5}\n{"loss": NaN, "acc": 0.7}\n{"loss": 0.2, "note": "x"}\n'
    )
    write_run(logs, 2, metrics={"train": [{"loss": 1.0, "acc": 0.1}, {"loss": float("nan")}]})
    _, runs, messages = read(logs)
    assert messages == []
    run1 = runs[0]
    assert run1["train.loss.last"] == 0.2 and run1["train.loss.min"] == 0.2
    assert run1["train.acc.count"] == 2 and run1["train.acc.last"] == 0.7  # not the missing 4th
    assert run1["train.note.count"] == 1 and run1["train.note.first"] == "x"
    reader = Reader(logs)
    # run 2 diverged: its last loss is NaN, so it is not "below 0.5"; its min still counts
    assert reader.search("train.loss.last < 0.5").log_ids == [1]
    assert reader.search("train.loss.min >= 1").log_ids == [2]


def test_yaml_cut_in_the_middle_of_a_value_loses_that_value(logs):
    """A crash mid-write leaves a last line without its newline; what it holds may be a cut
    value that still parses ("noise: 0." of "noise: 0.1"): the line is dropped, with a warning."""
    path = logs / "1" / "metadata" / "config.yaml"
    path.write_text("seed: 1\ndata:\n  n_samples: 200\n  noise: 0.")
    _, runs, messages = read(logs)
    assert "damaged; kept the first 3 of 4 lines" in only_warning(messages, path)
    assert runs[0]["config.data.n_samples"] == 200 and "config.data.noise" not in runs[0].row
