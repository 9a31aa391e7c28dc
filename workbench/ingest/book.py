"""A book as every reader returns it: paragraphs in reading order, the sections they are in.

One reader per format (text.py, markdown.py, epub.py), all returning a `Book`: each paragraph
with the index of its section (the heading above it) or None, the sections themselves, and how
many paragraphs of Project Gutenberg licence text were left out. Headings are never paragraphs.
Nothing in the readers touches the database (storing.py does). The rules for each format are in
docs/inputs.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from workbench.ingest.lines import collapse_spaces

Format = Literal["txt", "md", "epub"]


DEFAULT_ENCODING = "utf-8"


# The extensions a folder is searched for, and the reader each one gets. Any other file named
# on the command line is read as plain text.
FORMATS: dict[str, Format] = {".txt": "txt", ".md": "md", ".markdown": "md", ".epub": "epub"}


@dataclass(frozen=True)
class ReadOptions:
    """How to read: the `ingest` options that change what a paragraph is."""

    encoding: str = DEFAULT_ENCODING  # of .txt and .md files (an EPUB declares its own)
    keep_line_breaks: bool = False  # keep every line break inside paragraphs, verse or not
    keep_boilerplate: bool = False  # keep Project Gutenberg's licence header and footer
    keep_spacing: bool = False  # keep runs of spaces inside lines


@dataclass(frozen=True)
class Section:
    """A heading: the title of the paragraphs that follow it, up to the next heading."""

    title: str
    level: int  # 1 outermost (BOOK, PART, `#`, <h1>), larger numbers nest deeper


@dataclass(frozen=True)
class Passage:
    """One paragraph as read from the book."""

    text: str
    section: int | None  # index into Book.sections; None before the first heading
    verse: bool = False  # kept its line breaks because its lines are verse (or <br>, or `  `)


@dataclass(frozen=True)
class Book:
    """What a reader returns: the same shape for every format."""

    format: Format
    encoding: str
    paragraphs: list[Passage]
    sections: list[Section] = field(default_factory=list)
    boilerplate: int = 0  # Project Gutenberg licence paragraphs left out


class Unreadable(Exception):
    """Why a file cannot be read, phrased to follow its name: "is empty: it has no paragraphs"."""


def titled(section: Section, title: str) -> Section:
    """A heading and its title as one: "CHAPTER I." + "The Period" → "CHAPTER I. The Period"."""
    head, title = section.title.rstrip(), collapse_spaces(title)
    joiner = " " if head.endswith((".", ":", "—", "–", "-")) else ". "
    return Section(head + joiner + title, section.level)


class Builder:
    """Collects paragraphs and sections in reading order."""

    def __init__(self) -> None:
        self.paragraphs: list[Passage] = []
        self.sections: list[Section] = []
        self.untitled = False  # the last section was only "CHAPTER I": a title may follow

    def heading(self, section: Section, *, untitled: bool = False) -> None:
        self.sections.append(section)
        self.untitled = untitled

    def retitle(self, title: str) -> None:
        self.sections[-1] = titled(self.sections[-1], title)
        self.untitled = False

    def paragraph(self, text: str, *, verse: bool = False) -> None:
        if text:
            section = len(self.sections) - 1 if self.sections else None
            self.paragraphs.append(Passage(text, section, verse))
            self.untitled = False
