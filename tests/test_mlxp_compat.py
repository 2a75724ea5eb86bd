"""An MLXP user's spellings, run as that user would type them (issue 14).

Each test is a command from MLXP's tutorial or docs, run on a real project;
``tests/test_mlxp_tutorial.py`` ports the tutorial itself.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml


def test_plus_on_an_existing_key_overrides_it(project):
    # MLXP's tutorial: `python main.py +optimizer.lr=0.01,0.1` where optimizer.lr exists
    proc = project.run("+optimizer.lr=0.01,0.1", check=True)
    assert project.run_ids() == [1, 2]
    lrs = [
        yaml.safe_load((project.logs / str(i) / "metadata" / "config.yaml").read_text())[
            "optimizer"
        ]["lr"]
        for i in (1, 2)
    ]
    assert lrs == [0.01, 0.1]
    assert "2 runs: 2 COMPLETE" in proc.stderr


def test_plus_still_adds_new_keys_and_plain_still_refuses_them(project):
    project.run("+optimizer.momentum=0.9", "+seed=3", check=True)
    config = yaml.safe_load((project.logs / "1" / "metadata" / "config.yaml").read_text())
    assert config["optimizer"] == {"lr": 0.1, "momentum": 0.9} and config["seed"] == 3
    proc = project.run("optimizer.momentum=0.9")
    assert proc.returncode == 2 and "Unknown config key 'optimizer.momentum'" in proc.stderr


def test_plus_on_a_config_group_keeps_hydras_meaning(project):
    project.write("configs/model/big.yaml", "num_layers: 8\n")
    # the config has no default for the group `model`'s options: + adds the group choice
    project.write("configs/config.yaml", "seed: 0\nnum_epoch: 1\noptimizer:\n  lr: 0.1\n")
    project.run("+model=big", check=True)
    config = yaml.safe_load((project.logs / "1" / "metadata" / "config.yaml").read_text())
    assert config["model"] == {"num_layers": 8}


def _fake_oarsub(project) -> dict:
    """An ``oarsub`` on PATH that accepts a 2-run array and records its script."""
    from test_scheduler import _fake

    bin_dir = project.root / "bin"
    _fake(bin_dir, "oarsub", 'cp "${@: -1}" "$(dirname "$0")/job.sh"\n'
          "echo OAR_JOB_ID=41; echo OAR_JOB_ID=42; echo OAR_ARRAY_ID=41")  # fmt: skip
    _fake(bin_dir, "oarresume", "exit 0")  # the array is submitted held, then released
    env = project.env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return env


@pytest.mark.parametrize("namespace", ["mlxp", "mlxpy"])
def test_mlxp_namespace_resumes_a_run(project, namespace):
    project.run(check=True)
    proc = project.run(f"+{namespace}.logger.forced_log_id=1", "num_epoch=3", check=True)
    assert project.run_ids() == [1]  # resumed, not a new run
    assert project.info(1)["attempt"] == 2
    assert f"'+{namespace}.logger.forced_log_id=1' is MLXP's spelling of" in proc.stderr
    assert "+launcher.logger.forced_log_id=1" in proc.stderr


def test_mlxpy_namespace_submits_to_the_scheduler(project):
    env = _fake_oarsub(project)
    proc = subprocess.run(
        [sys.executable, "main.py", "optimizer.lr=0.1,0.2", "+mlxpy.use_scheduler=True",
         "+mlxpy.scheduler.name=OARScheduler",
         "+mlxp.scheduler.option_cmd=['-l core=1, walltime=6:00:00','-t besteffort']"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "41" in proc.stdout
    script = (project.root / "bin" / "job.sh").read_text()
    assert "#OAR -l core=1, walltime=6:00:00\n#OAR -t besteffort\n" in script
    assert {project.info(i)["status"] for i in (1, 2)} == {"QUEUED"}


def test_mlxp_namespace_key_with_no_meaning_is_a_note(project):
    proc = project.run("+mlxp.logger.name=MyLogger", "+mlxp.resolve=False", check=True)
    assert "'logger.name: MyLogger'" in proc.stderr and "is ignored" in proc.stderr
    assert "'resolve: False'" in proc.stderr
    assert project.run_ids() == [1]


TUTORIAL_MLXPY = """\
logger:
  name: DefaultLogger
  parent_log_dir: ./mlxp_logs
  forced_log_id: -1
  log_streams_to_file: true
scheduler:
  name: SLURMScheduler
  shell_path: /bin/bash
  shell_config_cmd: 'source ~/.bashrc'
  env_cmd: 'conda activate my_env'
  cleanup_cmd: ''
  option_cmd: ['--time=01:00:00', '--partition=gpu']
version_manager:
  name: GitVM
  parent_work_dir: ./.workdir
  compute_requirements: false
