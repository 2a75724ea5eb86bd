"""``python -m mypkg.train``: every executor starts the task the way the user did (issue 12.15)."""

from __future__ import annotations

import os
import subprocess
import sys

from test_scheduler import _fake

TRAIN = """\
import mlxlaunch

from .helper import double  # a relative import: fails as ``python mypkg/train.py``


@mlxlaunch.launch(config_path="configs")
def main(ctx):
    print("double", double(ctx.config.x), flush=True)


if __name__ == "__main__":
    main()
"""


def _package(project) -> None:
    project.write("mypkg/__init__.py", "")
    project.write("mypkg/helper.py", "def double(x):\n    return 2 * x\n")
    project.write("mypkg/train.py", TRAIN)
    project.write("mypkg/configs/config.yaml", "x: 1\n")


def _module(project, *args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypkg.train", *args], cwd=project.root,
        env=env or project.env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_workers_start_a_module_task_with_python_m(project) -> None:
    _package(project)
    proc = _module(project, "x=1,2,3", "+launcher.n_workers=2")
    assert proc.returncode == 0, proc.stderr
    logs = project.root / "mypkg" / "logs"
    from mlxlaunch.runfolder.metadata import read_info

    infos = [read_info(logs / str(i)) for i in (1, 2, 3)]
    assert [i["status"] for i in infos] == ["COMPLETE"] * 3
    assert {i["module"] for i in infos} == {"mypkg.train"}


def test_a_job_script_starts_a_module_task_with_python_m(project) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    _package(project)
    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 77")
    _fake(bin_dir, "scontrol", "exit 0")
    env = dict(project.env(), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = _module(project, "x=5", "+launcher.use_scheduler=true",
                   "+launcher.scheduler.name=slurm", env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = project.root / "mypkg" / "logs" / "1"
    script = read_info(run_dir)["scheduler"]["script"]
    assert f"{sys.executable} -m mypkg.train &" in open(script).read()
    job = subprocess.run(["bash", script], env=dict(env, SLURM_ARRAY_TASK_ID="0"), timeout=120)
    assert job.returncode == 0
    assert read_info(run_dir)["status"] == "COMPLETE"
    assert (run_dir / "log.stdout").read_text() == "double 10\n"
