"""The core launch flow, run as a user would: a real script in a real process."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from mlxlaunch import runfolder


def test_single_run_writes_run_folder(project):
    proc = project.run(check=True)
    assert project.run_ids() == [1]
    run = project.logs / "1"
    info = project.info(1)
    assert info["status"] == "COMPLETE"
    assert info["log_id"] == 1 and info["attempt"] == 1 and info["exit_code"] == 0
    for key in (
        "start_time",
        "end_time",
        "duration_s",
        "hostname",
        "pid",
        "user",
        "python_executable",
        "python_version",
        "script",
        "argv",
        "overrides",
        "sweep_id",
    ):
        assert info.get(key) is not None, key
    assert info["start_time"].endswith("+00:00")  # ISO 8601, UTC
    config = yaml.safe_load((run / "metadata" / "config.yaml").read_text())
    assert config["optimizer"]["lr"] == 0.1
    settings = yaml.safe_load((run / "metadata" / "launcher.yaml").read_text())
    assert settings["use_logger"] is True
    lines = (run / "metrics" / "train.json").read_text().splitlines()
    assert len(lines) == 2
    assert "done 1 RUNNING" in proc.stdout  # ctx.info is the live info of the run
    assert "1 COMPLETE" in proc.stderr


def test_sweep_without_multirun_flag(project):
    proc = project.run("optimizer.lr=0.01,0.1", "+seed2=1,2", check=True)
    assert project.run_ids() == [1, 2, 3, 4]
    points = [project.info(i)["overrides"] for i in range(1, 5)]
    # Hydra's order: the cartesian product with the last override varying fastest
    assert points == [
        ["optimizer.lr=0.01", "+seed2=1"],
        ["optimizer.lr=0.01", "+seed2=2"],
        ["optimizer.lr=0.1", "+seed2=1"],
        ["optimizer.lr=0.1", "+seed2=2"],
    ]
    sweep_ids = {project.info(i)["sweep_id"] for i in range(1, 5)}
    assert len(sweep_ids) == 1
    assert "4 runs: 4 COMPLETE" in proc.stderr


def test_multirun_flag_is_accepted(project):
    project.run("-m", "optimizer.lr=0.01,0.1", check=True)
    assert project.run_ids() == [1, 2]


def test_range_sweep(project):
    project.run("num_epoch=range(1,4)", check=True)
    epochs = [project.info(i)["overrides"] for i in project.run_ids()]
    assert epochs == [["num_epoch=1"], ["num_epoch=2"], ["num_epoch=3"]]
    lines = [
        len((project.logs / str(i) / "metrics" / "train.json").read_text().splitlines())
        for i in (1, 2, 3)
    ]
    assert lines == [1, 2, 3]


def test_config_groups_choice_and_glob(project):
    project.write(
        "configs/config.yaml",
        "defaults:\n  - model: small\n  - _self_\nseed: 0\nnum_epoch: 1\nextra: 1\noptimizer:\n  lr: 0.1\n",
    )
    project.write("configs/model/small.yaml", "num_layers: 2\n")
    project.write("configs/model/big.yaml", "num_layers: 8\n")
    project.run("model=glob(*)", check=True)
    layers = sorted(
        yaml.safe_load((project.logs / str(i) / "metadata" / "config.yaml").read_text())["model"][
            "num_layers"
        ]
        for i in project.run_ids()
    )
    assert layers == [2, 8]
    project.run("model=choice(big)", "~extra", check=True)
    config = yaml.safe_load((project.logs / "3" / "metadata" / "config.yaml").read_text())
    assert config["model"]["num_layers"] == 8 and "extra" not in config


def test_failing_middle_point_others_complete(project):
    proc = project.run("+fail=false,true,false")
    assert proc.returncode == 1
    assert [project.info(i)["status"] for i in (1, 2, 3)] == ["COMPLETE", "FAILED", "COMPLETE"]
    failed = project.info(2)
    assert failed["exit_code"] == 1
    assert failed["error"] == "ValueError: asked to fail at lr=0.1"
    assert "1 FAILED (id 2)" in proc.stderr and "2 COMPLETE" in proc.stderr
    traceback_text = (project.logs / "2" / "metadata" / "traceback.txt").read_text()
    assert 'main.py", line' in traceback_text  # points at the user's file


def test_fail_fast_stops_after_first_failure(project):
    proc = project.run("+fail=true,false", "+launcher.fail_fast=true")
    assert proc.returncode == 1
    assert project.info(1)["status"] == "FAILED"
    assert project.info(2)["status"] == "QUEUED"


def test_typo_in_sweep_point_fails_before_anything_runs(project):
    proc = project.run("num_epoch=1,2", "optimizer.lrr=0.1")
    assert proc.returncode == 2
    assert (
        "optimizer.lrr" in proc.stderr
        and "Did you mean" in proc.stderr
        and "'optimizer.lr'" in proc.stderr
    )
    assert "point 1 of 2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not project.logs.exists()


def test_bad_group_option_lists_valid_options(project):
    project.write(
        "configs/config.yaml",
        "defaults:\n  - model: small\n  - _self_\nseed: 0\nnum_epoch: 1\noptimizer:\n  lr: 0.1\n",
    )
    project.write("configs/model/small.yaml", "num_layers: 2\n")
    project.write("configs/model/big.yaml", "num_layers: 8\n")
    proc = project.run("model=bigg")
    assert proc.returncode == 2
    assert "Did you mean 'big'" in proc.stderr
    assert not project.logs.exists()


def test_unparseable_override_is_a_usage_error(project):
    proc = project.run("optimizer.lr=[0.1")
    assert proc.returncode == 2
    assert "Cannot parse the override" in proc.stderr and not project.logs.exists()


def test_missing_seed_with_seeding_function(project):
    project.write("configs/config.yaml", "num_epoch: 1\noptimizer:\n  lr: 0.1\n")
    proc = project.run()
    assert proc.returncode == 2 and "'seed'" in proc.stderr
    assert not project.logs.exists()


def test_seeding_function_receives_seed(project):
    project.write(
        "main.py",
        """
        import mlxlaunch
        seen = []
        @mlxlaunch.launch(config_path="configs", seeding_function=seen.append)
        def main(ctx):
            print("seeded", seen)
        if __name__ == "__main__":
            main()
        """,
    )
    proc = project.run("seed=7", check=True)
    assert "seeded [7]" in proc.stdout


def test_cfg_job_prints_config_and_runs_nothing(project):
    proc = project.run("--cfg", "job", "optimizer.lr=0.5", check=True)
    assert yaml.safe_load(proc.stdout)["optimizer"]["lr"] == 0.5
    assert not project.logs.exists()


def test_help_lists_config_and_settings(project):
    proc = project.run("--help", check=True)
    assert "optimizer" in proc.stdout and "forced_log_id" in proc.stdout
    assert not project.logs.exists()


def test_paths_resolve_against_script_folder(project, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, str(project.root / "main.py")],
        cwd=elsewhere,
        env=project.env(),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert project.run_ids() == [1]
    assert not (elsewhere / "logs").exists()


def test_use_logger_false_gives_no_logger(project):
    project.write(
        "main.py",
        """
        import mlxlaunch
        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            print("logger is", ctx.logger, ctx.settings.use_logger)
        if __name__ == "__main__":
            main()
        """,
    )
    proc = project.run("+launcher.use_logger=false", check=True)
    assert "logger is None False" in proc.stdout
    assert project.info(1)["status"] == "COMPLETE"


def test_use_logger_false_keeps_only_the_run_record_and_a_failed_run_can_be_rerun(project):
    """Issue 12 item 18, as docs/launching.md says: no metrics, artifacts or checkpoints, but
    the run folder (frozen config, settings, info) stays, so a failed point leaves a trace and
    `mlxlaunch resubmit` reruns it (MLXP wrote nothing, and so could not)."""
    project.write(
        "main.py",
        """
        import os
        import mlxlaunch
        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            assert ctx.logger is None
            if os.environ.get("FAIL_ONCE"):
                raise RuntimeError("boom")
            print("ran", ctx.config.seed)
        if __name__ == "__main__":
            main()
        """,
    )
    env = project.env()
    env["FAIL_ONCE"] = "1"
    proc = subprocess.run(
        [sys.executable, "main.py", "+launcher.use_logger=false", "seed=7"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode != 0 and "boom" in proc.stderr
    run = project.logs / "1"
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["metadata"]
    assert project.info(1)["status"] == "FAILED"
    assert runfolder.read_config(run)["seed"] == 7
    rerun = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", "logs", "1"],
        cwd=project.root, env=project.env(), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    assert project.info(1)["status"] == "COMPLETE" and project.info(1)["attempt"] == 2
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["metadata"]


def test_config_is_frozen_before_the_point_runs(project):
    # The second point must run with the config frozen at launch, even though the
    # first point edits configs/config.yaml while the sweep is running.
    project.write(
        "main.py",
        """
        import pathlib
        import mlxlaunch
        @mlxlaunch.launch(config_path="configs")
        def main(ctx):
            cfg = pathlib.Path(__file__).parent / "configs" / "config.yaml"
            cfg.write_text(cfg.read_text().replace("num_epoch: 2", "num_epoch: 99"))
            print("num_epoch", ctx.config.num_epoch)
        if __name__ == "__main__":
            main()
        """,
    )
    proc = project.run("seed=1,2", check=True)
    assert proc.stdout.count("num_epoch 2") == 2


@pytest.mark.parametrize("forced", [[], ["+launcher.logger.forced_log_id=3"]])
def test_a_logs_folder_that_is_a_file_is_a_clear_error(project, forced):
    (project.root / "notes").write_text("not a folder")
    proc = project.run("+launcher.logger.parent_log_dir=notes", *forced)
    assert proc.returncode == 1
    assert "The logs folder" in proc.stderr and "is a file, not a folder" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--to-yaml", "a.yaml", "--to-json", "b.json"],
        ["-cn", "config", "-cn", "other"],
        ["@a.yaml", "@b.yaml"],
    ],
)
def test_an_option_given_twice_is_an_error(project, args):
    proc = project.run(*args)
    assert proc.returncode == 2 and "given twice" in proc.stderr
    assert not project.logs.exists()


def test_deleting_an_unknown_key_says_so(project):
    proc = project.run("~optimizer.lrr")
    assert proc.returncode == 2
    assert "Cannot delete 'optimizer.lrr'" in proc.stderr and "'optimizer.lr'" in proc.stderr
    assert "To add a new key" not in proc.stderr


def test_float_looking_strings_survive_the_frozen_config(project):
    project.run("+tag='1e3'", check=True)
    assert runfolder.read_config(project.logs / "1")["tag"] == "1e3"
    exported = project.run("+tag='1e3'", "--to-yaml", "out.yaml", check=True)
    assert "out.yaml" in exported.stdout
    proc = project.run("-cp", ".", "-cn", "out", "--cfg", "job", check=True)
    assert yaml.safe_load(proc.stdout)["tag"] == "1e3"
