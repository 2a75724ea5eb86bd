"""Slurm executor against a real Slurm 22.05 daemon started by ``tests/cluster``.

The shared conformance suite runs on Slurm (arrays, a failing point, quoted
overrides, results read back from the run folders); then what only a scheduler
does: status reconciled in one batched squeue call, cancel, a rejected sbatch,
resubmit of a failed run in its own folder, and a requeue after the time limit.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cluster.cluster_project import CLUSTER_TASK, ClusterProject
from cluster.fixtures import start_cluster, wait_for
from executor_suite import SUITE_TASK, ExecutorSuite

from mlxlaunch import runfolder

pytestmark = [pytest.mark.cluster, pytest.mark.xdist_group("slurm")]

SLURM = ["+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm"]
_names = itertools.count()


@pytest.fixture(scope="session")
def slurm_cluster():
    yield from start_cluster("slurm")


@pytest.fixture
def cproject(slurm_cluster: dict[str, Any], request) -> ClusterProject:
    return ClusterProject(slurm_cluster, f"{request.node.name[:40]}-{next(_names)}")


class TestSlurmExecutor(ExecutorSuite):
    """The conformance suite, with every sweep submitted to Slurm as a job array."""

    launcher_overrides = SLURM
    synchronous = False

    @pytest.fixture
    def suite_project(self, cproject: ClusterProject) -> ClusterProject:
        cproject.write("main.py", SUITE_TASK)
        return cproject

    def wait_until_finished(self, project: Any, ids: list[int]) -> None:
        project.wait_until(ids, ("COMPLETE", "FAILED", "INTERRUPTED", "SUBMIT_FAILED"), 120)

    def launch(self, project: Any, *args: str):
        proc = super().launch(project, *args)
        assert proc.returncode == 0, self.describe(proc)
        assert "submitted" in proc.stdout and "mlxlaunch status" in proc.stdout
        return proc


def test_runs_record_their_job_ids_and_write_their_streams(cproject: ClusterProject) -> None:
    proc = cproject.run(*SLURM, "optimizer.lr=0.1,0.2,0.3", "+launcher.scheduler.max_concurrent=2")
    assert proc.returncode == 0, proc.stderr
    ids = cproject.run_ids()
    cproject.wait_until(ids, ("COMPLETE",), 120)
    scheds = [cproject.info(i)["scheduler"] for i in ids]
    array = scheds[0]["array_job_id"]
    assert array in proc.stdout
    assert [s["job_id"] for s in scheds] == [f"{array}_{k}" for k in range(3)]
    assert {s["name"] for s in scheds} == {"slurm"}
    script = Path(scheds[0]["script"]).read_text()
    assert "#SBATCH --array=0-2%2" in script
    for i in ids:
        run_dir = cproject.logs / str(i)
        assert (run_dir / "log.stdout").read_text().endswith("done\n")
        assert (run_dir / "log.stderr").exists()
        assert cproject.info(i)["hostname"]  # set by the job, not by the submitter

    from mlxlaunch import Reader

    reader = Reader(cproject.logs, cache_dir=False, progress=False)
    runs = reader.search("info.status == 'COMPLETE' & train.lr.last > 0.15")
    df = runs.to_pandas(info=["scheduler.job_id"])
    got = sorted(zip(df["config.optimizer.lr"], df["info.scheduler.job_id"]))
    assert got == [(0.2, f"{array}_1"), (0.3, f"{array}_2")]


def test_status_reconciles_in_one_call_and_cancel_interrupts(cproject: ClusterProject) -> None:
    from mlxlaunch.manage.status import load_runs, reconcile

    for _ in range(2):  # two arrays: still one squeue call
        proc = cproject.run(*SLURM, "+sleep=300", "optimizer.lr=0.1,0.2")
        assert proc.returncode == 0, proc.stderr
    ids = cproject.run_ids()
    assert len(ids) == 4
    cproject.wait_until(ids, ("RUNNING",), 60)
    runs = load_runs(cproject.logs)
    assert reconcile(runs) == 1
    assert {r.job_state for r in runs} == {"RUNNING"}
    status = cproject.cli("status", str(cproject.logs))
    assert status.returncode == 0, status.stderr
    assert "4 run(s): 4 RUNNING" in status.stdout

    cancel = cproject.cli("cancel", str(cproject.logs), "1", "3-4")
    assert cancel.returncode == 0, cancel.stderr
    assert "cancelled 3 run(s): 1, 3, 4" in cancel.stdout
    cproject.wait_until([1, 3, 4], ("INTERRUPTED",), 60)
    assert cproject.info(1)["exit_code"] == 143
    assert cproject.info(2)["status"] == "RUNNING"
    status = cproject.cli("status", str(cproject.logs), "info.status == 'INTERRUPTED'")
    assert "3 run(s): 3 INTERRUPTED" in status.stdout, status.stdout
    cproject.cli("cancel", str(cproject.logs), "2")
    cproject.wait_until([2], ("INTERRUPTED",), 60)


def _wait_complete(run_dir: Path, timeout: float) -> None:
    """Wait until the run in ``run_dir`` (a logs folder the project does not know) is COMPLETE."""
    wait_for(
        lambda: runfolder.read_info(run_dir).get("status") == "COMPLETE",
        timeout,
        lambda: str(runfolder.read_info(run_dir)),
    )


def test_a_logs_folder_with_a_space_is_submitted(cproject: ClusterProject) -> None:
    proc = cproject.run(*SLURM, "optimizer.lr=0.1", "+launcher.logger.parent_log_dir=my logs")
    assert proc.returncode == 0, proc.stderr
    logs = cproject.root / "my logs"
    _wait_complete(logs / "1", 60)
    assert (logs / "1" / "log.stdout").read_text().endswith("done\n")
    assert len(list((logs / ".jobs").glob("*/slurm-*_0.out"))) == 1  # .jobs/<user>/


def test_rejected_sbatch_exits_nonzero_and_marks_submit_failed(cproject: ClusterProject) -> None:
    proc = cproject.run(*SLURM, "optimizer.lr=0.1,0.2", "+launcher.scheduler.cpus=64")
    assert proc.returncode == 1
    assert "sbatch" in proc.stderr and "SUBMIT_FAILED" in proc.stderr
    for i in cproject.run_ids():
        info = cproject.info(i)
        assert info["status"] == "SUBMIT_FAILED"
        assert "sbatch" in info["error"]


def test_resubmit_reruns_a_failed_run_in_its_own_folder(cproject: ClusterProject) -> None:
    flag = cproject.write("fail.flag", "")
    proc = cproject.run(*SLURM, "optimizer.lr=0.1,0.2", f"+fail_if={flag}")
    assert proc.returncode == 0, proc.stderr
    cproject.wait_until([1, 2], ("FAILED",), 120)
    flag.unlink()
    again = cproject.cli("resubmit", str(cproject.logs), "info.status == 'FAILED'")
    assert again.returncode == 0, again.stderr
    assert "resubmitted 2 run(s): 1, 2" in again.stdout
    cproject.wait_until([1, 2], ("COMPLETE",), 120)
    assert cproject.run_ids() == [1, 2]
    for i in (1, 2):
        info = cproject.info(i)
        assert info["attempt"] == 2
        assert (cproject.logs / str(i) / "metadata" / "attempts" / "1.yaml").exists()


@pytest.mark.slow
def test_time_limit_preempts_checkpoints_and_requeues_the_same_folder(
    cproject: ClusterProject,
) -> None:
    # time=1 min, signal 30 s before: Slurm checks limits every ~30 s and may
    # signal up to 60 s early, so only "before the limit" is asserted.
    proc = cproject.run(
        *SLURM, "+sleep=600", "+launcher.scheduler.time=1",
        "+launcher.scheduler.signal_delay_s=30", "+launcher.scheduler.requeue=true",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    cproject.wait_until([1], ("COMPLETE",), 240)
    info = cproject.info(1)
    # usually 2; 3 when Slurm's early signal also hit the resumed attempt before it finished
    assert info["attempt"] >= 2
    first = yaml.safe_load((cproject.logs / "1" / "metadata" / "attempts" / "1.yaml").read_text())
    assert (first["status"], first["exit_code"]) == ("INTERRUPTED", 140)
    assert first["error"] == "interrupted by SIGUSR2"
    assert first["duration_s"] < 90
    out = (cproject.logs / "1" / "log.stdout").read_text()
    step = int((cproject.logs / "1" / "checkpoint.txt").read_text())
    assert f"checkpoint at step {step}" in out
    assert f"attempt 2 starts at step {step}" in out  # appended, not truncated
    assert out.index("attempt 1") < out.index("attempt 2")
    assert cproject.run_ids() == [1]


# ---------------------------------------------------------------- requeue at the seams

LOOP_TASK = """\
import time
from pathlib import Path
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    run_dir = Path(ctx.info.log_dir)
    ctx.logger.log_metrics({"attempt": ctx.info.attempt}, log_name="train")
    ctx.on_preempt(lambda: (run_dir / f"hook{ctx.info.attempt}").write_text("saved"))
    (run_dir / f"ready{ctx.info.attempt}").write_text("1")
    time.sleep(ctx.config.get("sleep", 0))
    print("done", flush=True)

