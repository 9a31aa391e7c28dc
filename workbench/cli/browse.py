"""`workbench browse`: the job in Datasette."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    DbOption,
)
from workbench.cli.review import ReviewerOption
from workbench.errors import ExitCode
from workbench.store.defaults import DEFAULT_DB


@user_errors
def browse(
    host: Annotated[
        str,
        typer.Option(help="Address to serve on; anything but loopback exposes every prompt."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to serve on; 0 picks a free one.")
    ] = 8001,
    open_browser: Annotated[bool, typer.Option("--open", help="Open a browser window.")] = False,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="No review controls: write nothing.")
    ] = False,
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="Let the review pages write verdicts on an address that is not loopback.",
        ),
    ] = False,
    reviewer: ReviewerOption = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Review the job in Datasette: answers beside their paragraphs, histories, every request.

    Serves until Ctrl-C and prints the URL of the database's page. On loopback its review pages accept, reject and repair answers (--read-only: not). Works on a read-only file and while a run is writing.
    """
    from workbench.review.browse import Served, is_loopback
    from workbench.review.browse import browse as serve
    from workbench.review.verdicts import default_reviewer

    if not is_loopback(host):
        typer.echo(
            f"Warning: --host {host} is not loopback: whoever reaches it can read every prompt "
            f"and answer in {db}" + (" and write verdicts." if allow_writes else "."),
            err=True,
        )

    def ready(served: Served) -> None:
        snapshot = " as it stands (read-only, nothing writing it)" if served.immutable else ""
        writes = served.writes
        if writes.allowed:
            snapshot = (
                f"; verdicts by hand are saved to it as {writes.reviewer} (--read-only: none)"
            )
        elif not served.immutable:
            snapshot = f" read-only: {writes.why_not}"
        typer.echo(f"Serving {db}{snapshot}; Ctrl-C to stop.", err=True)
        typer.echo(served.url)  # the one line a script needs, on stdout

    try:
        serve(
            db, host=host, port=port, open_browser=open_browser, read_only=read_only,
            allow_writes=allow_writes, reviewer=reviewer or default_reviewer(), on_ready=ready,
        )  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C before the server was up
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    typer.echo("Stopped.", err=True)
