"""Shared fixtures: a throwaway project with a task script and configs, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TUTORIAL = REPO / "tutorials" / "regression"

DEFAULT_CONFIG = """\
seed: 0
num_epoch: 2
model:
  num_layers: 2
optimizer:
  lr: 0.1
"""

DEFAULT_TASK = """\
import os, sys, time
import mlxlaunch

def set_seeds(seed):
    pass

@mlxlaunch.launch(config_path="configs", seeding_function=set_seeds)
def main(ctx):
    for epoch in range(ctx.config.num_epoch):
        ctx.logger.log_metrics({"loss": ctx.config.optimizer.lr / (epoch + 1), "epoch": epoch}, log_name="train")
    if ctx.config.get("fail"):
        raise ValueError(f"asked to fail at lr={ctx.config.optimizer.lr}")
    if ctx.config.get("sleep"):
        print("sleeping", flush=True)
        time.sleep(ctx.config.sleep)
    print(f"done {ctx.info.log_id} {ctx.info.status}", flush=True)

if __name__ == "__main__":
    main()
"""


#: What keeps a test's subprocesses away from the machine's own settings: the config
#: and cache homes set below, and ``SLURM_CONF`` while the test Slurm cluster runs
#: (``tests/cluster/fixtures.py``). Each is checked only while set in ``os.environ``.
ISOLATION_VARS = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "SLURM_CONF")


def isolated_env(**extra: str) -> dict[str, str]:
    """A from-scratch environment for a child process that still keeps the test's isolation.

    ``PATH=/usr/bin:/bin``, the :data:`ISOLATION_VARS` of this process, then ``extra``.
    Without the XDG homes the child would read the developer's own
    ``~/.config/mlxlaunch/backends.yaml``.
    """
    env = {"PATH": "/usr/bin:/bin"}
    env.update({var: os.environ[var] for var in ISOLATION_VARS if var in os.environ})
    env.update(extra)
    return env


class _IsolationCheckingPopen(subprocess.Popen):
    """``subprocess.Popen`` that refuses an ``env=`` dropping an isolation variable.

    A test that builds a child's environment from scratch (``env={"PATH": ...}``)
    would otherwise let the child read the developer's real config, silently.
    """

    def __init__(self, *args, **kwargs) -> None:
        env = kwargs.get("env")
        if env is not None:
            missing = [v for v in ISOLATION_VARS if v in os.environ and v not in env]
            if missing:
                raise AssertionError(
                    f"subprocess {args[0] if args else kwargs.get('args')!r} started with an "
                    f"environment without {', '.join(missing)}: build it from os.environ "
                    "or with conftest.isolated_env(), so that it keeps the test's isolation"
                )
        super().__init__(*args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    """Keep tests away from the user's own presets and caches.

    A default backend in ``~/.config/mlxlaunch/backends.yaml`` would change every
    launch a test makes, so every test process and the scripts it starts get
    their own, empty config and cache homes. Every subprocess must keep them:
    one started with an ``env=`` that drops them fails its test.
    """
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="mlxlaunch-tests-xdg-"))
    home.chmod(0o755)  # readable by the cluster tests' unprivileged user too
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        (home / var).mkdir()
        os.environ[var] = str(home / var)
    original = subprocess.Popen
    subprocess.Popen = _IsolationCheckingPopen  # type: ignore[misc]
    config.add_cleanup(lambda: setattr(subprocess, "Popen", original))


class Project:
    """A folder with ``main.py`` and ``configs/``, and a way to run it as a user would."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MLXLAUNCH_RUN_DIR", None)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        return env

    def run(
        self, *args: str, script: str = "main.py", check: bool = False, timeout: float = 120, **kw
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, script, *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kw,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    def popen(self, *args: str, script: str = "main.py") -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, script, *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def info(self, log_id: int) -> dict:
        from mlxlaunch.runfolder.metadata import read_info

        return read_info(self.logs / str(log_id))

    def run_ids(self) -> list[int]:
        if not self.logs.exists():
            return []
        return sorted(int(p.name) for p in self.logs.iterdir() if p.name.isdigit())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.write("configs/config.yaml", DEFAULT_CONFIG)
    p.write("main.py", DEFAULT_TASK)
    return p


@pytest.fixture
def private_reader_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Reader cache of the test's own, so no test sees another's cache entries."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("MLXLAUNCH_CACHE_DIR", str(cache))
    return cache