if __name__ == "__main__":
    main()
"""


def _signal(job_id: str, sig: str = "USR2") -> None:
    """What Slurm does before a time limit: the signal to the batch shell of ``job_id``."""
    import subprocess

    proc = subprocess.run(
        ["scancel", "-b", f"--signal={sig}", job_id], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def _job_states(job_ids: list[str]) -> dict[str, str]:
    import subprocess

    arrays = sorted({j.split("_")[0] for j in job_ids})
    out = subprocess.run(
        ["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", ",".join(arrays)],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.split("|", 1) for line in out.split())


def test_requeue_of_one_array_task_leaves_its_siblings_alone(cproject: ClusterProject) -> None:
    """Issue 12.1: ``scancel -b --signal=USR2 <array>_2`` requeues that task only: the
    complete sibling does not run again (metrics once), the running one is not touched."""
    cproject.write("loop.py", LOOP_TASK)
    proc = cproject.run(
        *SLURM, "+sleep=0,300,300", "+launcher.scheduler.requeue=true", script="loop.py"
    )
    assert proc.returncode == 0, proc.stderr
    cproject.wait_until([1], ("COMPLETE",), 120)
    cproject.wait_until([2, 3], ("RUNNING",), 120)
    wait_for(lambda: (cproject.logs / "3" / "ready1").exists(), 60, "run 3 to start its task")
    job3 = cproject.info(3)["scheduler"]["job_id"]
    _signal(job3)
    wait_for(lambda: (cproject.logs / "3" / "ready2").exists(), 180, "run 3 to be requeued")
    info3 = cproject.info(3)
    assert (info3["attempt"], info3["requeues"]) == (2, 1)
    first = yaml.safe_load((cproject.logs / "3" / "metadata" / "attempts" / "1.yaml").read_text())
    assert (first["status"], first["exit_code"]) == ("INTERRUPTED", 140)
    # the siblings: run 1 never ran again, run 2 still runs its first attempt
    info1, info2 = cproject.info(1), cproject.info(2)
    assert (info1["status"], info1["attempt"]) == ("COMPLETE", 1)
    assert (info2["status"], info2["attempt"]) == ("RUNNING", 1)
    assert "already COMPLETE" not in (cproject.logs / "1" / "log.stderr").read_text()
    assert (cproject.logs / "1" / "metrics" / "train.json").read_text().count("\n") == 1
    assert not (cproject.logs / "2" / "hook1").exists()  # no signal reached run 2
    cproject.cli("cancel", str(cproject.logs), "2-3")
    cproject.wait_until([2, 3], ("INTERRUPTED",), 60)


def test_a_complete_run_is_not_run_again_when_its_whole_array_is_requeued(
    cproject: ClusterProject,
) -> None:
    """Issue 12.1: even ``scontrol requeue <array>`` by hand cannot run a COMPLETE run again."""
    import subprocess

    cproject.write("loop.py", LOOP_TASK)
    proc = cproject.run(*SLURM, "+sleep=0,0", "+launcher.scheduler.requeue=true", script="loop.py")
    assert proc.returncode == 0, proc.stderr
    cproject.wait_until([1, 2], ("COMPLETE",), 120)
    before = [cproject.info(i) for i in (1, 2)]
    array = before[0]["scheduler"]["array_job_id"]
    req = subprocess.run(["scontrol", "requeue", array], capture_output=True, text=True)
    assert req.returncode == 0, req.stderr

    def skipped() -> bool:
        return all(
            "already COMPLETE" in (cproject.logs / str(i) / "log.stderr").read_text()
            for i in (1, 2)
        )

    wait_for(skipped, 180, "the requeued jobs to start and skip their complete runs")
    for i, info in zip((1, 2), before):
        assert cproject.info(i) == info
        assert (cproject.logs / str(i) / "metrics" / "train.json").read_text().count("\n") == 1


def test_requeues_stop_at_max_requeues_with_the_reason(cproject: ClusterProject) -> None:
    """Issue 12.2: a run requeued ``max_requeues`` times is FAILED, and its job not requeued."""
    cproject.write("loop.py", LOOP_TASK)
    proc = cproject.run(
        *SLURM, "+sleep=300", "+launcher.scheduler.requeue=true",
        "+launcher.scheduler.max_requeues=1", script="loop.py",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = cproject.logs / "1"
    wait_for(lambda: (run / "ready1").exists(), 120, "run 1 to start")
    job = cproject.info(1)["scheduler"]["job_id"]
    _signal(job)
    wait_for(lambda: (run / "ready2").exists(), 180, "run 1 to be requeued once")
    _signal(job)
    cproject.wait_until([1], ("FAILED",), 60)
    info = cproject.info(1)
    assert info["attempt"] == 2 and "max_requeues=1 reached" in info["error"]
    assert (run / "hook2").read_text() == "saved"
    wait_for(lambda: _job_states([job]).get(job) not in ("PENDING", "RUNNING", "COMPLETING"),
             60, lambda: f"job {job} to end: {_job_states([job])}")  # fmt: skip
    assert not (run / "ready3").exists()


def test_a_signal_delay_above_half_the_time_limit_is_refused(cproject: ClusterProject) -> None:
    """Issue 12.2: time=1 min with the default 120 s delay looped; now refused at submit."""
    proc = cproject.run(
        *SLURM, "+launcher.scheduler.time=00:01:00", "+launcher.scheduler.requeue=true"
    )
    assert proc.returncode == 2
    assert "scheduler.signal_delay_s" in proc.stderr and "30 or less" in proc.stderr
    assert cproject.run_ids() == []


def test_a_percent_in_the_logs_folder_reaches_the_job(cproject: ClusterProject) -> None:
    """Issue 12.5: ``%x`` in --output was expanded by sbatch: the job failed with no log."""
    proc = cproject.run(*SLURM, "optimizer.lr=0.1", "+launcher.logger.parent_log_dir=logs%x")
    assert proc.returncode == 0, proc.stderr
    logs = cproject.root / "logs%x"
    _wait_complete(logs / "1", 90)
    assert len(list((logs / ".jobs").glob("*/slurm-*_0.out"))) == 1  # .jobs/<user>/


def _partition() -> str:
    import subprocess

    out = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True).stdout
    return out.split()[0]


def test_resubmit_with_the_fixed_partition_submits_what_failed(cproject: ClusterProject) -> None:
    """Issue 12.3: a wrong partition; resubmit with the saved settings fails the same way, with
    ``scheduler.partition=<right one>`` it runs; the attempt record says what changed."""
    proc = cproject.run(*SLURM, "optimizer.lr=0.1,0.2", "+launcher.scheduler.partition=nope")
    assert proc.returncode == 1
    assert "SUBMIT_FAILED" in proc.stderr and "mlxlaunch resubmit" in proc.stderr
    same = cproject.cli("resubmit", str(cproject.logs), "1-2")
    assert same.returncode == 1 and "SUBMIT_FAILED" in same.stderr
    right = _partition()
    fixed = cproject.cli("resubmit", str(cproject.logs), "1-2", f"scheduler.partition={right}")
    assert fixed.returncode == 0, fixed.stderr
    assert f"scheduler.partition: 'nope' -> '{right}'" in fixed.stdout
    cproject.wait_until([1, 2], ("COMPLETE",), 120)
    first = cproject.logs / "1" / "metadata" / "attempts" / "1.yaml"
    wait_for(first.exists, 30, "the attempt record (written just after the status)")
    record = yaml.safe_load(first.read_text())
    changed = record["resubmissions"][-1]["settings_changed"]
    assert changed == {"scheduler.partition": ["nope", right]}


def test_a_jobs_folder_that_is_a_file_leaves_no_queued_orphan(cproject: ClusterProject) -> None:
    """Issue 12.4: the job script cannot be written: SUBMIT_FAILED, one line, then resubmit."""
    cproject.logs.mkdir()

    os.chown(cproject.logs, cproject.cluster["uid"], -1)
    cproject.write("logs/.jobs", "a file")
    proc = cproject.run(*SLURM, "optimizer.lr=0.1,0.2")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("mlxlaunch: error: ") and ".jobs is not a folder" in first
    assert [cproject.info(i)["status"] for i in (1, 2)] == ["SUBMIT_FAILED"] * 2
    (cproject.logs / ".jobs").unlink()
    again = cproject.cli("resubmit", str(cproject.logs))
    assert again.returncode == 0 and "resubmitted 2 run(s): 1, 2" in again.stdout, again.stderr
    cproject.wait_until([1, 2], ("COMPLETE",), 120)


def test_a_pending_task_shows_its_reason_and_a_scancel_outside_is_not_lost(
    cproject: ClusterProject,
) -> None:
    """Issue 12.6: why a job waits, in ``mlxlaunch status``; ``scancel`` of a pending task by
    hand shows as the scheduler says (CANCELLED -> INTERRUPTED), never LOST."""
    import subprocess

    proc = cproject.run(
        *SLURM, "optimizer.lr=0.1,0.2,0.3", "+launcher.scheduler.extra=['--begin=now+3600']"
    )
    assert proc.returncode == 0, proc.stderr
    job3 = cproject.info(3)["scheduler"]["job_id"]
    # Slurm gives the reason at its next scheduling pass (until then it says None)
    wait_for(
        lambda: "(PENDING: BeginTime)" in cproject.cli("status", str(cproject.logs)).stdout,
        60,
        lambda: cproject.cli("status", str(cproject.logs)).stdout,
    )
    cancel = subprocess.run(["scancel", job3], capture_output=True, text=True)
    assert cancel.returncode == 0, cancel.stderr
    wait_for(
        lambda: (
            "LOST" not in (s := cproject.cli("status", str(cproject.logs)).stdout)
            and "INTERRUPTED" in s
        ),
        30,
        lambda: cproject.cli("status", str(cproject.logs)).stdout,
    )
    assert cproject.info(3)["status"] == "INTERRUPTED"
    assert [cproject.info(i)["status"] for i in (1, 2)] == ["QUEUED", "QUEUED"]
    cproject.cli("cancel", str(cproject.logs), "1-2")


# ---------------------------------------------------------------- a full disk at the job's start

#: CLUSTER_TASK, whose job first fills the logs folder's disk while ``fill-at-start`` exists:
#: its run then cannot take its disk reserve, so the job exits 75 with nothing started.
FILL_AT_START_TASK = (
    """\
