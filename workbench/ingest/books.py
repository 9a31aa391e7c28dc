"""Books: read a plain-text, Markdown or EPUB file into paragraphs and the sections they are in.

One reader per format, all returning a `Book`: the paragraphs in reading order, each with the
index of its section (the heading above it) or None, the sections themselves, and how many
paragraphs of Project Gutenberg licence text were left out. Headings are never paragraphs.
`read_book` picks the reader by file extension; the EPUB reader is workbench/epub.py. Nothing
here touches the database.

The rules, in the words of the README ("Supported inputs"):

- Plain text: paragraphs are separated by blank lines; hard-wrapped lines are joined with a
  space, unless most lines of the paragraph are much shorter than the file's wrap width (verse,
  a letter's closing), which keeps its line breaks. Lines such as `CHAPTER V.`, `Chapter 5`,
  `BOOK II`, `Letter 4`, `PART ONE` (with a title on the same line or the next) are headings.
- Markdown: CommonMark blocks (markdown-it-py); `#` and underlined headings are sections,
  emphasis stays as written, code blocks, HTML blocks, rules and front matter are left out.
- EPUB: the spine's documents in order (ebooklib), parsed with lxml's HTML parser; `<h1>`…`<h6>`
  and table-of-contents titles are sections, block elements are paragraphs, `<br>` is a line
  break.
- Project Gutenberg's header and footer (outside the `*** START OF …` / `*** END OF …` lines)
  are left out and counted, unless `keep_boilerplate`.
- Runs of spaces inside a paragraph become one space, unless `keep_spacing`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from workbench.errors import InputError

if TYPE_CHECKING:
    pass

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
            from workbench.ingest.epub import read_epub  # only ingest of .epub pays for lxml, ebooklib

            book = read_epub(data, options)
        else:
            text = decode_text(data, options.encoding)
            book = (read_markdown if kind == "md" else read_text)(text, options)
        if not book.paragraphs:
            raise Unreadable("is empty: it has no paragraphs")
    except Unreadable as e:
        raise InputError(f"{path} {e}") from None
    return book


def check_encoding(encoding: str) -> str:
    """The codec an --encoding names; InputError when it names none, or one that does not
    decode bytes to text (rot13, base64)."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    try:
        "".encode(codec)  # a codec of bytes to bytes refuses text (b"".decode lets it pass)
    except LookupError:
        raise InputError(f"{encoding!r} is not a text encoding") from None
    return codec


def decode_text(data: bytes, encoding: str) -> str:
    """Decode a text file; refuse binary and mis-encoded bytes in plain words."""
    codec = check_encoding(encoding)
    # NUL bytes mean binary, except in the wide encodings where they are half of most letters.
    if b"\x00" in data and not codec.startswith(("utf-16", "utf-32")):
        raise Unreadable("looks like a binary file, not text")
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        raise Unreadable(
            f"is not valid {encoding} (byte 0x{data[e.start]:02x} at offset {e.start}); "
            f"pass its encoding, e.g. --encoding cp1252"
        ) from None


# --- spacing and line breaks ----------------------------------------------------------------

# Spaces and tabs, and the other blanks of Unicode, but not the no-break space an author (or a
# typesetter of French) put there on purpose.
_SPACES = re.compile(r"[^\S\n\u00a0]+")
# A blank line is one holding only whitespace; any run of them separates paragraphs.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")

# A line is a verse line when it is shorter than this share of the file's wrap width. Prose
# wrapped at 70 columns fills its lines to 55 or more (a line breaks early only for a word
# longer than the room left); verse and a letter's closing lines stay well under.
VERSE_LINE_SHARE = 0.75
# The wrap width is this percentile of the lengths of the file's non-blank lines: in a
# hard-wrapped file most lines are full, in an unwrapped one most lines are whole paragraphs.
WRAP_PERCENTILE = 0.9
# Below this wrap width there is no telling verse from prose: every paragraph is joined.
MIN_WRAP_WIDTH = 40


