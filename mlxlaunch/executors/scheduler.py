"""Cluster executors: a sweep becomes job arrays, submitted from here, run in the job.

The template (submitit's model): :class:`SchedulerExecutor` does everything the
schedulers share (validating the settings, writing one array script per chunk of
the sweep, mapping the array index to a run folder, submitting, recording job ids
in each run's ``info.yaml``, marking unsubmitted runs SUBMIT_FAILED, querying and
cancelling in one batched call). A subclass (``slurm.py``, ``oar.py``, ``pbs.py``,
``sge.py``, ``lsf.py``) supplies only the scheduler's specifics: its directives,
array syntax, index variable and base, submit command and job-id parsing, and its
status and cancel commands. Arrays are submitted held and released once every
run records its job id, so a starting job never races the submitter's writes.
The runs of a sweep have no ``info.yaml`` until then (``writes_info``): each is
written once, QUEUED with its job record, so no folder ever says QUEUED without
a job, and a failed submission writes them SUBMIT_FAILED instead.

In the job, the array script picks its run folder from a bash array of quoted
folders, then runs ``python <script>`` with ``MLXLAUNCH_RUN_DIR`` set, so
``@mlxlaunch.launch`` runs that folder and never submits again. Its output always
goes to ``log.stdout`` / ``log.stderr`` in the run folder (appended across
requeues). A preemption signal (SIGUSR2) reaching the batch shell is forwarded to
Python, which records INTERRUPTED after the user's ``ctx.on_preempt`` hooks ran;
with ``requeue: true`` the script then asks the scheduler to requeue the job, and
the next attempt reopens the same folder.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import MlxlaunchError, SettingsError, SubmitError, UnsafeFileError, UsageError
from mlxlaunch.executors.base import Executor, LaunchSpec, PreparedRun
from mlxlaunch.jobenv import ENV_JOB_ID, ENV_RUN_DIR, PASSED_ENV
from mlxlaunch.launching.settings import SchedulerSettings
from mlxlaunch.runfolder import bulk, fastyaml
from mlxlaunch.runfolder.layout import (
    INFO_FILE,
    JOBS_DIR,
    STDERR_FILE,
    STDOUT_FILE,
    Status,
    job_script_name,
)
from mlxlaunch.runfolder.safefiles import check_private_dir
from mlxlaunch.running.runner import REQUEUE_EXIT_CODE, RunResult

#: The signal the scheduler sends before the time limit; the batch shell forwards it.
PREEMPT_SIGNAL = "USR2"


@dataclass
class JobCommand:
    """What a job runs: ``python script`` in ``workdir`` with ``env`` exported."""

    python: str
    script: str
    workdir: str
    env: dict[str, str] = field(default_factory=dict)
    #: run ``python -m module`` (started so by the user) instead of ``python script``
    module: Optional[str] = None

    @classmethod
    def from_job_command(
        cls, argv: list[str], env: dict[str, str], workdir: Path | str
    ) -> JobCommand:
        """The job of ``jobenv.job_command``'s ``(argv, env)``, started in ``workdir``.

        The array script sets ``MLXLAUNCH_RUN_DIR`` per index, so it is left out of
        ``env``; the submitting shell's ``PASSED_ENV`` variables are added (OAR passes none).
        """
        env = {k: v for k, v in env.items() if k != ENV_RUN_DIR}
        for name in PASSED_ENV:
            if os.environ.get(name):
                env.setdefault(name, os.environ[name])
        if len(argv) > 2 and argv[1] == "-m":
            return cls(argv[0], script="", workdir=str(workdir), env=env, module=argv[2])
        return cls(python=argv[0], script=argv[1], workdir=str(workdir), env=env)

    @classmethod
    def from_spec(cls, spec: LaunchSpec, run_dir: Path) -> JobCommand:
        """The job that runs ``run_dir`` (any run of the sweep: only the folder differs)."""
        argv, env = spec.job_command(run_dir)
        return cls.from_job_command(argv, env, spec.workdir)


@dataclass
class Submission:
    """What one submit call returned: one job id per array index, in order."""

    array_job_id: str
    job_ids: list[str]


@dataclass
class HeldArray:
    """The record of an array submitted held and not released yet (``<script>.held``).

    Written (one small JSON file per array) the moment the submit command returns,
    before the runs' ``info.yaml`` files and their durability barrier (which covers it
    too, before the release), and removed once the array is
    released or withdrawn. A launcher killed in between leaves it: ``mlxlaunch
    status`` then names the held array (still held, as the scheduler says), and
    ``mlxlaunch cancel``/``resubmit`` withdraw it; a record whose array is no longer
    held is removed. It holds what a run needs to be run again
    (``python``/``script``/``workdir``/``module``): a run not yet given its
    ``info.yaml`` gets a minimal one from it when its array is withdrawn.
    """

    path: Path
    scheduler: str
    array_job_id: str
    job_ids: list[str]
    #: the run folders, by name (in the logs folder), in array order
    runs: list[str]
    command: dict[str, Any]
    #: ``launched_by()`` of the submitting process: a live one is still submitting
    launched_by: dict[str, Any]

    @staticmethod
    def write(
        batch: bulk.Batch,
        script: Path,
        scheduler: str,
        submission: Submission,
        run_dirs: list[Path],
        command: JobCommand,
    ) -> Path:
        """Write the record of ``submission`` next to ``script`` in ``batch``; its path."""
        path = script.with_name(runfolder.held_record_name(script.name))
        record = {
            "scheduler": scheduler,
            "array_job_id": submission.array_job_id,
            "job_ids": submission.job_ids,
            "runs": [d.name for d in run_dirs],
            "command": {
                "python": command.python,
                "script": command.script,
                "workdir": command.workdir,
                "module": command.module,
            },
            "launched_by": runfolder.launched_by(),
        }
        # no fsync of its own: the barrier that makes the runs' info.yaml durable, right
        # after, covers it before the release (an fsync here cost 1.3 s at 10,000 points)
        batch.write(path, json.dumps(record))
        return path

    @staticmethod
    def clear(path: Path) -> None:
        """Mark the record at ``path`` released: emptied, not removed.

        Removing a file frees its inode, and on ext4 without a journal every later
        creation in its block group walks past each inode freed in the last minute
        (benchmarks/README.md). ``read_all`` removes empty records, outside a launch.
        """
        os.truncate(path, 0)

    @classmethod
    def read_all(cls, parent: Path) -> list[HeldArray]:
        """This user's records in the logs folder ``parent``; a damaged one is skipped.

        An empty record (its array released, see :meth:`clear`) is removed.
        """
        records = []
        for path in sorted(
            (Path(parent) / JOBS_DIR / user_name()).glob(f"*{runfolder.HELD_SUFFIX}")
        ):
            try:
                text = path.read_bytes()
                if not text:
                    path.unlink(missing_ok=True)
                    continue
                records.append(cls(path=path, **json.loads(text)))
            except (OSError, ValueError, TypeError):
                continue
        return records


# ---------------------------------------------------------------- time limits


_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$")


def parse_time(text: str) -> int:
    """Seconds in a Slurm-style limit: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``."""
    m = _TIME.match(text.strip())
    if not m:
        raise ValueError(text)
    days, a, b, c = m.groups()
    parts = [int(a)] + [int(x) for x in (b, c) if x is not None]
    if days is not None:  # D-HH, D-HH:MM, D-HH:MM:SS
        parts += [0] * (3 - len(parts))
        h, mnt, s = parts
        return int(days) * 86400 + h * 3600 + mnt * 60 + s
    if len(parts) == 1:  # minutes
        return parts[0] * 60
    if len(parts) == 2:  # MM:SS
        return parts[0] * 60 + parts[1]
    h, mnt, s = parts
    return h * 3600 + mnt * 60 + s


def hms(seconds: int) -> str:
    """``HH:MM:SS`` with as many hours as needed (``36:00:00``)."""
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# ---------------------------------------------------------------- validation

_NAME = re.compile(r"^[A-Za-z0-9_.,+-]+$")
_MEM = re.compile(r"^\d+(\.\d+)?[KMGT]?B?$", re.IGNORECASE)


def validate(settings: SchedulerSettings, unsupported: tuple[str, ...] = ()) -> None:
    """Raise ``SettingsError`` for the first setting the job script could not express."""
    where = "launcher setting 'scheduler."
    if settings.time:
        try:
            parse_time(settings.time)
        except ValueError:
            raise SettingsError(
                f"Bad {where}time' {settings.time!r}: use MM, HH:MM:SS or D-HH:MM:SS "
                f"(e.g. '01:30:00')."
            ) from None
    if settings.time and settings.signal_delay_s > parse_time(settings.time) / 2:
        # the scheduler would signal the job (almost) at once: with requeue, a loop
        limit = parse_time(settings.time)
        raise SettingsError(
            f"Launcher setting 'scheduler.signal_delay_s' ({settings.signal_delay_s} s) is not "
            f"well below 'scheduler.time' ({settings.time}, {limit} s): every job would get its "
            f"preemption signal soon after it starts. Set +launcher.scheduler.signal_delay_s="
            f"{limit // 2} or less (at most half the time limit; 0 sends no signal), or a "
            f"longer scheduler.time."
        )
    if settings.mem and not _MEM.match(settings.mem):
        raise SettingsError(
            f"Bad {where}mem' {settings.mem!r}: use a number with an optional unit K, M, G "
            f"or T (e.g. '4G')."
        )
    if int(settings.cpus) < 1:
        raise SettingsError(f"Bad {where}cpus': it must be at least 1.")
    for key in ("gpus", "max_concurrent", "signal_delay_s", "max_requeues"):
        if int(getattr(settings, key)) < 0:
            raise SettingsError(f"Bad {where}{key}': it must be 0 or more.")
    for key in ("partition", "account", "qos", "job_name"):
        value = getattr(settings, key)
        if value and not _NAME.match(value):
            raise SettingsError(
                f"Bad {where}{key}' {value!r}: use letters, digits and _ . , + - only."
            )
    for line in list(settings.extra) + list(settings.env):
        if "\n" in line or "\r" in line:
            raise SettingsError(
                f"Bad {where}extra' or 'scheduler.env' line {line!r}: one line per item."
            )
    defaults = SchedulerSettings()
    for key in unsupported:
        if getattr(settings, key) != getattr(defaults, key):
            raise SettingsError(
                f"The {where}{key}' is not supported by {settings.name}: remove it, or "
                f"express it with a raw directive in 'scheduler.extra'."
            )


# ---------------------------------------------------------------- the template


class SchedulerExecutor(Executor):
    """Submits prepared runs as job arrays; subclasses supply the scheduler's specifics."""

    runs_locally = False  # it submits and returns: `mlxlaunch status` follows the runs
    writes_info = True  # a sweep's info.yaml files are written once, with their job record
    #: the job script's directive prefix, e.g. ``#SBATCH``
    directive: ClassVar[str] = ""
    #: shell expression of the array index in the job, e.g. ``$SLURM_ARRAY_TASK_ID``
    index_expr: ClassVar[str] = ""
    #: the directive (without prefix) that submits the array held, released after recording
    hold_directive: ClassVar[str] = ""
    #: shell expression of the job's own id; the job records it (OAR requeues under a new id)
    job_id_expr: ClassVar[str] = ""
    #: the first array index (0 for Slurm and PBS, 1 for OAR, SGE and LSF)
    index_base: ClassVar[int] = 0
    #: settings this scheduler cannot express (an error if set)
    unsupported: ClassVar[tuple[str, ...]] = ()
    #: scheduler states (upper case) meaning "waiting" and "running"; others are final
    queued_states: ClassVar[frozenset[str]] = frozenset()
    running_states: ClassVar[frozenset[str]] = frozenset()
    #: the states of a held job (one submitted held and not released yet)
    held_states: ClassVar[frozenset[str]] = frozenset()
    #: final states meaning the job was stopped (INTERRUPTED) rather than failed
    stopped_states: ClassVar[frozenset[str]] = frozenset()
    #: what the status command prints (and fails with) when it knows none of the jobs
    unknown_job_message: ClassVar[str] = ""

    #: class attributes every scheduler must set (the job script is wrong without them)
    required: ClassVar[tuple[str, ...]] = ("name", "directive", "index_expr", "hold_directive")

    def __init__(self) -> None:
        missing = [attr for attr in self.required if not getattr(self, attr)]
        if missing:  # like the abstract hooks: refuse the class, not a cluster's job later
            raise TypeError(
                f"Can't instantiate scheduler {type(self).__name__} without "
                f"{', '.join(missing)} (class attributes of SchedulerExecutor)"
            )
        #: number of scheduler commands run by this executor (reported by the benchmark)
        self.calls = 0
        #: why a waiting job waits, as the last query reported it (``{job_id: reason}``)
        self.reasons: dict[str, str] = {}
        #: how an ended job's script exited, when the query or the accounting said it
        #: (``{job_id: 75}``; a job killed by a signal has none)
        self.exit_codes: dict[str, int] = {}

    # -- what a subclass supplies ------------------------------------------------------
    # Abstract, so a subclass missing one cannot even be instantiated: a scheduler
    # without e.g. ``release_argv`` would otherwise submit its arrays held and leave
    # them held forever (the failure would only show on a real cluster, much later).

    @abc.abstractmethod
    def directives(self, s: SchedulerSettings, n_tasks: int, output: Path) -> list[str]:
        """The directive lines (without prefix) of an array of ``n_tasks`` runs."""

    @abc.abstractmethod
    def submit_argv(self, script: Path, workdir: str) -> list[str]:
        """The command that submits ``script``."""

    @abc.abstractmethod
    def parse_submission(self, stdout: str, n_tasks: int) -> Submission:
        """The job ids printed by the submit command."""

    @abc.abstractmethod
    def requeue_lines(self) -> list[str]:
        """Shell lines, run at the end of a preempted job, that get it requeued."""

    @abc.abstractmethod
    def release_argv(self, submission: Submission) -> list[str]:
        """One command releasing the held array ``submission``."""

    def max_array_size(self) -> int:
        """The most tasks one array may hold on this cluster."""
        return 1000

    @abc.abstractmethod
    def query_argv(self, job_ids: list[str]) -> list[str]:
        """One command printing the state of every job of ``job_ids``."""

    @abc.abstractmethod
    def parse_query(self, stdout: str) -> dict[str, str]:
        """``{job_id: STATE}`` from the output of :meth:`query_argv`."""

    @abc.abstractmethod
    def cancel_argv(self, job_ids: list[str]) -> list[str]:
        """One command cancelling every job of ``job_ids``."""

    # -- running scheduler commands ----------------------------------------------------

    def run_command(
        self, argv: list[str], cwd: Optional[str] = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run one scheduler command; raise ``SubmitError`` with its message if it fails."""

        self.calls += 1
        env = dict(os.environ)
        env.pop(ENV_RUN_DIR, None)
        if cwd is not None:
            env["PWD"] = cwd  # oarsub takes the job's directory from $PWD, not getcwd()
        if cwd is not None and not os.path.isdir(cwd):
            raise SubmitError(f"The job's working folder {cwd} does not exist.")
        try:
            proc = subprocess.run(
                argv, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
            )
        except FileNotFoundError:
            raise SubmitError(
                f"'{argv[0]}' was not found: is this a {self.name} login node? "
                f"Set scheduler.name to the scheduler of this cluster."
            ) from None
        if check and proc.returncode != 0:
            message = (proc.stderr.strip() or proc.stdout.strip() or "no message").strip()
            raise SubmitError(f"{shlex.join(argv)} failed (exit {proc.returncode}): {message}")
        return proc

    # -- the job script ----------------------------------------------------------------

    def job_script(
        self, run_dirs: list[Path], s: SchedulerSettings, command: JobCommand, output: Path
    ) -> str:
        """The array script running ``run_dirs[i]`` as the task of index ``index_base + i``.

        Raises ``SubmitError`` for a path with a line break: never written into a script.
        """
        for what, path in [
            ("job output folder", output),
            ("working folder", command.workdir),
            ("interpreter", command.python),
            ("script", command.script),
            *(("run folder", d) for d in run_dirs),
        ]:
            _check_one_line(what, str(path))
        q = shlex.quote
        lines = ["#!/bin/bash"]
        directives = self.directives(s, len(run_dirs), output) + [self.hold_directive]
        lines += [f"{self.directive} {d}" for d in directives]
        lines += [x if x.startswith("#") else f"{self.directive} {x}" for x in s.extra]
        lines.append("# Generated by mlxlaunch: the array index picks the run folder.")
        lines.append("RUN_DIRS=(")
        lines += [f"  {q(str(d))}" for d in run_dirs]
        lines.append(")")
        lines.append(f'RUN_DIR="${{RUN_DIRS[$(( {self.index_expr} - {self.index_base} ))]}}"')
        lines += OUTPUT_CHECK
        lines.append(f'exec >>"$RUN_DIR/{STDOUT_FILE}" 2>>"$RUN_DIR/{STDERR_FILE}"')
        lines += list(s.env)
        for name, value in sorted(command.env.items()):
            lines.append(f"export {name}={q(value)}")
        lines.append(f'export {ENV_RUN_DIR}="$RUN_DIR"')
        if self.job_id_expr:
            lines.append(f'export {ENV_JOB_ID}="{self.job_id_expr}"')
        lines.append(f"cd {q(command.workdir)} || exit 1")
        lines.append("# The preemption signal reaches this shell: pass it on to Python. Python")
        lines.append("# starts with it ignored (a signal during start-up must not kill it); the")
        lines.append("# run's signal handler takes over when the task starts.")
        lines.append("preempted=0")
        lines.append("trapped=0")
        lines.append(f"trap '' {PREEMPT_SIGNAL}")
        lines += SCRIPT_CHECK  # (its output goes to log.stderr, where the user looks)
        target = f"-m {q(command.module)}" if command.module else q(command.script)
        lines.append(f"{q(command.python)} {target} &")
        lines.append("child=$!")
        lines.append(
            f"trap 'preempted=1; trapped=1; kill -{PREEMPT_SIGNAL} \"$child\" 2>/dev/null' "
            f"{PREEMPT_SIGNAL}"
        )
        lines.append(
            'while :; do trapped=0; wait "$child"; code=$?; [ "$trapped" = 1 ] || break; done'
        )
        if s.requeue:
            # only a run that recorded "preempted, requeue me" (not one that completed,
            # failed, or reached scheduler.max_requeues) is requeued
            lines.append(f'if [ "$preempted" = 1 ] && [ "$code" = {REQUEUE_EXIT_CODE} ]; then')
            lines += [f"  {x}" for x in self.requeue_lines()]
            lines.append("fi")
        lines.append('exit "$code"')
        return "\n".join(lines) + "\n"

    # -- submitting --------------------------------------------------------------------

    def launch(self, runs: list[PreparedRun], spec: LaunchSpec) -> list[RunResult]:
        """Submit ``runs`` as job arrays; return them QUEUED (raise if a submit failed)."""
        s = spec.settings.scheduler
        dirs = [r.log_dir for r in runs]
        pending = {r.log_dir: r.info_text for r in runs if r.info_pending and r.info_text}
        written = {r.log_dir: r.info_text for r in runs if r.info_text and r.log_dir not in pending}
        try:
            validate(s, self.unsupported)  # (the decorator asked for confirmation above)
            command = JobCommand.from_spec(spec, runs[0].log_dir) if runs else None
        except BaseException as exc:  # no run may be left without its info.yaml
            _mark_submit_failed(list(pending), _failure_message(exc, spec.parent_log_dir), pending)
            raise
        submitted = []
        if command:
            submitted = self.submit(
                dirs, s, command, spec.parent_log_dir, spec.settings_file, written, pending
            )
        print(self.describe(submitted, spec.parent_log_dir), flush=True)
        return [RunResult(r.log_id, r.log_dir, Status.QUEUED) for r in runs]

    def submit(
        self,
        run_dirs: list[Path],
        s: SchedulerSettings,
        command: JobCommand,
        parent: Path,
        settings_file: Optional[Path] = None,
        written: Optional[dict[Path, bytes]] = None,
        pending: Optional[dict[Path, bytes]] = None,
    ) -> list[Submission]:
        """Submit ``run_dirs`` in arrays of at most :meth:`max_array_size` runs.

        Each run's ``info.scheduler`` gets its job ids. If anything fails (the
        scheduler refuses, the job script cannot be written, Ctrl-C), the runs not
        yet submitted get status SUBMIT_FAILED (with the message in ``info.error``)
        and ``SubmitError`` is raised, saying how to resubmit them (``settings_file``:
        the project's launcher.yaml, named in that advice). ``written``: the
        ``info.yaml`` bytes this launch wrote, by run folder (see ``_info_with_job``).
        ``pending``: the ``info.yaml`` bytes of runs that have none on disk yet
        (``PreparedRun.info_pending``): each is written once, with its job record
        (or SUBMIT_FAILED), never read.
        """
        jobs = Path(parent) / JOBS_DIR / user_name()  # made and checked in the try below
        size = max(1, self.max_array_size())
        chunks = [run_dirs[i : i + size] for i in range(0, len(run_dirs), size)]
        stamp = f"{runfolder.now_iso()[:19].replace(':', '').replace('-', '')}-{os.getpid()}"
        done: list[Submission] = []

        def failed(k: int, exc: BaseException) -> SubmitError:
            """Mark the runs of chunk ``k`` and after SUBMIT_FAILED; the error to raise."""
            left = [d for c in chunks[k:] for d in c]
            message = _failure_message(exc, jobs)
            unmarked = _mark_submit_failed(left, message, pending)
            ids = id_ranges([int(d.name) for d in left if d.name.isdigit()])
            sent = ""
            if done:
                n = sum(len(x.job_ids) for x in done)
                sent = f" ({n} run(s) were submitted: {', '.join(x.array_job_id for x in done)})"
            if unmarked:  # e.g. the disk is full: say so rather than claim a record
                sent += (
                    f"; {len(unmarked)} of them could not record it (their {INFO_FILE} still "
                    f"says QUEUED, or is missing)"
                )
            return SubmitError(
                f"{message}\n{len(left)} run(s) were not submitted and are marked "
                f"SUBMIT_FAILED{sent}; fix the problem, then run: "
                f"{resubmit_advice(parent, ids, settings_file)}"
            )

        k = 0
        try:
            jobs = private_jobs_dir(Path(parent))
            for k, chunk in enumerate(chunks):
                script = jobs / job_script_name(self.name, stamp, k)
                # a fresh file (never through a link), executable, in a folder only we change
                runfolder.atomic_write(script, self.job_script(chunk, s, command, jobs), mode=0o755)
                proc = self.run_command(
                    self.submit_argv(script, command.workdir), cwd=command.workdir
                )
                submission = self.parse_submission(proc.stdout, len(chunk))
                records = [
                    {
                        "name": self.name,
                        "job_id": submission.job_ids[i],
                        "array_job_id": submission.array_job_id,
                        "array_index": self.index_base + i,
                        "script": str(script),
                        "python": command.python,
                        "workdir": command.workdir,
                    }
                    for i in range(len(chunk))
                ]
                held: Optional[Path] = None
                try:
                    # first of all, durably: which held array these runs are (see HeldArray)
                    batch = bulk.Batch(chunk[0].parent)
                    held = HeldArray.write(batch, script, self.name, submission, chunk, command)
                    _record_jobs(batch, chunk, records, written or {}, pending or {})
                    # the array was submitted held: no job starts before its run knows its job
                    self.run_command(self.release_argv(submission))
                except BaseException:
                    # still held, so none of it ran: withdraw it rather than leave it held forever
                    with contextlib.suppress(SubmitError):
                        withdrawn = self.run_command(
                            self.cancel_argv(submission.job_ids), check=False
                        )
                        if held and withdrawn.returncode == 0:  # (else `status` names the array)
                            held.unlink(missing_ok=True)
                    raise
                with contextlib.suppress(OSError):  # (else `status` finds it released)
                    HeldArray.clear(held)
                done.append(submission)
        except (SubmitError, UnsafeFileError, OSError) as exc:
            raise failed(k, exc) from None
        except BaseException as exc:  # Ctrl-C, a bug: no run may stay QUEUED without a job
            failed(k, exc)
            raise
        return done

    def describe(self, submitted: list[Submission], parent: Path) -> str:
        """What was submitted, and how to follow it."""
        n = sum(len(s.job_ids) for s in submitted)
        ids = ", ".join(s.array_job_id for s in submitted)
        noun = "array" if len(submitted) == 1 else "arrays"
        return (
            f"mlxlaunch: submitted {n} run(s) to {self.name} as job {noun} {ids}.\n"
            f"Follow them with: mlxlaunch status {shlex.quote(str(parent))}"
        )

    # -- status and cancel -------------------------------------------------------------

    def query(self, job_ids: list[str]) -> dict[str, str]:
        """``{job_id: STATE}`` for ``job_ids`` in one scheduler call (unknown jobs left out)."""
        if not job_ids:
            return {}
        argv = self.query_argv(job_ids)
        proc = self.run_command(argv, check=False)
        if proc.returncode != 0 and not proc.stdout.strip():
            message = proc.stderr.strip() or "no message"
            if not (self.unknown_job_message and self.unknown_job_message in message):
                # the scheduler did not answer: its silence must not make queued runs LOST
                raise SubmitError(
                    f"{shlex.quote(argv[0])} failed (exit {proc.returncode}): {message}"
                )
        return self.parse_query(proc.stdout)

    def ended_states(self, job_ids: list[str], listed: dict[str, str]) -> dict[str, str]:
        """``{job_id: STATE}`` of ended jobs the status command no longer lists.

        Asked (in one call) only about jobs :meth:`query` left out (``listed``: what it
        did list); the scheduler's accounting remembers them longer (Slurm: ``sacct``).
        None by default.
        """
        return {}

    def ended_exit_codes(self, job_ids: list[str]) -> dict[str, int]:
        """``{job_id: exit code}`` of the ended jobs ``job_ids``, in at most one call.

        Slurm's query and accounting give them with the states (:attr:`exit_codes`);
        a scheduler whose state query does not (OAR) asks for them here. The status
        command asks only about ended jobs whose run never started, to tell a job
        that exited ``NotStartedError.job_exit_code`` (its run could not take its disk
        reserve: nothing ran) from a failed one.
        """
        return {j: self.exit_codes[j] for j in job_ids if j in self.exit_codes}

    def is_held(self, job_id: str, state: Optional[str]) -> bool:
        """Whether the last :meth:`query` said ``job_id`` (in ``state``) is still held."""
        return bool(state) and str(state).upper() in self.held_states

    def cancel(self, job_ids: list[str]) -> None:
        """Cancel ``job_ids`` in one scheduler call."""
        if job_ids:
            self.run_command(self.cancel_argv(job_ids))

    def run_status(self, state: Optional[str]) -> Optional[str]:
        """The run status a scheduler state implies; None if the scheduler forgot the job."""
        if state is None:
            return None
        state = state.upper()
        if state in self.queued_states:
            return Status.QUEUED
        if state in self.running_states:
            return Status.RUNNING
        if state in self.stopped_states:
            return Status.INTERRUPTED
        return Status.FAILED


def exit_code_of(status: Any) -> Optional[int]:
    """The exit code in a wait status as schedulers report it, or None (killed by a signal).

    ``19200`` (``waitpid``'s status: Slurm's ``squeue -O exit_code``, OAR's ``exit_code``)
    and ``"75:0"`` (``sacct``/``scontrol``: code, then signal) both give 75.
    """
    text = str(status).strip()
    code, colon, signal = text.partition(":")
    try:
        if colon:
            return int(code) if int(signal) == 0 else None
        raw = int(text)
    except ValueError:
        return None
    return raw >> 8 if raw & 0x7F == 0 else None


def _check_one_line(what: str, path: str, error: type[MlxlaunchError] = SubmitError) -> None:
    if "\n" in path or "\r" in path:
        raise error(
            f"The {what} {path!r} has a line break in its name: a job script cannot hold it "
            f"(it would end the directive block and run the rest as a shell command in the "
            f"job). Rename it, or choose another one (launcher setting logger.parent_log_dir "
            f"for the logs folder)."
        )


def check_job_paths(spec: LaunchSpec) -> None:
    """Refuse, before any run folder exists, a path a job script could not hold."""
    _check_one_line("logs folder", str(spec.parent_log_dir), UsageError)
    _check_one_line("working folder", str(spec.workdir), UsageError)
    _check_one_line("interpreter", spec.python, UsageError)
    _check_one_line("script", str(spec.script), UsageError)


def resubmit_advice(parent: Path, ids: str, settings_file: Optional[Path] = None) -> str:
    """The command resubmitting runs ``ids`` of ``parent`` once the cause is fixed.

    A resubmission reuses each run's saved settings unless told otherwise, so a
    setting fixed in ``launcher.yaml`` needs ``--settings`` (or ``KEY=VALUE``).
    """
    command = f"mlxlaunch resubmit {shlex.quote(str(parent))} {ids}"
    if settings_file is not None:
        return (
            f"{command} --settings {shlex.quote(str(settings_file))} (to take that file as it "
            f"is then; or give a fixed setting as KEY=VALUE, e.g. scheduler.partition=NAME)"
        )
    return f"{command} (add a fixed setting as KEY=VALUE, e.g. scheduler.partition=NAME)"


def id_ranges(ids: list[int]) -> str:
    """``1 2 3 5 7 8`` -> ``"1-3 5 7-8"`` (what ``mlxlaunch resubmit`` takes)."""
    parts: list[str] = []
    for i in sorted(ids):
        if parts and parts[-1].split("-")[-1] == str(i - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{i}"
        else:
            parts.append(str(i))
    return " ".join(parts)


def user_name() -> str:
    try:
        import pwd  # POSIX only, like the schedulers

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return f"uid{os.geteuid()}"


def private_jobs_dir(parent: Path) -> Path:
    """``<parent>/.jobs/<user>``: where this user's job scripts are written.

    Only its owner may change it: it is created mode 755 and checked (a real
    folder of this user, not writable by group or others) before every use, so
    another member of a shared logs folder can neither replace a script before
    the job runs it nor plant one. ``.jobs`` itself gets the sticky bit when this
    user creates it, and the logs folder's permissions (like ``/tmp``: members
    make their own folders there but cannot rename each other's);
    a ``.jobs`` of another user without it is refused, since that user could
    swap the folder. Raises ``UnsafeFileError`` naming the folder otherwise.
    """
    import stat

    shared = parent / JOBS_DIR
    try:
        shared.mkdir(parents=True)
        # as open to the group as the logs folder (members make their own folders
        # there), and sticky: none can rename or delete another's
        group = stat.S_IMODE(os.stat(parent).st_mode) & 0o777
        os.chmod(shared, stat.S_IMODE(os.lstat(shared).st_mode) | group | stat.S_ISVTX)
    except FileExistsError:
        pass
    st = os.lstat(shared)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeFileError(
            f"{shared} is not a folder (a link or a file): job scripts are not written "
            "through it. Remove it, then retry."
        )
    if st.st_uid not in (os.geteuid(), 0) and not st.st_mode & stat.S_ISVTX:
        raise UnsafeFileError(
            f"{shared} belongs to another user and has no sticky bit: its owner could "
            f"replace your job scripts. Ask them to run: chmod +t {shared}"
        )
    mine = shared / user_name()
    try:
        os.mkdir(mine, 0o755)
        os.chmod(mine, 0o755)  # whatever the umask: only its owner writes here
    except FileExistsError:
        pass
    check_private_dir(mine)
    return mine


#: First lines of every job script: run only if no other user could have changed
#: the script: it (and, in a ``.jobs/<user>`` folder, its folder) is this user's or
#: root's (a scheduler's spooled copy) and not writable by group or others.
SCRIPT_CHECK = [
    "# mlxlaunch: refuse to run if another user could have changed this script",
    "mlxlaunch_private() {",
    "  local owner mode",
    '  owner=$(stat -L -c %u "$1") && mode=$(stat -L -c %a "$1") || return 1',
    '  [ ! -L "$1" ] && { [ "$owner" = "$(id -u)" ] || [ "$owner" = 0 ]; } &&',
    "    [ $(( 0$mode & 022 )) = 0 ]",
    "}",
    f'if ! mlxlaunch_private "$0" || {{ case "$0" in */{JOBS_DIR}/*) ;; *) false ;; esac &&',
    '    ! mlxlaunch_private "$(dirname "$0")"; }; then',
    '  echo "mlxlaunch: refusing to run $0: another user could have changed it'
    ' (it or its folder is not yours alone; see docs/run-folder.md)" >&2',
    "  exit 1",
    "fi",
]

#: Before appending the job's output to the run folder: never through a planted link.
OUTPUT_CHECK = [
    f'for f in "$RUN_DIR/{STDOUT_FILE}" "$RUN_DIR/{STDERR_FILE}"; do',
    '  if [ -L "$f" ]; then echo "mlxlaunch: $f is a symbolic link: not writing through it;'
    ' remove it" >&2; exit 1; fi',
    "done",
]


def _record_jobs(
    batch: bulk.Batch,
    run_dirs: list[Path],
    records: list[dict[str, Any]],
    written: dict[Path, bytes],
    pending: dict[Path, bytes],
) -> None:
    """Write each run's ``info.scheduler`` in ``batch``: every write, then one barrier.

    The writes are atomic (``runfolder.bulk``); the barrier makes them all (and what
    ``batch`` holds already: the array's ``HeldArray`` record) durable
    before the array is released (for 1,000 runs one ``syncfs`` instead of 1,000
    fsyncs). A run of ``pending`` gets its first ``info.yaml``: its prepared text
    and the record, with nothing read.
    """
    for run_dir, sched in zip(run_dirs, records):
        prepared = pending.get(run_dir)
        if prepared is not None:
            text = prepared + runfolder.dump_yaml({"scheduler": sched}).encode()
        else:
            text = _info_with_job(run_dir, sched, written.get(run_dir))
        batch.write(runfolder.metadata_path(run_dir, INFO_FILE), text)
    batch.sync()


def _info_with_job(run_dir: Path, sched: dict[str, Any], written: Optional[bytes] = None) -> bytes:
    """The text of ``run_dir``'s ``info.yaml`` with status QUEUED and ``scheduler: sched``.

    A freshly prepared run (QUEUED, no ``scheduler`` key yet) gets the record
    appended to its text: the very bytes ``dump_yaml`` gives for the whole mapping
    (a block-style mapping is dumped key after key), without dumping its other
    twenty-odd keys again. ``written``: the text this launch prepared the run
    with; if the file still holds exactly that, it is not parsed again.
    """
    path = runfolder.metadata_path(run_dir, INFO_FILE)
    record = runfolder.dump_yaml({"scheduler": sched}).encode()
    try:
        text = path.read_bytes()
        if written is not None and text == written:
            return text + record  # QUEUED without a job, as prepare_runs wrote it
        info = fastyaml.safe_load(text)
    except Exception:  # missing or damaged: read_info says which, or starts afresh
        text, info = b"", runfolder.read_info(run_dir)
    if isinstance(info, dict) and info and info.get("status") == Status.QUEUED:
        if "scheduler" not in info and text.endswith(b"\n"):
            return text + record
    info = info if isinstance(info, dict) else {}
    info["status"] = Status.QUEUED
    info["scheduler"] = sched
    return runfolder.dump_yaml(info).encode()


def _failure_message(exc: BaseException, jobs: Path) -> str:
    """One line saying why a submission failed (an OSError names the file it could not write)."""
    if isinstance(exc, (SubmitError, UnsafeFileError)):
        return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename or jobs
        return (
            f"Cannot write the job script in {jobs}: {exc.strerror or exc} ({where}); the folder "
            f"must be a writable directory of yours (it holds the job scripts and the "
            f"scheduler's output)."
        )
    return f"submission stopped by {type(exc).__name__}: {exc}".rstrip(": ")


def _mark_submit_failed(
    run_dirs: list[Path], message: str, pending: Optional[dict[Path, bytes]] = None
) -> list[Path]:
    """Record SUBMIT_FAILED with ``message``; return the runs whose info could not be written.

    ``pending``: the prepared ``info.yaml`` text of runs that have none on disk yet.
    Every write, then one durability barrier (``runfolder.bulk``).
    """
    pending = pending or {}
    unmarked: list[Path] = []
    marked: list[Path] = []
    if not run_dirs:
        return unmarked
    batch = bulk.Batch(run_dirs[0].parent)
    end = runfolder.now_iso()
    for run_dir in run_dirs:
        try:
            prepared = pending.get(run_dir)
            info = fastyaml.safe_load(prepared) if prepared else runfolder.read_info(run_dir)
            info.update(status=Status.SUBMIT_FAILED, error=message, end_time=end)
            info.pop("scheduler", None)
            batch.write(runfolder.metadata_path(run_dir, INFO_FILE), runfolder.dump_yaml(info))
            marked.append(run_dir)
        except OSError:
            unmarked.append(run_dir)
    try:
        batch.sync()
    except OSError:  # written but maybe not durable: not claimed as recorded
        return unmarked + marked
    return unmarked
