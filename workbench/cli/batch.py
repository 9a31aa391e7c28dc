"""`workbench batch write|read|cancel|list`: batch inference files, out and back."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import DbOption, RecipeOption
from workbench.cli.run import fail_interrupted
from workbench.store.defaults import DEFAULT_DB

app = typer.Typer(
    name="batch",
    help="Batch inference: write the pending requests as OpenAI Batch API JSONL (for the OpenAI "
    "Batch API, vllm run-batch or Ray Data), read their results back, judged as `run` judges.",
    no_args_is_help=True,
)


@user_errors
def write(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The requests file; more files, when the limits cut them, take -2, -3, … "
            "before its suffix. [default: batch-ID.jsonl]",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="Write the requests of at most this many paragraphs.")
    ] = None,
    max_lines: Annotated[
        int, typer.Option(help="Lines a file at most (the Batch API takes 50,000, and 200 MB).")
    ] = 50_000,
    release: Annotated[
        bool,
        typer.Option("--release", help="Cancel the recipe's batches still awaiting results first."),
    ] = False,
    recipe: RecipeOption = None,
    model: Annotated[
        str | None,
        typer.Option(
            envvar="WORKBENCH_MODEL",
            help="The model the requests ask (a new recipe needs it). [default: the recipe's]",
            show_default=False,
        ),
    ] = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Write the pending requests of a recipe as batch files; `run` leaves them alone until their results are read or the batch is cancelled.

    Each line is exactly the request `run` would send, with a custom_id naming paragraph, recipe and attempt.
    """
    from workbench.engine.batch.writing import write_batches
    from workbench.store.database import open_db

    with open_db(db) as database:
        written = write_batches(
            database, output, recipe_name=recipe, model=model, limit=limit,
            max_lines=max_lines, release=release,
        )  # fmt: skip
    for note in written.notes:
        typer.echo(note, err=True)
    typer.echo(written.describe())


@user_errors
def read(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Results files: OpenAI's output and error files, vllm run-batch's output, Ray "
            "Data's; in any order.",
            show_default=False,
        ),
    ],
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Read batch results into the job: each line an attempt, judged as `run` judges it.

    Reading a file again adds nothing; a line that is malformed or not this job's is reported and the rest is read.
    """
    from workbench.engine.batch.reading import read_results
    from workbench.store.database import open_db

    with open_db(db) as database:
        try:
            summary = read_results(
                database, files, lambda problem: typer.echo(problem.describe(), err=True)
            )
        except KeyboardInterrupt:
            fail_interrupted("Interrupted: what was read is saved; read the same files again.")
    typer.echo(summary.describe())


@user_errors
def cancel(
    batches: Annotated[
        list[int] | None,
        typer.Argument(
            help="The batches to cancel. [default: every batch awaiting results]",
            show_default=False,
        ),
    ] = None,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Cancel batches: their paragraphs are free for `run` and the next batch again, and their results are no longer taken."""
    from workbench.engine.batch.batches import cancel_batches
    from workbench.store.database import open_db

    with open_db(db) as database:
        typer.echo(cancel_batches(database, batches))


@user_errors
def list_(db: DbOption = Path(DEFAULT_DB)) -> None:
    """List the job's batches: their files, how many results are read, what they still hold."""
    from workbench.engine.batch.batches import finish_files, list_batches
    from workbench.store.database import open_db

    with open_db(db) as database:
        for line in finish_files(database):
            typer.echo(line, err=True)
        found = list_batches(database)
    typer.echo("\n".join(row.describe() for row in found) or "No batches yet.")


app.command()(write)
app.command()(read)
app.command()(cancel)
app.command("list")(list_)
