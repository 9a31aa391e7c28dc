"""Errors a user can cause or fix, and the exit codes they map to.

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    """Process exit codes, kept apart so scripts can tell failures apart."""

    OK = 0
    ERROR = 1  # bad input: a path, an encoding, an option, a database that is not ours
    USAGE = 2  # the command line itself is wrong (typer's own code)
    UNREACHABLE = 3  # the server cannot be reached or is not OpenAI-compatible
    SERVER_REFUSED = 4  # the server answered 4xx: bad model name, bad key, bad request
    SERVER_FAILING = 5  # the server kept failing (5xx, timeouts, garbage) past the retry budget
    INTERRUPTED = 130  # Ctrl-C; the run can be resumed


class WorkbenchError(Exception):
    """A problem the user can fix: shown as one line on stderr, never as a traceback."""

    exit_code: ExitCode = ExitCode.ERROR


class SettingError(WorkbenchError):
    """A setting that cannot take its value (a recipe's, the rules', a run's, an export's).

    The library names settings in braces, `"{min_ratio} must be between 0 and {max_ratio}"`, and
    passes the values it shows as keywords; `str()` words the settings by their names, and the
    command line words them as the options that gave them ("--min-ratio"). So a value loaded
    from the database is never reported as an option the user did not give.
    """

    # How str() names a setting when its own name does not read well.
    labels: ClassVar[dict[str, str]] = {}

    def __init__(self, template: str, **values: object) -> None:
        self.template, self.values = template, values
        super().__init__(self.worded())

    def worded(self, name: Callable[[str], str] | None = None) -> str:
        """The message with each setting named by `name(setting)` (by default its label)."""
        return self.template.format_map(
            _Names(name or (lambda setting: self.labels.get(setting, setting)), self.values)
        )


class _Names(dict[str, object]):
    def __init__(self, name: Callable[[str], str], values: dict[str, object]) -> None:
        super().__init__(values)
        self.name = name

    def __missing__(self, setting: str) -> str:
        return self.name(setting)


class InputError(WorkbenchError):
    """A source file or folder that cannot be ingested; seen by `ingest`."""


class DatabaseError(SettingError):
    """A --db file that is not a SQLite database, not ours, or too new; seen by every command."""

    labels: ClassVar[dict[str, str]] = {"db": "database"}


class DatabaseLocked(WorkbenchError):
    """Another process kept the database's write lock for longer than the busy timeout."""

    def __init__(self, waited: float) -> None:
        self.waited = waited
        super().__init__(
            f"the database is locked: another process kept writing to it for the {waited:.1f} s "
            "this command waited; try again when it is done"
        )


class ServerUnreachable(WorkbenchError):
    """The server is down, the URL is wrong, or it does not speak the OpenAI API; seen by `run`."""

    exit_code = ExitCode.UNREACHABLE


class ServerRefused(WorkbenchError):
    """The server answered a request with a 4xx other than 429; seen by `run`."""

    exit_code = ExitCode.SERVER_REFUSED


class ServerFailing(WorkbenchError):
    """The server failed one request more often than --retries allows; seen by `run`."""

    exit_code = ExitCode.SERVER_FAILING


class SchemaBehind(DatabaseError):
    """A --db that needs schema steps but was opened read-only; seen by `browse`."""

    def __init__(self, path: object, steps: list[str]) -> None:
        self.path, self.steps = path, steps
        super().__init__(
            "{db} {path} needs schema steps {steps} and cannot be written here: open it once "
            "with write access (any command, e.g. `workbench report`) first",
            path=path,
            steps=", ".join(steps),
        )
