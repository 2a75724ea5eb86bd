"""The version manager with a real Slurm cluster: jobs run from the code snapshot.

Uses the session cluster of ``tests/cluster/fixtures.py`` (skipped, with the
reason, where a local Slurm cannot be started). The project belongs to the
cluster's test user, who makes the git repository and submits the sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster.cluster_project import ClusterProject
from cluster.fixtures import run_as, start_cluster

from mlxlaunch.runfolder.layout import Status

# with the other Slurm tests: on their xdist worker, and selected by ``pytest -m cluster``
pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("slurm")]

#: Prints which file, folder and constant a job runs.
TASK = """\
import os
import mlxlaunch

CONSTANT = 1

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    print(f"constant {CONSTANT} file {__file__} cwd {os.getcwd()}", flush=True)

if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="session")
def slurm() -> Iterator[dict[str, Any]]:
    yield from start_cluster("slurm")


def git_as_user(project: ClusterProject, *args: str) -> str:
    proc = run_as(project.cluster["user"], "git", *args, cwd=project.root, env=project.env())
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_slurm_jobs_run_from_the_snapshot(slurm: dict[str, Any]) -> None:
    project = ClusterProject(slurm, f"vm-{uuid.uuid4().hex[:8]}")
    project.write("main.py", TASK)
    git_as_user(project, "init", "-q", "-b", "main")
    git_as_user(project, "config", "user.email", "researcher@example.com")
    git_as_user(project, "config", "user.name", "Researcher")
    git_as_user(project, "add", "-A")
    git_as_user(project, "commit", "-q", "-m", "first commit")
    head = git_as_user(project, "rev-parse", "HEAD").strip()

    proc = project.run(
        "+launcher.use_version_manager=True",
        "+launcher.use_scheduler=True",
        "+launcher.scheduler.name=slurm",
        "+x=1,2",
    )
    assert proc.returncode == 0, proc.stderr
    # the developer edits the script as soon as the sweep is submitted
    main = project.root / "main.py"
    main.write_text(main.read_text().replace("CONSTANT = 1", "CONSTANT = 2"))

    ids = project.run_ids()
    assert len(ids) == 2
    project.wait_until(ids, Status.FINISHED, timeout=120)
    snapshot = project.root / ".mlxlaunch-work" / project.root.name / head
    for log_id in ids:
        info = project.info(log_id)
        assert info["status"] == Status.COMPLETE, project.describe(ids)
        assert info["git"]["commit"] == head and info["git"]["snapshot"] == str(snapshot)
        out = (project.logs / str(log_id) / "log.stdout").read_text()
        assert f"constant 1 file {snapshot / 'main.py'} cwd {snapshot}" in out
    job_scripts = list((project.logs / ".jobs").rglob("*.sh")) or list(project.logs.rglob("*.sh"))
    assert any(f"cd {snapshot}" in Path(p).read_text() for p in job_scripts)
