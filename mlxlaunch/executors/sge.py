"""Sun/Son of Grid Engine: ``qsub -t`` task arrays (index from 1), ``qstat``, ``qdel``.

Checked against golden job scripts only (no SGE daemon in CI). With ``requeue``,
a preempted task exits with 99, which SGE reschedules.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlxlaunch.errors import SubmitError
from mlxlaunch.executors.scheduler import (
    SchedulerExecutor,
    Submission,
    hms,
    parse_time,
)
from mlxlaunch.launching.settings import SchedulerSettings


class SgeExecutor(SchedulerExecutor):
    """One ``#$ -t 1-N`` job per chunk of the sweep."""

    name = "sge"
    directive = "#$"
    index_expr = "$SGE_TASK_ID"
    index_base = 1
    hold_directive = "-h"
    unsupported = ("qos",)
    queued_states = frozenset({"QW", "HQW", "HRWQ", "T"})
    running_states = frozenset({"R", "RR", "S", "RT"})
    held_states = frozenset({"HQW", "HRWQ"})
    stopped_states = frozenset()

    def directives(self, s: SchedulerSettings, n_tasks: int, output: Path) -> list[str]:
        lines = [f"-N {s.job_name}", "-S /bin/bash", f"-t 1-{n_tasks}"]
        if s.max_concurrent:
            lines.append(f"-tc {s.max_concurrent}")
        if s.cpus > 1:
            lines.append(f"-pe smp {s.cpus}")
        if s.time:
            lines.append(f"-l h_rt={hms(parse_time(s.time))}")
        if s.mem:
            lines.append(f"-l h_vmem={s.mem}")
        if s.gpus:
            lines.append(f"-l gpu={s.gpus}")
        if s.partition:
            lines.append(f"-q {s.partition}")
        if s.account:
            lines.append(f"-A {s.account}")
        lines += ["-j y", f"-o {output}/"]
        if s.signal_delay_s:
            lines.append("-notify")  # SIGUSR2 shortly before the job is killed
        lines.append("-r y" if s.requeue else "-r n")
        return lines

    def submit_argv(self, script: Path, workdir: str) -> list[str]:
        return ["qsub", "-terse", str(script)]

    def parse_submission(self, stdout: str, n_tasks: int) -> Submission:
        m = re.match(r"\s*(\d+)", stdout)
        if not m:
            raise SubmitError(f"qsub printed no job id: {stdout.strip()!r}")
        job = m.group(1)
        return Submission(job, [f"{job}.{i}" for i in range(1, n_tasks + 1)])

    def release_argv(self, submission: Submission) -> list[str]:
        return ["qrls", submission.array_job_id]

    def requeue_lines(self) -> list[str]:
        return ["exit 99  # SGE reschedules a job that exits with 99"]

    def query_argv(self, job_ids: list[str]) -> list[str]:
        return ["qstat", "-g", "d"]

    def parse_query(self, stdout: str) -> dict[str, str]:
        states = {}
        for line in stdout.splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0].isdigit():
                task = parts[-1] if parts[-1].isdigit() else ""
                states[f"{parts[0]}.{task}" if task else parts[0]] = parts[4].upper()
        return states

    def cancel_argv(self, job_ids: list[str]) -> list[str]:
        return ["qdel", *job_ids]
