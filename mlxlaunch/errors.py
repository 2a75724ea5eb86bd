"""Every exception mlxlaunch raises, and the exit code each one maps to.

Modelled on click's ``exceptions.py``: a small hierarchy, a process exit code per
class, and the data a program may need kept as fields (the unknown word, every
valid name, the query and the column of a problem), formatted late, in one place,
by :meth:`MlxlaunchError.format_message`. A *usage* error (exit code 2) is the
user's input being wrong (an override typo, an unknown setting); it is printed as
one line without a traceback unless ``--verbose``.

One style per kind of mistake: every "this name is not one of the valid ones"
(an option, a config key, a launcher setting, a backend, a scheduler, a preset
field) is an :class:`UnknownName` subclass and reads
``Unknown <kind> '<word>'<where>. Did you mean '<closest>'? Valid <kind>s: ... <how>``.

Private control-flow exceptions stay next to the code they steer, because no
caller outside that module may see them: ``runfolder.fastyaml.Unsupported`` (the
fast reader hands a file to PyYAML), ``runfolder.fastdump._Declined`` (the fast
writer hands a tree to PyYAML) and ``launching.schema._Mismatch`` (a value does
not fit one branch of a type; the caller turns it into a ConfigError).
"""

from __future__ import annotations

import difflib
import os
import signal
import traceback
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Optional

#: In IPython/Jupyter a usage error shows just its message; set this to True (or the
#: environment variable MLXLAUNCH_TRACEBACKS=1) to get the full traceback back.
FULL_TRACEBACKS = False


class MlxlaunchError(Exception):
    """Base class of every error mlxlaunch raises on purpose."""

    exit_code = 1

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        """The message shown to the user (subclasses build it from their fields)."""
        return self.message

    def __str__(self) -> str:
        return self.format_message()

    def __reduce__(self) -> tuple[Any, ...]:
        # subclasses take other arguments than the message: rebuild from the fields, so
        # that an error crossing a process boundary (pickle) keeps its class and data
        return (_restore, (type(self), self.message, self.__dict__))


def _restore(cls: type[MlxlaunchError], message: str, state: dict[str, Any]) -> MlxlaunchError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class UsageError(MlxlaunchError):
    """The command line, a config file or a setting is wrong: nothing ran."""

    exit_code = 2

    #: the frames inside mlxlaunch a public function cut off when re-raising (see ``trimmed``)
    internal_traceback: Optional[TracebackType] = None

    def trimmed(self) -> UsageError:
        """This error with its traceback cut to the public function re-raising it.

        ``raise exc.trimmed() from None`` in e.g. ``Reader.search`` shows the user's
        line and the message, not the parser's frames; they are kept for
        ``FULL_TRACEBACKS``.
        """
        self.internal_traceback = self.__traceback__
        return self.with_traceback(None)

    def _render_traceback_(self) -> list[str]:
        """What IPython/Jupyter show for this error: the message, not mlxlaunch's frames.

        A user's typo (a query's unknown key, a bad column) is said in the message;
        the frames inside mlxlaunch would only bury it. With ``FULL_TRACEBACKS``
        (or ``MLXLAUNCH_TRACEBACKS=1``) the whole traceback is shown, for a bug report.
        """
        if FULL_TRACEBACKS or os.environ.get("MLXLAUNCH_TRACEBACKS"):
            lines = traceback.format_exception(type(self), self, self.__traceback__)
            if self.internal_traceback is not None:
                lines[-1:-1] = traceback.format_tb(self.internal_traceback)
            return "".join(lines).rstrip("\n").splitlines()
        return [
            f"{type(self).__name__}: {self}",
            "(full traceback: mlxlaunch.errors.FULL_TRACEBACKS = True, then run the cell again)",
        ]


class ConfigError(UsageError):
    """A point of the sweep cannot be composed (unknown key, bad value, bad group)."""


class SettingsError(UsageError):
    """A launcher setting is unknown or has a wrong value."""


class Aborted(MlxlaunchError):
    """The user declined a confirmation prompt: nothing was done."""

    exit_code = 1


class ProjectError(UsageError):
    """An ``MLproject`` file is missing or malformed, or has no such entry point."""


