"""The decorated script's command line: the launcher's own flags, and overrides left for Hydra."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from mlxlaunch.errors import UnknownOption, UsageError


@dataclass
class CommandLine:
    """The launcher's own flags, and the overrides left for Hydra."""

    overrides: list[str] = field(default_factory=list)
    help: bool = False
    cfg: Optional[str] = None
    verbose: bool = False
    dry_run: bool = False
    #: ``--prepare-only``: make the run folders (QUEUED), run nothing (``mlxlaunch start`` runs them)
    prepare_only: bool = False
    #: ``--repl``: change the composed points in a Python shell, run them on ``run()``
    repl: bool = False
    #: ``(format, file pattern)`` from --to-yaml/--to-json/--to-toml
    export: Optional[tuple[str, str]] = None
    yes: bool = False
    #: no progress lines or bar while a sweep runs
    quiet: bool = False
    #: print mlxlaunch's version and exit
    version: bool = False
    config_path: Optional[str] = None
    config_name: Optional[str] = None
    #: a bare ``@FILE`` argument: the whole config comes from this file
    config_file: Optional[str] = None


#: Flags the launcher understands; everything else is an override (``help.py`` documents them).
FLAGS = (
    "--help",
    "-h",
    "--cfg",
    "-c",
    "--multirun",
    "-m",
    "--verbose",
    "--dry-run",
    "--prepare-only",
    "--repl",
    "--yes",
    "-y",
    "--quiet",
    "-q",
    "--version",
)
#: Flags that take a value (``--flag VALUE`` or ``--flag=VALUE``).
VALUE_FLAGS = (
    "--to-yaml",
    "--to-json",
    "--to-toml",
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
)


def parse_command_line(argv: list[str]) -> CommandLine:
    cmd = CommandLine()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--help", "-h"):
            cmd.help = True
        elif arg in ("--multirun", "-m"):
            pass  # sweeps run without -m; accepted for Hydra users
        elif arg == "--verbose":
            cmd.verbose = True
        elif arg == "--dry-run":
            cmd.dry_run = True
        elif arg == "--prepare-only":
            cmd.prepare_only = True
        elif arg == "--repl":
            cmd.repl = True
        elif arg in ("--yes", "-y"):
            cmd.yes = True
        elif arg in ("--quiet", "-q"):
            cmd.quiet = True
        elif arg == "--version":
            cmd.version = True
        elif arg.split("=", 1)[0] in VALUE_FLAGS:
            flag, value, i = _flag_value(argv, i)
            if flag.startswith("--to-"):
                _set_once(
                    cmd, "export", (flag[len("--to-") :], value), "--to-yaml/--to-json/--to-toml"
                )
            elif flag in ("--config-path", "-cp"):
                _set_once(cmd, "config_path", value, "--config-path")
            else:
                _set_once(cmd, "config_name", value, "--config-name")
        elif arg.startswith("@"):
            _set_once(cmd, "config_file", arg[1:], "a whole-config @FILE")
        elif arg in ("--cfg", "-c") or arg.startswith("--cfg="):
            value = (
                arg.split("=", 1)[1] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            )
            i += 0 if "=" in arg else 1
            if value not in ("job", "all"):
                raise UsageError(f"--cfg takes 'job' or 'all', got {value!r}.")
            cmd.cfg = value
        elif arg.startswith("-") and "=" not in arg:
            raise UnknownOption(
                arg, FLAGS + VALUE_FLAGS, how="Everything else is a config override."
            )
        else:
            cmd.overrides.append(arg)
        i += 1
    if cmd.prepare_only and (cmd.dry_run or cmd.cfg or cmd.export):
        raise UsageError(
            "--prepare-only makes run folders; it cannot be combined with --dry-run, "
            "--cfg or an export."
        )
    if cmd.export and (cmd.dry_run or cmd.cfg):
        raise UsageError(
            "--to-yaml/--to-json/--to-toml cannot be combined with --dry-run or --cfg."
        )
    return cmd


def _set_once(cmd: CommandLine, name: str, value: Any, what: str) -> None:
    """Set ``cmd.<name>``; giving the same option twice is an error, not "the last wins"."""
    if getattr(cmd, name) is not None:
        raise UsageError(f"{what} given twice; give it once.")
    setattr(cmd, name, value)


def _flag_value(argv: list[str], i: int) -> tuple[str, str, int]:
    """``(flag, value, index of the value)`` for ``--flag VALUE`` or ``--flag=VALUE`` at ``i``."""
    flag, eq, value = argv[i].partition("=")
    if not eq:
        if i + 1 >= len(argv) or (argv[i + 1].startswith("-") and argv[i + 1] != "-"):
            example = {
                "--to-yaml": "out/config.yaml",
                "--to-json": "out/config.json",
                "--to-toml": "out/config.toml",
                "--config-name": "config",
                "-cn": "config",
            }.get(flag, "configs")
            raise UsageError(f"{flag} needs a value, e.g. {flag} {example}.")
        value, i = argv[i + 1], i + 1
    if not value:
        raise UsageError(f"{flag} needs a non-empty value.")
    return flag, value, i
