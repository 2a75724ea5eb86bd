"""Scheduler executors without a daemon: job scripts, settings checks, submit failures.

The job scripts of all five schedulers are compared with golden files in
``tests/golden/`` (regenerate with ``MLXLAUNCH_UPDATE_GOLDEN=1``). The script's
shell body (index -> run folder, quoting, preemption forwarding, requeue) is
checked by running the generated script with bash and a real task, with the
array index set the way each scheduler sets it. Submission uses fake ``sbatch``
/ ``scontrol`` programs on PATH here; ``test_slurm_cluster.py`` and
``test_oar_cluster.py`` do the same against real daemons.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlxlaunch.errors import SettingsError
from mlxlaunch.executors import registry
from mlxlaunch.executors.registry import scheduler_executor
from mlxlaunch.executors.scheduler import (
    JobCommand,
    SchedulerExecutor,
    SubmitError,
    exit_code_of,
    parse_time,
    validate,
)
from mlxlaunch.executors.slurm import SlurmExecutor
from mlxlaunch.launching.settings import SchedulerSettings

GOLDEN = Path(__file__).parent / "golden"
RUN_DIRS = [Path("/scratch/logs/1"), Path("/scratch/my logs/$HOME's 2")]
COMMAND = JobCommand(
    python="/opt/venv/bin/python",
    script="/home/me/project/main.py",
    workdir="/home/me/project",
    env={"PYTHONPATH": "/home/me/lib"},
)


def full_settings(name: str) -> SchedulerSettings:
    """Settings that exercise every directive the scheduler supports."""
    s = SchedulerSettings(
        name=name,
        time="1-02:03:04",
        cpus=4,
        mem="16G",
        gpus=2,
        partition="gpu",
        account="proj1",
        qos="high",
        extra=["--constraint=v100"] if name == "slurm" else [],
        env=["module load cuda/12.1", "source /opt/venv/bin/activate"],
        max_concurrent=3,
        requeue=True,
        signal_delay_s=300,
        job_name="sweep1",
    )
    for key in scheduler_executor(name).unsupported:
        setattr(s, key, getattr(SchedulerSettings(), key))
    return s


@pytest.mark.parametrize("name", ["slurm", "oar", "pbs", "sge", "lsf"])
def test_job_script_matches_golden_file(name: str) -> None:
    executor = scheduler_executor(name)
    s = full_settings(name)
    validate(s, executor.unsupported)
    text = executor.job_script(RUN_DIRS, s, COMMAND, Path("/scratch/logs/.jobs"))
    golden = GOLDEN / f"{name}.sh"
    if os.environ.get("MLXLAUNCH_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert text == golden.read_text()


def test_minimal_slurm_script_has_no_optional_directives() -> None:
    text = scheduler_executor("slurm").job_script(
        RUN_DIRS[:1], SchedulerSettings(name="slurm", signal_delay_s=0), COMMAND, Path("/o")
    )
    directives = [line for line in text.splitlines() if line.startswith("#SBATCH")]
    assert directives == [
        "#SBATCH --job-name=mlxlaunch",
        "#SBATCH --array=0-0",
        "#SBATCH --output=/o/slurm-%A_%a.out",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --no-requeue",
        "#SBATCH --hold",  # released once every run recorded its job id
    ]


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90", 5400),
        ("10:30", 630),
        ("01:00:00", 3600),
        ("36:00:00", 129600),
        ("2-00", 172800),
        ("1-02:03", 93780),
        ("1-02:03:04", 93784),
    ],
)
def test_parse_time(text: str, seconds: int) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("time", "1h", ["scheduler.time", "HH:MM:SS"]),
        ("mem", "lots", ["scheduler.mem", "4G"]),
        ("cpus", 0, ["scheduler.cpus", "at least 1"]),
        ("partition", "gpu; rm -rf /", ["scheduler.partition", "letters"]),
        ("env", ["echo a\necho b"], ["one line"]),
    ],
)
def test_bad_settings_are_rejected_before_submission(field, value, words) -> None:
    s = SchedulerSettings(name="slurm")
    setattr(s, field, value)
    with pytest.raises(SettingsError) as info:
        validate(s)
    for word in words:
        assert word in str(info.value)


def test_unsupported_setting_is_an_error() -> None:
    with pytest.raises(SettingsError, match="scheduler.mem' is not supported by oar"):
        validate(SchedulerSettings(name="oar", mem="4G"), scheduler_executor("oar").unsupported)


def test_unknown_scheduler_suggests_the_closest() -> None:
    with pytest.raises(SettingsError, match="Did you mean 'slurm'"):
        scheduler_executor("slrum")
    with pytest.raises(SettingsError, match="No scheduler chosen.*slurm, oar, pbs, sge, lsf"):
        scheduler_executor("")


def _incomplete_scheduler(**attrs: object) -> type:
    """SlurmExecutor's body as a new class: ``attrs`` removed (None) or replaced."""
    namespace = {k: v for k, v in vars(SlurmExecutor).items() if not k.startswith("__")}
    for key in attrs:
        namespace.pop(key, None)
    namespace.update({k: v for k, v in attrs.items() if v is not None})
    return type("Incomplete", (SchedulerExecutor,), namespace)


