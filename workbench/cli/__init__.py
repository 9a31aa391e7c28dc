"""The `workbench` command: a thin layer that parses options and calls the library.

One module per command (or two close ones), each command a function that parses its options,
calls the library and prints what it returns; they are registered here, in the order of the
pipeline, which is the order `workbench --help` lists them. Every command takes --db.
"""

from __future__ import annotations

from workbench.cli import batch, browse, export, ingest, report, rules, run, server
from workbench.cli.app import app

__all__ = ["app", "main"]

for _command in (
    ingest.ingest,
    run.run,
    rules.rules,
    rules.recipes,
    report.report,
    export.export,
    browse.browse,
    run.serve,
    server.models,
    server.doctor,
):
    app.command()(_command)
app.add_typer(batch.app)  # after run: the other way to get answers


def main() -> None:
    app(prog_name="workbench")
