"""`workbench review` and `workbench calibrate`: verdicts by hand, and what they say of the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import DbOption, JsonOption
from workbench.review.defaults import DEFAULT_MIN_REVIEWED
from workbench.store.defaults import DEFAULT_DB

SELECT_PANEL = "Selection: the answers to review in bulk, instead of ids"

ReviewerOption = Annotated[
    str | None,
    typer.Option(
        envvar="WORKBENCH_REVIEWER",
        help="Who gives the verdicts, as the reviews record it. [default: the OS user]",
        show_default=False,
    ),
]


@user_errors
def review(
    attempt_ids: Annotated[
        list[int] | None,
        typer.Argument(
            metavar="ATTEMPT_ID",
            help="The answers to review (attempt ids, as report, browse and export show them).",
            show_default=False,
        ),
    ] = None,
    accept: Annotated[bool, typer.Option("--accept", help="Accept the answers.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject the answers.")] = False,
    text: Annotated[
        str | None,
        typer.Option(
            help="Accept one answer repaired: this text is exported instead (the answer is kept).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="Why, in your words, kept with the verdict.")
    ] = None,
    reviewer: ReviewerOption = None,
    verdict: Annotated[
        str | None,
        typer.Option(
            help="Answers whose verdict in force is this: accepted or rejected.",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Answers rejected for this reason (a rule's code, or reviewer).",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(help="Answers of this recipe.", rich_help_panel=SELECT_PANEL),
    ] = None,
    run: Annotated[
        int | None,
        typer.Option("--run", help="Answers of this run.", rich_help_panel=SELECT_PANEL),
    ] = None,
    measure: Annotated[
        str | None,
        typer.Option(
            help="Answers with this measure (length_ratio, similarity, repetition, meaning) "
            "within --min and --max.",
            show_default=False,
            rich_help_panel=SELECT_PANEL,
        ),
    ] = None,
    low: Annotated[
        float | None,
        typer.Option("--min", help="The --measure at least this.", rich_help_panel=SELECT_PANEL),
    ] = None,
    high: Annotated[
        float | None,
        typer.Option("--max", help="The --measure at most this.", rich_help_panel=SELECT_PANEL),
    ] = None,
    include_reviewed: Annotated[
        bool,
        typer.Option(
            "--include-reviewed",
            help="Also review the answers a person already decided otherwise (a selection "
            "leaves them alone).",
            rich_help_panel=SELECT_PANEL,
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what it would change; write nothing.")
    ] = False,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Accept, reject or repair answers by hand: a person's verdict is in force over the rules'.

    A hand-accepted answer is a pair; a hand-rejected one is not, and its paragraph is pending again. Each verdict is kept as history; a later one supersedes it. Name answers by id, or select them in bulk.
    """
    from workbench.review.verdicts import (
        Decision,
        Selection,
        chosen,
        default_reviewer,
        verdict_of,
    )
    from workbench.review.verdicts import review as give_verdicts

    decision = Decision(verdict_of(accept, reject), reviewer or default_reviewer(), text, note)
    selection = Selection(verdict, reason, recipe, run, measure, low, high, include_reviewed)
    answers = chosen(attempt_ids or [], selection)
    from workbench.store.database import open_db

    with open_db(db) as database:
        result = give_verdicts(database, answers, decision, dry_run=dry_run)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo("\n".join(result.describe()))


@user_errors
def calibrate(
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Make the suggested thresholds the job's rules (those resting on enough "
            "reviewed answers): a new rules version, every answer judged again.",
        ),
    ] = False,
    min_reviewed: Annotated[
        int,
        typer.Option(help="Reviewed answers a suggestion must rest on to be trusted and applied."),
    ] = DEFAULT_MIN_REVIEWED,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Hold each rule's threshold against your verdicts by hand, and suggest the one that agrees best.

    Per rule: answers you accepted that it rejects, answers you rejected that it passes, the threshold with the fewest such disagreements, and how many reviewed answers that rests on.
    """
    from workbench.review.calibrate import apply as apply_suggestions
    from workbench.review.calibrate import calibrate as calibration_of
    from workbench.review.calibrate import format_calibration
    from workbench.store.database import open_db

    with open_db(db) as database:
        if apply:
            calibration, settled = apply_suggestions(database, min_reviewed)
        else:
            calibration, settled = calibration_of(database, min_reviewed), None
    if as_json:
        typer.echo(json.dumps(calibration.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_calibration(calibration))
    if settled is not None:
        for line in settled.describe() or [f"rules unchanged (v{settled.version})"]:
            typer.echo(line, err=True)
