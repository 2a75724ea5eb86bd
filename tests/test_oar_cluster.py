"""OAR executor against a real OAR 2.5 server started by ``tests/cluster``.

OAR starts about 1.5 jobs/s on this machine, so only part of the conformance
suite runs here (6 jobs in all): a single run, a failing point in an array, a
quoted override (OAR passes no environment to jobs: the script sets it), and a
cancelled job that ``mlxlaunch status`` reconciles with one ``oarstat`` call.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster.cluster_project import ClusterProject
from cluster.fixtures import start_cluster
from executor_suite import SUITE_TASK, ExecutorSuite
from test_slurm_cluster import check_not_started_then_restarted, small_logs  # noqa: F401

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("oar")]

OAR = ["+launcher.use_scheduler=true", "+launcher.scheduler.name=oar"]
_names = itertools.count()


@pytest.fixture(scope="session")
def oar_cluster():
    yield from start_cluster("oar")


@pytest.fixture
def cproject(oar_cluster: dict[str, Any], request) -> ClusterProject:
    return ClusterProject(oar_cluster, f"{request.node.name[:40]}-{next(_names)}")


class TestOarExecutor(ExecutorSuite):
    """Part of the conformance suite, each sweep one ``oarsub --array`` job."""

    launcher_overrides = OAR
    synchronous = False
    # left out to keep the OAR job count small; they run on Slurm and locally
    test_sweep_2x2_gives_4_runs_with_their_configs = None
    test_dollar_override_reaches_the_run_verbatim = None
    test_results_are_read_back_from_the_run_folders = None

    @pytest.fixture
    def suite_project(self, cproject: ClusterProject) -> ClusterProject:
        cproject.write("main.py", SUITE_TASK)
        return cproject

    def wait_until_finished(self, project: Any, ids: list[int]) -> None:
        project.wait_until(ids, ("COMPLETE", "FAILED", "INTERRUPTED", "SUBMIT_FAILED"), 180)

    def launch(self, project: Any, *args: str):
        proc = super().launch(project, *args)
        assert proc.returncode == 0, self.describe(proc)
        ids = project.run_ids()
        scheds = [project.info(i)["scheduler"] for i in ids]
        # one OAR_JOB_ID per subjob, indices from 1
        assert [s["array_index"] for s in scheds] == list(range(1, len(ids) + 1))
        job_ids = [s["job_id"] for s in scheds]
        assert all(j.isdigit() for j in job_ids) and len(set(job_ids)) == len(ids)
        assert scheds[0]["array_job_id"] in proc.stdout
        return proc


def test_cancelled_job_is_reconciled_with_one_oarstat_call(cproject: ClusterProject) -> None:
    from mlxlaunch.manage.status import load_runs, reconcile

    proc = cproject.run(*OAR, "+sleep=300")
    assert proc.returncode == 0, proc.stderr
    cproject.wait_until([1], ("RUNNING",), 120)
    runs = load_runs(cproject.logs)
    assert reconcile(runs) == 1
    assert runs[0].job_state == "RUNNING"
    cancel = cproject.cli("cancel", str(cproject.logs), "1")
    assert cancel.returncode == 0, cancel.stderr

    def reconciled() -> bool:
        status = cproject.cli("status", str(cproject.logs))
        return "1 run(s): 1 INTERRUPTED" in status.stdout

    from cluster.fixtures import wait_for

    wait_for(reconciled, 120, lambda: f"status to show INTERRUPTED: {cproject.info(1)}", 2)
    info = cproject.info(1)
    assert info["status"] == "INTERRUPTED"
    assert Path(info["log_dir"]).name == "1"


@pytest.mark.slow
def test_checkpoint_signal_and_idempotent_requeue_reopen_the_same_folder(
    cproject: ClusterProject,
) -> None:
    # walltime 2:00, checkpoint signal 60 s before: it comes ~70 s in. OAR resubmits an
    # idempotent job exiting with 99 only if it ran more than 60 s (NodeChangeState).
    proc = cproject.run(
        *OAR, "+sleep=600", "+launcher.scheduler.time=00:02:00",
        "+launcher.scheduler.signal_delay_s=60", "+launcher.scheduler.requeue=true",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    first_job = cproject.info(1)["scheduler"]["job_id"]
    cproject.wait_until([1], ("COMPLETE",), 240)
    info = cproject.info(1)
    assert info["attempt"] == 2
    # OAR resubmits an idempotent job that exits 99 under a new id; the job records it
    assert info["scheduler"]["job_id"] != first_job
    first = yaml.safe_load((cproject.logs / "1" / "metadata" / "attempts" / "1.yaml").read_text())
    assert (first["status"], first["error"]) == ("INTERRUPTED", "interrupted by SIGUSR2")
    step = int((cproject.logs / "1" / "checkpoint.txt").read_text())
    out = (cproject.logs / "1" / "log.stdout").read_text()
    assert f"checkpoint at step {step}" in out and f"attempt 2 starts at step {step}" in out
    assert cproject.run_ids() == [1]


@pytest.mark.usefixtures("small_logs")  # (imported from test_slurm_cluster)
def test_a_job_that_finds_the_disk_full_leaves_its_run_not_started_not_failed(
    cproject: ClusterProject,
) -> None:
    """OAR ends a job Terminated whatever its exit code: ``oarstat -f``'s exit_code (a wait
    status, 19200 for 75), asked in one call for the ended jobs of QUEUED runs only, tells
    the run that could not take its disk reserve (never started) from a failed one."""
    from mlxlaunch.executors.oar import OarExecutor

    proc = cproject.run(*OAR, "optimizer.lr=0.1,0.2")
    assert proc.returncode == 0, proc.stderr
    jobs = [cproject.info(i)["scheduler"]["job_id"] for i in (1, 2)]

    def jobs_over() -> bool:
        """both jobs Terminated with exit code 75"""
        oar = OarExecutor()
        states = oar.query(jobs)
        codes = oar.ended_exit_codes(jobs) if set(states.values()) == {"TERMINATED"} else {}
        assert oar.calls <= 2  # oarstat -s for all, then oarstat -f for the ended ones
        jobs_over.__doc__ = f"both jobs Terminated with exit 75 (oarstat: {states} {codes})"
        return codes == {j: 75 for j in jobs}

    check_not_started_then_restarted(cproject, jobs_over, 180)


def test_an_array_a_killed_launcher_left_held_is_named_then_withdrawn(
    cproject: ClusterProject,
) -> None:
    """Killed just before ``oarresume`` (its stand-in kills it): OAR says Hold; status
    names the array, cancel oardels it and records the runs INTERRUPTED."""
    real = shutil.which("oarresume")
    killer = f'#!/bin/sh\nkill -9 $PPID; exit 1\nexec {real} "$@"\n'
    proc = cproject.run_with_stand_in("oarresume", killer, *OAR, "optimizer.lr=0.1,0.2")
    assert proc.returncode != 0 and "submitted" not in proc.stdout, proc.stdout
    sched = cproject.info(1)["scheduler"]
    logs = str(cproject.logs)
    status = cproject.cli("status", logs)
    assert status.returncode == 0, status.stderr
    assert (
        f"mlxlaunch: run(s) 1-2 were submitted held as oar job {sched['array_job_id']} but never "
        f"released"
    ) in status.stdout, status.stdout
    cancel = cproject.cli("cancel", logs, "1-2")
    assert cancel.returncode == 0 and "cancelled 2 run(s): 1, 2" in cancel.stdout, cancel.stderr
    assert [cproject.info(i)["status"] for i in (1, 2)] == ["INTERRUPTED"] * 2
    assert "never released" not in cproject.cli("status", logs).stdout
