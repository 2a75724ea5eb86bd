"""MLflow's MLproject entry points, run by ``mlxlaunch run`` as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from test_scheduler import _array_script, _fake

from mlxlaunch import runfolder
from mlxlaunch.errors import ProjectError, UsageError
from mlxlaunch.launching.mlproject import read_project, split_entry

REPO = Path(__file__).resolve().parent.parent

MLPROJECT = """\
name: demo
entry_points:
  main:
    parameters:
      lr: {type: float, default: 0.1}
      epochs: {type: int, default: 2}
      data: path
      out: {type: uri, default: "s3://bucket/run"}
      note: {type: string, default: "a b"}
    command: "python train.py --lr {lr} --epochs {epochs} --data {data} --out {out} --note {note}"
  shout:
    parameters:
      msg: string
    command: "echo {msg}"
"""

TRAIN = """\
import argparse, os, sys
import mlxlaunch

p = argparse.ArgumentParser()
for name in ("--lr", "--epochs", "--data", "--out", "--note", "--extra"):
    p.add_argument(name)
args = p.parse_args()
print("args", vars(args), flush=True)
if os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "FAIL")):
    print("failing on purpose", file=sys.stderr, flush=True)
    sys.exit(7)
logger = mlxlaunch.Logger.from_env()
for epoch in range(int(args.epochs)):
    logger.log_metrics({"loss": float(args.lr) / (epoch + 1), "epoch": epoch}, log_name="train")
