"""The conformance tests every executor must pass (modelled on Hydra's ``LauncherTestSuite``).

A backend's test module subclasses :class:`ExecutorSuite` and supplies only how a
sweep is launched on it; the tests themselves are shared, so the local, the
parallel and the cluster executors are held to the same contract::

    class TestParallelExecutor(ExecutorSuite):
        launcher_overrides = ["+launcher.n_workers=2"]

Asynchronous backends (schedulers) set ``synchronous = False`` and override
:meth:`ExecutorSuite.wait_until_finished`, which must return once every given run
has reached a final status. Each test uses the ``suite_project`` fixture: the
``project`` fixture of ``conftest.py`` with :data:`SUITE_TASK` as its ``main.py``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

#: The task every conformance test runs: it logs what it saw so the tests can check it.
SUITE_TASK = """\
import os
import mlxlaunch

def set_seeds(seed):
    pass

@mlxlaunch.launch(config_path="configs", seeding_function=set_seeds)
def main(ctx):
    for epoch in range(ctx.config.num_epoch):
        loss = ctx.config.optimizer.lr / (epoch + 1)
        ctx.logger.log_metrics({"loss": loss, "epoch": epoch}, log_name="train")
    seen = {"x": ctx.config.get("x"), "pid": os.getpid(), "attempt": ctx.info.attempt}
    ctx.logger.log_metrics(seen, log_name="seen")
    if ctx.config.get("fail"):
        raise ValueError(f"asked to fail at point {ctx.info.point_index}")
    print(f"done {ctx.info.log_id}", flush=True)

if __name__ == "__main__":
    main()
