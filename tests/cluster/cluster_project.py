"""A test project that lives where the cluster's test user can reach it, and runs as that user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import DEFAULT_CONFIG, Project

from .fixtures import run_as, wait_for

#: The tutorial-like task of the cluster tests: fails, sleeps, checkpoints on preemption.
CLUSTER_TASK = """\
import time
from pathlib import Path
import mlxlaunch

@mlxlaunch.launch(config_path="configs")
def main(ctx):
    run_dir = Path(ctx.info.log_dir)
    ckpt = run_dir / "checkpoint.txt"
    step = int(ckpt.read_text()) if ckpt.exists() else 0
    print(f"attempt {ctx.info.attempt} starts at step {step}", flush=True)
    state = {"step": step}

    @ctx.on_preempt
    def save():
        ckpt.write_text(str(state["step"]))
        print(f"checkpoint at step {state['step']}", flush=True)

    if ctx.config.get("fail_if") and Path(ctx.config.fail_if).exists():
        raise RuntimeError("asked to fail")
    if step == 0:
        while state["step"] < ctx.config.get("sleep", 0):
            time.sleep(1)
            state["step"] += 1
    ctx.logger.log_metrics({"lr": ctx.config.optimizer.lr, "step": state["step"]}, log_name="train")
    print("done", flush=True)

if __name__ == "__main__":
    main()
"""


class ClusterProject(Project):
    """A Project under the cluster's work folder, owned by and run as the test user."""

    def __init__(self, cluster: dict[str, Any], name: str) -> None:
        root = Path(cluster["workdir"]) / name
        root.mkdir()
        super().__init__(root)
        self.cluster = cluster
        os.chown(root, cluster["uid"], -1)
        self.write("configs/config.yaml", DEFAULT_CONFIG)
        self.write("main.py", CLUSTER_TASK)

    def env(self) -> dict[str, str]:
        """Project.env, with config and cache homes the test user owns (no backend presets)."""
        env = super().env()
        for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            home = self.root / f".{var.lower()}"
            if not home.exists():
                home.mkdir()
                os.chown(home, self.cluster["uid"], -1)
            env[var] = str(home)
        return env

    def write(self, rel: str, text: str) -> Path:
        path = super().write(rel, text)
        for p in [path, *path.parents]:
            if p == self.root:
                break
            os.chown(p, self.cluster["uid"], -1)
        return path

    def run(self, *args: str, script: str = "main.py", check: bool = False, timeout: float = 120, **kw) -> subprocess.CompletedProcess:  # fmt: skip
        proc = run_as(
            self.cluster["user"], sys.executable, script, *args,
            cwd=self.root, env=self.env(), timeout=timeout,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run_with_stand_in(
        self, command: str, script: str, *args: str
    ) -> subprocess.CompletedProcess:
        """``main.py ARGS`` with ``command`` on PATH replaced by the shell ``script`` (which
        may kill the launcher, ``$PPID``, then hand over to the real command)."""
        self.write(f"bin/{command}", script).chmod(0o755)
        env = dict(self.env(), PATH=f"{self.root / 'bin'}{os.pathsep}{os.environ['PATH']}")
        return run_as(
            self.cluster["user"], sys.executable, "main.py", *args, cwd=self.root, env=env
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``mlxlaunch ARGS`` as the test user."""
        return run_as(
            self.cluster["user"], sys.executable, "-m", "mlxlaunch.cli", *args,
            cwd=self.root, env=self.env(),
        )  # fmt: skip

    def wait_until(self, ids: list[int], statuses: tuple[str, ...], timeout: float) -> None:
        """Wait until every run of ``ids`` has one of ``statuses`` in its info."""

        def reached() -> bool:
            return all(self.info(i).get("status") in statuses for i in ids)

        wait_for(reached, timeout, lambda: f"runs to reach {statuses}: {self.describe(ids)}")

    def describe(self, ids: list[int]) -> str:
        return ", ".join(f"{i}={self.info(i).get('status')}" for i in ids)
