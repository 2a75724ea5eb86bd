"""Experiment names (``+launcher.name``) and ``${mlx:...}`` placeholders, frozen per run."""

from __future__ import annotations

import yaml

CONFIG = """\
seed: 0
num_epoch: 1
model:
  num_layers: 2
optimizer:
  lr: 0.1
wandb:
  name: ${mlx:name}-${mlx:run_id}
  group: ${mlx:sweep_id}
  dir: ${mlx:log_dir}/wandb
run_id: ${mlx:run_id}
"""


def _frozen(project, log_id: int) -> dict:
    return yaml.safe_load((project.logs / str(log_id) / "metadata" / "config.yaml").read_text())


def test_the_name_is_recorded_in_every_run_and_queryable(project):
    project.run("+launcher.name=ablation-3", "seed=1,2", check=True)
    project.run("seed=3", check=True)
    assert [project.info(i)["name"] for i in (1, 2, 3)] == ["ablation-3", "ablation-3", None]
    import mlxlaunch

    assert mlxlaunch.Reader(project.logs).search("info.name == 'ablation-3'").log_ids == [1, 2]


def test_placeholders_are_resolved_per_point_and_frozen(project):
    project.write("configs/config.yaml", CONFIG)
    project.run("+launcher.name=ablation-3", "seed=1,2", "+launcher.n_workers=2", check=True)
    sweep = project.info(1)["sweep_id"]
    for log_id in (1, 2):
        frozen = _frozen(project, log_id)
        assert frozen["wandb"] == {
            "name": f"ablation-3-{log_id}",
            "group": sweep,
            "dir": f"{project.logs / str(log_id)}/wandb",
        }
        assert frozen["run_id"] == log_id  # a whole placeholder keeps its type


def test_without_a_name_the_name_placeholder_is_the_sweep_id(project):
    project.write("configs/config.yaml", CONFIG)
    project.run(check=True)
    assert _frozen(project, 1)["wandb"]["name"] == f"{project.info(1)['sweep_id']}-1"


def test_a_resumed_run_keeps_its_frozen_values(project):
    project.write("configs/config.yaml", CONFIG)
    project.run("+launcher.name=first", check=True)
    project.run("+launcher.logger.forced_log_id=1", "+launcher.name=second", check=True)
    assert _frozen(project, 1)["wandb"]["name"] == "first-1"


def test_cfg_and_exports_show_the_placeholders_not_a_value(project):
    project.write("configs/config.yaml", CONFIG)
    shown = yaml.safe_load(project.run("--cfg", "job", check=True).stdout)
    assert shown["wandb"]["name"] == "${mlx:name}-${mlx:run_id}"
    assert project.run_ids() == []


def test_an_unknown_placeholder_fails_before_anything_runs(project):
    proc = project.run("seed=1,2", "+tag=${mlx:runid}")
    assert proc.returncode == 2 and project.run_ids() == []
    assert "unknown placeholder '${mlx:runid}'. Did you mean 'run_id'?" in proc.stderr