class RunLockedError(MlxlaunchError):
    """Another live process holds the run folder (e.g. the same forced log id)."""

    exit_code = 2


class RunFolderError(MlxlaunchError):
    """A run folder is missing or damaged in a way that prevents using it."""


class UnsafeFileError(RunFolderError):
    """A file mlxlaunch would write in a logs folder is a link, not a plain file, or not
    its own (someone else could have planted or changed it): nothing was written through it."""


class NotRegularFile(MlxlaunchError, ValueError):
    """A file a reader was to read is a FIFO, device or socket (or over its size limit):
    it was opened without blocking and never read (``safefiles.open_regular_file``).
    The Reader reports it as that file's problem; the message says which."""


class StorageError(RunFolderError):
    """A file or folder could not be written or read: full disk, read-only, no permission,
    quota. One line naming the path, the cause and what to do; ``errno`` kept as a field."""

    #: what to do, by errno name
    HINTS = {
        "ENOSPC": "the disk is full: free some space, or point logger.parent_log_dir elsewhere",
        "EDQUOT": "you are over your disk quota: free some space (see quota -s)",
        "EROFS": "the file system is read-only: point logger.parent_log_dir at a writable folder",
        "EACCES": "you have no permission there: check the folder's owner and mode (ls -ld)",
        "EPERM": "you have no permission there: check the folder's owner and mode (ls -ld)",
        "ENOTDIR": "a part of that path is a file, not a folder",
        "EEXIST": "something else already has that name",
        "EISDIR": "that path is a folder, not a file",
    }

    def __init__(self, exc: OSError, doing: str = "") -> None:
        import errno as _errno

        self.errno = exc.errno
        self.path = exc.filename
        self.cause = exc.strerror or str(exc)
        self.doing = doing
        self.hint = self.HINTS.get(_errno.errorcode.get(exc.errno or 0, ""), "")
        super().__init__(self.format_message())

    def format_message(self) -> str:
        what = f"{self.doing}: " if self.doing else ""
        where = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{what}{where}{self.cause}{hint}."


class NotStartedError(StorageError):
    """A prepared run could not take the room it needs to record its end (its reserve,
    ``runfolder.attempts``): it did not start and stays QUEUED for ``mlxlaunch start``.

    A job or parallel worker then exits ``job_exit_code`` instead of 1, so the launcher
    that started it keeps the run QUEUED instead of recording a failure."""

    #: ``os.EX_TEMPFAIL``: "a temporary failure, try again later"
    job_exit_code = 75


class CacheDamaged(MlxlaunchError):
    """A Reader's cache index holds a line its own length check let through but that is
    not what mlxlaunch wrote (a hand edit, a failing disk): found once its rows were in use."""

    def __init__(self, index: str) -> None:
        self.index = index
        super().__init__(self.format_message())

    def format_message(self) -> str:
        return (
            f"{self.index}: the Reader's cache index is damaged; remove it with "
            "`mlxlaunch cache clear` and read the logs folder again (nothing in it is lost)"
        )


class MetricValueError(MlxlaunchError, ValueError):
    """``log_metrics`` got a value a metric log cannot hold faithfully (an integer beyond
    64 bits: readers keep integer columns as ``int64``); nothing was written.
    Fields: ``key`` (``'count'``, ``'stats.n'``, ``'sizes[2]'``) and ``value``."""

    def __init__(self, key: str, value: int) -> None:
        self.key = key
        self.value = value
        super().__init__(self.format_message())

    def format_message(self) -> str:
        return (
            f"Metric {self.key!r} is an integer of {self.value.bit_length()} bits, beyond the "
            "64-bit integers a metric log holds (-2**63 to 2**63-1); nothing was written. "
            "Log float(x) for an approximation, or str(x) to keep every digit."
        )


class ArtifactError(MlxlaunchError):
    """An artifact could not be saved or loaded (bad name, unknown type, failed save)."""


class ArtifactNotFound(MlxlaunchError, FileNotFoundError):
    """The run has no artifact of that name (a ``FileNotFoundError``, so generic code works)."""


class CheckpointNotFound(ArtifactNotFound):
    """The run has no checkpoint of that name: ``except FileNotFoundError`` starts from scratch."""


