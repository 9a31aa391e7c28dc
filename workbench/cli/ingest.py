"""`workbench ingest`: books into paragraphs and sections."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.app import user_errors
from workbench.cli.options import (
    DbOption,
)
from workbench.errors import WorkbenchError
from workbench.ingest.book import DEFAULT_ENCODING
from workbench.ingest.sources import DEFAULT_MIN_WORDS, read_sources
from workbench.store.defaults import DEFAULT_DB


@user_errors
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Books (.txt, .md, .epub; any other file is read as text), or folders whose .txt, .md and .epub files are read in name order."
        ),
    ],
    min_words: Annotated[
        int, typer.Option(help="Paragraphs with fewer words are stored as filtered, never sent.")
    ] = DEFAULT_MIN_WORDS,
    encoding: Annotated[
        str, typer.Option(help="Encoding of .txt and .md files.")
    ] = DEFAULT_ENCODING,
    keep_line_breaks: Annotated[
        bool,
        typer.Option(
            "--keep-line-breaks",
            help="Keep every line break inside paragraphs, not only verse's.",
        ),
    ] = False,
    keep_boilerplate: Annotated[
        bool,
        typer.Option(
            "--keep-boilerplate",
            help="Keep Project Gutenberg's licence header and footer as paragraphs.",
        ),
    ] = False,
    keep_spacing: Annotated[
        bool,
        typer.Option(
            "--keep-spacing",
            help="Keep runs of spaces inside paragraphs instead of making them one.",
        ),
    ] = False,
    db: DbOption = Path(DEFAULT_DB),
) -> None:
    """Split books into paragraphs and sections, and store the paragraphs not seen before.

    Paragraphs are separated by blank lines (in EPUB, by block elements); headings such as CHAPTER V. become the section of the paragraphs under them. Ingesting a file again adds only its new paragraphs, so a file can grow between runs.
    """
    if min_words < 0:
        raise WorkbenchError("--min-words must be 0 or more")
    sources = read_sources(
        paths,
        encoding=encoding,
        keep_line_breaks=keep_line_breaks,
        keep_boilerplate=keep_boilerplate,
        keep_spacing=keep_spacing,
    )
    from workbench.ingest.storing import ingest as ingest_files
    from workbench.store.database import open_db

    with open_db(db, create=True) as database:
        results = ingest_files(database, sources, min_words=min_words)
    for result in results:
        typer.echo(result.describe(min_words))
