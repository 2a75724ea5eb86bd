"""``--repl``: change the composed points in a Python shell; run() runs them, leaving does not."""

from __future__ import annotations

import subprocess
import sys

import yaml
from test_entry_points import EntryProject


def repl(project, stdin: str, *args: str) -> subprocess.CompletedProcess:
    """``python main.py ARGS --repl`` with ``stdin`` typed into the standard shell."""
    return subprocess.run(
        [sys.executable, "main.py", *args, "--repl"],
        cwd=project.root,
        env=dict(project.env(), MLXLAUNCH_REPL="python"),  # the standard shell, IPython or not
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def frozen(project, log_id: int) -> dict:
    return yaml.safe_load((project.logs / str(log_id) / "metadata" / "config.yaml").read_text())


def test_changes_made_in_the_repl_are_what_runs_and_are_recorded(project):
    stdin = "config.optimizer.lr = 0.5\nconfigs[1].num_epoch = 1\nrun()\n"
    proc = repl(project, stdin, "+fold=1,2")
    assert proc.returncode == 0, proc.stderr
    assert "2 points" in proc.stderr and "run()" in proc.stderr  # the banner
    assert frozen(project, 1)["optimizer"]["lr"] == 0.5 and frozen(project, 1)["num_epoch"] == 2
    assert frozen(project, 2)["optimizer"]["lr"] == 0.1 and frozen(project, 2)["num_epoch"] == 1
    assert project.info(2)["overrides"] == ["+fold=2", "(changed in the REPL)"]
    assert (
        (project.logs / "1" / "metrics" / "train.json").read_text().startswith('{"loss":0.5,')
    )  # ran with it


def test_leaving_without_run_runs_nothing(project):
    proc = repl(project, "config.optimizer.lr = 0.5\n", "+fold=1,2")
    assert proc.returncode == 1 and project.run_ids() == []
    assert "Left the REPL without run(): nothing ran." in proc.stderr
    proc = repl(project, "exit()\n")
    assert proc.returncode == 1 and project.run_ids() == []


def test_an_unchanged_point_records_no_change_and_show_prints_the_plan(project):
    proc = repl(project, "show()\nrun()\n", "optimizer.lr=0.25")
    assert proc.returncode == 0, proc.stderr
    assert "lr: 0.25" in proc.stdout
    assert project.info(1)["overrides"] == ["optimizer.lr=0.25"]


def test_a_change_the_schema_refuses_fails_before_anything_is_made(project):
    project.write(
        "main.py",
        """\
        from dataclasses import dataclass
        import mlxlaunch

        @dataclass
        class Config:
            epochs: int = 3

        @mlxlaunch.launch(config_path="configs", schema=Config)
        def main(ctx):
            print("RAN")

        if __name__ == "__main__":
            main()
        """,
    )
    project.write("configs/config.yaml", "epochs: 3\n")
    proc = repl(project, "config.epochs = 'many'\nrun()\n")
    assert proc.returncode == 2 and project.run_ids() == []
    assert "after the REPL" in proc.stderr and "epochs" in proc.stderr and "int" in proc.stderr


def test_an_entry_point_opens_the_repl_on_its_parameters(tmp_path):
    proj = EntryProject(tmp_path / "p")
    proj.write(
        "MLproject",
        """\
        entry_points:
          main:
            parameters: {msg: {type: string, default: hi}, n: {type: int, default: 1}}
            command: "echo {msg} {n}"
        """,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "run", "--repl"],
        cwd=proj.root,
        env=proj.env(MLXLAUNCH_REPL="python"),
        input="config.msg = 'changed'\nrun()\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (proj.logs / "1" / "log.stdout").read_text() == "changed 1\n"
