"""``python main.py --help``: what the task does, its config, groups and settings."""

from __future__ import annotations

import inspect
from typing import Any, Callable


def render_help(task: Callable[..., Any], composer: Any) -> str:
    """Plain-text help for the decorated task."""
    from .store import dump_yaml

    lines = []
    doc = inspect.getdoc(task)
    script = task.__module__ if task.__module__ != "__main__" else "main.py"
    lines.append(f"{task.__name__}: {doc or 'an mlxlaunch task'}")
    lines.append("")
    lines.append(
        "Usage: python <script> [key=value ...] [+new_key=value ...] [key=a,b ...] [+launcher.<setting>=value ...]"
    )
    lines.append("")
    try:
        plan = composer.plan([])
        lines.append("Config (defaults):")
        lines.extend("  " + line for line in dump_yaml(plan.points[0].config).splitlines())
    except Exception as exc:  # help must render even with a broken config
        lines.append(f"Config: cannot be composed: {exc}")
    groups = sorted(composer.config_loader.list_groups(""))
    groups = [g for g in groups if g != "hydra"]
    if groups:
        lines.append("")
        lines.append("Config groups (choose with group=option):")
        for group in groups:
            lines.append(f"  {group}: {' | '.join(composer.group_options(group))}")
    from .settings import valid_keys

    lines.append("")
    lines.append("Launcher settings (+launcher.<setting>=value; see docs/settings.md):")
    lines.append("  " + ", ".join(valid_keys()))
    lines.append("")
    lines.append("Examples:")
    lines.append("  python main.py optimizer.lr=0.01,0.1 seed=1,2     # a 4-point sweep")
    lines.append("  python main.py +launcher.logger.forced_log_id=3   # resume run 3")
    lines.append("  python main.py --cfg job                          # print the config")
    _ = script
    return "\n".join(lines)
