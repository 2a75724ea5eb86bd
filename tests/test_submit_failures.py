"""A submission that fails, and the resubmission that must then work (issue 12, items 3-5).

Fake ``sbatch``/``scontrol`` programs on PATH stand in for Slurm here: what is
checked is what mlxlaunch writes and records around them (the job scripts, the
runs' statuses, the advice it prints). ``test_slurm_cluster.py`` checks the same
seams against a real Slurm.
"""

from __future__ import annotations

import errno
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_scheduler import _fake, _fake_sbatch, _five_queued_runs

from mlxlaunch.executors import scheduler as scheduler_module
from mlxlaunch.executors.scheduler import JobCommand, SubmitError
from mlxlaunch.executors.slurm import SlurmExecutor
from mlxlaunch.launching.settings import SchedulerSettings
from mlxlaunch.runfolder.metadata import read_info, read_settings, write_info

SLURM = ["+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm"]
#: an sbatch that refuses the partition "nope" (as Slurm does) and accepts any other
PICKY_SBATCH = (
    "if grep -q -- '--partition=nope' \"$2\"; then "
    "echo 'sbatch: error: Batch job submission failed: Invalid partition name specified' >&2; "
    "exit 1; fi; echo 1234"
)


def _env(project) -> dict[str, str]:
    env = project.env()
    env["PATH"] = f"{project.root / 'bin'}{os.pathsep}{env['PATH']}"
    return env


def _slurm(project, sbatch: str = "echo 1234") -> None:
    _fake(project.root / "bin", "sbatch", sbatch)
    _fake(project.root / "bin", "scontrol", "exit 0")


def _launch(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", *args], cwd=project.root, env=_env(project),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _cli(project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", *args], cwd=project.root, env=_env(project),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


# ---------------------------------------------------------------- 4: no orphans


def test_an_unwritable_jobs_folder_marks_every_run_submit_failed_in_one_line(project) -> None:
    """``logs/.jobs`` is a file (or a colleague's 0755 folder): no traceback, no QUEUED orphan."""
    _slurm(project)
    project.logs.mkdir()
    (project.logs / ".jobs").write_text("not a folder")
    proc = _launch(project, "optimizer.lr=0.1,0.2", *SLURM)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    first, *rest = proc.stderr.splitlines()
    assert first.startswith("mlxlaunch: error: ") and ".jobs is not a folder" in first
    assert "2 run(s) were not submitted" in rest[0] and "mlxlaunch resubmit" in rest[0]
    assert project.run_ids() == [1, 2]
    for i in (1, 2):
        info = read_info(project.logs / str(i))
        assert info["status"] == "SUBMIT_FAILED"
        assert ".jobs" in info["error"] and "scheduler" not in info
    calls = project.root / "bin" / "calls.log"
    assert "sbatch" not in (calls.read_text() if calls.exists() else "")  # nothing submitted

    (project.logs / ".jobs").unlink()  # fixed: resubmit now takes every one of them
    again = _cli(project, "resubmit", str(project.logs))
    assert again.returncode == 0, again.stderr
    assert "resubmitted 2 run(s): 1, 2" in again.stdout
    assert [read_info(project.logs / str(i))["status"] for i in (1, 2)] == ["QUEUED"] * 2


def _record_jobs(dirs: list[Path], jobs: list[tuple[str, int]]) -> None:
    """Record each run of ``dirs`` as Slurm array task ``(array id, index)`` of ``jobs``."""
    for run_dir, (array, index) in zip(dirs, jobs):
        info = read_info(run_dir)
        info["scheduler"] = {"name": "slurm", "job_id": f"{array}_{index}", "array_job_id": array}
        write_info(run_dir, info)


