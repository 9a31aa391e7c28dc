"""`workbench browse`: the job in Datasette."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    DbOption,
)
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
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Review the job in Datasette: answers beside their paragraphs, histories, every request.

    Serves until Ctrl-C and prints the URL of the database's page. Works on a read-only file and while a run is writing.
    """
    from workbench.review.browse import Served, is_loopback
    from workbench.review.browse import browse as serve

    if not is_loopback(host):
        typer.echo(
            f"Warning: --host {host} is not loopback: whoever reaches it can read every prompt "
            f"and answer in {db}.",
            err=True,
        )

    def ready(served: Served) -> None:
        snapshot = " as it stands (read-only, nothing writing it)" if served.immutable else ""
        typer.echo(f"Serving {db}{snapshot}; Ctrl-C to stop.", err=True)
        typer.echo(served.url)  # the one line a script needs, on stdout

    try:
        serve(db, host=host, port=port, open_browser=open_browser, on_ready=ready)
    except KeyboardInterrupt:  # Ctrl-C before the server was up
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    typer.echo("Stopped.", err=True)
