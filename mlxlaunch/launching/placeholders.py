"""``${mlx:name}``, ``${mlx:run_id}``, ``${mlx:sweep_id}``, ``${mlx:log_dir}`` in config values.

Thunder's ``ExpName``/``GroupName`` in mlxlaunch's spelling (an OmegaConf
resolver): a config value can name its run, e.g. a W&B run name
``wandb_name: ${mlx:name}-${mlx:run_id}``. A point is composed (and checked)
before its run folder exists, so while composing the resolver leaves a marker;
``prepare.py`` fills the markers in once the run id is allocated, so
``config.yaml`` holds the final values and a job never resolves them again.
``name`` is ``+launcher.name=...`` (the sweep id when none is given).
"""

from __future__ import annotations

import re
from typing import Any

from mlxlaunch.errors import did_you_mean

#: the placeholders, in the order the docs list them
KEYS = ("name", "run_id", "sweep_id", "log_dir")
_MARK = "\x1emlx:{}\x1e"  # a control character no config value contains
_MARKED = re.compile("\x1emlx:(\\w+)\x1e")


def register() -> None:
    """Register the ``mlx`` resolver with OmegaConf (the Composer does, per command)."""
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("mlx", _marker, replace=True)


def _marker(key: str) -> str:
    if key not in KEYS:
        raise ValueError(
            f"unknown placeholder '${{mlx:{key}}}'.{did_you_mean(key, list(KEYS))} "
            f"Placeholders: {', '.join('${mlx:' + k + '}' for k in KEYS)}."
        )
    return _MARK.format(key)


def fill(config: Any, values: dict[str, Any]) -> Any:
    """``config`` with every marker replaced by its value (a whole ``run_id`` stays an int)."""
    if isinstance(config, dict):
        return {k: fill(v, values) for k, v in config.items()}
    if isinstance(config, list):
        return [fill(v, values) for v in config]
    if isinstance(config, str) and "\x1e" in config:
        whole = _MARKED.fullmatch(config)
        if whole is not None:
            return values[whole.group(1)]
        return _MARKED.sub(lambda m: str(values[m.group(1)]), config)
    return config


def shown(config: Any) -> Any:
    """``config`` with markers written back as ``${mlx:...}`` (``--cfg job``, exports)."""
    return fill(config, {k: "${mlx:" + k + "}" for k in KEYS})
