"""Running one prepared run folder: the status lifecycle, in whatever process runs it.

The same code runs a point in the launching process (local executor), in a
worker subprocess, or inside a cluster job: it reopens the run folder, takes its
lock, sets RUNNING, seeds, calls the task and records the outcome. Signal
handlers and the heartbeat thread exist only while the task runs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from mlxlaunch import runfolder
from mlxlaunch.errors import Interrupted
from mlxlaunch.launching.settings import Settings
from mlxlaunch.logger.logger import Logger
from mlxlaunch.runfolder.attempts import finish_attempt, start_attempt
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.running.context import AttrDict, Context
from mlxlaunch.running.streams import start_tee

#: Exit codes of a run stopped by a signal, as a shell reports them (128 + signal number).
#: SIGUSR1/SIGUSR2 are the preemption signals schedulers send before a time limit; SIGHUP
#: (terminal closed, ssh dropped) and SIGQUIT (Ctrl-\) stop a run like SIGTERM does.
SIGNAL_EXIT_CODES = {
    signal.SIGTERM: 143,
    signal.SIGINT: 130,
    signal.SIGHUP: 129,
    signal.SIGQUIT: 131,
    signal.SIGUSR1: 138,
    signal.SIGUSR2: 140,
}
#: Exit code of a run stopped by the scheduler's preemption signal (SIGUSR2) that may be
#: requeued: the job script requeues the job only on this code, never on another.
REQUEUE_EXIT_CODE = SIGNAL_EXIT_CODES[signal.SIGUSR2]

#: ``seeding_function(config.seed)`` is called before the task in each run (None: no seeding).
SeedingFunction = Optional[Callable[[Any], Any]]


@dataclass
class RunResult:
    """How one run ended (or, for a scheduler, that it was queued)."""

    log_id: int
    log_dir: Path
    status: str
    exit_code: Optional[int] = None
    #: stopped by ``mlxlaunch cancel`` (for it alone): a sequential sweep goes on
    cancelled: bool = False


def handled_signals() -> list[signal.Signals]:
    """The signals that stop a run (``SIGNAL_EXIT_CODES``), except an ignored SIGHUP.

    ``nohup`` (or ``setsid``/``disown`` set-ups that ignore it) asks for a run that
    survives its terminal: a SIGHUP ignored when the run starts stays ignored.
    """
    return [
        s
        for s in SIGNAL_EXIT_CODES
        if not (s == signal.SIGHUP and signal.getsignal(s) == signal.SIG_IGN)
    ]


class SignalGuard:
    """Routes the signals of ``handled_signals()`` to ``handler`` inside the block, and
    puts the previous handlers back after it (or at ``restore()``).

    The default handler raises ``Interrupted`` (a run's task); the parallel executor
    passes one that forwards the signal to its workers. Outside the main thread,
    where Python cannot set handlers, it does nothing.
    """

    def __init__(self, handler: Optional[Callable[[int, Any], None]] = None) -> None:
        self._handler = handler or self._raise
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in handled_signals():
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    @staticmethod
    def _raise(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def __exit__(self, *exc: object) -> None:
        self.restore()


def _user_frame_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without mlxlaunch's own frames above the task."""
    tb = exc.__traceback__
    here = os.path.dirname(os.path.abspath(__file__)) + os.sep  # not a sibling ``mlxlaunch-x/``
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(here):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def failure_label(info: dict[str, Any]) -> str:
    """``mlxlaunch: run 23 FAILED (lr=0.1 seed=2):``, the line before a failed run's traceback.

    In a sweep many tracebacks look alike: the label says whose it is.
    """
    point = " ".join(str(o) for o in info.get("overrides") or [])
    return f"mlxlaunch: run {info.get('log_id')} FAILED{f' ({point})' if point else ''}:\n"


def _run_preempt_hooks(ctx: Optional[Context]) -> None:
    """Run the task's ``ctx.on_preempt`` hooks (e.g. save a checkpoint) before recording.

    Further preemption signals and SIGTERM (a scheduler's time limit, a second
    ``kill``) are ignored meanwhile, so the hooks finish and the run is recorded
    INTERRUPTED; a SIGINT (Ctrl-C again) skips the remaining hooks. A failing hook
    is reported on stderr and does not stop the others.
    """
    if ctx is None or not ctx.preempt_hooks:
        return
    ignored = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):
            ignored[signum] = signal.signal(signum, signal.SIG_IGN)
    try:
        for hook in ctx.preempt_hooks:
            try:
                hook()
            except KeyboardInterrupt:
                sys.stderr.write("mlxlaunch: on_preempt hooks stopped by SIGINT\n")
                sys.stderr.flush()
                break
            except Exception:  # noqa: BLE001 - report and go on recording INTERRUPTED
                sys.stderr.write("mlxlaunch: on_preempt hook failed:\n" + traceback.format_exc())
                sys.stderr.flush()
    finally:
        for signum, handler in ignored.items():
            signal.signal(signum, handler)