import os
if os.environ.get("MLXLAUNCH_RUN_DIR") and os.path.exists(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "fill-at-start")
):
    ballast = os.path.join(os.path.dirname(os.environ["MLXLAUNCH_RUN_DIR"]), f"ballast-{os.getpid()}")
    with open(ballast, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\\0" * 65536)
        except OSError:
            pass
"""
    + CLUSTER_TASK
)


@pytest.fixture
def small_logs(cproject: ClusterProject) -> Iterator[Path]:
    """``cproject.logs`` on an 8 MiB tmpfs of the test user (unmounted afterwards);
    ``cproject``'s main.py fills it at the start of its jobs while ``fill-at-start`` exists."""
    cproject.logs.mkdir()
    uid = cproject.cluster["uid"]
    options = f"size=8m,mode=0755,uid={uid},gid={pwd.getpwuid(uid).pw_gid}"
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(cproject.logs)],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    cproject.write("main.py", FILL_AT_START_TASK)
    cproject.write("fill-at-start", "")
    try:
        yield cproject.logs
    finally:
        subprocess.run(["umount", "-l", str(cproject.logs)], check=False)


def free_the_disk(cproject: ClusterProject) -> None:
    """No more filling, and the ballast the jobs wrote removed."""
    (cproject.root / "fill-at-start").unlink()
    for ballast in cproject.logs.glob("ballast-*"):
        ballast.unlink()