use_version_manager: false
use_scheduler: false
use_logger: true
interactive_mode: false
"""


@pytest.mark.parametrize("name", ["mlxp.yaml", "mlxpy.yaml"])
def test_mlxp_settings_file_is_read_when_there_is_no_launcher_yaml(project, name):
    project.write(f"configs/{name}", TUTORIAL_MLXPY)
    proc = project.run(check=True)
    assert "is ignored" not in proc.stderr  # every key of the tutorial's file has a meaning
    run = project.root / "mlxp_logs" / "1"
    settings = yaml.safe_load((run / "metadata" / "launcher.yaml").read_text())
    assert settings["logger"]["log_streams_to_file"] is True
    assert settings["scheduler"]["name"] == "slurm"
    assert settings["scheduler"]["extra"] == ["--time=01:00:00", "--partition=gpu"]
    assert settings["scheduler"]["env"] == ["source ~/.bashrc", "conda activate my_env"]
    assert settings["version_manager"] == {
        "on_dirty": "ignore",
        "non_interactive": "fail",
        "parent_work_dir": "./.workdir",
    }
    assert (run / "log.stdout").is_file()
    # launcher.yaml, when there is one, wins: the MLXP file is not read at all
    project.write("configs/launcher.yaml", "n_workers: 1\n")
    project.run(check=True)
    assert (project.logs / "1").is_dir()


def test_mlxp_file_keys_with_no_meaning_are_notes_never_errors(project):
    project.write(
        "configs/mlxp.yaml",
        "logger:\n  name: mymod.MyLogger\nscheduler:\n  cleanup_cmd: 'rm -rf /tmp/x'\n"
        "as_ConfigDict: false\nuse_loger: true\n",
    )
    proc = project.run(check=True)
    notes = [line for line in proc.stderr.splitlines() if line.startswith("mlxlaunch: note:")]
    assert len(notes) == 4, proc.stderr
    assert "'use_loger'" in proc.stderr and "'use_logger'" in proc.stderr


def test_mlxp_file_with_an_unsupported_scheduler_is_a_one_line_error(project):
    project.write("configs/mlxp.yaml", "scheduler:\n  name: MWMScheduler\n")
    proc = project.run()
    assert proc.returncode == 2
    assert "MLXP scheduler 'MWMScheduler' is not supported here" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_migrate_writes_the_equivalent_launcher_yaml(project):
    mlxp_file = project.write("configs/mlxp.yaml", TUTORIAL_MLXPY)
    project.run(check=True)
    before = yaml.safe_load((project.root / "mlxp_logs/1/metadata/launcher.yaml").read_text())
    cli = [sys.executable, "-m", "mlxlaunch.cli", "migrate", "configs/mlxp.yaml"]
    proc = subprocess.run(cli, cwd=project.root, env=project.env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "wrote configs/launcher.yaml"
    mlxp_file.write_text("use_logger: false\n")  # no longer read: launcher.yaml wins
    project.run(check=True)
    after = yaml.safe_load((project.root / "mlxp_logs/2/metadata/launcher.yaml").read_text())
    assert after == before
    again = subprocess.run(cli, cwd=project.root, env=project.env(), capture_output=True, text=True)
    assert again.returncode == 2 and "exists already; pass --force" in again.stderr


def test_standalone_logger_allocates_its_own_numbered_run_folder(tmp_path, monkeypatch):
    # MLXP's tests and notebooks: mlxp.DefaultLogger(parent_log_dir), no launch involved
    import mlxlaunch as mlxp
    from mlxlaunch.runfolder import allocate_run_dirs

    monkeypatch.chdir(tmp_path)
    first = mlxp.DefaultLogger("./logs")
    second = mlxp.Logger("./logs")
    assert (first.log_id, second.log_id) == (1, 2)
    assert first.parent_log_dir == str(tmp_path / "logs")
    assert first.log_dir == str(tmp_path / "logs" / "1")  # MLXP's log_dir is a str
    assert first.log_dir + "/metrics" == str(tmp_path / "logs" / "1" / "metrics")
    assert {str(tmp_path / "logs" / "1"): "a"}[first.log_dir] == "a"
    first.log_metrics({"loss": 0.5}, log_name="train")
    first.close()
    assert (tmp_path / "logs/1/metrics/train.json").read_text() == '{"loss":0.5}\n'
    # the launcher's allocation counts them: a launch after them gets id 3
    assert allocate_run_dirs(tmp_path / "logs", 1)[0][0] == 3
    forced = mlxp.Logger("./logs", forced_log_id=7)
    assert (forced.log_id, forced.log_dir) == (7, str(tmp_path / "logs" / "7"))
    # the launcher's own form is unchanged: an existing run folder and its id
    again = mlxp.Logger(tmp_path / "logs" / "1", 1)
    assert (again.log_id, again.log_dir) == (1, tmp_path / "logs" / "1")


def test_standalone_logger_copies_streams_to_file(tmp_path):
    code = (
        "import mlxlaunch as mlxp\n"
        "logger = mlxp.Logger('logs', log_streams_to_file=True)\n"
        "print('hello')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello\n"
    assert (tmp_path / "logs" / "1" / "log.stdout").read_text() == "hello\n"


def _env() -> dict:
    from conftest import REPO

    return dict(os.environ, PYTHONPATH=str(REPO))


MLXPSUB_SCRIPT = """\
#!/bin/bash
#SBATCH --time=06:00:00
#SBATCH --gres=gpu:1
module load cuda
source .venv/bin/activate

