"""The `workbench` Typer app, and how a command's expected failures reach the user.

Every command module registers on `app`; each command parses its options, calls the library and
prints the result. Expected failures print one `Error: …` line on stderr and exit non-zero (see
errors.ExitCode); only bugs show a traceback.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer

from workbench import __version__
from workbench.errors import ExitCode, SettingError, WorkbenchError

app = typer.Typer(
    help="Turn a book into fine-tuning pairs with a local LLM.\n\n"
    "ingest text → run the paraphrases → report progress → export JSONL, all in one SQLite file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals hold prompts and API keys
)

# What writing stdout or an output file can meet that is the machine's state, not a bug: a full
# disk or quota, a failing device, a read-only file system.
OUTPUT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}

# Settings whose option is not "--" + the setting's name with dashes.
OPTIONS = {
    "name": "--recipe",
    "sources": "--source",
    "sections": "--section",
}

P = ParamSpec("P")
R = TypeVar("R")


def option(setting: str) -> str:
    """The option that gives a setting: min_ratio → --min-ratio."""
    return OPTIONS.get(setting) or "--" + setting.replace("_", "-")


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Show an expected failure as one line on stderr and exit with its code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import sqlite3  # here, not at the top: `workbench --version` never needs it

        try:
            return command(*args, **kwargs)
        except SettingError as e:
            fail(e.worded(option), e.exit_code)
        except WorkbenchError as e:
            fail(str(e), e.exit_code)
        except sqlite3.DatabaseError as e:
            from workbench.store.database import database_trouble

            message = database_trouble(e)
            if message is None:
                raise  # a bug: keep the traceback
            fail(message)
        except OverflowError as e:  # an option's number beyond what SQLite stores
            fail(f"a number given is too large ({e})")
        except OSError as e:
            if e.errno not in OUTPUT_ERRORS:
                raise  # a bug: keep the traceback
            fail(f"cannot write the output: {e.strerror}")

    return wrapper


def fail(message: str, code: int = ExitCode.ERROR) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"workbench {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    pass