@pytest.mark.parametrize(
    "hook",
    [
        "directives",
        "submit_argv",
        "parse_submission",
        "requeue_lines",
        "release_argv",
        "query_argv",
        "parse_query",
        "cancel_argv",
    ],
)
def test_a_scheduler_missing_a_hook_cannot_be_instantiated(hook: str) -> None:
    """Without e.g. release_argv its arrays would be submitted held and stay held forever."""
    with pytest.raises(TypeError, match=hook):
        _incomplete_scheduler(**{hook: None})()


@pytest.mark.parametrize("attr", ["name", "directive", "index_expr", "hold_directive"])
def test_a_scheduler_missing_a_required_attribute_cannot_be_instantiated(attr: str) -> None:
    with pytest.raises(TypeError, match=attr):
        _incomplete_scheduler(**{attr: ""})()


def test_the_registry_is_the_one_list_of_schedulers() -> None:
    """Each registered name resolves to a complete executor of that name, every scheduler
    module of the package is registered, and presets accept exactly these plus local."""
    from mlxlaunch.launching import presets

    package = Path(registry.__file__).parent
    for name in registry.SCHEDULERS:
        executor = scheduler_executor(name)
        assert isinstance(executor, SchedulerExecutor) and executor.name == name
    modules = {
        path.stem
        for path in package.glob("*.py")
        if "(SchedulerExecutor)" in path.read_text() and path.stem != "scheduler"
    }
    assert modules == {target.split(":")[0] for target in registry.SCHEDULERS.values()}
    assert registry.backend_kinds() == ("local", *registry.SCHEDULERS)
    for kind in registry.backend_kinds():
        presets.preset_settings("x", {"scheduler": kind})  # no error
    assert set(presets.BUILTIN) <= set(registry.backend_kinds())


