"""The local parallel executor: the points run in worker subprocesses on this machine.

Each point runs in a fresh interpreter started with ``spec.job_command(run_dir)``
(``python <script>`` with ``MLXLAUNCH_RUN_DIR`` set) in ``spec.workdir``, so the
worker runs exactly that prepared run folder, the same way a cluster job does,
and records its own outcome in the folder's ``info.yaml``. This process only
hands out points to at most ``n_workers`` workers at a time and reads the
outcomes back.

Standby workers: while a point runs, the worker for the next point on the same
slot is already started (``MLXLAUNCH_RUN_DIR=-``): it imports the script and
waits for its run folder on stdin. Each point still gets a fresh interpreter,
but its start-up (imports of torch & co.) overlaps the point before it. Only as
many standbys start as there are points left; unused ones are stopped.

GPU pinning: worker slot ``i`` gets ``CUDA_VISIBLE_DEVICES=gpus[i % len(gpus)]``,
so with ``gpus=[0, 1]`` and two workers each worker sees one GPU.

Signals: SIGINT/SIGTERM received by the launcher are forwarded to the running
workers (which record INTERRUPTED), no new point starts, and the points not yet
started stay QUEUED so they can be rerun. Workers run in their own session, so a
Ctrl-C in the terminal reaches them once, through the launcher.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import NotStartedError, SettingsError
from mlxlaunch.executors.base import Executor, LaunchSpec, PreparedRun
from mlxlaunch.jobenv import ENV_RUN_DIR, STANDBY_RUN_DIR
from mlxlaunch.launching.settings import Settings
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.running.runner import RunResult, SignalGuard, handled_signals

#: Environment variable that restricts which GPUs a worker sees.
GPU_ENV = "CUDA_VISIBLE_DEVICES"
#: Standbys start this long after the last point started, so their imports do not
#: compete for the CPU with the points starting at the same moment.
STANDBY_DELAY_S = 0.25


@dataclass
class _Worker:
    """One running point: its slot (which decides its GPU), its run and its process."""

    slot: int
    index: int
    run: PreparedRun
    process: subprocess.Popen
    #: the launcher forwarded SIGINT/SIGTERM to it
    signalled: bool = False


class ParallelExecutor(Executor):
    """Runs the points in up to ``n_workers`` subprocesses, optionally one GPU each.

    ``n_workers=1`` is valid and runs the points one after another, each in a
    fresh interpreter (the version manager uses it to run from a code snapshot).
    A failing point does not stop the others unless ``settings.fail_fast`` is set.
    """

    name = "parallel"

    def __init__(self, n_workers: int = 1, gpus: Sequence[int] = ()) -> None:
        if n_workers < 1:
            raise SettingsError(
                f"launcher setting 'n_workers' must be at least 1, got {n_workers}. "
                "Use +launcher.n_workers=4 to run 4 points at a time."
            )
        self.n_workers = n_workers
        self.gpus = [str(g) for g in gpus]
        #: the signal (SIGINT/SIGTERM) that stopped the last launch, if any; the command
        #: exits 128 + it even when no run had started yet
        self.stopped_by: Optional[int] = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ParallelExecutor:
        """The executor ``n_workers``/``gpus`` ask for; ``gpus`` alone means one worker per GPU."""
        n_workers = settings.n_workers
        if n_workers == 1 and settings.gpus:
            n_workers = len(settings.gpus)
        return cls(n_workers=n_workers, gpus=settings.gpus)

    def worker_env(self, slot: int, spec: LaunchSpec, run_dir: Path) -> dict[str, str]:
        """The environment of the worker in ``slot`` that runs ``run_dir``."""
        env = dict(os.environ)
        env.update(spec.job_command(run_dir)[1])
        if self.gpus:
            env[GPU_ENV] = self.gpus[slot % len(self.gpus)]
        return env

    def launch(self, runs: list[PreparedRun], spec: LaunchSpec) -> list[RunResult]:
        results: list[Optional[RunResult]] = [None] * len(runs)
        finished: queue.Queue[_Worker] = queue.Queue()
        running: dict[int, _Worker] = {}  # slot -> the worker running a point there
        standbys: dict[int, subprocess.Popen] = {}  # slot -> a worker waiting for its point
        use_standbys = self._can_use_standbys(spec)
        pending = list(enumerate(runs))
        stop_signal: list[int] = []  # the signals received, in order
        self.stopped_by = None

        def on_signal(signum: int, frame: Any) -> None:
            stop_signal.append(signum)
            self.stopped_by = self.stopped_by or signum
            for worker in list(running.values()):
                _forward(worker, signum)

        def stopping(results: list[Optional[RunResult]]) -> bool:
            """No new point starts after a signal, after a point that could not start
            (no room on the disk), or after a failure with ``fail_fast``."""
            ended = [r.status for r in results if r is not None]
            failed = Status.FAILED in ended
            return (
                bool(stop_signal) or Status.QUEUED in ended or (spec.settings.fail_fast and failed)
            )

        last_start = 0.0
        with SignalGuard(on_signal):  # forwarded to the running workers
            try:
                while pending or running:
                    while pending and len(running) < self.n_workers and not stopping(results):
                        slot = min(set(range(self.n_workers)) - set(running))
                        index, run = pending.pop(0)
                        worker = self._start(slot, index, run, spec, standbys.pop(slot, None))
                        running[slot] = worker
                        spec.progress.started(run)
                        if stop_signal and not worker.signalled:  # arrived while it was starting
                            _forward(worker, stop_signal[-1])
                        _watch(worker, finished)
                        last_start = time.monotonic()
                    timeout = 0.5
                    if use_standbys and not stopping(results):
                        due = last_start + STANDBY_DELAY_S - time.monotonic()
                        if due <= 0:
                            self._fill_standbys(standbys, len(pending), spec)
                        else:
                            timeout = due
                    if not running:
                        break
                    try:
                        worker = finished.get(timeout=timeout)
                    except queue.Empty:
                        continue
                    del running[worker.slot]
                    result = results[worker.index] = _outcome(worker)
                    spec.progress.finished(worker.run, result)
            finally:
                _dismiss(standbys.values())
        for index, run in pending:
            results[index] = RunResult(run.log_id, run.log_dir, Status.QUEUED)
        return [r for r in results if r is not None]

    # Standby workers: while a point runs, the worker of the next point on the same
    # slot starts and imports the script, then waits for its run folder on stdin.
    # Its start-up then overlaps the running point instead of adding to it.

    def _can_use_standbys(self, spec: LaunchSpec) -> bool:
        """Standbys work when the run folder is the only thing the job command varies."""

        return spec.job_command(Path(STANDBY_RUN_DIR))[1] == {ENV_RUN_DIR: STANDBY_RUN_DIR}

    def _fill_standbys(
        self, standbys: dict[int, subprocess.Popen], n_pending: int, spec: LaunchSpec
    ) -> None:
        """Start one standby per slot, but no more than the points still to run."""

        for slot in range(self.n_workers):
            if len(standbys) >= n_pending:
                return
            if slot not in standbys:
                standbys[slot] = self._spawn(slot, spec, Path(STANDBY_RUN_DIR), standby=True)

    def _spawn(self, slot: int, spec: LaunchSpec, run_dir: Path, standby: bool) -> subprocess.Popen:
        return subprocess.Popen(
            spec.job_command(run_dir)[0],
            cwd=spec.workdir,
            env=self.worker_env(slot, spec, run_dir),
            stdin=subprocess.PIPE if standby else subprocess.DEVNULL,
            start_new_session=True,  # terminal signals reach workers through the launcher only
        )

    def _start(
        self,
        slot: int,
        index: int,
        run: PreparedRun,
        spec: LaunchSpec,
        standby: Optional[subprocess.Popen],
    ) -> _Worker:
        """Run ``run`` in ``slot``: hand it to the slot's standby, or start a worker for it."""
        if standby is None:
            return _Worker(slot, index, run, self._spawn(slot, spec, run.log_dir, standby=False))
        assert standby.stdin is not None
        # a standby that died while starting (the script fails at import) gets a broken
        # pipe here; its exit code is then reported by _outcome like any worker's
        with contextlib.suppress(BrokenPipeError):
            standby.stdin.write(f"{run.log_dir}\n".encode())
            standby.stdin.flush()
        with contextlib.suppress(BrokenPipeError):
            standby.stdin.close()
        return _Worker(slot, index, run, standby)


