"""``--repl`` (NeMo-Run's): look at and change the composed points in a Python shell first.

After every point is composed and checked, ``--repl`` opens an interactive shell
(IPython when it is installed and standard input is a terminal, else the standard
library's ``code`` module, which reads piped commands line by line as typed;
``MLXLAUNCH_REPL=python`` forces the latter) with the points' configs as
attribute-access objects. What the configs hold when the user calls ``run()``
is what runs: each one is checked again (schema, seed, an entry point's types)
before any run folder exists. Leaving the shell any other way runs nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

from mlxlaunch.errors import Aborted, ConfigError
from mlxlaunch.launching import placeholders
from mlxlaunch.launching.compose import Plan, describe_point
from mlxlaunch.launching.schema import validate

#: appended to a point's recorded overrides when its config was changed in the REPL
CHANGED = "(changed in the REPL)"

BANNER = """\
mlxlaunch REPL: {n} point{s}{more}; change them, then call run().
  config      the config of point 1 (config.optimizer.lr = 0.01)
  configs     the configs of all points, a list (configs[1].seed = 3)
  plan        the points and the overrides that made them
  show()      print every point's config as YAML
  run()       run the points as they are now
Leaving any other way (Ctrl-D, exit()) runs nothing."""


class _Session:
    """The shell's namespace and whether ``run()`` was called."""

    def __init__(self, plan: Plan) -> None:
        from omegaconf import OmegaConf

        self.plan = plan
        # ${mlx:run_id} and co. show as such (their values come with the run folders)
        self.configs = [OmegaConf.create(placeholders.shown(p.config)) for p in plan.points]
        self.confirmed = False

    def show(self) -> None:
        from omegaconf import OmegaConf

        for point, cfg in zip(self.plan.points, self.configs):
            if len(self.configs) > 1:
                print(f"# point {point.index + 1}: {' '.join(point.overrides) or '(no overrides)'}")
            print(OmegaConf.to_yaml(cfg), end="")

    def run(self) -> None:
        self.confirmed = True
        print("mlxlaunch: confirmed; leaving the REPL to run the points.")
        raise SystemExit(0)  # leaves the standard shell; IPython's exit() is needed there

    def namespace(self) -> dict[str, Any]:
        return {
            "config": self.configs[0],
            "configs": self.configs,
            "plan": self.plan,
            "show": self.show,
            "run": self.run,
        }


def _interact(session: _Session, banner: str) -> None:
    """Run the shell until the user leaves it."""
    namespace = session.namespace()
    # IPython's terminal shell is for a person: on a pipe it asks "Do you really want
    # to exit?" and echoes prompts, so piped commands go to the plain console
    use_ipython = os.environ.get("MLXLAUNCH_REPL", "").lower() != "python" and sys.stdin.isatty()
    if use_ipython:
        try:
            from IPython.terminal.embed import InteractiveShellEmbed  # optional
        except ImportError:
            use_ipython = False
    if use_ipython:

        def run_ipython() -> None:
            session.confirmed = True
            print("mlxlaunch: confirmed; leave the shell (exit or Ctrl-D) to run the points.")

        namespace["run"] = run_ipython
        shell = InteractiveShellEmbed(banner1=banner, exit_msg="")
        shell(local_ns=namespace, global_ns=namespace)
        return
    import code

    try:
        code.interact(banner=banner, local=namespace, exitmsg="")
    except SystemExit:
        pass


def edit(plan: Plan, check: Callable[[dict[str, Any], str], dict[str, Any]]) -> Plan:
    """Open the REPL on ``plan``; the plan to run, each config checked by ``check(config, where)``.

    Raises ``Aborted`` when the user leaves without ``run()``.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    session = _Session(plan)
    n = len(plan.points)
    more = f" (configs[0] to configs[{n - 1}])" if n > 1 else ""
    _interact(session, BANNER.format(n=n, s="s" if n > 1 else "", more=more))
    sys.stdout.flush()
    if not session.confirmed:
        raise Aborted("Left the REPL without run(): nothing ran.")
    for point, cfg in zip(plan.points, session.configs):
        where = describe_point(point.overrides, point.index, n) + " after the REPL"
        try:
            config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"Cannot resolve the config of {where}: {exc}") from None
        if not isinstance(config, dict):  # pragma: no cover - a DictConfig gives a dict
            raise ConfigError(f"The config of {where} is not a mapping.")
        checked = check({str(k): v for k, v in config.items()}, where)
        if checked != point.config:  # the run's info says its config is not the command's
            point.overrides = [*point.overrides, CHANGED]
        point.config = checked
    return plan


def no_check(config: dict[str, Any], where: str) -> dict[str, Any]:
    """``edit``'s check when nothing types the config."""
    return config


def checks(
    schema: Optional[type], seed_required: bool
) -> Callable[[dict[str, Any], str], dict[str, Any]]:
    """The check of a decorated script's config after the REPL: its schema and its seed."""

    def check(config: dict[str, Any], where: str) -> dict[str, Any]:
        if schema is not None:
            config = validate(config, schema, where)
        if seed_required and "seed" not in config:
            raise ConfigError(f"The config of {where} has no 'seed' key, which seeding needs.")
        return config

    return check
