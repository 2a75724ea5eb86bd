"""Threat: the Reader meets damaged or hostile run folders left by others.

One odd entry used to break the whole Reader: ``ln -s 1234 logs/1234`` (a link loop) or a
numeric link into a folder the reader may not enter made ``Reader("logs")`` raise for every
run; a link loop in ``metrics/`` silently hid all of that run's metrics; a FIFO named
``info.yaml`` blocked the Reader forever; a mode-000 run folder was reported as
"metadata: missing". The Reader never opens anything but regular files (``O_NONBLOCK`` +
``fstat``), never fails the whole read because of one entry, and reports each damaged run
with the real reason. A run still being prepared (no ``info.yaml`` yet) is shown as
``PREPARING``, not as damaged; the columns of one log always have one length, even while
the run writes.

Permission cases need a reader that is not root: they run the Reader as a second Unix
user (``other_user``, root only) in a child process, as a group member would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from mlxlaunch.logger.logger import Logger
from mlxlaunch.reader import Reader
from mlxlaunch.reader.scan import PREPARE_GRACE
from mlxlaunch.runfolder import allocate_run_dirs, write_config, write_info

REPO = Path(__file__).resolve().parents[2]

#: Reads a logs folder and prints what a user would see, as JSON (run in a child process).
READ = """
import json, sys, warnings
warnings.simplefilter("ignore")
from mlxlaunch.reader import Reader
reader = Reader(sys.argv[1], cache_dir=False, progress=False)
runs = reader.search("")
out = {"runs": {r.log_id: r.status for r in runs}, "problems": reader.problems}
out["train"] = {r.log_id: len(r["train.loss"]) for r in runs if "train" in r.log_names}
out["problems"] = reader.problems
print(json.dumps(out))
"""


def make_runs(logs: Path, count: int) -> list[Path]:
    """``count`` COMPLETE runs, each with a 3-record ``train`` log."""
    made = []
    for log_id, run in allocate_run_dirs(logs, count):
        write_config(run, {"seed": log_id})
        write_info(run, {"status": "COMPLETE", "log_id": log_id})
        logger = Logger(run, log_id)
        for step in range(3):
            logger.log_metrics({"loss": 1.0 / (step + 1), "step": step}, log_name="train")
        logger.close()
        made.append(run)
    return made


def run_in_child(code: str, logs: Path) -> list[str]:
    """The lines ``code`` prints, run on ``logs`` in a child process (no cache); a hang
    fails after 60 s."""
    proc = subprocess.run(
        [sys.executable, "-c", code, str(logs)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO), MLXLAUNCH_CACHE_DIR="off"),
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def read_in_child(logs: Path, user=None) -> dict:
    """What ``READ`` prints, run as root or as ``user``; a hang fails after 60 s."""
    argv = [sys.executable, "-c", READ, str(logs)]
    env = [f"PYTHONPATH={REPO}", "MLXLAUNCH_CACHE_DIR=off"]
    if user is None:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ, **dict(e.split("=", 1) for e in env)),
        )
    else:
        proc = user.run("env", *env, *argv)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    out["runs"] = {int(k): v for k, v in out["runs"].items()}
    out["train"] = {int(k): v for k, v in out["train"].items()}
    return out


def problems_about(problems: list[str], path: Path) -> list[str]:
    """The problems naming ``path`` (or a file under it); all of them if none does."""
    about = [p for p in problems if p.startswith(str(path))]
    return about or problems


# ---------------------------------------------------------------- odd entries of the logs folder


def test_a_numeric_link_loop_costs_only_that_entry(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_runs(logs, 2)
    (logs / "1234").symlink_to("1234")  # ln -s 1234 logs/1234
    out = read_in_child(logs)
    assert out["runs"] == {1: "COMPLETE", 2: "COMPLETE"}
    (problem,) = problems_about(out["problems"], logs / "1234")
    assert "Too many levels of symbolic links" in problem


def test_a_numeric_link_into_a_folder_the_reader_may_not_enter(shared_logs: Path, other_user):
    make_runs(shared_logs, 2)
    private = shared_logs.parent / "private"
    private.mkdir(mode=0o700)  # root's: the other member may not enter it
    (private / "7" / "metadata").mkdir(parents=True)
    (shared_logs / "7").symlink_to(private / "7")
    out = read_in_child(shared_logs, other_user)
    assert out["runs"] == {1: "COMPLETE", 2: "COMPLETE"}
    assert out["train"] == {1: 3, 2: 3}
    (problem,) = problems_about(out["problems"], shared_logs / "7")
    assert "Permission denied" in problem


def test_a_mode_000_run_folder_is_reported_with_the_real_reason(shared_logs: Path, other_user):
    runs = make_runs(shared_logs, 3)
    runs[1].chmod(0o000)
    out = read_in_child(shared_logs, other_user)
    assert out["runs"] == {1: "COMPLETE", 2: "UNKNOWN", 3: "COMPLETE"}
    problem, *also = problems_about(out["problems"], runs[1])
    assert problem.startswith(f"{runs[1]}: cannot be read (Permission denied")
    assert all("Permission denied" in p for p in also)  # its metrics/, when they are asked for
    assert not any("missing" in p for p in out["problems"])
    assert out["train"] == {1: 3, 3: 3}


def test_a_metadata_folder_the_reader_may_not_enter(shared_logs: Path, other_user) -> None:
    runs = make_runs(shared_logs, 2)
    (runs[0] / "metadata").chmod(0o700)
    out = read_in_child(shared_logs, other_user)
    assert out["runs"] == {1: "UNKNOWN", 2: "COMPLETE"}
    assert sorted(problems_about(out["problems"], runs[0])) == [
        f"{runs[0] / 'metadata' / name}: cannot be read (Permission denied)"
        for name in ("config.yaml", "info.yaml")
    ]
    assert out["train"] == {1: 3, 2: 3}


# ---------------------------------------------------------------- odd files inside a run


@pytest.mark.parametrize("name", ["info.yaml", "config.yaml"])
def test_a_fifo_as_a_metadata_file_does_not_block(tmp_path: Path, name: str) -> None:
    logs = tmp_path / "logs"
    runs = make_runs(logs, 2)
    path = runs[0] / "metadata" / name
    path.unlink()
    os.mkfifo(path)  # opening it for reading would wait for a writer forever
    out = read_in_child(logs)  # fails after 60 s if it blocks
    assert out["runs"][2] == "COMPLETE" and out["train"] == {1: 3, 2: 3}
    assert out["runs"][1] == ("UNKNOWN" if name == "info.yaml" else "COMPLETE")
    (problem,) = problems_about(out["problems"], path)
    assert "not a regular file" in problem


def test_fifos_among_the_metric_files_do_not_block(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    runs = make_runs(logs, 2)
    os.mkfifo(runs[0] / "metrics" / "val.json")
    keys = runs[1] / "metrics" / ".keys" / "train.yaml"
    keys.unlink()
    os.mkfifo(keys)  # the key index is read to list fields
    code = READ + (
        "print(sorted(reader.fields.index))\nprint(reader.search('train.loss.last < 1').log_ids)\n"
    )
    first, fields, ids = run_in_child(code, logs)
    out = json.loads(first)
    assert out["train"] == {"1": 3, "2": 3} and ids == "[1, 2]"
    assert "'train.loss'" in fields
    (problem,) = problems_about(out["problems"], runs[0] / "metrics" / "val.json")
    assert "not a regular file" in problem


def test_a_link_loop_in_metrics_hides_only_that_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    runs = make_runs(logs, 1)
    loop = runs[0] / "metrics" / "loop.json"
    loop.symlink_to("loop.json")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = Reader(logs, cache_dir=False, progress=False)
        run = reader.search("train.loss.last < 1")[0]
        assert run.log_names == ["train"] and len(run["train.loss"]) == 3
    (problem,) = problems_about(reader.problems, loop)
    assert "Too many levels of symbolic links" in problem
    assert any(str(loop) in str(w.message) for w in caught), "the loop must not be silent"


@pytest.mark.parametrize("planted", ["link loop", "fifo"])
def test_an_odd_entry_named_like_a_longer_log_is_reported_not_read(
    tmp_path: Path, planted: str
) -> None:
    """run["train.loss"] first looks for metrics/train.loss.json (the longest log name
    wins): a link loop or a FIFO under that name is no log; it is reported (the listing
    says why), never waited on, and the column comes from metrics/train.json."""
    logs = tmp_path / "logs"
    runs = make_runs(logs, 1)
    odd = runs[0] / "metrics" / "train.loss.json"
    if planted == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to("train.loss.json")
    code = (
        "import json, sys, warnings\nwarnings.simplefilter('ignore')\n"
        "from mlxlaunch.reader import Reader\n"
        "reader = Reader(sys.argv[1], cache_dir=False, progress=False)\n"
        "column = reader.search('')[0]['train.loss'].tolist()\n"  # its first access: no listing
        "print(json.dumps({'problems': reader.problems}))\nprint(column)\n"
    )
    first, column = run_in_child(code, logs)
    assert json.loads(column) == [1.0, 0.5, 1 / 3]
    (problem,) = problems_about(json.loads(first)["problems"], odd)
    why = "not a regular file" if planted == "fifo" else "Too many levels of symbolic links"
    assert why in problem


def test_a_link_loop_as_info_yaml_is_reported(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    runs = make_runs(logs, 2)
    info = runs[0] / "metadata" / "info.yaml"
    info.unlink()
    info.symlink_to("info.yaml")
    out = read_in_child(logs)
    assert out["runs"] == {1: "UNKNOWN", 2: "COMPLETE"}
    (problem,) = problems_about(out["problems"], info)
    assert "Too many levels of symbolic links" in problem


# ---------------------------------------------------------------- runs being prepared


def test_a_run_being_prepared_is_shown_as_preparing_not_damaged(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    make_runs(logs, 1)
    # what a launch has made so far: the folder (allocate), then config.yaml, info.yaml last
    [(_, bare)] = allocate_run_dirs(logs, 1)
    [(_, half)] = allocate_run_dirs(logs, 1)
    write_config(half, {"seed": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning: nothing is damaged
        reader = Reader(logs, cache_dir=False, progress=False)
    assert reader.problems == []
    assert [r.status for r in reader.search("")] == ["COMPLETE", "PREPARING", "PREPARING"]
    assert reader.search("info.status == 'PREPARING'").log_ids == [2, 3]
    assert reader.search("config.seed == 3")[0].status == "PREPARING"
    write_info(half, {"status": "QUEUED", "log_id": 3})  # the launch goes on
    assert reader.refresh().search("info.status == 'QUEUED'").log_ids == [3]
    # a launch that stopped long ago: that is damage, reported as such
    old = time.time() - PREPARE_GRACE - 60
    os.utime(bare / "metadata", (old, old))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = Reader(logs, cache_dir=False, progress=False)
    assert reader.search("log_id == 2")[0].status == "UNKNOWN"
    assert reader.problems == [
        f"{bare / 'metadata' / n}: missing" for n in ("config.yaml", "info.yaml")
    ]


# ---------------------------------------------------------------- live runs


def test_columns_of_a_log_read_together_have_one_length(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    [(log_id, run)] = allocate_run_dirs(logs, 1)
    write_config(run, {"seed": 1})
    write_info(run, {"status": "RUNNING", "log_id": 1, "pid": os.getpid(), "hostname": "x"})
    logger = Logger(run, log_id)
    for step in range(373):
        logger.log_metrics({"loss": 1.0 / (step + 1), "step": step}, log_name="train")
    reader = Reader(logs, cache_dir=False, progress=False)
    live = reader.search("")[0]
    loss = live["train.loss"]
    for step in range(373, 501):  # the run goes on between two reads
        logger.log_metrics({"loss": 1.0 / (step + 1), "step": step}, log_name="train")
    with open(run / "metrics" / "train.json", "ab") as f:
        f.write(b'{"loss": 0.001, "st')  # a record being written
    assert len(live["train.step"]) == len(loss) == 373
    assert live["train.step.count"] == live["train.loss.count"] == 373
    assert len(live["train"]) == 373
    reader.refresh()  # a new snapshot: every column moves together, the partial line is left out
    assert len(live["train.loss"]) == len(live["train.step"]) == 501
    assert live["train.loss.count"] == 501
    assert reader.problems == [], "a record being written is not damage"


def test_a_reader_next_to_a_writing_process_never_sees_columns_disagree(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    [(log_id, run)] = allocate_run_dirs(logs, 1)
    write_config(run, {"seed": 1})
    write_info(run, {"status": "RUNNING", "log_id": 1, "pid": os.getpid(), "hostname": "x"})
    Logger(run, log_id).log_metrics({"loss": 1.0, "step": 0}, log_name="train")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from mlxlaunch.logger.logger import Logger\n"
            "log = Logger(sys.argv[1], 1)\n"
            "end = time.time() + 3\n"
            "i = 1\n"
            "while time.time() < end:\n"
            "    log.log_metrics({'loss': 1 / (i + 1), 'step': i}, log_name='train'); i += 1\n",
            str(run),
        ],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        reader = Reader(logs, cache_dir=False, progress=False)
        lengths = set()
        while writer.poll() is None:
            live = reader.refresh().search("")[0]
            loss, step = live["train.loss"], live["train.step"]
            assert len(loss) == len(step) == live["train.loss.count"]
            assert list(step) == list(range(len(step)))
            lengths.add(len(step))
    finally:
        writer.wait(timeout=30)
    assert len(lengths) > 1, "the reader never saw the run grow"


def test_a_logs_folder_the_reader_may_not_list_is_one_line(shared_logs: Path, other_user) -> None:
    make_runs(shared_logs, 1)
    shared_logs.chmod(0o2771)  # group members may enter, not list
    os.chown(shared_logs, 0, 0)
    code = (
        "import sys\nfrom mlxlaunch.errors import StorageError\nfrom mlxlaunch.reader import Reader\n"
        "try:\n    Reader(sys.argv[1], cache_dir=False)\n"
        "except StorageError as err:\n    print(err)\n"
    )
    proc = other_user.run("env", f"PYTHONPATH={REPO}", sys.executable, "-c", code, str(shared_logs))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"Cannot list the logs folder: {shared_logs}: Permission denied")
    assert len(proc.stdout.strip().splitlines()) == 1


def test_mlxlaunch_status_meets_the_same_entries_without_hanging(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    runs = make_runs(logs, 4)
    (logs / "1234").symlink_to("1234")
    fifo = runs[1] / "metadata" / "info.yaml"
    fifo.unlink()
    os.mkfifo(fifo)
    (runs[2] / "metadata" / "info.yaml").write_text("status: [unclosed\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "status", str(logs)],
        capture_output=True,
        text=True,
        timeout=60,  # a FIFO opened for reading would wait here forever
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line[:1].isdigit()}
    assert "COMPLETE" in rows["1"] and "COMPLETE" in rows["4"]
    assert "UNKNOWN" in rows["2"] and "UNKNOWN" in rows["3"]
    assert "Traceback" not in proc.stderr
    assert f"{fifo}: not a regular file" in proc.stderr