def check_not_started_then_restarted(cproject: ClusterProject, jobs_over, timeout: float) -> None:
    """The runs 1 and 2, whose jobs exited 75 on a full disk, read as not started (LOST with
    the cause, still QUEUED in info.yaml: never FAILED); once there is room, ``mlxlaunch
    start`` runs 1 and ``mlxlaunch resubmit`` runs 2 in their folders, as their first attempt.
    ``jobs_over()``: whether the scheduler says both jobs ended."""
    logs = str(cproject.logs)
    wait_for(jobs_over, timeout, lambda: f"{jobs_over.__doc__}: {cproject.describe([1, 2])}", 2)
    full = cproject.cli("status", logs)  # on the disk still full: nothing can be written
    assert full.returncode == 0 and "Traceback" not in full.stderr, full.stderr
    assert "2 run(s): 2 LOST" in full.stdout, full.stdout
    assert full.stdout.count("not started: no room for its disk reserve") == 2, full.stdout
    first_jobs = [cproject.info(i)["scheduler"]["job_id"] for i in (1, 2)]
    for i, job in zip((1, 2), first_jobs):
        info = cproject.info(i)
        assert (info["status"], info.get("attempt")) == ("QUEUED", 0), info
        assert f"{job} (" in full.stdout  # its job's state is shown too

    free_the_disk(cproject)
    status = cproject.cli("status", logs)
    assert "2 run(s): 2 LOST" in status.stdout, status.stdout
    info = cproject.info(1)
    assert info["status"] == "QUEUED", info
    assert (
        f"not started: no room for its disk reserve (job {first_jobs[0]} exited 75)"
        in (info["error"])
    )
    start = cproject.cli("start", logs, "1")
    assert start.returncode == 0 and "started 1 run(s): 1" in start.stdout, start.stderr
    resubmit = cproject.cli("resubmit", logs, "2")
    assert resubmit.returncode == 0, resubmit.stderr
    assert "resubmitted 1 run(s): 2" in resubmit.stdout, resubmit.stdout
    cproject.wait_until([1, 2], ("COMPLETE",), timeout)
    for i, job in zip((1, 2), first_jobs):
        info = cproject.info(i)
        assert info["attempt"] == 1 and info["scheduler"]["job_id"] != job, info
        assert not info.get("error"), info
    assert cproject.run_ids() == [1, 2]


