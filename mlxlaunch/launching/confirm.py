"""Ask before submitting a big sweep to a cluster.

Submitting 10,000 jobs by mistake (a ``range`` typo, one comma too many) is easy
and costly, so a launch that would submit more than ``confirm_above`` scheduler
jobs asks first. It never asks when nobody can answer: with ``--yes``, or when
stdin is not a terminal (scripts, CI, a job submitting jobs), it goes ahead.
"""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from mlxlaunch.errors import Aborted
from mlxlaunch.launching.settings import Settings


def needs_confirmation(n_jobs: int, settings: Settings, assume_yes: bool, stdin: TextIO) -> bool:
    """Whether to ask: a scheduler launch above the threshold, a terminal, no ``--yes``."""
    if assume_yes or not settings.use_scheduler or n_jobs <= settings.confirm_above:
        return False
    try:
        return bool(stdin.isatty())
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def confirm_submission(
    n_jobs: int,
    settings: Settings,
    assume_yes: bool = False,
    stdin: Optional[TextIO] = None,
    stderr: Optional[TextIO] = None,
) -> None:
    """Ask ``Submit N jobs ...? [y/N]`` when needed; raise ``Aborted`` unless answered yes."""
    stdin = stdin if stdin is not None else sys.stdin
    stderr = stderr if stderr is not None else sys.stderr
    if not needs_confirmation(n_jobs, settings, assume_yes, stdin):
        return
    scheduler = getattr(settings.scheduler, "name", "") or "the scheduler"
    stderr.write(
        f"About to submit {n_jobs} jobs to {scheduler} (more than confirm_above="
        f"{settings.confirm_above}). Continue? [y/N] "
    )
    stderr.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Aborted(
            "Nothing was submitted and no run folder was created. Pass --yes to skip this "
            "question, or raise +launcher.confirm_above=N."
        )