def _no_space(path, data, **kwargs) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_full_disk_while_writing_the_job_script_marks_the_runs_submit_failed(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(scheduler_module.runfolder, "atomic_write", _no_space)
    dirs = _five_queued_runs(tmp_path / "logs")
    command = JobCommand(python=sys.executable, script="main.py", workdir=str(tmp_path))
    with pytest.raises(SubmitError) as caught:
        SlurmExecutor().submit(dirs, SchedulerSettings(name="slurm"), command, tmp_path / "logs")
    assert "No space left on device" in str(caught.value)
    assert str(caught.value).rstrip().split("run: ")[1].startswith("mlxlaunch resubmit ")
    for d in dirs:
        info = read_info(d)
        assert info["status"] == "SUBMIT_FAILED" and "No space left" in info["error"]


def interrupted_at_sbatch(monkeypatch) -> SlurmExecutor:
    """A Slurm executor whose ``sbatch`` is stopped by Ctrl-C (other commands succeed)."""
    executor = SlurmExecutor()

    def interrupted(argv, cwd=None, check=True):
        if argv[0] == "sbatch":
            raise KeyboardInterrupt
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(executor, "run_command", interrupted)
    return executor


def test_ctrl_c_during_submission_leaves_no_queued_run_without_a_job(
    tmp_path: Path, monkeypatch
) -> None:
    executor = interrupted_at_sbatch(monkeypatch)
    dirs = _five_queued_runs(tmp_path / "logs")
    command = JobCommand(python=sys.executable, script="main.py", workdir=str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        executor.submit(dirs, SchedulerSettings(name="slurm"), command, tmp_path / "logs")
    assert {read_info(d)["status"] for d in dirs} == {"SUBMIT_FAILED"}
    assert "KeyboardInterrupt" in read_info(dirs[0])["error"]


# ---------------------------------------------------------------- 3: resubmit with fixed settings


def test_resubmit_with_a_setting_override_fixes_a_failed_submission(project) -> None:
    _slurm(project, PICKY_SBATCH)
    proc = _launch(project, "optimizer.lr=0.1,0.2", *SLURM, "+launcher.scheduler.partition=nope")
    assert proc.returncode == 1 and "Invalid partition" in proc.stderr
    # the same settings fail the same way: the saved ones are reused
    same = _cli(project, "resubmit", str(project.logs), "1-2")
    assert same.returncode == 1 and "Invalid partition" in same.stderr

    fixed = _cli(project, "resubmit", str(project.logs), "1-2", "scheduler.partition=gpu")
    assert fixed.returncode == 0, fixed.stderr
    assert "changed the settings of 2 run(s): scheduler.partition: 'nope' -> 'gpu'" in fixed.stdout
    assert "resubmitted 2 run(s): 1, 2" in fixed.stdout
    for i in (1, 2):
        run_dir = project.logs / str(i)
        info = read_info(run_dir)
        assert info["status"] == "QUEUED" and info["scheduler"]["job_id"] == f"1234_{i - 1}"
        assert read_settings(run_dir)["scheduler"]["partition"] == "gpu"
        assert "--partition=gpu" in Path(info["scheduler"]["script"]).read_text()
        last = info["resubmissions"][-1]
        assert last["settings_changed"] == {"scheduler.partition": ["nope", "gpu"]}

    # the job runs: its attempt record keeps what was changed for it
    script = read_info(project.logs / "1")["scheduler"]["script"]
    job = subprocess.run(
        ["bash", script], env=dict(_env(project), SLURM_ARRAY_TASK_ID="0"), timeout=120
    )
    assert job.returncode == 0
    record = yaml.safe_load((project.logs / "1" / "metadata" / "attempts" / "1.yaml").read_text())
    assert record["status"] == "COMPLETE"
    assert record["resubmissions"][-1]["settings_changed"]["scheduler.partition"][1] == "gpu"


def test_the_printed_advice_with_the_fixed_launcher_yaml_works_as_printed(project) -> None:
    """Fix configs/launcher.yaml, run the command the failure printed: it submits."""
    _slurm(project, PICKY_SBATCH)
    settings = project.write(
        "configs/launcher.yaml",
        "use_scheduler: true\nscheduler:\n  name: slurm\n  partition: nope\n",
    )
    proc = _launch(project, "optimizer.lr=0.1,0.2")
    assert proc.returncode == 1
    advice = re.search(r"then run: (mlxlaunch resubmit .*?) \(", proc.stderr)
    assert advice, proc.stderr
    argv = shlex.split(advice.group(1))
    assert argv[-2:] == ["--settings", str(settings)]
    settings.write_text(settings.read_text().replace("nope", "gpu"))
    again = _cli(project, *argv[1:])
    assert again.returncode == 0, again.stderr
    assert [read_info(project.logs / str(i))["status"] for i in (1, 2)] == ["QUEUED"] * 2
    assert read_settings(project.logs / "1")["scheduler"]["partition"] == "gpu"


def test_a_wrong_setting_override_changes_nothing(project) -> None:
    _slurm(project, PICKY_SBATCH)
    proc = _launch(project, "optimizer.lr=0.1", *SLURM, "+launcher.scheduler.partition=nope")
    assert proc.returncode == 1
    before = (project.logs / "1" / "metadata" / "launcher.yaml").read_text()
    bad = _cli(project, "resubmit", str(project.logs), "1", "scheduler.partiton=gpu")
    assert bad.returncode == 2
    assert "'scheduler.partition'" in bad.stderr and "Traceback" not in bad.stderr
    bad = _cli(project, "resubmit", str(project.logs), "1", "scheduler.time=2h")
    assert bad.returncode == 2 and "scheduler.time" in bad.stderr
    assert (project.logs / "1" / "metadata" / "launcher.yaml").read_text() == before
    assert read_info(project.logs / "1")["status"] == "SUBMIT_FAILED"


def test_resubmit_can_move_a_run_to_the_local_machine(project) -> None:
    _slurm(project, PICKY_SBATCH)
    proc = _launch(project, "optimizer.lr=0.1", *SLURM, "+launcher.scheduler.partition=nope")
    assert proc.returncode == 1
    local = _cli(project, "resubmit", str(project.logs), "1", "use_scheduler=false")
    assert local.returncode == 0, local.stderr
    assert read_info(project.logs / "1")["status"] == "COMPLETE"


# ---------------------------------------------------------------- 5: paths a script cannot hold


def test_a_percent_in_the_logs_path_is_escaped_in_slurms_output_pattern() -> None:
    """sbatch expands ``%x`` in --output: ``logs%x`` would become ``logsmlxlaunch``."""
    command = JobCommand(python="/usr/bin/python3", script="/p/main.py", workdir="/p")
    text = SlurmExecutor().job_script(
        [Path("/p/logs%x/1")], SchedulerSettings(name="slurm"), command, Path("/p/logs%x/.jobs")
    )
    assert "#SBATCH --output=/p/logs%%x/.jobs/slurm-%A_%a.out\n" in text
    assert "  /p/logs%x/1\n" in text  # the bash array holds the name as it is


def test_a_line_break_in_a_path_is_never_written_into_a_job_script() -> None:
    command = JobCommand(python="/usr/bin/python3", script="/p/main.py", workdir="/p")
    with pytest.raises(SubmitError, match="line break"):
        SlurmExecutor().job_script(
            [Path("/p/logs\necho pwned/1")], SchedulerSettings(name="slurm"), command, Path("/o")
        )


def test_a_logs_folder_with_a_line_break_is_refused_before_anything_is_written(project) -> None:
    _slurm(project)
    project.write("configs/launcher.yaml", 'logger:\n  parent_log_dir: "logs\\ntouch /tmp/pwned"\n')
    proc = _launch(project, "optimizer.lr=0.1,0.2", *SLURM)
    assert proc.returncode == 2, proc.stderr
    assert "line break" in proc.stderr and "logger.parent_log_dir" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert [p.name for p in project.root.iterdir() if p.name.startswith("logs")] == []
    calls = project.root / "bin" / "calls.log"
    assert "sbatch" not in (calls.read_text() if calls.exists() else "")


# ---------------------------------------------------------------- 6: the scheduler's own word


def test_status_shows_why_a_job_waits_and_a_job_squeue_forgot_is_not_lost(project) -> None:
    """Issue 12.6: squeue's reason for a pending job; a task cancelled outside mlxlaunch that
    squeue no longer lists is what sacct says (CANCELLED -> INTERRUPTED), not LOST."""
    dirs = _five_queued_runs(project.logs)[:3]
    _record_jobs(dirs, [("500", i) for i in range(3)])
    _fake(
        project.root / "bin", "squeue", "printf '500_0|PENDING|BeginTime\\n500_1|PENDING|None\\n'"
    )
    _fake(project.root / "bin", "sacct", "printf '500|PENDING\\n500_2|CANCELLED by 0\\n'")
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0, status.stderr
    assert "500_0 (PENDING: BeginTime)" in status.stdout
    assert "500_1 (PENDING)" in status.stdout
    assert "LOST" not in status.stdout
    third = read_info(dirs[2])
    assert third["status"] == "INTERRUPTED" and "job 500_2 ended CANCELLED" in third["error"]
    assert (
        "sacct -n -X -P -o JobID,State,ExitCode -j 500"
        in (project.root / "bin" / "calls.log").read_text()
    )


def test_without_accounting_a_task_missing_from_a_listed_array_was_cancelled(project) -> None:
    """What a real Slurm without slurmdbd shows after ``scancel`` of one pending task: the
    task is gone and its siblings are still pending; a whole array squeue forgot stays LOST."""
    dirs = _five_queued_runs(project.logs)
    _record_jobs(dirs, [("600", 0), ("600", 1), ("600", 2), ("601", 0), ("601", 1)])
    _fake(
        project.root / "bin", "squeue", "printf '600_0|PENDING|BeginTime\\n600_1|PENDING|None\\n'"
    )
    _fake(project.root / "bin", "sacct", "echo 'Slurm accounting storage is disabled' >&2; exit 1")
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0, status.stderr
    assert [read_info(d)["status"] for d in dirs] == ["QUEUED"] * 2 + ["INTERRUPTED"] + [
        "QUEUED"
    ] * 2
    assert "2 LOST" in status.stdout  # 601 is not listed at all: nothing says what became of it


# ---------------------------------------------------------------- a job that could not start its run


#: the table of five runs: run 1's job exited 75, run 2's exited 1, runs 3-5 wait
NOT_STARTED_THEN_FAILED = {"1": "LOST", "2": "FAILED", "3": "QUEUED", "4": "QUEUED", "5": "QUEUED"}


def _table(stdout: str) -> dict[str, str]:
    """``{run id: status}`` of a ``mlxlaunch status`` table."""
    return {line.split()[0]: line.split()[1] for line in stdout.splitlines()[1:-1]}


@pytest.mark.parametrize("rerun", [["start"], ["resubmit", "1"]])
def test_a_job_that_exited_75_leaves_its_run_not_started_for_start_and_resubmit(
    project, tmp_path: Path, rerun: list[str]
) -> None:
    """A job whose run could not take its disk reserve exits 75 (EX_TEMPFAIL): squeue's exit
    code says so in its one answer; status records no failure (the run stays QUEUED, shown
    LOST with why), unlike a task that failed or was killed; start or resubmit submits it."""
    bin_dir = project.root / "bin"
    _slurm(project)
    _fake_sbatch(bin_dir, tmp_path)  # array 101, then 102
    assert _launch(project, "optimizer.lr=0.1,0.2,0.3", *SLURM).returncode == 0
    # 101_0 exited 75, 101_1 exited 1, 101_2 was killed by SIGKILL (a wait status of 9)
    squeue = "101_0|FAILED|NonZeroExitCode|19200|\\n101_1|FAILED|NonZeroExitCode|256|\\n"
    _fake(bin_dir, "squeue", f"printf '{squeue}101_2|FAILED|None|9|\\n'")
    (bin_dir / "calls.log").unlink()
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0, status.stderr
    assert len((bin_dir / "calls.log").read_text().splitlines()) == 1  # squeue only
    assert _table(status.stdout) == {"1": "LOST", "2": "FAILED", "3": "FAILED"}
    assert "not started: no room for its disk reserve (job 101_0 exited 75)" in status.stdout
    first = read_info(project.logs / "1")
    assert first["status"] == "QUEUED" and not first.get("attempt"), first
    assert f"then: mlxlaunch start {project.logs}" in first["error"]
    for i, job in ((2, "101_1"), (3, "101_2")):
        info = read_info(project.logs / str(i))
        assert info["status"] == "FAILED" and f"job {job} ended FAILED" in info["error"]
    again = _cli(project, "status", str(project.logs))  # the same answer: the same table
    assert _table(again.stdout) == _table(status.stdout) and again.stderr == ""

    proc = _cli(project, *rerun[:1], str(project.logs), *rerun[1:])
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"(started|resubmitted) 1 run\(s\): 1$", proc.stdout, re.MULTILINE)
    info = read_info(project.logs / "1")
    assert (info["status"], info["scheduler"]["job_id"], info["error"]) == ("QUEUED", "102_0", None)
    assert [read_info(project.logs / str(i))["status"] for i in (2, 3)] == ["FAILED", "FAILED"]


def test_sacct_gives_the_exit_code_of_a_job_squeue_forgot(project) -> None:
    """After MinJobAge squeue no longer lists the array; sacct's ExitCode (``75:0``), asked in
    the same one call as the states, still tells a run that never started from a failed one."""
    dirs = _five_queued_runs(project.logs)[:2]
    _record_jobs(dirs, [("700", 0), ("700", 1)])
    _fake(project.root / "bin", "squeue", "exit 0")
    _fake(
        project.root / "bin",
        "sacct",
        "printf '700|FAILED|75:0\\n700_0|FAILED|75:0\\n700_1|FAILED|1:0\\n'",
    )
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0, status.stderr
    assert _table(status.stdout) == NOT_STARTED_THEN_FAILED
    assert [read_info(d)["status"] for d in dirs] == ["QUEUED", "FAILED"]
    assert "job 700_0 exited 75" in read_info(dirs[0])["error"]
    assert len((project.root / "bin" / "calls.log").read_text().splitlines()) == 2


def test_oar_exit_codes_are_asked_only_for_ended_jobs_of_queued_runs(project) -> None:
    """OAR ends a job Terminated whatever its exit code: one ``oarstat -J -f`` call, about the
    ended jobs of still-QUEUED runs only, gives their exit codes (a wait status: 19200 is 75).
    If it fails, nothing is written."""
    dirs = _five_queued_runs(project.logs)[:3]
    for run_dir, job in zip(dirs, ("11", "12", "13")):
        info = read_info(run_dir)
        info["scheduler"] = {"name": "oar", "job_id": job, "array_job_id": "11"}
        write_info(run_dir, info)
    states = '{"11": "Terminated", "12": "Terminated", "13": "Waiting"}'
    full = '{"11": {"exit_code": 19200}, "12": {"exit_code": 256}}'
    bin_dir = project.root / "bin"
    _fake(bin_dir, "oarstat", f"case \"$*\" in *-f*) echo '{full}';; *) echo '{states}';; esac")
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0, status.stderr
    assert _table(status.stdout) == NOT_STARTED_THEN_FAILED
    calls = (bin_dir / "calls.log").read_text().splitlines()
    assert [c.split("oarstat ")[1] for c in calls] == [
        "-J -s -j 11 -j 12 -j 13",
        "-J -f -j 11 -j 12",
    ]
    assert [read_info(d)["status"] for d in dirs] == ["QUEUED", "FAILED", "QUEUED"]

    for d in dirs:  # as they were, and oarstat -f failing this time
        write_info(d, dict(read_info(d), status="QUEUED", error=None))
    _fake(
        bin_dir,
        "oarstat",
        f"case \"$*\" in *-f*) echo 'oarstat: DB down' >&2; exit 1;; *) echo '{states}';; esac",
    )
    status = _cli(project, "status", str(project.logs))
    assert status.returncode == 0 and "warning: cannot ask oar" in status.stderr, status.stderr
    assert [read_info(d)["status"] for d in dirs] == ["QUEUED"] * 3
    assert not any(read_info(d).get("error") for d in dirs)
