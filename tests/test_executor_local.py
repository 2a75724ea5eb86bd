"""The local executors against the shared conformance suite, plus what only they do."""

from __future__ import annotations

from executor_suite import ExecutorSuite


class TestLocalExecutor(ExecutorSuite):
    """The default executor: points run one after another in the launching process."""

    launcher_overrides: list[str] = []
