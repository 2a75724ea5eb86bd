"""Threat: a group member plants links (or FIFOs, or files of their own) where mlxlaunch writes.

``ln -s ~victim/.bashrc logs/.mlxlaunch-next-id`` used to make the victim's next
launch overwrite ``.bashrc``. No file mlxlaunch writes in a logs folder may follow a
link: whole files are written to a fresh temporary (``O_EXCL | O_NOFOLLOW``) and
renamed over the link; files written in place (logs, locks) are opened with
``O_NOFOLLOW`` and refused unless they are this user's regular files.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mlxlaunch.errors import UnsafeFileError
from mlxlaunch.logger.logger import Logger
from mlxlaunch.runfolder import (
    Heartbeat,
    RunLock,
    allocate_run_dirs,
    save_attempt,
    write_config,
    write_info,
    write_settings,
)
from mlxlaunch.runfolder.ids import NEXT_ID_HINT
from mlxlaunch.running.streams import StreamTee

SECRET = b"# the victim's own file\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file of the victim's outside the logs folder (think ``~/.bashrc``)."""
    path = tmp_path / "home" / ".bashrc"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    ((_, path),) = allocate_run_dirs(tmp_path / "logs", 1)
    return path


def _beat(run_dir: Path) -> None:
    beat = Heartbeat(run_dir, 60)
    beat.start()
    beat.stop()


#: Whole files: a link planted at their name is replaced by a plain file.
REPLACED: dict[str, tuple[str, Callable[[Path], None]]] = {
    "info.yaml": ("metadata/info.yaml", lambda d: write_info(d, {"status": "RUNNING"})),
    "config.yaml": ("metadata/config.yaml", lambda d: write_config(d, {"a": 1})),
    "launcher.yaml": ("metadata/launcher.yaml", lambda d: write_settings(d, {"a": 1})),
    "attempt record": ("metadata/attempts/1.yaml", lambda d: save_attempt(d, {"attempt": 1})),
    "heartbeat": ("heartbeat", _beat),
    "metrics key index": (
        "metrics/.keys/train.yaml",
        lambda d: Logger(d, 1).log_metrics({"loss": 1.0}, log_name="train"),
    ),
    "artifact index": (
        "artifacts/.keys/artifacts.yaml",
        lambda d: Logger(d, 1).log_artifacts({"w": 1}, "w.pkl", "pickle"),
    ),
    "artifact": (
        "artifacts/pickle/w.pkl",
        lambda d: Logger(d, 1).log_artifacts({"w": 1}, "w.pkl", "pickle"),
    ),
}


@pytest.mark.parametrize("what", list(REPLACED))
def test_a_link_planted_at_a_whole_file_is_replaced_never_written_through(
    what: str, run_dir: Path, victim: Path
) -> None:
    rel, write = REPLACED[what]
    planted = run_dir / rel
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(victim)
    write(run_dir)
    assert victim.read_bytes() == SECRET
    assert planted.is_file() and not planted.is_symlink()
    assert not [p.name for p in planted.parent.iterdir() if p.name.endswith(".tmp")]


def test_links_planted_at_the_temporary_names_are_never_written_through(
    run_dir: Path, victim: Path
) -> None:
    """Temporary names are random and made with ``O_EXCL``: a member cannot guess one,
    and a link planted at the name an older version used (``.info.yaml.<pid>.<thread>.tmp``)
    is not followed."""
    import threading

    meta = run_dir / "metadata"
    (meta / f".info.yaml.{os.getpid()}.{threading.get_ident()}.tmp").symlink_to(victim)
    write_info(run_dir, {"status": "RUNNING"})
    assert victim.read_bytes() == SECRET


def test_a_dangling_link_at_the_heartbeat_creates_nothing_at_its_target(
    run_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "home" / "created-by-mlxlaunch"
    target.parent.mkdir()
    (run_dir / "heartbeat").symlink_to(target)
    _beat(run_dir)
    assert not target.exists()


def test_a_planted_next_id_hint_link_does_not_overwrite_its_target(
    tmp_path: Path, victim: Path
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / NEXT_ID_HINT).symlink_to(victim)
    allocate_run_dirs(logs, 1)
    assert victim.read_bytes() == SECRET
    assert (logs / NEXT_ID_HINT).is_file() and not (logs / NEXT_ID_HINT).is_symlink()
    assert [i for i, _ in allocate_run_dirs(logs, 2)] == [2, 3]  # the hint still works


#: Files written in place: a link or FIFO there is refused, naming the file.
IN_PLACE: dict[str, tuple[str, Callable[[Path], None]]] = {
    "run lock": ("metadata/.lock", lambda d: RunLock(d).acquire()),
    "metrics log": (
        "metrics/train.json",
        lambda d: Logger(d, 1).log_metrics({"loss": 1.0}, log_name="train"),
    ),
    "captured stdout": ("log.stdout", lambda d: StreamTee(d).start().stop()),
}


@pytest.mark.parametrize("what", list(IN_PLACE))
def test_a_link_planted_at_a_file_written_in_place_is_refused_and_its_target_untouched(
    what: str, run_dir: Path, victim: Path
) -> None:
    rel, write = IN_PLACE[what]
    planted = run_dir / rel
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.symlink_to(victim)
    with pytest.raises(UnsafeFileError, match="symbolic link") as caught:
        write(run_dir)
    assert str(planted) in str(caught.value)
    assert victim.read_bytes() == SECRET


@pytest.mark.parametrize("what", ["run lock", "metrics log"])
def test_a_fifo_planted_at_a_file_written_in_place_is_refused_without_blocking(
    what: str, run_dir: Path
) -> None:
    rel, write = IN_PLACE[what]
    planted = run_dir / rel
    planted.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(planted)
    with pytest.raises(UnsafeFileError, match="not a regular file|named pipe"):
        write(run_dir)


def test_resuming_a_run_whose_lock_was_replaced_by_a_link_fails_cleanly(
    project, victim: Path
) -> None:
    """End to end: the planted ``metadata/.lock`` of the issue, on resume by forced id."""
    project.run("+launcher.logger.forced_log_id=1", check=True)
    lock = project.logs / "1" / "metadata" / ".lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    proc = project.run("+launcher.logger.forced_log_id=1")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert f"{lock} is a symbolic link" in proc.stderr
    assert victim.read_bytes() == SECRET


def test_a_new_run_with_a_planted_hint_link_leaves_the_victim_file_alone(
    project, victim: Path
) -> None:
    """End to end, the issue's reproduction: the victim's next launch."""
    project.logs.mkdir()
    (project.logs / NEXT_ID_HINT).symlink_to(victim)
    project.run(check=True)
    assert victim.read_bytes() == SECRET
    assert project.run_ids() == [1]


def test_the_job_script_refuses_to_append_output_through_a_planted_link(
    tmp_path: Path, victim: Path
) -> None:
    from mlxlaunch.executors.scheduler import OUTPUT_CHECK

    run = tmp_path / "run"
    run.mkdir()
    (run / "log.stderr").symlink_to(victim)
    script = "\n".join(
        [f"RUN_DIR={run}", *OUTPUT_CHECK, 'exec >>"$RUN_DIR/log.stdout" 2>>"$RUN_DIR/log.stderr"']
    )
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert proc.returncode == 1 and "is a symbolic link" in proc.stderr
    assert victim.read_bytes() == SECRET