def normalize_text(text: str) -> str:
    """Universal newlines, no BOM."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def collapse_spaces(line: str) -> str:
    """One space for every run of spaces, and none at either end."""
    return _SPACES.sub(" ", line).strip()


def wrap_width(lines: Sequence[str]) -> int:
    """The width a text file was hard-wrapped at, estimated from its line lengths."""
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, int(len(lengths) * WRAP_PERCENTILE))]


def is_verse(lines: Sequence[str], width: int) -> bool:
    """Whether a paragraph's lines are verse: at least half of them (the last one aside) are
    shorter than VERSE_LINE_SHARE of the wrap width."""
    if len(lines) < 2 or width < MIN_WRAP_WIDTH:
        return False
    body = [len(line.strip()) for line in lines[:-1]]
    short = sum(length < VERSE_LINE_SHARE * width for length in body)
    return 2 * short >= len(body)


def join_lines(lines: Sequence[str], breaks: Sequence[bool], *, keep_spacing: bool) -> str:
    """Join a paragraph's lines: `breaks[i]` keeps a line break after line i, else a space."""
    parts: list[str] = []
    for i, line in enumerate(lines):
        line = line.strip() if keep_spacing else collapse_spaces(line)
        if not line:
            continue
        if parts:
            parts.append("\n" if breaks[i - 1] else " ")
        parts.append(line)
    return "".join(parts)


def split_paragraphs(text: str, *, keep_line_breaks: bool = False) -> list[str]:
    """Split plain text on blank lines; join hard-wrapped lines (verse aside); one space a run."""
    book = read_text(text, ReadOptions(keep_line_breaks=keep_line_breaks, keep_boilerplate=True))
    return [p.text for p in book.paragraphs]


# --- Project Gutenberg ----------------------------------------------------------------------

# The line after which the book starts, and the one at which it ends. Older files end their
# header with the "small print" instead, and end the book with "End of Project Gutenberg's …".
_GUTENBERG_START = re.compile(
    r"^\s*(?:\*+\s*START OF (?:THE |THIS )?PROJECT GUTENBERG|\*END\*\s*THE SMALL PRINT)",
    re.IGNORECASE,
)
_GUTENBERG_END = re.compile(
    r"^\s*(?:\*+\s*)?END OF (?:THE |THIS )?PROJECT GUTENBERG", re.IGNORECASE
)
# The producers' credit that opens most books right after the START line.
_GUTENBERG_CREDIT = re.compile(
    r"^\s*(?:Produced by|This e-?text was produced by|E-?text prepared by|Transcribed by)\b",
    re.IGNORECASE,
)


def _count_blocks(lines: Sequence[str]) -> int:
    return sum(1 for chunk in _PARAGRAPH_BREAK.split("\n".join(lines)) if chunk.strip())


def gutenberg_bounds(texts: Sequence[str]) -> tuple[int, int, bool]:
    """Where the book lies among a file's lines (or an EPUB's paragraphs): the index after the
    last START line before the first END line (0 without one), the END line's index (the
    length without one), and whether there was a START line."""
    end = next((i for i, text in enumerate(texts) if _GUTENBERG_END.match(text)), len(texts))
    starts = [i for i, text in enumerate(texts[:end]) if _GUTENBERG_START.match(text)]
    return (starts[-1] + 1 if starts else 0), end, bool(starts)


def is_gutenberg_credit(text: str) -> bool:
    """Whether a line (or paragraph) is the producers' credit that opens most books."""
    return bool(_GUTENBERG_CREDIT.match(text))


def gutenberg_body(lines: list[str]) -> tuple[list[str], int]:
    """The lines between Project Gutenberg's START and END lines, and how many paragraphs lay
    outside them (the marker lines and the producers' credit included). A file without the
    markers comes back whole."""
    start, end, started = gutenberg_bounds(lines)
    if not started and end == len(lines):
        return lines, 0
    body = lines[start:end]
    left_out = _count_blocks(lines[:start]) + _count_blocks(lines[end:])
    if started:  # a credit is only boilerplate in a real Gutenberg file
        first = next((i for i, line in enumerate(body) if line.strip()), None)
        if first is not None and is_gutenberg_credit(body[first]):
            stop = next((i for i in range(first, len(body)) if not body[i].strip()), len(body))
            body = body[stop:]
            left_out += 1
    return body, left_out


