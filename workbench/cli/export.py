"""`workbench export`: the accepted pairs as training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    DbOption,
)
from workbench.dataset.formats import (
    BACKWARD,
    DEFAULT_AUTHOR,
    DEFAULT_INSTRUCTION,
    DEFAULT_SYSTEM,
    FORMATS,
    FORWARD,
)
from workbench.dataset.options import DEFAULT_FORMAT, DEFAULT_SEED, ExportOptions
from workbench.store.defaults import DEFAULT_DB


@user_errors
def export(
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="The file to write; - for stdout. With --split, NAME.train.jsonl and NAME.val.jsonl beside it. DIR/ (a name ending in /, or a folder): a dataset folder with train.jsonl (and validation.jsonl with --split) and README.md, a dataset card for the Hugging Face Hub. [default: output.jsonl; output.csv for --format csv]",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"One of: {', '.join(FORMATS)}. notebook is the notebook's JSONL; text the originals alone; dpo preference pairs (run --outputs 2 first).",
        ),
    ] = DEFAULT_FORMAT,
    recipe: Annotated[
        str | None,
        typer.Option(
            help="Export this recipe's pairs, or 'all' for every recipe's. [default: the current recipe]",
            show_default=False,
        ),
    ] = None,
    direction: Annotated[
        str,
        typer.Option(
            help=f"{FORWARD}: the original is the model's answer; {BACKWARD}: the paraphrase is, to train a model that writes plainly.",
        ),
    ] = FORWARD,
    author: Annotated[
        str,
        typer.Option(help="Author named in the prompt ({author} in --instruction and --system)."),
    ] = DEFAULT_AUTHOR,
    instruction: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Put before the text in the prompt; '' for none. Repeat it, or give @FILE (one a line), for several: each paragraph gets one, picked by a hash seeded with --seed. [default: {DEFAULT_INSTRUCTION[FORWARD]!r}, or {DEFAULT_INSTRUCTION[BACKWARD]!r}]",
            show_default=False,
        ),
    ] = None,
    system: Annotated[
        list[str] | None,
        typer.Option(
            help=f"System message of messages, sharegpt and alpaca; '' for none. Repeat it, or give @FILE, for several, as --instruction. [default: {DEFAULT_SYSTEM[FORWARD]!r}, or {DEFAULT_SYSTEM[BACKWARD]!r}]",
            show_default=False,
        ),
    ] = None,
    source_label: Annotated[
        str | None,
        typer.Option(help="metadata.source of every record. [default: the source file's name]"),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this source (file name or path); repeat for several.", show_default=False
        ),
    ] = None,
    section: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this section: a heading's title, or its label before the first full stop (CHAPTER IV); any case; repeat for several.",
            show_default=False,
        ),
    ] = None,
    min_words: Annotated[
        int | None,
        typer.Option(help="Only originals of this many words or more.", show_default=False),
    ] = None,
    max_words: Annotated[
        int | None,
        typer.Option(help="Only originals of this many words or fewer.", show_default=False),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="Write at most this many records, the first in source order.", show_default=False
        ),
    ] = None,
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe",
            help="Drop paragraphs whose original (its words) came earlier in the export.",
        ),
    ] = False,
    split: Annotated[
        float | None,
        typer.Option(
            help="Share of paragraphs for train, the rest to validation, e.g. 0.9: exactly round(0.9 × paragraphs written), half up; a paragraph's records stay together.",
            show_default=False,
        ),
    ] = None,
    split_by: Annotated[
        str | None,
        typer.Option(
            help="What --split keeps whole: paragraph, or section (whole chapters on one side). [default: paragraph]",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help=f"Seed of the hashes that choose --split's sides and each paragraph's --instruction and --system. [default: {DEFAULT_SEED}]",
            show_default=False,
        ),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            help="A tokenizer.json (or the model folder holding one): count prompt and target tokens with it, beside the estimate.",
            show_default=False,
        ),
    ] = None,
    license: Annotated[
        str | None,
        typer.Option(
            help="The dataset card's licence, a Hugging Face Hub identifier: cc0-1.0, cc-by-4.0, apache-2.0, other, … (with -o DIR/). [default: unknown]",
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(
            help="The dataset card's language, an ISO 639 code; repeat for several (with -o DIR/). [default: en]",
            show_default=False,
        ),
    ] = None,
    reviewed_only: Annotated[
        bool,
        typer.Option(
            "--reviewed-only",
            help="Only the pairs a person accepted by hand (`workbench review`, or browse).",
        ),
    ] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Write the accepted pairs as training data: the paraphrase is the prompt, the original the target.

    A recipe that wants several answers a paragraph (--outputs) gives a record for each. Records per file, lengths and what was left out are printed on stderr. -o DIR/ writes a dataset folder that the Hugging Face Hub and `datasets` read, with a card saying how it was made.
    """
    options = ExportOptions(
        output=output, format=format, recipe=recipe, direction=direction, author=author,
        instructions=tuple(instruction or ()), systems=tuple(system or ()),
        source_label=source_label, sources=tuple(source or ()), sections=tuple(section or ()),
        min_words=min_words, max_words=max_words, limit=limit, dedupe=dedupe, split=split,
        split_by=split_by, seed=seed, tokenizer=tokenizer, license=license,
        languages=tuple(language or ()), reviewed_only=reviewed_only,
    )  # fmt: skip
    checked = options.checked()  # a bad option is refused before the database is opened
    from workbench.dataset.export import export as export_pairs
    from workbench.store.database import open_db

    with open_db(db) as database:
        result = export_pairs(database, options, checked)
    typer.echo(result.wrote(), err=output == "-")
    for line in result.statistics():
        typer.echo(line, err=True)
