"""Browse: open the database in Datasette with workbench's titles, facets and canned queries."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.db import open_db
from workbench.errors import WorkbenchError


def metadata(db: Path) -> dict[str, Any]:
    """datasette.json (configuration as data), addressed to this database's name."""
    data = json.loads(resources.files("workbench").joinpath("datasette.json").read_text("utf-8"))
    data["databases"] = {Path(db).stem: data["databases"]["*"]}
    return data


def datasette_command(
    db: Path, metadata_file: Path, *, port: int = 8001, open_browser: bool = False
) -> list[str]:
    command = [
        sys.executable, "-m", "datasette", "serve", str(db), "--metadata", str(metadata_file),
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    return command + (["--open"] if open_browser else [])


def browse(db: Path, *, port: int = 8001, open_browser: bool = False) -> None:
    """Serve the database on 127.0.0.1 until Ctrl-C."""
    if importlib.util.find_spec("datasette") is None:
        raise WorkbenchError("browse needs Datasette: pip install 'workbench[browse]'")
    open_db(db).close()  # refuse a file that is not ours, and migrate it, before serving it
    with tempfile.TemporaryDirectory() as folder:
        metadata_file = Path(folder) / "metadata.json"
        metadata_file.write_text(json.dumps(metadata(db)), encoding="utf-8")
        print(f"Serving {db} at http://127.0.0.1:{port}/ (Ctrl-C to stop)", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how Datasette is stopped
            subprocess.run(
                datasette_command(db, metadata_file, port=port, open_browser=open_browser),
                check=False,
            )
