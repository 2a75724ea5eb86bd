"""The default executor: the points run one after another in this process."""

from __future__ import annotations

from mlxlaunch.executors.base import Executor, LaunchSpec, PreparedRun
from mlxlaunch.runfolder.layout import Status
from mlxlaunch.running.runner import RunResult, run_prepared


class LocalExecutor(Executor):
    """Runs the points in order in the launching process, like Hydra's basic launcher.

    A failing point does not stop the others unless ``fail_fast`` is set; an
    interrupted point (SIGTERM/SIGINT) stops the sweep, and the points not yet
    started stay QUEUED so they can be rerun. A point stopped or skipped by
    ``mlxlaunch cancel`` stops only itself: the sweep goes on with the next.
    """

    name = "local"
    in_process = True

    def launch(self, runs: list[PreparedRun], spec: LaunchSpec) -> list[RunResult]:
        results = []
        for i, run in enumerate(runs):
            spec.progress.started(run)
            result = run_prepared(
                run.log_dir,
                spec.task,
                spec.settings,
                spec.seeding_function,
                config=run.config,
                lock=run.lock,
            )
            run.lock = None  # released by run_prepared
            results.append(result)
            spec.progress.finished(run, result)
            stop = (result.status == Status.INTERRUPTED and not result.cancelled) or (
                result.status == Status.FAILED and spec.settings.fail_fast
            )
            if stop:
                results.extend(RunResult(r.log_id, r.log_dir, Status.QUEUED) for r in runs[i + 1 :])
                break
        return results