"""


def read_metrics(run_dir: Path, log_name: str) -> list[dict[str, Any]]:
    """The records of ``metrics/<log_name>.json`` of a run folder, in order."""
    path = run_dir / "metrics" / f"{log_name}.json"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class ExecutorSuite:
    """Shared executor tests; subclasses say how to launch (and wait, if asynchronous)."""

    #: overrides that select and configure the executor under test
    launcher_overrides: list[str] = []
    #: True when the command returns after the runs finished (local executors);
    #: False when it returns after submitting them (schedulers)
    synchronous: bool = True

    # -- hooks a backend may override ------------------------------------------------

    def launch(self, project: Any, *args: str) -> subprocess.CompletedProcess:
        """Run the project's script with ``args`` on this backend; return the process."""
        return project.run(*self.launcher_overrides, *args)

    def wait_until_finished(self, project: Any, ids: list[int]) -> None:
        """Return once runs ``ids`` reached a final status (nothing to do when synchronous)."""

    # -- fixtures and helpers ----------------------------------------------------------

    @pytest.fixture
    def suite_project(self, project: Any) -> Any:
        project.write("main.py", SUITE_TASK)
        return project

    def launch_and_wait(self, project: Any, *args: str) -> subprocess.CompletedProcess:
        proc = self.launch(project, *args)
        self.wait_until_finished(project, project.run_ids())
        return proc

    @staticmethod
    def describe(proc: subprocess.CompletedProcess) -> str:
        return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    # -- the tests ---------------------------------------------------------------------

    def test_single_run(self, suite_project: Any) -> None:
        proc = self.launch_and_wait(suite_project)
        assert proc.returncode == 0, self.describe(proc)
        assert suite_project.run_ids() == [1]
        info = suite_project.info(1)
        assert (info["status"], info["attempt"], info["log_id"]) == ("COMPLETE", 1, 1)

    def test_sweep_2x2_gives_4_runs_with_their_configs(self, suite_project: Any) -> None:
        from mlxlaunch.runfolder.metadata import read_config

        proc = self.launch_and_wait(suite_project, "optimizer.lr=0.1,0.2", "model.num_layers=1,3")
        assert proc.returncode == 0, self.describe(proc)
        ids = suite_project.run_ids()
        assert ids == [1, 2, 3, 4]
        configs = [read_config(suite_project.logs / str(i)) for i in ids]
        got = sorted((c["optimizer"]["lr"], c["model"]["num_layers"]) for c in configs)
        assert got == sorted(itertools.product([0.1, 0.2], [1, 3]))
        sweep_ids = set()
        for i in ids:
            info = suite_project.info(i)
            assert info["status"] == "COMPLETE", info
            assert info["attempt"] == 1
            assert info["log_id"] == i
            assert Path(info["log_dir"]).resolve() == (suite_project.logs / str(i)).resolve()
            assert info["exit_code"] == 0 and info["error"] is None
            assert info["n_points"] == 4
            sweep_ids.add(info["sweep_id"])
        assert len(sweep_ids) == 1
        points = sorted(suite_project.info(i)["point_index"] for i in ids)
        assert points == [0, 1, 2, 3]

    def test_failing_point_does_not_stop_the_others(self, suite_project: Any) -> None:
        proc = self.launch_and_wait(suite_project, "+fail=false,true,false")
        ids = suite_project.run_ids()
        assert len(ids) == 3
        by_point = {suite_project.info(i)["point_index"]: suite_project.info(i) for i in ids}
        failed = by_point[1]
        assert failed["status"] == "FAILED", failed
        assert failed["exit_code"] == 1
        assert "asked to fail at point 1" in failed["error"]
        assert (suite_project.logs / str(failed["log_id"]) / "metadata" / "traceback.txt").exists()
        assert by_point[0]["status"] == "COMPLETE"
        assert by_point[2]["status"] == "COMPLETE"
        if self.synchronous:
            assert proc.returncode == 1, self.describe(proc)
            summary = proc.stderr.strip().splitlines()[-1]
            assert "2 COMPLETE" in summary and f"1 FAILED (id {failed['log_id']})" in summary

    def test_quoted_override_reaches_the_run_verbatim(self, suite_project: Any) -> None:
        from mlxlaunch.runfolder.metadata import read_config

        value = "5$HOME 'a' \"b\" `c` ;d"
        proc = self.launch_and_wait(suite_project, f"+x={json.dumps(value)}")
        assert proc.returncode == 0, self.describe(proc)
        run_dir = suite_project.logs / "1"
        assert read_config(run_dir)["x"] == value
        assert read_metrics(run_dir, "seen")[0]["x"] == value

    def test_dollar_override_reaches_the_run_verbatim(self, suite_project: Any) -> None:
        proc = self.launch_and_wait(suite_project, "+x=5$HOME")
        assert proc.returncode == 0, self.describe(proc)
        assert read_metrics(suite_project.logs / "1", "seen")[0]["x"] == "5$HOME"

    def test_results_are_read_back_from_the_run_folders(self, suite_project: Any) -> None:
        proc = self.launch_and_wait(suite_project, "optimizer.lr=0.1,0.5", "num_epoch=3")
        assert proc.returncode == 0, self.describe(proc)
        losses = {}
        for i in suite_project.run_ids():
            run_dir = suite_project.logs / str(i)
            lr = suite_project.info(i)["overrides"]
            records = read_metrics(run_dir, "train")
            assert [r["epoch"] for r in records] == [0, 1, 2]
            losses[tuple(lr)] = [r["loss"] for r in records]
            assert read_metrics(run_dir, "seen")[0]["attempt"] == 1
        assert losses == {
            ("optimizer.lr=0.1", "num_epoch=3"): [0.1, 0.05, 0.1 / 3],
            ("optimizer.lr=0.5", "num_epoch=3"): [0.5, 0.25, 0.5 / 3],
        }

    def test_results_are_read_back_with_the_reader(self, suite_project: Any) -> None:
        from mlxlaunch.reader import Reader

        proc = self.launch_and_wait(suite_project, "optimizer.lr=0.1,0.5", "+fail=false,true")
        assert len(suite_project.run_ids()) == 4
        reader = Reader(suite_project.logs, cache_dir=False, progress=False)
        done = reader.search("info.status == 'COMPLETE'")
        assert sorted(run.config["optimizer.lr"] for run in done) == [0.1, 0.5]
        (run,) = reader.search("config.optimizer.lr == 0.5 & info.status == 'COMPLETE'")
        assert list(run.metrics("train")["loss"]) == [0.5, 0.25]
        assert reader.search("info.status == 'FAILED'").status_counts() == {"FAILED": 2}
        if self.synchronous:
            assert proc.returncode == 1, self.describe(proc)
