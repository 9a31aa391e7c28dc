"""`workbench report`: the job summarised, one rejection reason shown, recipes compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    DbOption,
    JsonOption,
)
from workbench.errors import WorkbenchError
from workbench.store.defaults import DEFAULT_DB


@user_errors
def report(
    recipe: Annotated[
        str | None,
        typer.Option(help="Report this recipe. [default: the current one]", show_default=False),
    ] = None,
    run: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="Only this run: its attempts, and the paragraphs it worked.",
            show_default=False,
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Show examples of answers rejected (or requests failed) for this reason code, "
            "each with its original, answer and detail.",
            show_default=False,
        ),
    ] = None,
    show: Annotated[int, typer.Option(help="How many examples --reason shows.")] = 3,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare recipes side by side on the paragraphs they have all finished: the "
            "recipes named as arguments, or all.",
        ),
    ] = False,
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Recipes to compare (with --compare).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Summarise the job: paragraphs by status, rejection reasons, attempts, tokens and runs.

    It shows one recipe (the current one unless --recipe) or one run (--run), examples of one rejection reason (--reason), or compares recipes (--compare).
    """
    from workbench.review.compare import compare as compare_recipes
    from workbench.review.compare import format_compare
    from workbench.review.examples import examples, format_examples
    from workbench.review.report import SKIPPED_SHOWN, format_report
    from workbench.review.report import report as report_data

    if names and not compare:
        raise WorkbenchError(
            f"recipe names as arguments go with --compare: --compare {' '.join(names)}"
        )
    from workbench.store.database import open_db

    with open_db(db) as database:
        if compare:
            comparison = compare_recipes(database, names or None)
            data, text = comparison.to_json(), format_compare(comparison)
        elif reason is not None:
            shown = examples(database, reason, show, recipe, run)
            data, text = shown.to_json(), format_examples(shown)
        else:
            summary = report_data(
                database, recipe, run_id=run, skipped=None if as_json else SKIPPED_SHOWN
            )
            data, text = summary.to_json(), format_report(summary)
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2) if as_json else text)