def _watch(worker: _Worker, finished: queue.Queue[_Worker]) -> None:
    """Put ``worker`` on ``finished`` when its process exits (from a small thread)."""

    def wait() -> None:
        worker.process.wait()
        finished.put(worker)

    threading.Thread(target=wait, name=f"mlxlaunch-worker-{worker.slot}", daemon=True).start()


def _dismiss(standbys: Iterable[subprocess.Popen]) -> None:
    """Stop standbys that will get no point: they have not touched any run folder."""
    for process in standbys:
        with contextlib.suppress(BrokenPipeError):
            assert process.stdin is not None
            process.stdin.close()  # at its stdin read: end of file, it exits at once
        _send(process, signal.SIGTERM)  # still importing: no need to wait for it
    for process in standbys:
        process.wait()


def _forward(worker: _Worker, signum: int) -> None:
    worker.signalled = True
    _send(worker.process, signum)


def _send(process: subprocess.Popen, signum: int) -> None:
    try:
        process.send_signal(signum)
    except ProcessLookupError:  # it just exited
        pass


def _outcome(worker: _Worker) -> RunResult:
    """Read how the worker's run ended; record a failure if the worker could not record it."""
    run, code = worker.run, worker.process.returncode
    info = runfolder.read_info(run.log_dir)
    status = info.get("status")
    if status in Status.FINISHED:
        return RunResult(run.log_id, run.log_dir, status, info.get("exit_code"))
    if status == Status.QUEUED and worker.signalled:
        # stopped by the forwarded signal before its run started: it stays QUEUED
        return RunResult(run.log_id, run.log_dir, Status.QUEUED)
    if status == Status.QUEUED and code == NotStartedError.job_exit_code:
        # no room to record its end (the worker said why): it never ran, so it stays
        # QUEUED for mlxlaunch start, as in a sequential sweep; the code makes the command fail
        return RunResult(run.log_id, run.log_dir, Status.QUEUED, NotStartedError.exit_code)
    # The worker died before recording an outcome: it could not start (bad script,
    # import error) or was killed (SIGKILL, OOM). It is gone, so the run failed.
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:  # a real-time signal has no name
            name = f"signal {-code}"
        reason = f"worker killed by {name}"
        exit_code = 128 - code
        if worker.signalled and -code in set(handled_signals()):
            # the signal forwarded to it arrived before its task's handlers: it was
            # stopped as asked, like the others, not failed
            error = f"interrupted by {name} (before its task started)"
            info.update(status=Status.INTERRUPTED, exit_code=exit_code, error=error)
            info["end_time"] = info.get("end_time") or runfolder.now_iso()
            runfolder.write_info(run.log_dir, info)
            return RunResult(run.log_id, run.log_dir, Status.INTERRUPTED, exit_code)
    else:
        reason = f"worker exited with code {code} before recording an outcome"
        exit_code = code or 1
    info.update(status=Status.FAILED, exit_code=exit_code, error=reason)
    if not info.get("end_time"):
        info["end_time"] = runfolder.now_iso()
    runfolder.write_info(run.log_dir, info)
    return RunResult(run.log_id, run.log_dir, Status.FAILED, exit_code)
