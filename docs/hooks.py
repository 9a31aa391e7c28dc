"""MkDocs hooks: paste every command's --help and the live schema.sql into the docs at build time.

Named in mkdocs.yml (`hooks:`). Two markers, each on a line of its own, are replaced:

- `<!-- commands -->` (reference.md): a `## NAME` section with the `--help` of every command
  of the typer app, in the app's order. A new command appears without editing the docs.
- `<!-- schema.sql -->` (how-it-works.md): the text of schema.sql, the whole current schema.

A marker missing from its page is logged as a warning, which `mkdocs build --strict` turns
into a failed build.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema.sql"
COMMANDS_MARKER = "<!-- commands -->"
SCHEMA_MARKER = "<!-- schema.sql -->"
# The page each marker belongs on: a build without it fails (--strict).
MARKER_PAGES = {"reference.md": COMMANDS_MARKER, "how-it-works.md": SCHEMA_MARKER}

log = logging.getLogger("mkdocs.hooks.workbench")


def command_names() -> list[str]:
    """The app's visible commands, in the order `workbench --help` lists them; a group's own
    commands follow it ("batch", "batch write", …)."""
    from typer.main import get_command

    from workbench.cli import app

    group = get_command(app)
    commands: dict[str, Any] = getattr(group, "commands", {})
    names = []
    for name, command in commands.items():
        if command.hidden:
            continue
        names.append(name)
        inner: dict[str, Any] = getattr(command, "commands", {})
        names.extend(f"{name} {sub}" for sub, found in inner.items() if not found.hidden)
    return names


def help_env() -> dict[str, str]:
    """Plain, 100-column help, with the defaults a fresh shell sees (no WORKBENCH_* values)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("WORKBENCH_") and name != "OPENAI_API_KEY"
    }
    env.update(TYPER_USE_RICH="0", COLUMNS="100", NO_COLOR="1")
    return env


def help_text(name: str) -> str:
    """What `workbench NAME --help` prints, from a fresh process as a user would see it."""
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *name.split(), "--help"],
        capture_output=True,
        text=True,
        env=help_env(),
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        raise PluginError(f"workbench {name} --help failed: {result.stderr.strip()}")
    return result.stdout


def reference_markdown() -> str:
    """One `## NAME` section a command, its --help in a text block."""
    names = command_names()
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(help_text, names))
    return "\n".join(
        f"## {name}\n\n```text\n{text.rstrip()}\n```\n"
        for name, text in zip(names, texts, strict=True)
    )


def schema_markdown() -> str:
    """schema.sql as it stands, in an SQL block."""
    return f"```sql\n{SCHEMA.read_text(encoding='utf-8').rstrip()}\n```\n"


def on_page_markdown(markdown: str, page: Page, **_: Any) -> str:
    """Replace the markers of the page being built; warn when its marker is missing."""
    expected = MARKER_PAGES.get(page.file.src_uri)
    if expected is not None and expected not in markdown:
        log.warning(
            "%s lost its %s marker: its generated part is missing", page.file.src_uri, expected
        )
    if COMMANDS_MARKER in markdown:
        markdown = markdown.replace(COMMANDS_MARKER, reference_markdown())
    if SCHEMA_MARKER in markdown:
        if not SCHEMA.is_file():
            log.warning("%s is missing: how-it-works.md cannot show the schema", SCHEMA)
            return markdown
        markdown = markdown.replace(SCHEMA_MARKER, schema_markdown())
    return markdown
