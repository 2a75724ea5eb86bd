"""``mlxlaunch status / cancel / resubmit`` without a daemon (fake squeue/scancel on PATH).

The same commands run against real Slurm and OAR in the cluster tests; here the
scheduler's answers are fixed so every reconciliation case is checked exactly.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_scheduler import _fake

from mlxlaunch import runfolder

FAILING_TASK = """\
from pathlib import Path
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    if Path(ctx.config.flag).exists():
        raise RuntimeError("flag is set")
    print("ok", flush=True)

if __name__ == "__main__":
    main()
"""


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip


def _queued_run(parent: Path, log_id: int, job_id: str, status: str = "QUEUED") -> Path:
    run_dir = parent / str(log_id)
    (run_dir / "metadata").mkdir(parents=True)
    runfolder.write_config(run_dir, {"seed": log_id})
    array = job_id.split("_")[0]
    runfolder.write_info(
        run_dir,
        {
            "status": status,
            "log_id": log_id,
            "attempt": 0,
            "overrides": [f"seed={log_id}"],
            "scheduler": {"name": "slurm", "job_id": job_id, "array_job_id": array},
        },
    )
    return run_dir


def test_status_reconciles_every_case_with_one_squeue_call(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    _queued_run(logs, 1, "50_0")  # pending
    _queued_run(logs, 2, "50_1")  # cancelled before it started
    _queued_run(logs, 3, "51_0")  # forgotten by the scheduler
    _queued_run(logs, 4, "52_0", status="INTERRUPTED")  # requeued after preemption
    _queued_run(logs, 5, "52_1", status="COMPLETE")  # final: not asked about
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "squeue", "printf '50_0|PENDING\\n50_1|CANCELLED\\n52_0|REQUEUED\\n'")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = _cli("status", str(logs), env=env)
    assert proc.returncode == 0, proc.stderr
    calls = (bin_dir / "calls.log").read_text().splitlines()
    assert len(calls) == 1 and calls[0].endswith("-j 50,51,52")
    table = {line.split()[0]: line.split()[1] for line in proc.stdout.splitlines()[1:-1]}
    assert table == {"1": "QUEUED", "2": "INTERRUPTED", "3": "LOST", "4": "QUEUED", "5": "COMPLETE"}
    assert "50_1 (CANCELLED)" in proc.stdout
    # only the job that ended without recording is written back
    info = runfolder.read_info(logs / "2")
    assert info["status"] == "INTERRUPTED" and "job 50_1 ended CANCELLED" in info["error"]
    assert runfolder.read_info(logs / "3")["status"] == "QUEUED"
    assert runfolder.read_info(logs / "4")["status"] == "INTERRUPTED"

    selected = _cli("status", str(logs), "info.status == 'QUEUED'", env=env)
    assert selected.stdout.splitlines()[-1] == "2 run(s): 2 QUEUED"
    by_id = _cli("status", str(logs), "1", "4-5", env=env)
    assert by_id.stdout.splitlines()[-1] == "3 run(s): 1 COMPLETE, 2 QUEUED"


def test_cancel_calls_scancel_once_and_marks_queued_runs(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    for i in (1, 2, 3):
        _queued_run(logs, i, f"60_{i - 1}")
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "squeue", "printf '60_0|PENDING\\n60_1|PENDING\\n60_2|PENDING\\n'")
    _fake(bin_dir, "scancel", "exit 0")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = _cli("cancel", str(logs), "1-2", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "cancelled 2 run(s): 1, 2" in proc.stdout
    assert f"{bin_dir}/scancel 60_0 60_1" in (bin_dir / "calls.log").read_text()
    assert [runfolder.read_info(logs / str(i))["status"] for i in (1, 2, 3)] == [
        "INTERRUPTED", "INTERRUPTED", "QUEUED",
    ]  # fmt: skip


def test_cancel_without_query_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    proc = _cli("cancel", str(tmp_path / "logs"))
    assert proc.returncode == 2
    assert "Say which runs to cancel" in proc.stderr


def test_status_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    proc = _cli("status", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr


def test_resubmit_reruns_a_failed_local_run_in_its_own_folder(project) -> None:
    flag = project.write("flag", "")
    project.write("main.py", FAILING_TASK)
    project.write("configs/config.yaml", f"flag: {flag}\nseed: 0\n")
    first = project.run("seed=1,2")
    assert first.returncode == 1
    assert [project.info(i)["status"] for i in (1, 2)] == ["FAILED", "FAILED"]
    flag.unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", str(project.logs), "2"],
        capture_output=True, text=True, env=project.env(), timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "resubmitted 1 run(s): 2" in proc.stdout
    assert project.run_ids() == [1, 2]
    assert project.info(1)["status"] == "FAILED"
    info = project.info(2)
    assert (info["status"], info["attempt"]) == ("COMPLETE", 2)
    assert (project.logs / "2" / "metadata" / "attempts" / "1.yaml").exists()

    project.write("flag", "")  # a rerun that fails again makes the command fail
    again = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", str(project.logs), "1"],
        capture_output=True, text=True, env=project.env(), timeout=60,
    )  # fmt: skip
    assert again.returncode == 1, again.stderr
    assert "1 rerun(s) did not complete: 1" in again.stderr
    assert project.info(1)["status"] == "FAILED" and project.info(1)["attempt"] == 2


def test_status_without_the_scheduler_commands_warns_and_shows_the_recorded_status(
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    _queued_run(logs, 1, "70_0")
    env = dict(os.environ, PATH=str(tmp_path / "empty"))  # no squeue anywhere
    env["PATH"] += os.pathsep + str(Path(sys.executable).parent)
    proc = _cli("status", str(logs), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "warning: cannot ask slurm: 'squeue' was not found" in proc.stderr
    assert proc.stdout.splitlines()[-1] == "1 run(s): 1 QUEUED"


def test_resubmit_with_a_relative_logdir_from_another_folder(project) -> None:
    """LOGDIR relative to where ``mlxlaunch resubmit`` runs, not to the run's working folder:
    the local rerun and the job script get absolute run folders."""
    flag = project.write("flag", "")
    project.write("main.py", FAILING_TASK)
    project.write("configs/config.yaml", f"flag: {flag}\nseed: 0\n")
    assert project.run("seed=1").returncode == 1
    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 'sbatch: error: down' >&2; exit 1")
    env = project.env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    launch = subprocess.run(
        [sys.executable, "main.py", "seed=2", "+launcher.use_scheduler=true",
         "+launcher.scheduler.name=slurm"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert launch.returncode == 1 and project.info(2)["status"] == "SUBMIT_FAILED"
    flag.unlink()
    # sbatch runs in the job's working folder: it must get a script path that exists there
    _fake(bin_dir, "sbatch", 'test -f "$2" || { echo "no $2" >&2; exit 1; }; echo 4321')
    _fake(bin_dir, "scontrol", "exit 0")
    relative = f"{project.root.name}/logs"
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", relative],
        cwd=project.root.parent, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "resubmitted 2 run(s): 1, 2" in proc.stdout
    assert project.info(1)["status"] == "COMPLETE"
    sched = project.info(2)["scheduler"]
    assert sched["job_id"] == "4321_0" and Path(sched["script"]).is_absolute()
    assert f"  {project.logs / '2'}\n" in Path(sched["script"]).read_text()


def test_a_failing_squeue_leaves_queued_runs_alone_and_resubmits_nothing(tmp_path: Path) -> None:
    """squeue failing (controller down) is no answer: the runs are not LOST, so resubmit
    submits nothing twice; a single forgotten job (squeue's 'Invalid job id') is LOST."""
    logs = tmp_path / "logs"
    _queued_run(logs, 1, "80_0")
    bin_dir = tmp_path / "bin"
    _fake(bin_dir, "squeue", "echo 'slurm_load_jobs error: Socket timed out' >&2; exit 1")
    _fake(bin_dir, "sbatch", "echo 99")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    status = _cli("status", str(logs), env=env)
    assert status.returncode == 0, status.stderr
    assert "warning: cannot ask slurm" in status.stderr and "Socket timed out" in status.stderr
    assert status.stdout.splitlines()[-1] == "1 run(s): 1 QUEUED"
    resubmit = _cli("resubmit", str(logs), env=env)
    assert "resubmitted 0 run(s)" in resubmit.stdout
    assert "sbatch" not in (bin_dir / "calls.log").read_text()

    _fake(bin_dir, "squeue", "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1")
    status = _cli("status", str(logs), env=env)
    assert status.stdout.splitlines()[-1] == "1 run(s): 1 LOST", status.stderr
