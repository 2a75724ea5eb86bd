"""Run a command on a pseudo-terminal of a given size and read what it draws (for tests)."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
import time
from typing import Optional


def run_on_terminal(
    argv: list[str],
    env: dict[str, str],
    cwd: Optional[str] = None,
    columns: int = 100,
    rows: int = 30,
    seconds: Optional[float] = None,
) -> tuple[int, str]:
    """``(exit code, everything written)`` of ``argv`` on a ``columns`` x ``rows`` terminal.

    With ``seconds``, a command still running then gets SIGINT (Ctrl-C).
    """
    env = dict(env, TERM="xterm-256color")
    env.pop("MLXLAUNCH_PLAIN", None)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    chunks = []
    deadline = None if seconds is None else time.monotonic() + seconds
    os.set_blocking(primary, False)
    while True:
        try:
            data = os.read(primary, 65536)
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline and proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                deadline = None
            time.sleep(0.05)
            continue
        except OSError:  # EIO: the last writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    return proc.wait(60), b"".join(chunks).decode(errors="replace")
