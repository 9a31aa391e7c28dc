"""workbench: turn a book into fine-tuning pairs with a local LLM.

The command line (`workbench.cli`) is a thin layer over these modules, which work without it:
ingest → run (client, validate, retry) → report, export; `db` opens and migrates the database.
"""

import sys
from types import FrameType

__version__ = "0.1.0"


class _SqliteUtilsWithoutDataFrames:
    """sqlite-utils imports numpy and pandas, when installed, only to convert their values on
    insert, which workbench never does: 0.1 s of numpy (and seconds of pandas) on every command
    that opens the database. This import finder tells sqlite_utils.db, and only it, while it
    loads, that they are not there; anyone else imports them as usual."""

    hidden = frozenset({"numpy", "pandas"})

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name in self.hidden and _loading("sqlite_utils.db"):
            raise ModuleNotFoundError(f"{name} is not for sqlite_utils here", name=name)


def _loading(module: str) -> bool:
    """Whether `module`'s own top-level code is running (it is importing something)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == module:
            return True
        frame = frame.f_back
    return False


if "sqlite_utils.db" not in sys.modules:
    sys.meta_path.insert(0, _SqliteUtilsWithoutDataFrames())
