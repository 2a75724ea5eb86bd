"""Usage errors: exit 2, one message naming what is valid, no traceback unless --verbose;
failures of the task: a traceback that starts in the user's file."""

from __future__ import annotations

import pytest

from mlxlaunch.errors import ConfigError, MlxlaunchError, UsageError, unknown_choice


def _groups(project):
    project.write(
        "configs/config.yaml",
        "defaults:\n  - model: resnet\n  - _self_\nseed: 0\nnum_epoch: 1\noptimizer:\n  lr: 0.1\n",
    )
    project.write("configs/model/resnet.yaml", "depth: 18\n")
    project.write("configs/model/vit.yaml", "patch: 16\n")
    return project


@pytest.mark.parametrize(
    "args,expected",
    [
        (["optimizer.rl=1"], "Unknown config key 'optimizer.rl' in (optimizer.rl=1). Did you mean"),
        (["model=vti"], "Valid options for 'model': resnet, vit. Did you mean 'vit'?"),
        (["seed=1,2", "model=resnet,vt"], "point 2 of 4 (seed=1 model=vt)"),
        (["+launcher.n_wokers=2"], "Unknown launcher setting 'n_wokers'"),
        (["+launcher.logger.forced_log_ib=2"], "Did you mean one of: 'logger.forced_log_id'"),
        (["+launcher.backend=slurn"], "Did you mean 'slurm'?"),
        (["--dryrun"], "Unknown option '--dryrun'. Did you mean '--dry-run'?"),
        (["--cfg", "jobs"], "--cfg takes 'job' or 'all'"),
        (["seed=range(0,"], "Cannot parse the override"),
        (["--config-name", "confg"], "Did you mean 'config.yaml'?"),
        (["+launcher.n_workers=abc"], "Bad value for launcher setting 'n_workers'"),
    ],
)
def test_usage_errors_exit_2_with_a_suggestion_and_no_traceback(project, args, expected):
    proc = _groups(project).run(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stderr.startswith("mlxlaunch: error: ")
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not project.logs.exists()


def test_backend_error_suggests_the_closest_backend(project):
    proc = project.run("+launcher.backend=slrum")
    assert proc.returncode == 2
    assert "Unknown backend 'slrum'. Did you mean 'slurm'?" in proc.stderr


def test_a_broken_yaml_file_is_a_usage_error_naming_the_file(project):
    project.write("configs/config.yaml", "seed: [1, 2\n")
    proc = project.run()
    assert proc.returncode == 2
    assert "invalid YAML" in proc.stderr and "config.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_verbose_shows_the_traceback_of_a_usage_error(project):
    proc = project.run("optimizer.rl=1", "--verbose")
    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "mlxlaunch.errors.UnknownConfigKey: Unknown config key 'optimizer.rl'" in proc.stderr


@pytest.mark.parametrize("where", [[], ["+launcher.n_workers=2"]], ids=["local", "worker"])
def test_the_traceback_of_a_failing_task_starts_in_the_users_file(project, where):
    project.write(
        "main.py",
        """\
        import mlxlaunch

        def helper(x):
            raise ValueError(f"bad value {x}")

        @mlxlaunch.launch(config_path="configs")
        def train(ctx):
            helper(ctx.config.seed)

        if __name__ == "__main__":
            assert train.__name__ == "train" and train.__wrapped__.__name__ == "train"
            train()
        """,
    )
    proc = project.run(*where)
    assert proc.returncode == 1
    tb = proc.stderr[proc.stderr.index("Traceback") :].splitlines()
    main_py = str(project.root / "main.py")
    assert tb[1] == f'  File "{main_py}", line 8, in train'
    assert tb[3] == f'  File "{main_py}", line 4, in helper'
    assert "ValueError: bad value 0" in tb
    assert not any("mlxlaunch" in line and "File" in line for line in tb), proc.stderr
    assert "in main" not in proc.stderr and "wrapper" not in proc.stderr
    traceback_file = (project.logs / "1/metadata/traceback.txt").read_text()
    assert f'File "{main_py}", line 8, in train' in traceback_file


def test_exception_hierarchy_and_exit_codes():
    assert issubclass(ConfigError, UsageError) and issubclass(UsageError, MlxlaunchError)
    assert UsageError("x").exit_code == 2 and MlxlaunchError("x").exit_code == 1


def test_unknown_choice_names_the_closest_and_every_valid_name():
    message = unknown_choice("backend", "gpu_lnog", ["gpu_long", "cpu"], how="See docs.")
    assert message == (
        "Unknown backend 'gpu_lnog'. Did you mean 'gpu_long'? Valid backends: cpu, gpu_long. "
        "See docs."
    )
    assert unknown_choice("group", "x", []) == "Unknown group 'x'. Valid groups: none yet."