"""


class EntryProject:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLXLAUNCH_")}
        env["PYTHONPATH"] = str(REPO)
        env.update(extra)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mlxlaunch.cli", *args],
            cwd=self.root,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def info(self, log_id: int) -> dict:
        return runfolder.read_info(self.logs / str(log_id))

    def config(self, log_id: int) -> dict:
        return runfolder.read_config(self.logs / str(log_id))

    def run_ids(self) -> list[int]:
        if not self.logs.exists():
            return []
        return sorted(int(p.name) for p in self.logs.iterdir() if p.name.isdigit())


@pytest.fixture
def proj(tmp_path: Path) -> EntryProject:
    p = EntryProject(tmp_path / "project")
    p.write("MLproject", MLPROJECT)
    p.write("train.py", TRAIN)
    return p


def test_a_sweep_gives_one_run_folder_per_point_with_its_command_and_metrics(proj):
    proc = proj.run("run", "main", "lr=0.01,0.1", "data=train.csv")
    assert proc.returncode == 0, proc.stderr
    assert proj.run_ids() == [1, 2]
    assert proj.config(1) == {
        "lr": 0.01,
        "epochs": 2,
        "data": str(proj.root / "train.csv"),  # a path is made absolute
        "out": "s3://bucket/run",  # a uri stays as given
        "note": "a b",
    }
    info = proj.info(2)
    assert info["status"] == "COMPLETE" and info["exit_code"] == 0
    assert info["overrides"] == ["lr=0.1", "data=train.csv"]
    assert info["entry_point"]["name"] == "main" and info["entry_point"]["project"] == "demo"
    assert info["entry_point"]["command"] == (
        f"python train.py --lr 0.1 --epochs 2 --data {proj.root / 'train.csv'} "
        "--out s3://bucket/run --note 'a b'"
    )
    stdout = (proj.logs / "2" / "log.stdout").read_text()
    assert "'note': 'a b'" in stdout and "'lr': '0.1'" in stdout  # captured, quoted right
    import mlxlaunch

    runs = mlxlaunch.Reader(proj.logs).search("train.loss.last < 0.01")
    assert runs.log_ids == [1]  # the command's metrics, read like any run's


def test_the_default_entry_is_main_and_values_are_shell_quoted(proj):
    assert proj.run("run", "data=x", "epochs=1").returncode == 0
    assert proj.info(1)["entry_point"]["name"] == "main"
    value = "a; echo INJECTED $HOME `id` 'q'"
    proc = proj.run("run", "shout", f'msg="{value}"')
    assert proc.returncode == 0, proc.stderr
    assert (proj.logs / "2" / "log.stdout").read_text() == value + "\n"


@pytest.mark.parametrize(
    "args, words",
    [
        (["data=x", "lr=0.1,abc"], ["'lr' of entry point 'main' expects float", "point 2 of 2"]),
        (["data=x", "lrr=0.1,0.2"], ["Unknown parameter 'lrr'", "Did you mean 'lr'", "+lrr="]),
        (["lr=0.1"], ["'data' (path)", "has no default", "data=<value>"]),
        (["mian", "data=x"], ["No entry point 'mian'", "Did you mean 'main'"]),
        (["data=x", "model=resnet"], ["Unknown parameter 'model'"]),
        (["data=x", "lr=0.1", "--config-name", "x"], ["no config files"]),
    ],
)
def test_a_bad_point_is_a_one_line_error_and_nothing_runs(proj, args, words):
    proc = proj.run("run", *args)
    assert proc.returncode == 2 and proj.run_ids() == [], proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_operations_and_range_sweeps_take_the_decorators_grammar(proj):
    proc = proj.run("run", "data=x", "lr*=10", "epochs=range(1,3)", "--cfg", "job")
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout.replace("# point", "---\n# point")) if d]
    assert [(d["lr"], d["epochs"]) for d in docs] == [(1.0, 1), (1.0, 2)]


def test_a_failing_command_fails_its_run_with_its_exit_code_and_resubmit_reruns_it(proj):
    (proj.root / "FAIL").write_text("")
    proc = proj.run("run", "data=x")
    assert proc.returncode == 1
    info = proj.info(1)
    assert info["status"] == "FAILED" and info["exit_code"] == 7
    assert "failing on purpose" in (proj.logs / "1" / "log.stderr").read_text()
    (proj.root / "FAIL").unlink()
    proc = proj.run("resubmit", "logs", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    info = proj.info(1)
    assert info["status"] == "COMPLETE" and info["attempt"] == 2
    assert (proj.logs / "1" / "metrics" / "train.json").read_text().count("\n") == 2


def test_a_resumed_run_renders_its_command_again(proj):
    assert proj.run("run", "data=x", "epochs=1").returncode == 0
    proc = proj.run("run", "+launcher.logger.forced_log_id=1", "epochs=3")
    assert proc.returncode == 0, proc.stderr
    assert proj.config(1)["epochs"] == 3
    assert "--epochs 3" in proj.info(1)["entry_point"]["command"]
    assert proj.info(1)["attempt"] == 2


def test_workers_run_points_through_the_job_program(proj):
    proc = proj.run("run", "data=x", "lr=0.1,0.2,0.3", "+launcher.n_workers=2")
    assert proc.returncode == 0, proc.stderr
    for log_id in (1, 2, 3):
        info = proj.info(log_id)
        assert info["status"] == "COMPLETE" and info["script"].endswith("entry_job.py")
        assert info["pid"] != os.getpid()
        assert (proj.logs / str(log_id) / "metrics" / "train.json").is_file()


def test_a_slurm_array_runs_the_command_of_the_index(proj):
    bin_dir = proj.root / "bin"
    _fake(bin_dir, "sbatch", "echo 555")
    _fake(bin_dir, "scontrol", "exit 0")
    env = proj.env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = proj.run(
        "run",
        "data=x",
        "lr=0.1,0.2",
        "+launcher.use_scheduler=true",
        "+launcher.scheduler.name=slurm",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert [proj.info(i)["status"] for i in (1, 2)] == ["QUEUED", "QUEUED"]
    script = _array_script(proj.logs / "1")
    job = subprocess.run(
        ["bash", str(script)],
        env=dict(proj.env(), SLURM_ARRAY_TASK_ID="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert job.returncode == 0, job.stderr
    assert proj.info(2)["status"] == "COMPLETE" and proj.info(1)["status"] == "QUEUED"
    assert "'lr': '0.2'" in (proj.logs / "2" / "log.stdout").read_text()


def test_a_python_file_is_an_entry_point_and_extra_parameters_are_appended(proj):
    (proj.root / "MLproject").unlink()
    proc = proj.run("run", "train.py", "+lr=1", "+epochs=1", "+extra=1,2")
    assert proc.returncode == 0, proc.stderr
    assert proj.info(2)["entry_point"]["command"] == "python train.py --lr 1 --epochs 1 --extra 2"
    assert "'extra': '2'" in (proj.logs / "2" / "log.stdout").read_text()


def test_a_decorated_script_started_by_an_entry_point_launches_normally(proj, project):
    proj.write(
        "MLproject",
        f"""\
        entry_points:
          main:
            parameters: {{lr: {{type: float, default: 0.5}}}}
            command: "python {project.root / "main.py"} optimizer.lr={{lr}}"
        """,
    )
    proc = proj.run("run", "lr=0.25")
    assert proc.returncode == 0, proc.stderr
    assert project.run_ids() == [1]  # the script made its own run, in its own logs
    assert project.info(1)["status"] == "COMPLETE"
    assert (
        yaml.safe_load((project.logs / "1" / "metadata" / "config.yaml").read_text())["optimizer"][
            "lr"
        ]
        == 0.25
    )


def test_the_version_manager_runs_the_command_from_a_snapshot(proj):
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q"], cwd=proj.root, check=True)
    (proj.root / ".gitignore").write_text("logs/\n.mlxlaunch-work/\n")
    subprocess.run([*git, "add", "-A"], cwd=proj.root, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=proj.root, check=True)
    proc = proj.run("run", "data=x", "+launcher.use_version_manager=true")
    assert proc.returncode == 0, proc.stderr
    cwd = Path(proj.info(1)["entry_point"]["cwd"])
    assert cwd != proj.root and (cwd / "train.py").is_file()
    assert proj.info(1)["git"]["commit"]


def test_mlproject_mistakes_are_reported_with_the_file(tmp_path: Path):
    (tmp_path / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters: {lr: flaot}\n    command: x {lr}\n"
    )
    with pytest.raises(ProjectError, match="type 'flaot'. Did you mean 'float'"):
        read_project(tmp_path)
    (tmp_path / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters: {lr: float}\n    command: x {lrr}\n"
    )
    with pytest.raises(ProjectError, match=r"uses \{lrr\}, which is not a parameter"):
        read_project(tmp_path)


def test_the_entry_name_is_the_first_bare_word():
    assert split_entry(["lr=1", "shout", "--dry-run"]) == ("shout", ["lr=1", "--dry-run"])
    assert split_entry(["--cfg", "job", "lr=1"]) == ("main", ["--cfg", "job", "lr=1"])
    assert split_entry(["--to-yaml", "out.yaml"]) == ("main", ["--to-yaml", "out.yaml"])


def test_logger_from_env_outside_an_entry_point_says_how_to_start_it(monkeypatch):
    import mlxlaunch

    monkeypatch.delenv("MLXLAUNCH_LOG_DIR", raising=False)
    with pytest.raises(UsageError, match="mlxlaunch run"):
        mlxlaunch.Logger.from_env()


def test_help_describes_the_entry_point(proj):
    out = proj.run("run", "--help").stdout
    assert "python train.py --lr {lr}" in out and "(required)" in out and "shout" in out