class SubmitError(MlxlaunchError):
    """The scheduler refused a submission or a query (its message is included)."""


class VersionManagerError(MlxlaunchError):
    """The code to run cannot be pinned to a commit (no repository, no commit, dirty tree...)."""


class DirtyTreeError(VersionManagerError):
    """The tree has uncommitted changes and the policy says to stop."""


class HydraIncompatible(MlxlaunchError):
    """The installed Hydra lacks a private API mlxlaunch relies on (``launching/hydra_shim.py``)."""


class NeedsHydra(Exception):  # noqa: N818 - a signal inside the Composer, never shown to a user
    """The start without Hydra (``launching/plain.py``) cannot be sure: compose with Hydra.

    The Composer catches it (and any other error of that path) and composes the
    whole command again with Hydra, so a user sees only the Hydra path's errors.
    """


class QueryError(UsageError):
    """A Reader query does not parse, or names a key no run has.

    Fields: ``problem`` (what is wrong), ``query`` (the whole text), ``column``
    (0-based position of the problem), ``width`` (characters underlined), ``hint``.
    """

    def __init__(
        self, problem: str, query: str, column: int, hint: str = "", width: int = 1
    ) -> None:
        self.problem = problem
        self.query = query
        self.column = column
        self.hint = hint
        self.width = width
        super().__init__(self.format_message())

    #: A query longer than this is shown as an excerpt around the problem.
    SHOWN = 100

    def format_message(self) -> str:
        text, column, width = self.query, self.column, max(1, self.width)
        if len(text) > self.SHOWN:  # a generated 1 MB query: the part around the problem
            start = max(0, column - self.SHOWN // 2)
            stop = min(len(text), start + self.SHOWN)
            text = ("..." if start else "") + text[start:stop] + ("..." if stop < len(text) else "")
            column = column - start + (3 if start else 0)
            width = max(1, min(width, stop - self.column))
        caret = " " * column + "^" * width
        message = f"{self.problem} (column {self.column + 1}):\n  {text}\n  {caret}"
        if self.hint:
            message += f"\n{self.hint.strip()}"
        return message


class QueryTooDeep(QueryError):
    """A query nests parentheses or ``~`` deeper than the parser allows (one line)."""

    def __init__(self, limit: int, query: str, column: int) -> None:
        self.limit = limit
        super().__init__(f"Query nested more than {limit} levels deep", query, column)

    def format_message(self) -> str:
        return (
            f"{self.problem} (parentheses and ~, at column {self.column + 1} of "
            f"{len(self.query)}): remove redundant parentheses, or join conditions with "
            "& and | (chains of any length need no nesting)."
        )


class Interrupted(BaseException):
    """Raised inside the task when SIGTERM/SIGINT (or a preemption signal) arrives.

    A ``BaseException`` like ``KeyboardInterrupt``: a task's ``except Exception``
    must not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ---------------------------------------------------------------- unknown names


def did_you_mean(word: str, valid: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean 'x'?"`` (or ``" Did you mean one of: ..."``), or ``""``."""
    matches = difflib.get_close_matches(word, list(valid), n=n, cutoff=0.6)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean '{matches[0]}'?"
    return " Did you mean one of: " + ", ".join(f"'{m}'" for m in matches) + "?"


class UnknownName(MlxlaunchError):
    """A word that is not one of the valid names (mixed into a family: ``UnknownSetting``...).

    Fields for programs: ``word``, ``possibilities`` (every valid name, in order),
    ``kind`` (``"option"``, ``"config key"``...), ``where`` (e.g. ``" in (seed=1)"``),
    ``context`` (a prefix naming what holds the word, e.g. ``"Backend 'big'"``),
    ``how`` (what to do), ``suggest_from`` (names to suggest from, when not
    ``possibilities``) and ``within`` (the section a dotted ``word`` is in: its last
    part is compared with ``possibilities``, the names of that section).
    ``list_valid=False`` leaves the list out (e.g. every key of a config: too many).
    """

    #: what the word is; the plural adds an "s"
    kind = "name"

    def __init__(
        self,
        word: str,
        possibilities: Sequence[str],
        *,
        kind: str = "",
        where: str = "",
        context: str = "",
        how: str = "",
        list_valid: bool = True,
        suggest_from: Sequence[str] = (),
        within: str = "",
    ) -> None:
        self.word = word
        self.possibilities = list(possibilities)
        self.kind = kind or type(self).kind
        self.where = where
        self.context = context
        self.how = how
        self.list_valid = list_valid
        self.suggest_from = list(suggest_from)
        self.within = within
        super().__init__(self.format_message())

    def suggestion(self) -> str:
        """``" Did you mean 'x'?"`` for the closest possibility, or ``""``."""
        if not self.word:
            return ""
        word = self.word[len(self.within) + 1 :] if self.within else self.word
        return did_you_mean(word, self.suggest_from or self.possibilities)

    def format_message(self) -> str:
        if self.word:
            what = f"unknown {self.kind} '{self.word}'{self.where}."
        else:
            what = f"no {self.kind} chosen{self.where}."
        message = f"{self.context}: {what}" if self.context else what[0].upper() + what[1:]
        message += self.suggestion()
        if self.list_valid:
            listed = ", ".join(self.possibilities) if self.possibilities else "none yet"
            under = f" under {self.within}" if self.within else ""
            message += f" Valid {self.kind}s{under}: {listed}."
        if self.how:
            message += self.how if self.how.startswith("\n") else f" {self.how}"
        return message


class UnknownOption(UnknownName, UsageError):
    """A ``--flag`` the script does not take."""

    kind = "option"


class UnknownConfigKey(UnknownName, ConfigError):
    """An override or a schema names a config key the config does not have."""

    kind = "config key"


class UnknownSetting(UnknownName, SettingsError):
    """A launcher setting (file, preset or ``+launcher.*`` override) that does not exist."""

    kind = "launcher setting"


class UnknownBackend(UnknownName, SettingsError):
    """``+launcher.backend=NAME`` (or a default) names no preset."""

    kind = "backend"


class UnknownScheduler(UnknownName, SettingsError):
    """``scheduler.name`` or a preset's ``scheduler:`` names no scheduler of the registry."""

    kind = "scheduler"


class UnknownPresetField(UnknownName, SettingsError):
    """A backend preset has a field its kind of backend does not take."""

    kind = "field"


class UnknownColumn(UnknownName, UsageError):
    """``mlxlaunch runs --columns`` or ``plot --by`` names a field no run has."""

    kind = "column"


class UnknownArtifactType(UnknownName, ArtifactError):
    """``logger.log_artifact``/``load_artifact`` names a type nobody registered."""

    kind = "artifact type"


# ---------------------------------------------------------------- bad choices


class BadChoice(MlxlaunchError):
    """A value that is not one of a fixed set (mixed into a family: ``BadSettingChoice``...).

    Fields for programs: ``key`` (whose value it is), ``value`` (as given),
    ``choices`` (the valid values, as text), ``what`` (``"launcher setting"``...).
    Reads ``Bad value for <what> '<key>': <value>. Did you mean 'x'? Valid values: ...``.
    """

    what = "value"

    def __init__(self, key: str, value: Any, choices: Sequence[str]) -> None:
        self.key = key
        self.value = value
        self.choices = [str(c) for c in choices]
        super().__init__(self.format_message())

    def format_message(self) -> str:
        return (
            f"Bad value for {self.what} '{self.key}': {self.value!r}."
            f"{did_you_mean(str(self.value), self.choices)} "
            f"Valid values: {', '.join(self.choices)}."
        )


class BadSettingChoice(BadChoice, SettingsError):
    """A launcher setting with a fixed set of values got another one."""

    what = "launcher setting"


class BadConfigChoice(BadChoice, ConfigError):
    """A config key typed ``Literal[...]`` or an ``Enum`` (``schema=``) got another value."""

    what = "config key"


def unknown_choice(kind: str, word: str, valid: Iterable[str], how: str = "") -> str:
    """The message for an unknown name among ``valid`` (sorted): the :class:`UnknownName` style.

    ``unknown_choice("backend", "gpu_lnog", ["gpu_long", "cpu"])`` gives
    ``"Unknown backend 'gpu_lnog'. Did you mean 'gpu_long'? Valid backends: cpu, gpu_long."``.
    """
    return UnknownName(word, sorted(valid), kind=kind, how=how).format_message()