# --- plain-text headings --------------------------------------------------------------------

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty"
)
_ORDINALS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last"
_NUMBER = (
    rf"(?:\d+|[IVXLCDM]+|[ivxlcdm]+"
    rf"|(?i:(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}))?|the\s+(?:{_ORDINALS})))"
)
_OUTER = "BOOK|Book|PART|Part|VOLUME|Volume"
_INNER = "CHAPTER|Chapter|LETTER|Letter|STAVE|Stave|CANTO|Canto"
# A heading line: a keyword in capitals or with a capital, a number, then either nothing, a
# title after punctuation (`CHAPTER I. The Period`, `BOOK II—THE GOLDEN THREAD`), or a title
# in capitals (`CHAPTER I THE FIRST`). "Chapter 5 of the report" is prose, not a heading.
_HEADING = re.compile(
    rf"^(?P<key>{_OUTER}|{_INNER})\s+(?P<number>{_NUMBER})\b"
    r"(?:\s*[.:]?\s*$|\s*[.:—–-]+\s*(?P<title>\S.*)$|\s+(?P<caps>[^a-z]*[A-Z][^a-z]*)$)"
)
_STANDALONE = re.compile(
    r"^(?:PREFACE|PROLOGUE|EPILOGUE|INTRODUCTION|FOREWORD|AFTERWORD|APPENDIX|CONTENTS"
    r"|Preface|Prologue|Epilogue|Introduction|Foreword|Afterword|Appendix|Contents"
    r"|[IVXLC]+)\.?$"
)
HEADING_MAX_WORDS = 12


def heading_of(line: str) -> tuple[Section, bool] | None:
    """The section a line opens, and whether it still wants a title; None for prose."""
    line = collapse_spaces(line)
    if len(line.split()) > HEADING_MAX_WORDS:
        return None
    match = _HEADING.match(line)
    if match:
        level = 1 if match["key"] in _OUTER.split("|") else 2
        return Section(line, level), not (match["title"] or match["caps"])
    if _STANDALONE.match(line):
        return Section(line, 2), True
    return None


def _is_title(line: str, *, capitals: bool) -> bool:
    """A short line that names a chapter: "Down the Rabbit-Hole", or, on a line of its own
    after a blank one, in capitals ("WHY THE PRINCESS HAS A STORY ABOUT HER")."""
    line = collapse_spaces(line)
    words = line.split()
    if not words or len(words) > HEADING_MAX_WORDS or line.endswith((",", ";")):
        return False
    if capitals:
        return any(c.isalpha() for c in line) and not any(c.islower() for c in line)
    return True


def titled(section: Section, title: str) -> Section:
    """A heading and its title as one: "CHAPTER I." + "The Period" → "CHAPTER I. The Period"."""
    head, title = section.title.rstrip(), collapse_spaces(title)
    joiner = " " if head.endswith((".", ":", "—", "–", "-")) else ". "
    return Section(head + joiner + title, section.level)


# --- plain text -----------------------------------------------------------------------------


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


# --- Markdown -------------------------------------------------------------------------------

# YAML front matter: `---` on the first line, `key: value` lines with no blank one among them,
# then `---` or `...`. A book that opens with a `---` scene break is not taken for it.
_FRONT_MATTER = re.compile(
    r"\A---[^\S\n]*\n[A-Za-z_][\w -]*:[^\n]*\n(?:[^\n]*\S[^\n]*\n)*?(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)"
)


def read_markdown(text: str, options: ReadOptions) -> Book:
    """Read Markdown: CommonMark blocks; headings are sections, emphasis is kept as written."""
    from markdown_it import MarkdownIt  # imported here: only ingest of .md pays for it

    text = _FRONT_MATTER.sub("", normalize_text(text), count=1)
    lines = text.split("\n")
    boilerplate = 0
    if not options.keep_boilerplate:
        lines, boilerplate = gutenberg_body(lines)
    width = wrap_width(lines)
    # Indented code blocks are off: books indent verse and quotations, not code.
    parser = MarkdownIt("commonmark").disable("code")
    tokens = parser.parse("\n".join(lines))
    out = Builder()
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = collapse_spaces(tokens[i + 1].content.replace("\n", " "))
            out.heading(Section(title, int(token.tag[1])))
        elif token.type == "paragraph_open":
            raw = tokens[i + 1].content.split("\n")
            # A line ending in two spaces or a backslash is a hard line break in Markdown.
            hard = [line.endswith("  ") or line.endswith("\\") for line in raw]
            block = [line[:-1] if line.endswith("\\") else line for line in raw]
            verse_lines = is_verse(block, width)
            verse = verse_lines or any(hard[:-1])
            keep = [options.keep_line_breaks or verse_lines or h for h in hard]
            paragraph = join_lines(block, keep, keep_spacing=options.keep_spacing)
            out.paragraph(paragraph, verse=verse)
        # fences, HTML blocks and rules (`* * *`, `---`) are not prose: left out
    return Book("md", options.encoding, out.paragraphs, out.sections, boilerplate)
