"""What the task receives: ``ctx.config``, ``ctx.logger``, ``ctx.info``, ``ctx.settings``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from mlxlaunch.errors import did_you_mean
from mlxlaunch.launching.settings import Settings
from mlxlaunch.logger.logger import Logger


class AttrDict(dict):
    """A plain ``dict`` whose keys can also be read as attributes (``cfg.optimizer.lr``).

    Nested dicts, also inside lists (``cfg.layers[0].size``), are converted on
    construction, so ``isinstance(cfg, dict)`` holds at every level and the config
    can be passed to anything that takes a dict.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            if isinstance(value, (dict, list)) and not isinstance(value, AttrDict):
                super().__setitem__(key, _with_attr_dicts(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"No key {name!r} here.{did_you_mean(name, [str(k) for k in self])}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]


def _with_attr_dicts(value: Any) -> Any:
    if isinstance(value, dict) and not isinstance(value, AttrDict):
        return AttrDict(value)
    if isinstance(value, list):
        return [_with_attr_dicts(v) for v in value]
    return value


@dataclass
class Context:
    """The task's view of its run."""

    #: resolved user config of this point (attribute access, plain dict underneath)
    config: AttrDict
    #: the run's Logger, or None when ``use_logger`` is false
    logger: Optional[Logger]
    #: the run's info: log_id, log_dir, status, attempt, ... (one level: ``ctx.info.status``)
    info: AttrDict
    #: the launcher settings used for this run
    settings: Settings
    #: functions run when the run is preempted or interrupted (see :meth:`on_preempt`)
    preempt_hooks: list[Callable[[], Any]] = field(default_factory=list, repr=False)

    def on_preempt(self, hook: Callable[[], Any]) -> Callable[[], Any]:
        """Run ``hook()`` (e.g. save a checkpoint) when the run gets a preemption signal.

        Hooks run, in order, when the task is stopped by SIGUSR2/SIGUSR1 (a scheduler's
        warning before its time limit), SIGTERM or SIGINT, before the run is recorded
        INTERRUPTED. Usable as a decorator; returns ``hook``.
        """
        self.preempt_hooks.append(hook)
        return hook
