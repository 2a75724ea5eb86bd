"""Command-line polish: --version on the script and on ``mlxlaunch``."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO
from terminal import run_on_terminal
from test_reader_layouts import write_run

import mlxlaunch

VERSION = re.compile(r"^mlxlaunch (\S+) \(Python [\d.]+, hydra-core [\d.]+\)\n$")


def test_version_on_the_script(project):
    proc = project.run("--version")
    assert proc.returncode == 0, proc.stderr
    match = VERSION.match(proc.stdout)
    assert match and match.group(1) == mlxlaunch.__version__
    assert not project.logs.exists()  # nothing ran


def test_version_on_mlxlaunch():
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "--version"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.returncode == 0, proc.stderr
    match = VERSION.match(proc.stdout)
    assert match and match.group(1) == mlxlaunch.__version__


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=120,
    )


def test_the_query_may_come_after_the_options(tmp_path, private_reader_cache):
    logs = tmp_path / "logs"
    for log_id in (1, 2, 3):
        write_run(
            logs,
            log_id,
            status="FAILED" if log_id == 2 else "COMPLETE",
            metrics={"train": [{"loss": 1.0 / log_id}]},
        )
    query = "info.status == 'COMPLETE'"
    after = cli("runs", str(logs), "-c", "train.loss.last", "--format", "csv", query)
    before = cli("runs", str(logs), query, "-c", "train.loss.last", "--format", "csv")
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and "log_id" in after.stdout
    assert [line.split(",")[0] for line in after.stdout.splitlines()[1:]] == ["1", "3"]
    status = cli("status", str(logs), "-c", "train.loss.last", "2")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[-1] == "1 run(s): 1 FAILED"
    plot = cli("plot", str(logs), "train.loss", "-o", str(tmp_path / "p.png"), query)
    assert plot.returncode == 0, plot.stderr
    assert (tmp_path / "p.png").stat().st_size > 0
    # a real mistake still names the subcommand
    bad = cli("runs", str(logs), "--bogus")
    assert (
        bad.returncode == 2
        and "mlxlaunch runs: error: unrecognized arguments: --bogus" in bad.stderr
    )


def test_help_on_an_80_column_terminal_keeps_every_setting_name_whole(project):
    """rich wraps the descriptions; names are never cut with '…', and no ``markup`` shows."""
    pytest.importorskip("rich")
    from mlxlaunch.launching.settings import valid_keys

    code, raw = run_on_terminal(
        [sys.executable, "main.py", "--help"], env=project.env(), cwd=str(project.root), columns=80
    )
    assert code == 0
    screen = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    assert max(len(line) for line in screen.splitlines()) <= 80
    names = {
        line.split()[0] for line in screen.splitlines() if line.startswith("  ") and line.split()
    }
    leaves = [k for k in valid_keys() if not any(o.startswith(k + ".") for o in valid_keys())]
    assert [k for k in leaves if k not in names] == []  # each name whole, on its own line
    assert "…" not in "".join(line.split()[0] for line in screen.splitlines() if line.split())
    assert "``" not in screen


def test_no_docstring_markup_in_plain_help_or_dry_run(project):
    for args in (["--help"], ["optimizer.lr=0.1,0.2", "--dry-run"]):
        proc = project.run(*args, check=True)
        assert "``" not in proc.stdout + proc.stderr, args


def test_bash_completion_knows_subcommands_and_options(tmp_path):
    pytest.importorskip("shtab")
    script = cli("completion", "bash")
    assert script.returncode == 0, script.stderr
    (tmp_path / "mlxlaunch.bash").write_text(script.stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        shell = (
            f"source {tmp_path / 'mlxlaunch.bash'}; COMP_WORDS=({line}); "
            f"COMP_CWORD={len(words) - 1}; _shtab_mlxlaunch; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        )
        proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=True)
        return proc.stdout.split()

    assert complete("mlxlaunch", "stat") == ["status"]
    assert sorted(complete("mlxlaunch", "st")) == ["start", "status"]
    assert "logs" in complete("mlxlaunch", "l")
    assert complete("mlxlaunch", "status", "logs", "--w") == ["--watch"]
    assert complete("mlxlaunch", "logs", "logs", "1", "--f") == ["--follow"]
