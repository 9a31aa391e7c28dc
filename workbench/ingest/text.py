"""Reading plain text (a Project Gutenberg .txt among others): paragraphs split on blank lines."""

from __future__ import annotations

from workbench.ingest.book import Book, Builder, ReadOptions, titled
from workbench.ingest.gutenberg import gutenberg_body
from workbench.ingest.headings import _is_title, heading_of
from workbench.ingest.lines import (
    _PARAGRAPH_BREAK,
    is_verse,
    join_lines,
    normalize_text,
    wrap_width,
)


def read_text(text: str, options: ReadOptions) -> Book:
    """Read plain text (a Project Gutenberg .txt among others)."""
    lines = normalize_text(text).split("\n")
    boilerplate = 0
    if not options.keep_boilerplate:
        lines, boilerplate = gutenberg_body(lines)
    width = wrap_width(lines)
    out = Builder()
    for chunk in _PARAGRAPH_BREAK.split("\n".join(lines)):
        block = [line for line in chunk.strip().split("\n") if line.strip()]
        if not block:
            continue
        if out.untitled and len(block) == 1 and _is_title(block[0], capitals=True):
            out.retitle(block[0])
            continue
        found = heading_of(block[0])
        if found:
            section, untitled = found
            if len(block) == 1:
                out.heading(section, untitled=untitled)
                continue
            if untitled:  # "CHAPTER I" with more lines under it, no blank line between
                if len(block) == 2 and _is_title(block[1], capitals=False):
                    out.heading(titled(section, block[1]))
                    continue
                out.heading(section)
                block = block[1:]
        verse = is_verse(block, width)
        if options.keep_line_breaks and options.keep_spacing:
            # as the notebook kept them: the paragraph's lines exactly, indentation included
            paragraph = "\n".join(block).strip()
        else:
            keep = options.keep_line_breaks or verse
            paragraph = join_lines(block, [keep] * len(block), keep_spacing=options.keep_spacing)
        out.paragraph(paragraph, verse=verse)
    return Book("txt", options.encoding, out.paragraphs, out.sections, boilerplate)


def split_paragraphs(text: str, *, keep_line_breaks: bool = False) -> list[str]:
    """Split plain text on blank lines; join hard-wrapped lines (verse aside); one space a run."""
    book = read_text(text, ReadOptions(keep_line_breaks=keep_line_breaks, keep_boilerplate=True))
    return [p.text for p in book.paragraphs]
