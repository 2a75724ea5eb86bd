"""``mlxlaunch submit script.sh``: MLXP's ``mlxpsub``, a job script turned into job arrays.

The script is what a user would give ``sbatch``/``oarsub``: a shebang, scheduler
directives (``#SBATCH``, ``#OAR``, ``#PBS``, ``#$``, ``#BSUB``), shell lines that set
up the job's environment, and one or more ``python main.py <overrides>`` commands
whose overrides may sweep. Each command is run here, with the Python running
mlxlaunch, as a launch with ``use_scheduler`` on: every point of its sweep becomes
a run of one job array that carries the script's directives and environment lines.

The directives and environment reach the launch as launcher settings, through a
temporary YAML file named by ``MLXLAUNCH_SETTINGS_FILE`` (``jobenv.py``): a list
of raw lines survives that intact, where a command-line override would need
quoting. The command's own ``+launcher.*`` overrides still win.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlxlaunch.errors import UsageError
from mlxlaunch.jobenv import ENV_SETTINGS_FILE
from mlxlaunch.launching.mlxp import SCHEDULERS, note
from mlxlaunch.launching.settings import read_mapping

#: A python command of the script: ``[prefix] python[3[.x]] <file>.py [args]``.
_PYTHON = re.compile(r"^(?P<prefix>.*?)\bpython[0-9.]*\s+(?P<rest>.*)$")


@dataclass
class Command:
    """One ``python`` line of the script: where it runs and its argv after ``python``."""

    cwd: Path
    args: list[str]
    line: str


@dataclass
class JobScript:
    """What ``mlxlaunch submit`` reads from a job script."""

    scheduler: str = ""
    #: directive lines, as written (``#SBATCH --time=01:00:00``)
    directives: list[str] = field(default_factory=list)
    #: shell lines before the first python command (``module load``, ``conda activate``)
    env: list[str] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    #: one line per thing of the script that has no meaning here
    notes: list[str] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    """The script's lines with backslash continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        lines.append((current + line).strip())
        current = ""
    if current:
        lines.append(current.strip())
    return lines


def parse_script(path: Path, cwd: Path) -> JobScript:
    """Read the job script at ``path``; python commands run in ``cwd`` (or after its ``cd``)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"Cannot read the job script {path}: {exc.strerror}.") from None
    script = JobScript()
    for line in _logical_lines(text):
        if not line or line.startswith("#!"):
            continue
        directive = line.split(None, 1)[0]
        if directive in SCHEDULERS and line.startswith("#"):
            name = SCHEDULERS[directive]
            if script.scheduler and script.scheduler != name:
                raise UsageError(
                    f"{path} mixes the directives of {script.scheduler} and {name}; "
                    "a job script is for one scheduler."
                )
            script.scheduler = name
            script.directives.append(line)
            continue
        if line.startswith("#"):
            continue
        if line.startswith("cd ") and len(shlex.split(line)) == 2:
            cwd = (cwd / os.path.expanduser(shlex.split(line)[1])).resolve()
            continue
        match = _PYTHON.match(line)
        if match:
            if match.group("prefix").strip():
                script.notes.append(
                    f"'{match.group('prefix').strip()}' before python in {path} is not run: "
                    "each run is a task of the job array."
                )
            script.commands.append(Command(cwd, shlex.split(match.group("rest")), line))
        elif script.commands:
            script.notes.append(f"'{line}' after a python command in {path} is not run.")
        else:
            script.env.append(line)
    if not script.commands:
        raise UsageError(
            f"{path} has no python command: add a line such as 'python main.py optimizer.lr=0.1,1'."
        )
    return script


def settings_of(script: JobScript) -> dict[str, Any]:
    """The launcher settings a script's directives and environment lines give its launches."""
    scheduler: dict[str, Any] = {}
    if script.scheduler:
        scheduler["name"] = script.scheduler
    if script.directives:  # else launcher.yaml's, if any, stay
        scheduler["extra"] = script.directives
    if script.env:
        scheduler["env"] = script.env
    return {"use_scheduler": True, "scheduler": scheduler}


def submit(path: Path, extra_args: list[str]) -> int:
    """Run each python command of the job script as a submitted launch; the first failure's code."""
    import yaml  # heavy third-party import, only for this command

    script = parse_script(path, Path.cwd())
    for text in script.notes:
        note(text)
    with tempfile.TemporaryDirectory(prefix="mlxlaunch-submit-") as tmp:
        settings_file = Path(tmp) / "settings.yaml"
        settings_file.write_text(yaml.safe_dump(settings_of(script)))
        env = dict(os.environ, **{ENV_SETTINGS_FILE: str(settings_file)})
        for command in script.commands:
            argv = [sys.executable, *command.args, *extra_args]
            print(f"mlxlaunch: submitting: {shlex.join(command.args + extra_args)}", flush=True)
            code = subprocess.run(argv, cwd=command.cwd, env=env).returncode
            if code:
                return code
    return 0


def settings_from_environment() -> list[tuple[str, Any]]:
    """Launcher ``(path, value)`` settings handed over by ``mlxlaunch submit``, if any.

    The variable is removed, so the launch's own workers and jobs do not see it.
    """
    name = os.environ.pop(ENV_SETTINGS_FILE, None)
    if not name:
        return []
    tree = read_mapping(Path(name), "launcher settings (written by mlxlaunch submit)")
    pairs: list[tuple[str, Any]] = []
    for key, value in tree.items():
        if isinstance(value, dict):
            pairs.extend((f"{key}.{k}", v) for k, v in value.items())
        else:
            pairs.append((key, value))
    return pairs
