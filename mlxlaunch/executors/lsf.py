"""IBM Spectrum LSF: ``bsub -J name[1-N]%k`` arrays (index from 1), ``bjobs``, ``bkill``.

Checked against golden job scripts only (no LSF daemon in CI). The script goes to
``bsub`` on stdin so its ``#BSUB`` lines are read. With ``requeue``, a preempted
job exits with 99, which ``-Q 99`` requeues.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlxlaunch.errors import SubmitError
from mlxlaunch.executors.scheduler import SchedulerExecutor, Submission, parse_time
from mlxlaunch.launching.settings import SchedulerSettings


class LsfExecutor(SchedulerExecutor):
    """One ``#BSUB -J "name[1-N]%k"`` job per chunk of the sweep."""

    name = "lsf"
    directive = "#BSUB"
    index_expr = "$LSB_JOBINDEX"
    index_base = 1
    hold_directive = "-H"
    unsupported = ("qos",)
    queued_states = frozenset({"PEND", "PSUSP"})
    running_states = frozenset({"RUN", "USUSP", "SSUSP"})
    held_states = frozenset({"PSUSP"})
    stopped_states = frozenset()
    unknown_job_message = "is not found"

    def directives(self, s: SchedulerSettings, n_tasks: int, output: Path) -> list[str]:
        throttle = f"%{s.max_concurrent}" if s.max_concurrent else ""
        lines = [f'-J "{s.job_name}[1-{n_tasks}]{throttle}"', f"-n {s.cpus}"]
        if s.time:
            minutes = -(-parse_time(s.time) // 60)
            lines.append(f"-W {minutes // 60}:{minutes % 60:02d}")
        if s.mem:
            lines.append(f'-R "rusage[mem={s.mem}]"')
        if s.gpus:
            lines.append(f'-gpu "num={s.gpus}"')
        if s.partition:
            lines.append(f"-q {s.partition}")
        if s.account:
            lines.append(f"-P {s.account}")
        lines.append(f"-o {output}/lsf-%J_%I.out")
        if s.signal_delay_s:
            minutes = max(1, s.signal_delay_s // 60)
            lines += ["-wa USR2", f"-wt {minutes}"]
        if s.requeue:
            lines += ["-r", "-Q 99"]
        return lines

    def submit_argv(self, script: Path, workdir: str) -> list[str]:
        return ["sh", "-c", 'exec bsub < "$0"', str(script)]

    def parse_submission(self, stdout: str, n_tasks: int) -> Submission:
        m = re.search(r"Job <(\d+)>", stdout)
        if not m:
            raise SubmitError(f"bsub printed no job id: {stdout.strip()!r}")
        job = m.group(1)
        return Submission(job, [f"{job}[{i}]" for i in range(1, n_tasks + 1)])

    def release_argv(self, submission: Submission) -> list[str]:
        return ["bresume", submission.array_job_id]

    def requeue_lines(self) -> list[str]:
        return ["exit 99  # requeued by the job's -Q 99"]

    def query_argv(self, job_ids: list[str]) -> list[str]:
        arrays = sorted({j.split("[")[0] for j in job_ids})
        return ["bjobs", "-a", "-noheader", "-o", "jobid jobindex stat", *arrays]

    def parse_query(self, stdout: str) -> dict[str, str]:
        states = {}
        for line in stdout.splitlines():
            parts = line.split()
            if len(parts) == 3:
                states[f"{parts[0]}[{parts[1]}]"] = parts[2].upper()
        return states

    def cancel_argv(self, job_ids: list[str]) -> list[str]:
        return ["bkill", *job_ids]
