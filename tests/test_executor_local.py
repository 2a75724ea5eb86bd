"""The local executors against the shared conformance suite, plus what only they do."""

from __future__ import annotations

from executor_suite import ExecutorSuite


class TestLocalExecutor(ExecutorSuite):
    """The default executor: points run one after another in the launching process."""

    launcher_overrides: list[str] = []


class TestParallelExecutor(ExecutorSuite):
    """Points run in two worker subprocesses (``mlxlaunch/executors/parallel.py``)."""

    launcher_overrides = ["+launcher.n_workers=2"]


class TestParallelExecutorOneWorker(ExecutorSuite):
    """One worker subprocess at a time: how the version manager runs from a snapshot."""

    launcher_overrides = ["+launcher.gpus=[0]"]
