"""The reader each file gets, by its extension: plain text, Markdown or EPUB."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import InputError
from workbench.ingest.book import FORMATS, Book, Format, ReadOptions, Unreadable
from workbench.ingest.encoding import decode_text
from workbench.ingest.markdown import read_markdown
from workbench.ingest.text import read_text


def format_of(path: Path) -> Format:
    """The reader a file gets: by its extension, plain text for any other."""
    return FORMATS.get(path.suffix.lower(), "txt")


def read_book(path: Path, data: bytes, options: ReadOptions) -> Book:
    """Read the bytes of the file at `path` with the reader of its format.

    Raises InputError, naming the file, when it is binary, mis-encoded, a corrupt or
    DRM-protected EPUB, or holds no paragraph.
    """
    try:
        kind = format_of(path)
        if kind == "epub":
            from workbench.ingest.epub import (
                read_epub,  # only ingest of .epub pays for lxml, ebooklib
            )

            book = read_epub(data, options)
        else:
            text = decode_text(data, options.encoding)
            book = (read_markdown if kind == "md" else read_text)(text, options)
        if not book.paragraphs:
            raise Unreadable("is empty: it has no paragraphs")
    except Unreadable as e:
        raise InputError(f"{path} {e}") from None
    return book
