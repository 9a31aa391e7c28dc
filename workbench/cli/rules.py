"""`workbench rules` and `workbench recipes`: how the job judges, and how it asks."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    BannedPhraseOption,
    BannedPhrasesFileOption,
    DbOption,
    DisableRuleOption,
    EmbeddingsModelOption,
    EnableRuleOption,
    JsonOption,
    JudgeModelOption,
    JudgeOption,
    MaxRatioOption,
    MaxRepetitionOption,
    MeaningModelOption,
    MinMeaningOption,
    MinRatioOption,
    NotebookRulesOption,
    SimilarityOption,
    rule_changes,
)
from workbench.store.defaults import DEFAULT_DB


@user_errors
def rules(
    banned_phrase: BannedPhraseOption = None,
    banned_phrases_file: BannedPhrasesFileOption = None,
    min_ratio: MinRatioOption = None,
    max_ratio: MaxRatioOption = None,
    similarity: SimilarityOption = None,
    max_repetition: MaxRepetitionOption = None,
    min_meaning: MinMeaningOption = None,
    meaning_model: MeaningModelOption = None,
    embeddings_model: EmbeddingsModelOption = None,
    judge: JudgeOption = None,
    judge_model: JudgeModelOption = None,
    disable_rule: DisableRuleOption = None,
    enable_rule: EnableRuleOption = None,
    notebook_rules: NotebookRulesOption = False,
    reset: Annotated[
        bool, typer.Option("--reset", help="Back to the default rules (before other options).")
    ] = False,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Show the job's rules, or change them and judge every stored answer again; nothing is sent.

    The rules are shared by every recipe. Each change is a new version; the verdicts it replaces are kept.
    """
    from workbench.engine.rules_change import change_rules
    from workbench.judge.versions import format_rules, job_rules

    changes = rule_changes(
        banned_phrase=banned_phrase, banned_phrases_file=banned_phrases_file,
        min_ratio=min_ratio, max_ratio=max_ratio, similarity=similarity,
        disable_rule=disable_rule, enable_rule=enable_rule, notebook_rules=notebook_rules,
        reset=reset, max_repetition=max_repetition, min_meaning=min_meaning,
        meaning_model=meaning_model,
        embeddings_model=embeddings_model, judge=judge, judge_model=judge_model,
    )  # fmt: skip
    from workbench.store.database import open_db

    with open_db(db) as database:
        if changes.asks_nothing:
            version = job_rules(database)
        else:
            settled = change_rules(database, changes)
            for line in settled.describe() or [f"rules unchanged (v{settled.version})"]:
                typer.echo(line, err=True)
            version = job_rules(database)
    if as_json:
        typer.echo(json.dumps(version.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(format_rules(version))


@user_errors
def recipes(
    name: Annotated[
        str | None, typer.Argument(help="Show this recipe whole.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """List the job's recipes (the current one marked *), or show one whole.

    A recipe is one way of asking: model, prompts, sampling, budgets. `workbench run --recipe NAME` makes or works one.
    """
    from workbench.engine.recipes import named_recipe
    from workbench.review.compare import format_recipes, recipe_summaries
    from workbench.store.database import open_db

    with open_db(db) as database:
        if name is not None:
            recipe = named_recipe(database, name)
            typer.echo(
                json.dumps(recipe.to_json(), ensure_ascii=False, indent=2)
                if as_json
                else "\n  ".join([f"recipe {recipe.name!r}", *recipe.describe()])
            )
            return
        summaries = recipe_summaries(database)
    if as_json:
        summary_json = [asdict(summary) for summary in summaries]
        typer.echo(json.dumps(summary_json, ensure_ascii=False, indent=2))
    else:
        typer.echo(format_recipes(summaries))