python main.py  optimizer.lr=0.1,0.2 \\
                seed=1,2
"""


def _submit(project, env, *args):
    cli = [sys.executable, "-m", "mlxlaunch.cli", "submit", *args]
    return subprocess.run(cli, cwd=project.root, env=env, capture_output=True, text=True)


def test_submit_turns_a_job_script_into_one_job_array(project):
    # MLXP's `mlxpsub script.sh`: directives give the resources, the python line the sweep
    from test_scheduler import _fake

    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", 'cp "${@: -1}" "$(dirname "$0")/job.sh"; echo 1234')
    _fake(bin_dir, "scontrol", "exit 0")
    env = project.env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    project.write("script.sh", MLXPSUB_SCRIPT)
    proc = _submit(project, env, "script.sh")
    assert proc.returncode == 0, proc.stderr
    assert project.run_ids() == [1, 2, 3, 4]
    assert {project.info(i)["status"] for i in range(1, 5)} == {"QUEUED"}
    assert [project.info(i)["scheduler"]["job_id"] for i in (1, 4)] == ["1234_0", "1234_3"]
    assert len((bin_dir / "calls.log").read_text().split("sbatch")) == 2  # one array
    job = (bin_dir / "job.sh").read_text()
    assert "#SBATCH --time=06:00:00\n#SBATCH --gres=gpu:1\n" in job
    assert "module load cuda\nsource .venv/bin/activate\n" in job
    config = yaml.safe_load((project.logs / "4" / "metadata" / "config.yaml").read_text())
    assert (config["optimizer"]["lr"], config["seed"]) == (0.2, 2)


def test_a_refused_submission_exits_nonzero_with_the_schedulers_message(project):
    from test_scheduler import _fake

    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 'sbatch: error: Invalid account' >&2; exit 1")
    env = project.env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    project.write("script.sh", MLXPSUB_SCRIPT)
    proc = _submit(project, env, "script.sh")
    assert proc.returncode == 1
    assert "sbatch: error: Invalid account" in proc.stderr
    assert {project.info(i)["status"] for i in range(1, 5)} == {"SUBMIT_FAILED"}


def test_submit_of_a_script_without_python_is_a_one_line_error(project):
    project.write("script.sh", "#!/bin/bash\n#OAR -l core=1\necho hi\n")
    proc = _submit(project, project.env(), "script.sh")
    assert proc.returncode == 2 and "has no python command" in proc.stderr
    assert "Traceback" not in proc.stderr


MLXP_INFO = """\
status: COMPLETE
current_file_path: {root}/main.py
executable: /usr/bin/python3
hostname: vm
process_id: 19733
start_date: 04/12/2026
start_time: '15:04:14'
end_date: 04/12/2026
end_time: '15:04:15'
work_dir: {root}
logger:
  log_id: 1
  log_dir: {root}/logs/1
  metrics_dir: {root}/logs/1/metrics
  metadata_dir: {root}/logs/1/metadata
  artifacts_dir: {root}/logs/1/artifacts
scheduler: null
version_manager: null
"""


def test_resuming_a_run_written_by_mlxp_keeps_mlxps_record(project):
    # a run folder as MLXP 1.0.5 writes it: config.yaml, info.yaml without attempts, metrics
    run = project.logs / "1"
    project.write("logs/1/metadata/config.yaml", "seed: 0\nnum_epoch: 2\nmodel:\n  num_layers: 2\n"
                  "optimizer:\n  lr: 0.1\n")  # fmt: skip
    mlxp_info = MLXP_INFO.format(root=project.root)
    project.write("logs/1/metadata/info.yaml", mlxp_info)
    project.write("logs/1/metrics/train.json", '{"loss": 0.1, "epoch": 0}\n')
    project.run("+mlxp.logger.forced_log_id=1", check=True)
    assert project.run_ids() == [1]
    record = yaml.safe_load((run / "metadata" / "attempts" / "1.yaml").read_text())
    assert record == dict(yaml.safe_load(mlxp_info), attempt=1)  # MLXP's record, as it was
    info = project.info(1)
    assert (info["attempt"], info["status"]) == (2, "COMPLETE")
    assert "process_id" not in info and "start_date" not in info  # MLXP's attempt's own values
    assert len((run / "metrics" / "train.json").read_text().splitlines()) == 3


def test_an_mlxp_key_in_launcher_yaml_says_what_to_write_instead(project):
    project.write("configs/launcher.yaml", "scheduler:\n  option_cmd: ['-t besteffort']\n")
    proc = project.run()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'scheduler.option_cmd' is MLXP's spelling of 'scheduler.extra'" in proc.stderr
    assert "mlxlaunch migrate" in proc.stderr