def test_a_launch_imports_only_the_scheduler_it_uses() -> None:
    code = (
        "import sys; from mlxlaunch.executors.registry import scheduler_executor; "
        "scheduler_executor('oar'); "
        "print(sorted(m for m in sys.modules if m.startswith('mlxlaunch.executors.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "mlxlaunch.executors.oar" in out
    for other in ("slurm", "pbs", "sge", "lsf"):
        assert f"mlxlaunch.executors.{other}'" not in out


@pytest.mark.parametrize(
    "name,stdout,array,ids",
    [
        ("slurm", "4242\n", "4242", ["4242_0", "4242_1", "4242_2"]),
        ("slurm", "4242;cluster2\n", "4242", ["4242_0", "4242_1", "4242_2"]),
        (
            "oar",
            "[ADMISSION RULE] Modify resource description\nOAR_JOB_ID=11\nOAR_JOB_ID=12\n"
            "OAR_JOB_ID=13\nOAR_ARRAY_ID=11\n",
            "11",
            ["11", "12", "13"],
        ),
        (
            "pbs",
            "77[].server1\n",
            "77[].server1",
            ["77[0].server1", "77[1].server1", "77[2].server1"],
        ),
        ("sge", "88.1-3:1\n", "88", ["88.1", "88.2", "88.3"]),
        ("lsf", "Job <99> is submitted to queue <normal>.\n", "99", ["99[1]", "99[2]", "99[3]"]),
    ],
)
def test_job_ids_are_parsed(name, stdout, array, ids) -> None:
    sub = scheduler_executor(name).parse_submission(stdout, 3)
    assert (sub.array_job_id, sub.job_ids) == (array, ids)


def test_oar_submission_with_missing_job_ids_is_an_error() -> None:
    with pytest.raises(SubmitError, match="1 OAR_JOB_ID line"):
        scheduler_executor("oar").parse_submission("OAR_JOB_ID=5\n", 2)


def test_query_output_is_parsed() -> None:
    slurm = scheduler_executor("slurm")
    assert slurm.parse_query("5_0|RUNNING\n5_1|PENDING\n") == {"5_0": "RUNNING", "5_1": "PENDING"}
    assert slurm.query_argv(["5_0", "5_1", "6_0"])[-1] == "5,6"
    oar = scheduler_executor("oar")
    assert oar.parse_query('{"3": "Terminated", "4": "Waiting"}') == {
        "3": "TERMINATED",
        "4": "WAITING",
    }
    assert oar.query_argv(["3", "4"]) == ["oarstat", "-J", "-s", "-j", "3", "-j", "4"]
    assert slurm.run_status("PENDING") == "QUEUED"
    assert slurm.run_status("TIMEOUT") == "INTERRUPTED"
    assert slurm.run_status("NODE_FAIL") == "FAILED"
    assert slurm.run_status(None) is None


#: ``squeue -h -r -t all -O JobArrayID:|,State:|,Reason:|,exit_code:|`` of a real Slurm 22.05:
#: a task that exited 75, one that completed, one requeued and then exited 75 (squeue shows
#: its last attempt), a plain job, a pending task (its "0" is no exit), one killed by SIGKILL
SQUEUE_EXIT_CODES = """\
1_1|COMPLETED|None|0|
1_2|FAILED|NonZeroExitCode|19200|
1_0|FAILED|NonZeroExitCode|19200|
2|FAILED|NonZeroExitCode|19200|
3_0|PENDING|BeginTime|0|
4_0|CANCELLED|None|9|
"""


def test_exit_codes_are_read_from_wait_statuses_and_sacct_pairs() -> None:
    assert [exit_code_of(x) for x in (19200, "19200", 0, 256, "75:0", "0:0")] == [
        75,
        75,
        0,
        1,
        75,
        0,
    ]
    # killed by a signal (SIGKILL: 9, "0:9"), or no code at all: none
    assert [exit_code_of(x) for x in (9, "0:9", None, "", "N/A")] == [None] * 5


def test_squeue_gives_the_exit_codes_of_ended_jobs_in_its_one_answer() -> None:
    slurm = scheduler_executor("slurm")
    argv = slurm.query_argv(["1_0", "2"])
    assert argv[argv.index("-O") + 1] == "JobArrayID:|,State:|,Reason:|,exit_code:|"
    states = slurm.parse_query(SQUEUE_EXIT_CODES)
    assert states["1_0"] == "FAILED" and states["3_0"] == "PENDING"
    assert slurm.exit_codes == {"1_1": 0, "1_2": 75, "1_0": 75, "2": 75}
    assert slurm.reasons == {"3_0": "BeginTime"}
    assert slurm.ended_exit_codes(["1_0", "1_1", "3_0", "4_0"]) == {"1_0": 75, "1_1": 0}
    assert slurm.calls == 0  # nothing asked beyond the query


def test_oar_asks_the_exit_codes_of_ended_jobs_in_one_oarstat_call(
    tmp_path: Path, monkeypatch
) -> None:
    # oarstat -J -f of a real OAR 2.5.9 (cut to the keys read): 1 exited 75, 2 exited 0,
    # 5 never ran (no exit code)
    full = json.dumps(
        {
            "1": {"state": "Terminated", "exit_code": 19200, "array_index": 1},
            "2": {"state": "Terminated", "exit_code": 0, "array_index": 2},
            "5": {"state": "Error", "exit_code": None},
        }
    )
    _fake(tmp_path, "oarstat", f"echo '{full}'")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    oar = scheduler_executor("oar")
    assert oar.ended_exit_codes(["1", "2", "5"]) == {"1": 75, "2": 0}
    assert oar.ended_exit_codes(["1"]) == {"1": 75}  # known: not asked again
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert len(calls) == 1 and calls[0].endswith("oarstat -J -f -j 1 -j 2 -j 5")


# ---------------------------------------------------------------- the script, run by bash

PREEMPT_TASK = """\
import os, time
from pathlib import Path
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    print("started", ctx.config.get("x"), flush=True)
    if ctx.config.get("sleep"):
        ctx.on_preempt(lambda: Path(ctx.info.log_dir, "hook.txt").write_text("saved"))
        Path(ctx.info.log_dir, "ready").write_text("1")
        time.sleep(ctx.config.sleep)

if __name__ == "__main__":
    main()
"""


def _prepare(project, *overrides: str) -> list[Path]:
    """Prepared, unsubmitted run folders (a real launch with a fake sbatch on PATH)."""
    project.write("main.py", PREEMPT_TASK)
    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 1234")
    _fake(bin_dir, "scontrol", "exit 0")
    env = project.env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        [sys.executable, "main.py", *overrides, "+launcher.use_scheduler=true",
         "+launcher.scheduler.name=slurm"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "submitted" in proc.stdout and "1234" in proc.stdout
    assert "scontrol release 1234" in (bin_dir / "calls.log").read_text()
    return [project.logs / str(i) for i in project.run_ids()]


def _path_without_schedulers(*first: Path) -> str:
    """``PATH`` with ``first`` in front and without the folders of installed schedulers
    (the cluster tests install Slurm and OAR on this machine)."""
    programs = {p for programs in registry.SIGNATURES.values() for p in programs}
    kept = [
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not any(os.path.exists(os.path.join(entry, p)) for p in programs)
    ]
    return os.pathsep.join([*map(str, first), *kept])


@pytest.mark.parametrize(
    "programs, expected",
    [
        (["sbatch", "squeue"], "slurm"),
        (["oarsub"], "oar"),
        (["qsub", "pbsnodes"], "pbs"),
        (["qsub", "qconf"], "sge"),
        (["bsub"], "lsf"),
        ([], "No scheduler on PATH"),
        (["qsub"], "No scheduler on PATH"),  # PBS or SGE: nothing tells
        (["sbatch", "oarsub"], r"sbatch \(slurm\) and oarsub \(oar\) are on PATH: choose one"),
    ],
)
def test_the_scheduler_on_path_is_found_and_an_unclear_path_says_why(
    tmp_path, programs, expected
) -> None:
    for program in programs:
        _fake(tmp_path, program, "exit 0")
    if expected in registry.SCHEDULERS:
        assert registry.detect_scheduler(str(tmp_path)) == expected
    else:
        with pytest.raises(SettingsError, match=f"No scheduler chosen.*{expected}"):
            registry.detect_scheduler(str(tmp_path))


def test_use_scheduler_without_a_name_submits_to_the_one_installed_and_keeps_it(project) -> None:
    """The choice is frozen with the run's settings: a resubmit goes to the same place."""
    project.write("main.py", PREEMPT_TASK)
    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 1234")
    _fake(bin_dir, "scontrol", "exit 0")
    env = project.env()
    env["PATH"] = _path_without_schedulers(bin_dir)
    proc = subprocess.run(
        [sys.executable, "main.py", "+x=1,2", "+launcher.use_scheduler=true"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "note: submitting to slurm, the scheduler on this machine" in proc.stderr
    assert "sbatch" in (bin_dir / "calls.log").read_text()
    from mlxlaunch.runfolder.metadata import read_info

    for run_id in project.run_ids():
        run = project.logs / str(run_id)
        assert "name: slurm" in (run / "metadata" / "launcher.yaml").read_text()
        assert read_info(run)["scheduler"]["name"] == "slurm"

    (bin_dir / "sbatch").unlink()  # a machine without a scheduler: one line, nothing made
    proc = subprocess.run(
        [sys.executable, "main.py", "+x=3", "+launcher.use_scheduler=true"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "No scheduler on PATH" in proc.stderr, proc.stderr
    assert len(project.run_ids()) == 2


def _fake(bin_dir: Path, name: str, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/bin/bash\necho "$0 $*" >> {bin_dir}/calls.log\n{body}\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _array_script(run_dir: Path) -> Path:
    from mlxlaunch.runfolder.metadata import read_info

    return Path(read_info(run_dir)["scheduler"]["script"])


def test_array_index_picks_the_run_folder_and_quoted_values_reach_it(project) -> None:
    from mlxlaunch.runfolder.metadata import read_config, read_info

    value = "5$HOME 'a' `b`"
    dirs = _prepare(project, "+x=" + repr(value).replace("\\", ""), "+y=1,2")
    assert len(dirs) == 2
    infos = [read_info(d) for d in dirs]
    assert [i["scheduler"]["job_id"] for i in infos] == ["1234_0", "1234_1"]
    assert [i["scheduler"]["array_index"] for i in infos] == [0, 1]
    assert all(i["status"] == "QUEUED" for i in infos)
    script = _array_script(dirs[0])
    env = dict(project.env(), SLURM_ARRAY_TASK_ID="1")
    proc = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert read_info(dirs[1])["status"] == "COMPLETE"
    assert read_info(dirs[0])["status"] == "QUEUED"  # index 1 ran the second folder only
    assert read_config(dirs[1])["x"] == value
    assert (dirs[1] / "log.stdout").read_text() == f"started {value}\n"
    assert proc.stdout == ""  # the job's output goes to the run folder


def test_preemption_signal_is_forwarded_hook_runs_and_job_requeues(project) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    (run_dir,) = _prepare(project, "+sleep=60", "+launcher.scheduler.requeue=true")
    script = _array_script(run_dir)
    bin_dir = project.root / "bin"
    _fake(bin_dir, "scontrol", "exit 0")
    # a task of an array: its own SLURM_JOB_ID (777) is not the array's (770)
    env = dict(project.env(), SLURM_ARRAY_TASK_ID="0", SLURM_JOB_ID="777")
    env["SLURM_ARRAY_JOB_ID"] = "770"
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    job = subprocess.Popen(["bash", str(script)], env=env)
    deadline = time.time() + 30
    while not (run_dir / "ready").exists():
        assert time.time() < deadline and job.poll() is None, "the task never started"
        time.sleep(0.05)
    job.send_signal(signal.SIGUSR2)  # what Slurm's --signal=B:USR2@N does
    assert job.wait(timeout=30) == 140
    info = read_info(run_dir)
    assert (info["status"], info["exit_code"]) == ("INTERRUPTED", 140)
    assert info["error"] == "interrupted by SIGUSR2"
    assert (run_dir / "hook.txt").read_text() == "saved"
    assert info["requeues"] == 1
    # exactly the signalled task: "scontrol requeue 770" (or the task's array id) would
    # requeue every task of the array, complete ones included
    requeues = [x for x in (bin_dir / "calls.log").read_text().splitlines() if "requeue" in x]
    assert [x.split()[1:] for x in requeues] == [["requeue", "770_0"]]


def _run_job_script(project, run_dir: Path, signal_when_ready: bool) -> int:
    """Run the array script of ``run_dir`` as Slurm would (task 0 of array 770)."""
    bin_dir = project.root / "bin"
    env = dict(project.env(), SLURM_ARRAY_TASK_ID="0", SLURM_JOB_ID="777")
    env.update(SLURM_ARRAY_JOB_ID="770", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (run_dir / "ready").unlink(missing_ok=True)
    job = subprocess.Popen(["bash", str(_array_script(run_dir))], env=env)
    if signal_when_ready:
        deadline = time.time() + 30
        while not (run_dir / "ready").exists():
            assert time.time() < deadline and job.poll() is None, "the task never started"
            time.sleep(0.05)
        job.send_signal(signal.SIGUSR2)
    return job.wait(timeout=60)


def test_a_complete_run_whose_job_is_requeued_does_not_run_again(project) -> None:
    """A requeue of a task whose run is COMPLETE (the whole array requeued by hand, or by an
    older script) must not run it again: no second attempt, no metrics logged twice."""
    from mlxlaunch.runfolder.metadata import read_info

    (run_dir,) = _prepare(project, "+launcher.scheduler.requeue=true")
    _fake(project.root / "bin", "scontrol", "exit 0")
    assert _run_job_script(project, run_dir, signal_when_ready=False) == 0
    first = read_info(run_dir)
    assert (first["status"], first["attempt"]) == ("COMPLETE", 1)
    assert _run_job_script(project, run_dir, signal_when_ready=False) == 0  # the requeued job
    assert read_info(run_dir) == first
    assert (run_dir / "log.stdout").read_text().count("started") == 1
    assert "already COMPLETE" in (run_dir / "log.stderr").read_text()
    assert not (run_dir / "metadata" / "attempts" / "2.yaml").exists()


def test_requeues_are_bounded_by_max_requeues_then_failed_with_the_reason(project) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    (run_dir,) = _prepare(
        project, "+sleep=60", "+launcher.scheduler.requeue=true",
        "+launcher.scheduler.max_requeues=1",
    )  # fmt: skip
    bin_dir = project.root / "bin"
    _fake(bin_dir, "scontrol", "exit 0")
    assert _run_job_script(project, run_dir, signal_when_ready=True) == 140  # requeued once
    assert (read_info(run_dir)["status"], read_info(run_dir)["requeues"]) == ("INTERRUPTED", 1)
    assert _run_job_script(project, run_dir, signal_when_ready=True) == 1  # not again
    info = read_info(run_dir)
    assert (info["status"], info["attempt"], info["exit_code"]) == ("FAILED", 2, 1)
    assert "max_requeues=1 reached" in info["error"]
    assert (run_dir / "hook.txt").read_text() == "saved"  # the checkpoint hook still ran
    calls = (bin_dir / "calls.log").read_text()
    assert calls.count("scontrol requeue") == 1


def test_resubmit_resets_the_requeue_count(project) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    (run_dir,) = _prepare(project, "+sleep=60", "+launcher.scheduler.requeue=true")
    _fake(project.root / "bin", "scontrol", "exit 0")
    assert _run_job_script(project, run_dir, signal_when_ready=True) == 140
    assert read_info(run_dir)["requeues"] == 1
    env = dict(project.env(), PATH=f"{project.root / 'bin'}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [sys.executable, "-m", "mlxlaunch.cli", "resubmit", str(project.logs), "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    info = read_info(run_dir)
    assert info["status"] == "QUEUED" and "requeues" not in info


@pytest.mark.parametrize(
    "time_limit,delay,ok",
    [("00:01:00", 120, False), ("1", 31, False), ("1", 30, True), ("00:05:00", 120, True)],
)
def test_a_signal_delay_not_well_below_the_time_limit_is_refused_at_submit(
    time_limit: str, delay: int, ok: bool
) -> None:
    s = SchedulerSettings(name="slurm", time=time_limit, signal_delay_s=delay)
    if ok:
        validate(s)
        return
    with pytest.raises(SettingsError) as caught:
        validate(s)
    message = str(caught.value)
    assert "scheduler.signal_delay_s" in message and "scheduler.time" in message
    assert "signal_delay_s=30 or less" in message
    if time_limit == "00:01:00":  # the message docs/clusters.md shows
        page = (Path(__file__).parent.parent / "docs" / "clusters.md").read_text()
        assert f"mlxlaunch: error: {message}\n" in page


def test_failing_sbatch_marks_runs_submit_failed_and_exits_nonzero(project) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    bin_dir = project.root / "bin"
    _fake(bin_dir, "sbatch", "echo 'sbatch: error: Invalid partition name specified' >&2; exit 1")
    env = project.env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(
        [sys.executable, "main.py", "optimizer.lr=0.1,0.2", "+launcher.use_scheduler=true",
         "+launcher.scheduler.name=slurm", "+launcher.scheduler.partition=nope"],
        cwd=project.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Invalid partition name specified" in proc.stderr
    assert "SUBMIT_FAILED" in proc.stderr and "mlxlaunch resubmit" in proc.stderr
    for i in project.run_ids():
        info = read_info(project.logs / str(i))
        assert info["status"] == "SUBMIT_FAILED"
        assert "Invalid partition" in info["error"]
        assert "scheduler" not in info


class _TinyArrays(SlurmExecutor):
    """Slurm with a MaxArraySize of 2, to check the split without 1,000 runs."""

    def max_array_size(self) -> int:
        return 2


def _fake_sbatch(bin_dir: Path, tmp_path: Path) -> None:
    """An sbatch printing array job ids 101, 102, ... one per call."""
    counter = tmp_path / "n"
    counter.write_text("100")
    _fake(bin_dir, "sbatch", f"n=$(($(cat {counter}) + 1)); echo $n > {counter}; echo $n")


def _five_queued_runs(logs: Path) -> list[Path]:
    """Run folders ``logs/1`` to ``logs/5``, QUEUED."""
    from mlxlaunch.runfolder.metadata import write_info

    dirs = []
    for i in range(5):
        d = logs / str(i + 1)
        (d / "metadata").mkdir(parents=True)
        write_info(d, {"status": "QUEUED", "log_id": i + 1})
        dirs.append(d)
    return dirs


def test_sweep_is_split_into_arrays_at_max_array_size(tmp_path: Path, monkeypatch) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    bin_dir = tmp_path / "bin"
    _fake_sbatch(bin_dir, tmp_path)
    _fake(bin_dir, "scontrol", "exit 0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    dirs = _five_queued_runs(tmp_path / "logs")
    executor = _TinyArrays()
    command = JobCommand(python=sys.executable, script="main.py", workdir=str(tmp_path))
    subs = executor.submit(dirs, SchedulerSettings(name="slurm"), command, tmp_path / "logs")
    assert [s.array_job_id for s in subs] == ["101", "102", "103"]
    assert [read_info(d)["scheduler"]["job_id"] for d in dirs] == [
        "101_0", "101_1", "102_0", "102_1", "103_0",
    ]  # fmt: skip
    assert executor.calls == 6  # one sbatch and one release per array
    calls = (bin_dir / "calls.log").read_text()
    for array in ("101", "102", "103"):
        assert f"scontrol release {array}\n" in calls
    scripts = sorted((tmp_path / "logs" / ".jobs").glob("*/*.sh"))  # .jobs/<user>/
    assert ["--array=0-1" in s.read_text() for s in scripts] == [True, True, False]
    assert "--array=0-0" in scripts[2].read_text()


def test_bad_job_settings_fail_before_any_run_folder_exists(project) -> None:
    proc = project.run(
        "optimizer.lr=0.1,0.2", "+launcher.use_scheduler=true", "+launcher.scheduler.name=slurm",
        "+launcher.scheduler.time=2h",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Bad launcher setting 'scheduler.time' '2h'" in proc.stderr
    assert project.run_ids() == []
    proc = project.run("+launcher.use_scheduler=true", "+launcher.scheduler.name=slrum")
    assert proc.returncode == 2 and "Did you mean 'slurm'" in proc.stderr
    assert project.run_ids() == []


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def test_signal_during_python_start_up_is_ignored_and_a_complete_run_is_not_requeued(
    project,
) -> None:
    from mlxlaunch.runfolder.metadata import read_info

    (run_dir,) = _prepare(project, "+sleep=1", "+launcher.scheduler.requeue=true")
    script = _array_script(run_dir)
    bin_dir = project.root / "bin"
    _fake(bin_dir, "scontrol", "exit 0")
    env = dict(project.env(), SLURM_ARRAY_TASK_ID="0", SLURM_JOB_ID="778")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    job = subprocess.Popen(["bash", str(script)], env=env)
    deadline = time.time() + 30
    while not _children(job.pid):  # python started (bash set its traps around it)
        assert time.time() < deadline and job.poll() is None, "python never started"
        time.sleep(0.002)
    assert not (run_dir / "ready").exists()  # still importing, before the task's handlers
    job.send_signal(signal.SIGUSR2)
    assert job.wait(timeout=30) == 0
    info = read_info(run_dir)
    assert (info["status"], info["attempt"]) == ("COMPLETE", 1)
    assert "scontrol requeue" not in (bin_dir / "calls.log").read_text()


def test_failed_release_withdraws_the_held_array_and_marks_the_rest_submit_failed(
    tmp_path: Path, monkeypatch
) -> None:
    """A held array that cannot be released is cancelled, not left held forever; the runs of
    that array and of the arrays after it are SUBMIT_FAILED, the ones before stay submitted."""
    from mlxlaunch.runfolder.metadata import read_info

    bin_dir = tmp_path / "bin"
    _fake_sbatch(bin_dir, tmp_path)
    _fake(bin_dir, "scontrol", 'if [ "$2" = 102 ]; then echo "release refused" >&2; exit 1; fi')
    _fake(bin_dir, "scancel", "exit 0")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    dirs = _five_queued_runs(tmp_path / "logs")
    command = JobCommand(python=sys.executable, script="main.py", workdir=str(tmp_path))
    with pytest.raises(SubmitError) as caught:
        _TinyArrays().submit(dirs, SchedulerSettings(name="slurm"), command, tmp_path / "logs")
    message = str(caught.value)
    assert "release refused" in message and "mlxlaunch resubmit" in message
    assert "/logs 3-5 (" in message and "submitted: 101" in message
    calls = (bin_dir / "calls.log").read_text()
    assert "scancel 102_0 102_1" in calls
    assert calls.count("sbatch") == 2  # the third array is never submitted
    infos = [read_info(d) for d in dirs]
    assert [i["status"] for i in infos] == ["QUEUED"] * 2 + ["SUBMIT_FAILED"] * 3
    assert [i.get("scheduler", {}).get("job_id") for i in infos[:2]] == ["101_0", "101_1"]
    assert all("scheduler" not in i for i in infos[2:])
