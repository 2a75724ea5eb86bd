"""Slurm: ``sbatch`` job arrays, ``squeue`` status, ``scancel``, ``scontrol requeue``."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Optional

from mlxlaunch.errors import SubmitError
from mlxlaunch.executors.scheduler import (
    PREEMPT_SIGNAL,
    SchedulerExecutor,
    Submission,
    exit_code_of,
    hms,
    parse_time,
)
from mlxlaunch.launching.settings import SchedulerSettings


@functools.cache
def _max_array_size() -> int:
    """``MaxArraySize`` from ``scontrol show config`` (read once per process)."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return 1001  # Slurm's default
    m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.MULTILINE)
    return int(m.group(1)) if m else 1001


def slurm_time(seconds: int) -> str:
    """``D-HH:MM:SS`` (or ``HH:MM:SS`` under a day), as sbatch's ``--time`` takes it."""
    days, rest = divmod(seconds, 86400)
    return f"{days}-{hms(rest)}" if days else hms(rest)


class SlurmExecutor(SchedulerExecutor):
    """One ``#SBATCH --array=0-N%k`` job per chunk of the sweep."""

    name = "slurm"
    directive = "#SBATCH"
    index_expr = "$SLURM_ARRAY_TASK_ID"
    index_base = 0
    hold_directive = "--hold"
    job_id_expr = "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    queued_states = frozenset(
        {
            "PENDING",
            "CONFIGURING",
            "REQUEUED",
            "REQUEUE_HOLD",
            "RESIZING",
            "REQUEUE_FED",
            "SUSPENDED",
        }
    )
    running_states = frozenset({"RUNNING", "COMPLETING", "SIGNALING", "STAGE_OUT"})
    stopped_states = frozenset({"CANCELLED", "TIMEOUT", "PREEMPTED", "DEADLINE"})
    unknown_job_message = "Invalid job id specified"

    def max_array_size(self) -> int:
        if _max_array_size.cache_info().currsize == 0:
            self.calls += 1
        return _max_array_size()

    def directives(self, s: SchedulerSettings, n_tasks: int, output: Path) -> list[str]:
        throttle = f"%{s.max_concurrent}" if s.max_concurrent else ""
        # sbatch expands %x, %j, ... in --output: a "%" of the folder's own name is "%%"
        out = f"{str(output).replace('%', '%%')}/slurm-%A_%a.out"
        if any(c.isspace() for c in out):
            out = f'"{out}"'  # sbatch splits #SBATCH lines at spaces, except inside quotes
        lines = [
            f"--job-name={s.job_name}",
            f"--array=0-{n_tasks - 1}{throttle}",
            f"--output={out}",
            f"--cpus-per-task={s.cpus}",
        ]
        if s.time:
            lines.append(f"--time={slurm_time(parse_time(s.time))}")
        if s.mem:
            lines.append(f"--mem={s.mem}")
        if s.gpus:
            lines.append(f"--gres=gpu:{s.gpus}")
        for key in ("partition", "account", "qos"):
            if getattr(s, key):
                lines.append(f"--{key}={getattr(s, key)}")
        if s.signal_delay_s:
            # B: sends it to the batch shell, which forwards it to Python
            lines.append(f"--signal=B:{PREEMPT_SIGNAL}@{s.signal_delay_s}")
        if s.requeue:
            lines += ["--requeue", "--open-mode=append"]
        else:
            lines.append("--no-requeue")
        return lines

    def submit_argv(self, script: Path, workdir: str) -> list[str]:
        return ["sbatch", "--parsable", str(script)]

    def parse_submission(self, stdout: str, n_tasks: int) -> Submission:
        m = re.match(r"\s*(\d+)", stdout)
        if not m:
            raise SubmitError(f"sbatch printed no job id: {stdout.strip()!r}")
        job = m.group(1)
        return Submission(job, [f"{job}_{i}" for i in range(n_tasks)])

    def release_argv(self, submission: Submission) -> list[str]:
        return ["scontrol", "release", submission.array_job_id]

    def requeue_lines(self) -> list[str]:
        # this task only: for an array task $SLURM_JOB_ID is the whole array's id
        return ['scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"']

    def query_argv(self, job_ids: list[str]) -> list[str]:
        # -O, not -o: only it has the exit code ("<field>:|": unpadded, never cut, "|" after)
        arrays = sorted({j.split("_")[0] for j in job_ids})
        fields = "JobArrayID:|,State:|,Reason:|,exit_code:|"
        return ["squeue", "-h", "-r", "-t", "all", "-O", fields, "-j", ",".join(arrays)]

    def parse_query(self, stdout: str) -> dict[str, str]:
        """``4_0|FAILED|NonZeroExitCode|19200|``: job, state, reason, wait status."""
        states = {}
        for line in stdout.splitlines():
            if "|" in line:
                job, state, *rest = line.strip().split("|")
                states[job] = state.strip().split()[0] if state.strip() else ""
                why = rest[0].strip() if rest else ""
                if states[job] == "PENDING" and why and why != "None":
                    self.reasons[job] = why  # e.g. Resources, BeginTime, ReqNodeNotAvail
                code = exit_code_of(rest[1]) if len(rest) > 1 else None
                if code is not None and states[job] not in self.queued_states | self.running_states:
                    self.exit_codes[job] = code  # a waiting job says 0: not an exit
        return states

    def ended_states(self, job_ids: list[str], listed: dict[str, str]) -> dict[str, str]:
        # squeue forgets ended jobs after MinJobAge (300 s by default); sacct does not
        arrays = sorted({j.split("_")[0] for j in job_ids})
        argv = ["sacct", "-n", "-X", "-P", "-o", "JobID,State,ExitCode", "-j", ",".join(arrays)]
        states: dict[str, str] = {}
        try:
            proc = self.run_command(argv, check=False)
        except SubmitError:  # no sacct here
            proc = None
        if proc is not None and proc.returncode == 0:  # else: "accounting storage is disabled"
            wanted = set(job_ids)
            for line in proc.stdout.splitlines():
                job, _, rest = line.strip().partition("|")
                state, _, code = rest.partition("|")  # the latest record of a requeued job
                if job in wanted and state.strip():
                    states[job] = state.split()[0]  # "CANCELLED by 1000" -> CANCELLED
                    exit_code = exit_code_of(code)  # "75:0": code 75, no signal
                    if exit_code is not None:
                        self.exit_codes[job] = exit_code
        # Without accounting: a pending task that scancel removed leaves no record at all,
        # only a gap in its array's pending range, while its siblings are still listed.
        alive = {j.split("_")[0] for j in listed}
        for job in job_ids:
            if job not in states and job.split("_")[0] in alive:
                states[job] = "CANCELLED"
        return states

    def cancel_argv(self, job_ids: list[str]) -> list[str]:
        return ["scancel", *job_ids]

    def is_held(self, job_id: str, state: Optional[str]) -> bool:
        # a held job is PENDING for the reason JobHeldUser (JobHeldAdmin: held by an admin)
        return state == "PENDING" and self.reasons.get(job_id, "").startswith("JobHeld")
