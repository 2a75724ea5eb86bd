"""OAR: ``oarsub --array`` jobs (index from 1), ``oarstat`` status, ``oardel``.

OAR passes no environment to jobs: the script uses the absolute interpreter path
and exports what the job needs. Requeue is OAR's own: an ``idempotent`` job that
exits with code 99 is resubmitted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlxlaunch.errors import SubmitError
from mlxlaunch.executors.scheduler import (
    SchedulerExecutor,
    Submission,
    exit_code_of,
    parse_time,
)
from mlxlaunch.launching.settings import SchedulerSettings

#: SIGUSR2, OAR's default checkpoint signal, forwarded to Python by the job script
_CHECKPOINT_SIGNAL = 12


class OarExecutor(SchedulerExecutor):
    """One ``#OAR --array N`` job per chunk of the sweep."""

    name = "oar"
    directive = "#OAR"
    index_expr = "$OAR_ARRAY_INDEX"
    index_base = 1
    hold_directive = "--hold"
    job_id_expr = "$OAR_JOB_ID"
    unsupported = ("mem", "qos", "max_concurrent")
    queued_states = frozenset({"WAITING", "HOLD", "TOLAUNCH", "TOACKRESERVATION", "LAUNCHING"})
    running_states = frozenset({"RUNNING", "FINISHING", "SUSPENDED", "RESUMING"})
    held_states = frozenset({"HOLD"})
    stopped_states = frozenset({"ERROR"})

    def directives(self, s: SchedulerSettings, n_tasks: int, output: Path) -> list[str]:
        resources = f"core={s.cpus}"
        if s.gpus:
            resources = f"gpu={s.gpus}/{resources}"
        if s.time:
            seconds = parse_time(s.time)
            resources += (
                f",walltime={seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
            )
        lines = [
            f"-n {s.job_name}",
            f"-l {resources}",
            f"--array {n_tasks}",
            f"-O {output}/oar-%jobid%.out",
            f"-E {output}/oar-%jobid%.err",
        ]
        if s.partition:
            lines.append(f"-q {s.partition}")
        if s.account:
            lines.append(f"--project {s.account}")
        if s.signal_delay_s:
            lines += [f"--checkpoint {s.signal_delay_s}", f"--signal {_CHECKPOINT_SIGNAL}"]
        if s.requeue:
            lines.append("-t idempotent")
        return lines

    def submit_argv(self, script: Path, workdir: str) -> list[str]:
        return ["oarsub", "-d", workdir, "-S", str(script)]

    def parse_submission(self, stdout: str, n_tasks: int) -> Submission:
        ids = re.findall(r"^\s*OAR_JOB_ID\s*=\s*(\d+)\s*$", stdout, re.MULTILINE)
        if len(ids) != n_tasks:
            raise SubmitError(
                f"oarsub printed {len(ids)} OAR_JOB_ID line(s) for {n_tasks} runs: {stdout.strip()!r}"
            )
        array = re.search(r"^\s*OAR_ARRAY_ID\s*=\s*(\d+)\s*$", stdout, re.MULTILINE)
        return Submission(array.group(1) if array else ids[0], ids)

    def release_argv(self, submission: Submission) -> list[str]:
        return ["oarresume", *submission.job_ids]

    def requeue_lines(self) -> list[str]:
        return ["exit 99  # OAR resubmits an idempotent job that exits with 99"]

    def query_argv(self, job_ids: list[str]) -> list[str]:
        argv = ["oarstat", "-J", "-s"]
        for job in job_ids:
            argv += ["-j", job]
        return argv

    def parse_query(self, stdout: str) -> dict[str, str]:
        try:
            data = json.loads(stdout or "{}")
        except ValueError:
            data = dict(re.findall(r"^(\d+)\s*:\s*(\w+)", stdout, re.MULTILINE))
        return {str(k): str(v).upper() for k, v in data.items()}

    def ended_exit_codes(self, job_ids: list[str]) -> dict[str, int]:
        """One ``oarstat -J -f -j A -j B ...``: its ``exit_code`` is a wait status (19200 for 75).

        OAR ends a job Terminated whatever its exit code (Error: killed, or it did not
        launch); ``oarstat -s`` gives no code, so it is asked here, only about the jobs
        the status command needs it for. Raises ``SubmitError`` if oarstat fails.
        """
        unknown = [j for j in job_ids if j not in self.exit_codes]
        if unknown:
            argv = ["oarstat", "-J", "-f"]
            for job in unknown:
                argv += ["-j", job]
            try:
                data = json.loads(self.run_command(argv).stdout or "{}")
            except ValueError:
                data = {}
            for job, record in data.items() if isinstance(data, dict) else ():
                code = exit_code_of(record.get("exit_code")) if isinstance(record, dict) else None
                if code is not None:
                    self.exit_codes[str(job)] = code
        return super().ended_exit_codes(job_ids)

    def cancel_argv(self, job_ids: list[str]) -> list[str]:
        return ["oardel", *job_ids]
