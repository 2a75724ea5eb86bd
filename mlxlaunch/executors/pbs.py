"""PBS/Torque: ``qsub -t`` job arrays (index from 0), ``qstat`` status, ``qdel``.

Checked against golden job scripts only (no PBS daemon in CI).
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


class PbsExecutor(SchedulerExecutor):
    """One ``#PBS -t 0-N%k`` job per chunk of the sweep."""

    name = "pbs"
    directive = "#PBS"
    # Torque sets PBS_ARRAYID, PBS Pro PBS_ARRAY_INDEX
    index_expr = "${PBS_ARRAYID:-$PBS_ARRAY_INDEX}"
    index_base = 0
    hold_directive = "-h"
    unsupported = ("qos",)
    queued_states = frozenset({"Q", "H", "W", "T"})
    running_states = frozenset({"R", "E", "B"})
    held_states = frozenset({"H"})
    stopped_states = frozenset()
    unknown_job_message = "Unknown Job Id"

    def directives(self, s: SchedulerSettings, n_tasks: int, output: Path) -> list[str]:
        throttle = f"%{s.max_concurrent}" if s.max_concurrent else ""
        nodes = f"nodes=1:ppn={s.cpus}" + (f":gpus={s.gpus}" if s.gpus else "")
        lines = [f"-N {s.job_name}", f"-t 0-{n_tasks - 1}{throttle}", f"-l {nodes}"]
        if s.time:
            lines.append(f"-l walltime={hms(parse_time(s.time))}")
        if s.mem:
            lines.append(f"-l mem={s.mem.lower()}")
        if s.partition:
            lines.append(f"-q {s.partition}")
        if s.account:
            lines.append(f"-A {s.account}")
        lines += ["-j oe", f"-o {output}/"]
        lines.append("-r y" if s.requeue else "-r n")
        return lines

    def submit_argv(self, script: Path, workdir: str) -> list[str]:
        return ["qsub", str(script)]

    def parse_submission(self, stdout: str, n_tasks: int) -> Submission:
        m = re.match(r"\s*(\d+)\[\](\S*)", stdout)
        if not m:
            raise SubmitError(f"qsub printed no array job id: {stdout.strip()!r}")
        job, server = m.groups()
        return Submission(f"{job}[]{server}", [f"{job}[{i}]{server}" for i in range(n_tasks)])

    def release_argv(self, submission: Submission) -> list[str]:
        return ["qrls", submission.array_job_id]

    def requeue_lines(self) -> list[str]:
        return ['qrerun "$PBS_JOBID"']

    def query_argv(self, job_ids: list[str]) -> list[str]:
        return ["qstat", "-t", *job_ids]

    def parse_query(self, stdout: str) -> dict[str, str]:
        states = {}
        for line in stdout.splitlines():
            parts = line.split()
            if len(parts) >= 5 and "[" in parts[0]:
                states[parts[0]] = parts[4]
        return states

    def cancel_argv(self, job_ids: list[str]) -> list[str]:
        return ["qdel", *job_ids]
