"""docs/cli.md is a transcript: run every command it shows and compare the output.

The page holds the example project (fenced blocks with ``title="<path>"``) and
``console`` blocks of ``$ command`` lines followed by their expected output
(stdout and stderr together, as a terminal shows them). This test writes the
project to a temporary folder, runs each command there in order and checks the
output matches, with two conventions:

- the project folder is shown as ``/home/me/project``, the user's job folder as ``.jobs/me``;
- ``...`` inside a line matches anything on that line, and a line that is only
  ``...`` matches any number of lines (for output that legitimately varies:
  random sweep ids, the full list of launcher settings).

A ``<!-- answer: X -->`` comment right before a console block runs its commands
on a pseudo-terminal and types ``X`` at the confirmation prompt.

Run ``python tests/test_cli_docs.py`` to print the actual transcript (to update
the page by hand).
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlxlaunch.executors.scheduler import user_name

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "cli.md"
SHOWN_ROOT = "/home/me/project"

FILE_BLOCK = re.compile(r'^```\w*\s+title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)
CONSOLE_BLOCK = re.compile(
    r"(?:<!-- answer: (\w+) -->\n)?^```console\n(.*?)^```", re.MULTILINE | re.DOTALL
)


def parse_doc(text: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    """The project files, and ``(command, expected output, answer)`` in page order."""
    files = {path: body for path, body in FILE_BLOCK.findall(text)}
    commands = []
    for answer, body in CONSOLE_BLOCK.findall(text):
        current: list[str] | None = None
        for line in body.splitlines():
            if line.startswith("$ "):
                if current is not None:
                    commands.append((current[0], "\n".join(current[1:]), answer or None))
                current = [line[2:]]
            elif current is not None:
                current.append(line)
        if current is not None:
            commands.append((current[0], "\n".join(current[1:]), answer or None))
    return files, commands


def _env(config_home: Path | None = None) -> dict[str, str]:
    """The environment page commands run in (``tests/test_backends_docs.py`` uses it too)."""
    env = dict(os.environ)
    env.pop("MLXLAUNCH_RUN_DIR", None)
    if config_home is not None:
        env["XDG_CONFIG_HOME"] = str(config_home)  # no user-level backend presets
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave as on a terminal
    env["MLXLAUNCH_PLAIN"] = "1"
    return env


def _shell_command(command: str) -> str:
    # `python` in the page is the interpreter running the tests
    return re.sub(r"(^|[;&|]\s*)python ", lambda m: m.group(1) + sys.executable + " ", command)


def run_command(command: str, root: Path, answer: str | None, env: dict[str, str]) -> str:
    """Run one page command in ``root``; its combined output, normalised for the page."""
    cmd = _shell_command(command)
    if answer is None:
        proc = subprocess.run(
            cmd,
            shell=True,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        out = proc.stdout
    else:
        tty_env = {k: v for k, v in env.items() if k != "MLXLAUNCH_PLAIN"}
        _, out = run_on_tty(cmd, root, [answer], tty_env)
    return normalise(out, root)


def run_on_tty(
    cmd: str | list[str], cwd: Path, answers: list[str], env: dict[str, str]
) -> tuple[int, str]:
    """Run ``cmd`` (a shell line, or an argv) with a pseudo-terminal as stdin/stdout/stderr,
    typing ``answers`` at its ``[y/N]`` prompts in turn ('n' once they run out).
    Returns its exit code and output (``tests/test_cli_confirm.py`` uses it too)."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        cmd, shell=isinstance(cmd, str), cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    data, answered, deadline = b"", 0, time.time() + 120
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
        if data.count(b"[y/N] ") > answered:
            answer = answers[answered] if answered < len(answers) else "n"
            os.write(master, answer.encode() + b"\n")
            answered += 1
        if not ready and proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    return code, data.decode().replace("\r\n", "\n")


def normalise(out: str, root: Path) -> str:
    out = out.replace(str(root.resolve()), SHOWN_ROOT).replace(str(root), SHOWN_ROOT)
    out = out.replace(f"/.jobs/{user_name()}/", "/.jobs/me/")
    return "\n".join(line.rstrip() for line in out.splitlines()).rstrip("\n")


def pattern(expected: str) -> re.Pattern[str]:
    """A regex for the expected output, with the page's ``...`` wildcards."""
    parts = []
    for line in expected.rstrip("\n").splitlines():
        line = line.rstrip()
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(r"[^\n]*?".join(re.escape(p) for p in line.split("...")) + r"\n")
    return re.compile("".join(parts))


def matches(expected: str, actual: str) -> bool:
    text = actual + "\n" if actual else ""
    return pattern(expected).fullmatch(text) is not None


def write_project(files: dict[str, str], root: Path) -> None:
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)


def test_page_has_a_transcript_of_each_feature():
    files, commands = parse_doc(DOC.read_text())
    shown = " ".join(c for c, _, _ in commands)
    assert "main.py" in files and "configs/config.yaml" in files
    for flag in ("--help", "--dry-run", "--to-yaml", "--to-toml", "--config-name", "@"):
        assert flag in shown, f"docs/cli.md shows no command with {flag}"
    assert any(answer for _, _, answer in commands), "no confirmation prompt transcript"
    assert any("--verbose" in c for c, _, _ in commands)


def test_wildcards_match_what_they_should_and_nothing_else():
    assert matches("a ... c", "a bbb c")
    assert not matches("a ... c", "a bbb d")
    assert matches("x\n...\ny", "x\n1\n2\ny")
    assert matches("x\n...\ny", "x\ny")
    assert not matches("x\ny", "x\nz\ny")
    assert not matches("exit 0", "exit 2")


@pytest.mark.slow
def test_every_command_of_the_page_prints_what_the_page_shows(tmp_path: Path):
    files, commands = parse_doc(DOC.read_text())
    root = tmp_path / "project"
    write_project(files, root)
    env = _env(tmp_path / "config-home")
    for command, expected, answer in commands:
        actual = run_command(command, root, answer, env)
        assert matches(expected, actual), (
            f"docs/cli.md is out of date for:\n$ {command}\n"
            f"--- page shows:\n{expected}\n--- command printed:\n{actual}"
        )


if __name__ == "__main__":  # print the actual transcript, to update the page
    import tempfile

    files, commands = parse_doc(DOC.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        write_project(files, root)
        for command, expected, answer in commands:
            actual = run_command(command, root, answer, _env(Path(tmp) / "config-home"))
            flag = "" if matches(expected, actual) else "   <-- differs"
            print(f"$ {command}{flag}\n{actual}\n")
