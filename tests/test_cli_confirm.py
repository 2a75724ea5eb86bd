"""The prompt before submitting more than ``confirm_above`` scheduler jobs."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pytest
from test_cli_docs import run_on_tty

from mlxlaunch.errors import Aborted
from mlxlaunch.launching.confirm import confirm_submission, needs_confirmation
from mlxlaunch.launching.settings import Settings


class _Terminal(io.StringIO):
    """A stdin that says it is a terminal and holds the user's answer."""

    def isatty(self) -> bool:
        return True


def _settings(use_scheduler: bool = True, confirm_above: int = 2) -> Settings:
    settings = Settings(use_scheduler=use_scheduler, confirm_above=confirm_above)
    settings.scheduler.name = "slurm"
    return settings


def test_asks_only_for_scheduler_launches_above_the_threshold_on_a_terminal():
    tty = _Terminal()
    assert needs_confirmation(3, _settings(), False, tty)
    assert not needs_confirmation(2, _settings(), False, tty)  # not more than confirm_above
    assert not needs_confirmation(3, _settings(use_scheduler=False), False, tty)
    assert not needs_confirmation(3, _settings(), True, tty)  # --yes
    assert not needs_confirmation(3, _settings(), False, io.StringIO())  # not a terminal
    closed = io.StringIO()
    closed.close()
    assert not needs_confirmation(3, _settings(), False, closed)


@pytest.mark.parametrize(
    "answer,accepted", [("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False), ("", False)]
)
def test_only_yes_goes_ahead(answer, accepted):
    err = io.StringIO()
    if accepted:
        confirm_submission(5, _settings(), stdin=_Terminal(answer), stderr=err)
    else:
        with pytest.raises(Aborted, match="Nothing was submitted"):
            confirm_submission(5, _settings(), stdin=_Terminal(answer), stderr=err)
    assert err.getvalue() == (
        "About to submit 5 jobs to slurm (more than confirm_above=2). Continue? [y/N] "
    )


@pytest.fixture
def sbatch_calls(project, monkeypatch) -> Path:
    """Fake ``sbatch`` (records each call in the file returned) and ``scontrol`` on PATH."""
    root = project.root
    bin_dir = root / "bin"
    bin_dir.mkdir()
    marker = root / "sbatch-calls"
    script = bin_dir / "sbatch"
    script.write_text(f"#!/bin/sh\necho called >> {marker}\necho 4242\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    scontrol = bin_dir / "scontrol"  # `show config`, `release`: nothing to say, success
    scontrol.write_text("#!/bin/sh\nexit 0\n")
    scontrol.chmod(scontrol.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return marker


def _run_on_terminal(project, args: list[str], answers: list[str]) -> tuple[int, str]:
    """Run main.py on a pseudo-terminal; answer each prompt."""
    return run_on_tty([sys.executable, "main.py", *args], project.root, answers, project.env())


SWEEP = ["seed=1,2,3", "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm"]


def test_declining_on_a_terminal_creates_and_submits_nothing(project, sbatch_calls):
    code, out = _run_on_terminal(project, SWEEP + ["+launcher.confirm_above=2"], ["n"])
    assert "About to submit 3 jobs to slurm (more than confirm_above=2). Continue? [y/N] n" in out
    assert "Nothing was submitted and no run folder was created" in out
    assert code == 1
    assert not sbatch_calls.exists() and not project.logs.exists()


def test_below_the_threshold_nobody_is_asked(project, sbatch_calls):
    code, out = _run_on_terminal(project, SWEEP, [])  # 3 jobs <= 100
    assert "[y/N]" not in out, out
    assert code == 0 and sbatch_calls.read_text() == "called\n"


def test_without_a_terminal_the_launch_goes_ahead_without_asking(project, sbatch_calls):
    proc = project.run(*SWEEP, "+launcher.confirm_above=2")  # stdin is /dev/null
    assert proc.returncode == 0, proc.stderr
    assert "[y/N]" not in proc.stdout + proc.stderr
    assert sbatch_calls.read_text() == "called\n"  # one array for the three points
    assert sorted(project.run_ids()) == [1, 2, 3]


def test_yes_skips_every_question_on_a_terminal(project, sbatch_calls):
    args = SWEEP + ["+launcher.confirm_above=2", "--yes"]
    code, out = _run_on_terminal(project, args, ["y"])
    assert "[y/N]" not in out, out
    assert code == 0 and sbatch_calls.exists()
