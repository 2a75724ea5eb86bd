"""Run-id allocation, atomic metadata and the run lock."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from mlxlaunch import runfolder
from mlxlaunch.errors import RunLockedError
from mlxlaunch.runfolder import ids


def _allocate_after_barrier(parent, barrier, queue):
    barrier.wait()
    [(run_id, _)] = runfolder.allocate_run_dirs(parent, 1)
    queue.put(run_id)


def test_200_simultaneous_processes_get_unique_ids(tmp_path):
    ctx = multiprocessing.get_context("fork")
    n = 200
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_allocate_after_barrier, args=(tmp_path, barrier, queue))
        for _ in range(n)
    ]
    for p in procs:
        p.start()
    ids = [queue.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(ids) == list(range(1, n + 1))


def test_allocation_continues_after_highest_run(tmp_path):
    for run_id in (1, 2, 5):
        (tmp_path / str(run_id) / "metadata").mkdir(parents=True)
    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 2)] == [6, 7]


def test_stray_folders_do_not_shift_or_break_allocation(tmp_path):
    (tmp_path / "1" / "metadata").mkdir(parents=True)
    (tmp_path / "2024").mkdir()  # numeric-looking, but not a run (no metadata/)
    (tmp_path / "007").mkdir()  # leading zero: never a run id
    (tmp_path / "notes").mkdir()
    (tmp_path / "3.txt").write_text("x")
    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 1)] == [2]
    assert not (tmp_path / "2024" / "metadata").exists()


def test_allocation_never_reuses_an_existing_folder(tmp_path):
    (tmp_path / "1" / "metadata").mkdir(parents=True)
    (tmp_path / "2").mkdir()  # e.g. made by hand, or by a launcher that just crashed
    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 1)] == [3]


def test_atomic_write_leaves_no_temp_file(tmp_path):
    path = tmp_path / "info.yaml"
    runfolder.atomic_write(path, "a: 1\n")
    runfolder.atomic_write(path, "a: 2\n")
    assert path.read_text() == "a: 2\n"
    assert os.listdir(tmp_path) == ["info.yaml"]


@pytest.mark.parametrize("failing", ["fsync", "write"])
def test_atomic_write_that_fails_keeps_the_old_file_and_removes_its_temp_file(
    tmp_path, monkeypatch, failing
):
    """A full disk (ENOSPC at write or fsync) leaves the old file and no ``.tmp`` behind."""
    import errno

    path = tmp_path / "info.yaml"
    runfolder.atomic_write(path, "a: 1\n")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # the writer writes through a file descriptor (safefiles.create_temp): fail its calls
    monkeypatch.setattr(os, failing, no_space)
    with pytest.raises(OSError, match="No space"):
        runfolder.atomic_write(path, "a: 2\n")
    monkeypatch.undo()
    assert path.read_text() == "a: 1\n"
    assert os.listdir(tmp_path) == ["info.yaml"]


def test_lock_is_exclusive_and_released(tmp_path):
    (tmp_path / "metadata").mkdir()
    with runfolder.RunLock(tmp_path):
        with pytest.raises(RunLockedError, match="in use by pid"):
            runfolder.RunLock(tmp_path).acquire()
    with runfolder.RunLock(tmp_path):
        pass


def test_empty_or_missing_info_reads_as_empty(tmp_path):
    (tmp_path / "metadata").mkdir()
    assert runfolder.read_info(tmp_path) == {}
    (tmp_path / "metadata" / "info.yaml").write_text("")
    assert runfolder.read_info(tmp_path) == {}


def _later() -> None:
    """Wait past the file system's timestamp granularity, so that mtimes can differ."""
    import time

    time.sleep(0.02)


def test_hint_is_not_trusted_after_another_tool_adds_runs(tmp_path, monkeypatch):
    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 2)] == [1, 2]
    assert ids._read_hint(tmp_path) == 3  # fresh: trusted, the folder is not listed
    _later()
    # another tool (or an older MLXP) creates runs 3..9 without touching the hint
    for run_id in range(3, 10):
        (tmp_path / str(run_id) / "metadata").mkdir(parents=True)
    assert ids._read_hint(tmp_path) is None  # older than the folder: stale
    # so the folder is listed and the first mkdir is the right one; a trusted stale
    # hint would have walked up from 3, colliding with every run of the other tool
    tried: list[str] = []
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if os.path.dirname(path) == str(tmp_path):
            tried.append(os.path.basename(path))  # the run ids tried, not their metadata
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(ids.os, "mkdir", mkdir)
    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 1)] == [10]
    assert [t for t in tried if t.isdigit()] == ["10"]


def test_hint_is_not_trusted_after_a_run_is_deleted(tmp_path):
    import shutil

    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 3)] == [1, 2, 3]
    _later()
    shutil.rmtree(tmp_path / "3")
    # the hint says 4, but the folder changed since: the listing finds 2 as the highest run
    assert [i for i, _ in runfolder.allocate_run_dirs(tmp_path, 1)] == [3]
    # the allocation rewrote the hint: it is fresh again and trusted
    assert ids._read_hint(tmp_path) == 4


def test_effective_status_tolerates_a_damaged_heartbeat_interval(tmp_path):
    import time

    runfolder.touch_heartbeat(tmp_path)
    info = {"status": "RUNNING", "hostname": "another-node", "heartbeat_interval": "abc"}
    assert runfolder.effective_status(tmp_path, info) == "RUNNING"
    assert runfolder.effective_status(tmp_path, info, now=time.time() + 3600) == "LOST"