def _preempted_outcome(
    info: dict[str, Any], settings: Settings, signum: int
) -> tuple[str, int, str]:
    """``(status, exit_code, error)`` of a run stopped by ``signum``.

    In a scheduler job with ``requeue: true``, SIGUSR2 means "the time limit is near,
    you will be requeued": the run counts it in ``info.requeues``. Once it has been
    requeued ``scheduler.max_requeues`` times it is recorded FAILED with the reason
    and exits with a code the job script does not requeue, so a signal that comes
    too early cannot requeue the job forever.
    """
    sig = signal.Signals(signum)
    status, code = Status.INTERRUPTED, SIGNAL_EXIT_CODES[sig]
    error = f"interrupted by {sig.name}"
    sched = settings.scheduler
    if sig != signal.SIGUSR2 or not (settings.use_scheduler and sched.requeue):
        return status, code, error
    requeues = int(info.get("requeues") or 0)
    if requeues >= sched.max_requeues:
        return (
            Status.FAILED,
            1,
            f"{error} after {requeues} requeue(s): scheduler.max_requeues={sched.max_requeues} "
            f"reached, not requeued again (raise scheduler.time or scheduler.max_requeues, "
            f"then mlxlaunch resubmit)",
        )
    info["requeues"] = requeues + 1
    return status, code, error


def run_prepared(
    run_dir: Path,
    task: Callable[[Context], Any],
    settings: Settings,
    seeding_function: SeedingFunction = None,
    config: Optional[dict[str, Any]] = None,
    lock: Optional[runfolder.RunLock] = None,
) -> RunResult:
    """Run ``task`` in the prepared folder ``run_dir`` and record how it ended.

    Never raises for a failure of the task: the outcome is in the returned
    ``RunResult`` and in ``info.yaml``. Raises ``RunLockedError`` if another live
    process holds the folder. ``lock``: the run's lock, already held by the caller
    (a resume holds it from its preparation on); released at the end either way.
    """
    if lock is None:
        lock = runfolder.RunLock(run_dir)
        lock.acquire()
    try:
        done = runfolder.read_info(run_dir)
        if done.get("status") == Status.COMPLETE:
            # e.g. a job requeued (by a scheduler or by hand) after its run completed:
            # a complete run never runs again unless resubmitted or resumed (QUEUED)
            sys.stderr.write(
                f"mlxlaunch: run {run_dir.name} is already COMPLETE (attempt "
                f"{done.get('attempt')}): not running it again\n"
            )
            sys.stderr.flush()
            return RunResult(int(done.get("log_id") or run_dir.name), run_dir, Status.COMPLETE, 0)
        if done.get("cancelled") and done.get("status") == Status.INTERRUPTED:
            # mlxlaunch cancel reached it while it was QUEUED: it never starts
            log_id = int(done.get("log_id") or run_dir.name)
            return RunResult(log_id, run_dir, Status.INTERRUPTED, None, cancelled=True)
        runfolder.metadata_path(run_dir, runfolder.CANCEL_FILE).unlink(missing_ok=True)  # stale
        if config is None:
            config = runfolder.read_config(run_dir)
        info = start_attempt(run_dir, settings.heartbeat_interval)
        started = time.time()
        heartbeat = runfolder.Heartbeat(run_dir, settings.heartbeat_interval)
        status, exit_code, error, failure = Status.COMPLETE, 0, None, None
        cancelled = False
        ctx: Optional[Context] = None
        guard = SignalGuard()
        streams = None
        if settings.logger.log_streams_to_file:
            streams = start_tee(run_dir)
        heartbeat.start()
        try:
            with guard:
                cfg = AttrDict(config)
                if seeding_function is not None:
                    seeding_function(cfg["seed"])
                logger = None
                if settings.use_logger:
                    logger = Logger(run_dir, int(info["log_id"]))
                ctx = Context(config=cfg, logger=logger, info=AttrDict(info), settings=settings)
                task(ctx)
        except Interrupted as exc:
            guard.restore()
            _run_preempt_hooks(ctx)
            status, exit_code, error = _preempted_outcome(info, settings, exc.signum)
            request = runfolder.metadata_path(run_dir, runfolder.CANCEL_FILE)
            if exc.signum == signal.SIGTERM and request.exists():
                cancelled, error = True, "cancelled with mlxlaunch cancel (SIGTERM)"
                request.unlink(missing_ok=True)
        except KeyboardInterrupt:
            status, exit_code, error = Status.INTERRUPTED, 130, "interrupted by SIGINT"
        except SystemExit as exc:
            code = exc.code
            if code in (0, None):
                status, exit_code = Status.COMPLETE, 0
            else:
                status = Status.FAILED
                exit_code = code if isinstance(code, int) else 1
                error = f"SystemExit: {code}"
        except BaseException as exc:  # noqa: BLE001 - every failure of the task is recorded
            text = _user_frame_traceback(exc)
            sys.stderr.write(failure_label(info) + text)
            sys.stderr.flush()
            status, exit_code, failure = Status.FAILED, 1, text
            error = text.strip().splitlines()[-1] if text.strip() else type(exc).__name__
        finally:
            heartbeat.stop()
            if ctx is not None and ctx.logger is not None:
                ctx.logger.close()
            if streams is not None:
                streams.stop()
        finish_attempt(run_dir, info, status, exit_code, error, started, failure)
        return RunResult(int(info["log_id"]), run_dir, status, exit_code, cancelled)
    finally:
        lock.release()