def test_a_job_that_finds_the_disk_full_leaves_its_run_not_started_not_failed(
    cproject: ClusterProject, small_logs: Path
) -> None:
    """A task exits 75 (EX_TEMPFAIL) when its run cannot take its disk reserve; squeue's
    exit_code (a wait status, 19200) says so, and ``mlxlaunch status`` records no failure."""
    from mlxlaunch.executors.slurm import SlurmExecutor

    proc = cproject.run(*SLURM, "optimizer.lr=0.1,0.2")
    assert proc.returncode == 0, proc.stderr
    jobs = [cproject.info(i)["scheduler"]["job_id"] for i in (1, 2)]

    def jobs_over() -> bool:
        """both jobs FAILED with exit code 75"""
        slurm = SlurmExecutor()
        states = slurm.query(jobs)
        assert slurm.calls == 1  # the exit codes come with squeue's one answer
        jobs_over.__doc__ = f"both jobs FAILED with exit 75 (squeue: {states} {slurm.exit_codes})"
        return states == {j: "FAILED" for j in jobs} and slurm.exit_codes == {j: 75 for j in jobs}

    check_not_started_then_restarted(cproject, jobs_over, 120)


# ---------------------------------------------------------------- a launcher killed before releasing


def _pending(array: str) -> dict[str, str]:
    """``{job id: reason}`` of the array's tasks Slurm still has waiting."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-t", "PENDING", "-j", array, "-o", "%i|%r"],
        capture_output=True, text=True,
    ).stdout  # fmt: skip
    return dict(line.split("|", 1) for line in out.split())


def test_an_array_a_killed_launcher_left_held_is_named_then_withdrawn(
    cproject: ClusterProject,
) -> None:
    """The launcher is SIGKILLed after sbatch, just before ``scontrol release`` (its
    ``scontrol`` kills it): the array stays held; status names it, cancel withdraws one
    run's task, resubmit withdraws the rest and runs both runs once, to the end."""
    real = shutil.which("scontrol")
    killer = f'#!/bin/sh\nif [ "$1" = release ]; then kill -9 $PPID; exit 1; fi\nexec {real} "$@"\n'
    proc = cproject.run_with_stand_in("scontrol", killer, *SLURM, "optimizer.lr=0.1,0.2")
    assert proc.returncode != 0 and "submitted" not in proc.stdout, proc.stdout
    array = cproject.info(1)["scheduler"]["array_job_id"]
    assert set(_pending(array).values()) == {"JobHeldUser"}, _pending(array)

    logs = str(cproject.logs)
    status = cproject.cli("status", logs)
    assert status.returncode == 0, status.stderr
    assert (
        f"mlxlaunch: run(s) 1-2 were submitted held as slurm job {array} but never released "
        f"(the launcher was stopped): mlxlaunch cancel {logs} 1-2 to withdraw it, or "
        f"mlxlaunch resubmit {logs} 1-2"
    ) in status.stdout.splitlines()

    cancel = cproject.cli("cancel", logs, "1")
    assert cancel.returncode == 0 and "cancelled 1 run(s): 1" in cancel.stdout, cancel.stderr
    assert list(_pending(array)) == [f"{array}_1"]
    assert (cproject.info(1)["status"], cproject.info(1)["cancelled"]) == ("INTERRUPTED", True)
    assert (
        f"run(s) 2 were submitted held as slurm job {array}" in cproject.cli("status", logs).stdout
    )

    again = cproject.cli("resubmit", logs)
    assert again.returncode == 0, again.stderr
    assert "withdrew the held job(s) of run(s) 2" in again.stdout
    assert "resubmitted 2 run(s): 1, 2" in again.stdout
    assert _pending(array) == {}
    cproject.wait_until([1, 2], ("COMPLETE",), 120)
    assert all(cproject.info(i)["scheduler"]["array_job_id"] != array for i in (1, 2))
    assert "never released" not in cproject.cli("status", logs).stdout
