"""Books: read a plain-text, Markdown or EPUB file into paragraphs and the sections they are in.

One reader per format, all returning a `Book`: the paragraphs in reading order, each with the
index of its section (the heading above it) or None, the sections themselves, and how many
paragraphs of Project Gutenberg licence text were left out. Headings are never paragraphs.
`read_book` picks the reader by file extension. Nothing here touches the database.

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
import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from workbench.errors import InputError

if TYPE_CHECKING:
    from lxml import etree
    from lxml.html import HtmlElement

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
            book = read_epub(data, options)
        else:
            text = decode_text(data, options.encoding)
            book = (read_markdown if kind == "md" else read_text)(text, options)
        if not book.paragraphs:
            raise Unreadable("is empty: it has no paragraphs")
    except Unreadable as e:
        raise InputError(f"{path} {e}") from None
    return book


def decode_text(data: bytes, encoding: str) -> str:
    """Decode a text file; refuse binary and mis-encoded bytes in plain words."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
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


def gutenberg_body(lines: list[str]) -> tuple[list[str], int]:
    """The lines between Project Gutenberg's START and END lines, and how many paragraphs lay
    outside them (the marker lines and the producers' credit included). A file without the
    markers comes back whole."""
    end = next((i for i, line in enumerate(lines) if _GUTENBERG_END.match(line)), len(lines))
    starts = [i for i, line in enumerate(lines[:end]) if _GUTENBERG_START.match(line)]
    start = starts[-1] + 1 if starts else 0
    if not starts and end == len(lines):
        return lines, 0
    body = lines[start:end]
    left_out = _count_blocks(lines[:start]) + _count_blocks(lines[end:])
    if starts:  # a credit is only boilerplate in a real Gutenberg file
        first = next((i for i, line in enumerate(body) if line.strip()), None)
        if first is not None and _GUTENBERG_CREDIT.match(body[first]):
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


class _Builder:
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
    out = _Builder()
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
    out = _Builder()
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            title = collapse_spaces(tokens[i + 1].content.replace("\n", " "))
            out.heading(Section(title, int(token.tag[1])))
        elif token.type == "paragraph_open":
            raw = tokens[i + 1].content.split("\n")
            # A line ending in two spaces or a backslash is a hard line break in Markdown.
            hard = [line.endswith("  ") or line.endswith("\\") for line in raw]
            block = [line[:-1] if line.endswith("\\") else line for line in raw]
            verse = is_verse(block, width) or any(hard[:-1])
            keep = [options.keep_line_breaks or is_verse(block, width) or h for h in hard]
            paragraph = join_lines(block, keep, keep_spacing=options.keep_spacing)
            out.paragraph(paragraph, verse=verse)
        # fences, HTML blocks and rules (`* * *`, `---`) are not prose: left out
    return Book("md", options.encoding, out.paragraphs, out.sections, boilerplate)


# --- EPUB -----------------------------------------------------------------------------------

# Encryption that is not DRM: the two schemes that obfuscate embedded fonts.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_RIGHTS_FILES = {
    "META-INF/rights.xml": "Adobe ADEPT",
    "META-INF/sinf.xml": "Apple FairPlay",
    "META-INF/license.lcpl": "Readium LCP",
}
_ENC = "{http://www.w3.org/2001/04/xmlenc#}"
_NO_DRM = "workbench cannot read it"

_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Elements that end the paragraph before them and start a new one (HTML's block elements).
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
    "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
_SKIPPED = {"head", "script", "style", "template", "svg", "math", "rt", "rp"}
# HTML collapses runs of its own whitespace (not the no-break space) into one space.
_HTML_SPACES = re.compile(r"[ \t\n\r\f]+")
_BR = "\x00"  # stands for <br> while HTML whitespace is collapsed (the parser drops real NULs)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def read_epub(data: bytes, options: ReadOptions) -> Book:
    """Read an EPUB 2 or 3: the spine's documents in order, the navigation document aside."""
    from ebooklib import epub  # imported here: only ingest of .epub pays for lxml and ebooklib
    from lxml import etree

    package = _check_archive(data)
    malformed = Unreadable(f"is not a valid EPUB (its package document {package} is malformed)")
    try:
        book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    except epub.EpubException as e:
        raise Unreadable(f"is not a valid EPUB ({e.msg})") from None
    except KeyError as e:
        detail = str(e.args[0]) if e.args else ""
        if detail.startswith("There is no item named"):  # the manifest names a missing file
            raise Unreadable(f"is not a valid EPUB ({detail})") from None
        raise malformed from None  # e.g. a namespace its <metadata> lacks
    except (zipfile.BadZipFile, zlib.error, EOFError, etree.LxmlError) as e:
        raise Unreadable(f"is not a valid EPUB ({e})") from None
    except (AttributeError, IndexError, TypeError, ValueError):
        # ebooklib walks the package document without checking it: a missing <metadata>,
        # <manifest> or <spine> surfaces as one of these.
        raise malformed from None
    toc_titles = _toc_titles(book.toc)
    out = _HtmlFlow(keep_boilerplate=options.keep_boilerplate)
    for idref, linear in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or isinstance(item, epub.EpubNav) or linear == "no":
            continue
        if "nav" in getattr(item, "properties", []) or not isinstance(item, epub.EpubHtml):
            continue
        entry = toc_titles.get(item.file_name)
        if not (item.content or b"").strip():
            continue
        try:
            body = _parse_html(item.content).find("body")
        except (etree.ParserError, etree.XMLSyntaxError) as e:
            raise Unreadable(f"is not a valid EPUB ({item.file_name}: {e})") from None
        if body is None:
            continue
        if entry and not _opens_with_heading(body):
            out.builder.heading(Section(entry[0], entry[1]))
        out.walk(body)
        out.flush()
    paragraphs, boilerplate = _cut_gutenberg(out.builder.paragraphs, options)
    return Book("epub", "utf-8", paragraphs, out.builder.sections, out.boilerplate + boilerplate)


def _check_archive(data: bytes) -> str:
    """Refuse, in plain words, what ebooklib would fail on obscurely or read as noise: not a
    zip, no container or package document, content encrypted by DRM. Returns the package
    document's name."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Unreadable("is not a valid EPUB (not a zip archive)") from None
    with archive:
        names = set(archive.namelist())
        for name, scheme in _RIGHTS_FILES.items():
            if name in names:
                raise Unreadable(f"is protected by DRM ({scheme}: {name}); {_NO_DRM}")
        encryption = _xml(archive, "META-INF/encryption.xml", parser)
        container = _xml(archive, "META-INF/container.xml", parser)
    if container is None:
        raise Unreadable("is not a valid EPUB (it has no META-INF/container.xml)")
    rootfiles = [
        element.get("full-path", "")
        for element in container.iter("{*}rootfile")
        if element.get("media-type") == "application/oebps-package+xml"
    ]
    if not rootfiles or rootfiles[0] not in names:
        missing = rootfiles[0] if rootfiles else "named in META-INF/container.xml"
        raise Unreadable(f"is not a valid EPUB (its package document {missing} is missing)")
    if encryption is not None:
        _refuse_encrypted(encryption)
    return rootfiles[0]


def _refuse_encrypted(encryption: etree._Element) -> None:
    """Encrypted fonts are only obfuscated; anything else encrypted is DRM."""
    for data_element in encryption.iter(f"{_ENC}EncryptedData"):
        method = data_element.find(f"{_ENC}EncryptionMethod")
        reference = data_element.find(f"{_ENC}CipherData/{_ENC}CipherReference")
        algorithm = method.get("Algorithm", "") if method is not None else ""
        if algorithm not in _FONT_OBFUSCATION:
            target = reference.get("URI", "?") if reference is not None else "?"
            raise Unreadable(
                f"is protected by DRM (META-INF/encryption.xml encrypts {target}); {_NO_DRM}"
            )


def _xml(archive: zipfile.ZipFile, name: str, parser: etree.XMLParser) -> etree._Element | None:
    """A small XML file of the archive, parsed; None when there is no such file."""
    from lxml import etree

    try:
        return etree.fromstring(archive.read(name), parser)
    except KeyError:
        return None
    except etree.XMLSyntaxError as e:
        raise Unreadable(f"is not a valid EPUB ({name}: {e})") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise Unreadable(f"is not a valid EPUB ({name} is damaged: {e})") from None


def _toc_titles(toc: Sequence[object], depth: int = 1) -> dict[str, tuple[str, int]]:
    """Document file name → (title, level) of its first table-of-contents entry."""
    titles: dict[str, tuple[str, int]] = {}
    for node in toc:
        entry, children = node if isinstance(node, tuple) else (node, [])
        href, title = getattr(entry, "href", ""), getattr(entry, "title", "")
        if href and title and title.strip():
            titles.setdefault(href.split("#")[0], (collapse_spaces(title), depth))
        for name, value in _toc_titles(children, depth + 1).items():
            titles.setdefault(name, value)
    return titles


def _parse_html(content: bytes) -> HtmlElement:
    """Parse an XHTML content document with lxml's forgiving HTML parser, in the encoding it
    declares (EPUB allows only UTF-8 and UTF-16; lxml alone would guess Latin-1)."""
    import lxml.html

    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        declared = _XML_ENCODING.match(content.lstrip(codecs.BOM_UTF8))
        encoding = declared[1].decode("ascii") if declared else "utf-8"
    try:
        parser = lxml.html.HTMLParser(encoding=encoding)
    except LookupError:
        parser = lxml.html.HTMLParser(encoding="utf-8")
    return lxml.html.document_fromstring(content, parser=parser)


def _tag(element: HtmlElement) -> str | None:
    """The element's lower-case local name; None for comments and processing instructions."""
    tag = element.tag
    if not isinstance(tag, str):
        return None
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _opens_with_heading(body: HtmlElement) -> bool:
    """Whether the first words of a document are in a heading."""

    def texts(element: HtmlElement, in_heading: bool) -> Iterator[tuple[str, bool]]:
        tag = _tag(element)
        if tag is None or tag in _SKIPPED:
            return
        in_heading = in_heading or tag in _HEADINGS
        yield element.text or "", in_heading
        for child in element:
            yield from texts(child, in_heading)
            yield child.tail or "", in_heading

    return next((heading for text, heading in texts(body, False) if text.strip()), False)


def _is_boilerplate(element: HtmlElement) -> bool:
    """Project Gutenberg's EPUBs wrap their licence in these."""
    classes = (element.get("class") or "").split()
    return element.get("id") in ("pg-header", "pg-footer") or "pg-boilerplate" in classes


class _HtmlFlow:
    """Turns a document's body into paragraphs: text runs between block elements."""

    def __init__(self, *, keep_boilerplate: bool) -> None:
        self.builder = _Builder()
        self.keep_boilerplate = keep_boilerplate
        self.buffer: list[str] = []
        self.in_boilerplate = 0
        self.boilerplate = 0

    def walk(self, element: HtmlElement) -> None:
        tag = _tag(element)
        if tag is None or tag in _SKIPPED:
            return
        if tag == "br":
            self.buffer.append(_BR)
            return
        if tag in _HEADINGS or tag == "hgroup":
            # <hgroup> holds a heading and its subtitle (<h2>I</h2><p>Title</p>): one section.
            self.flush()
            title = _heading_title(element)
            levels = [int(t[1]) for t in (_tag(e) for e in element.iter()) if t in _HEADINGS]
            if title and not self.in_boilerplate:
                self.builder.heading(Section(title, levels[0] if levels else 2))
            elif title:
                self.boilerplate += 1
            return
        boilerplate = not self.keep_boilerplate and _is_boilerplate(element)
        block = tag in _BLOCKS
        if block:
            self.flush()
        self.in_boilerplate += boilerplate
        self._text(element.text)
        for child in element:
            self.walk(child)
            self._text(child.tail)
        if block:
            self.flush()
        self.in_boilerplate -= boilerplate

    def _text(self, text: str | None) -> None:
        if text:
            self.buffer.append(text)

    def flush(self) -> None:
        """End the paragraph being gathered; a blank line inside it (two <br>) makes two."""
        text, self.buffer = "".join(self.buffer), []
        for chunk in re.split(r"\n *\n", _html_lines(text)):
            lines = [line for line in (collapse_spaces(line) for line in chunk.split("\n")) if line]
            if not lines:
                continue
            if self.in_boilerplate:
                self.boilerplate += 1
            else:
                self.builder.paragraph("\n".join(lines), verse=len(lines) > 1)


def _html_lines(text: str) -> str:
    """HTML's whitespace made one space; the <br> marks made line breaks."""
    return _HTML_SPACES.sub(" ", text).replace(_BR, "\n")


def _heading_title(element: HtmlElement) -> str:
    """A heading's text; its lines (<br>, or the elements of an <hgroup>) joined as
    "CHAPTER I. Title"."""
    parts: list[str] = []

    def gather(node: HtmlElement) -> None:
        tag = _tag(node)
        if tag is None or tag in _SKIPPED:
            return
        if tag == "br":
            parts.append(_BR)
            return
        block = tag in _BLOCKS or tag in _HEADINGS
        if block:
            parts.append(_BR)
        parts.append(node.text or "")
        for child in node:
            gather(child)
            parts.append(child.tail or "")
        if block:
            parts.append(_BR)

    gather(element)
    lines = [collapse_spaces(line) for line in _html_lines("".join(parts)).split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    section = Section(lines[0], 0)
    for line in lines[1:]:
        section = titled(section, line)
    return section.title


def _cut_gutenberg(paragraphs: list[Passage], options: ReadOptions) -> tuple[list[Passage], int]:
    """Leave out paragraphs outside Project Gutenberg's START and END lines, as in text."""
    if options.keep_boilerplate:
        return paragraphs, 0
    texts = [p.text for p in paragraphs]
    end = next((i for i, t in enumerate(texts) if _GUTENBERG_END.match(t)), len(texts))
    starts = [i for i, t in enumerate(texts[:end]) if _GUTENBERG_START.match(t)]
    start = starts[-1] + 1 if starts else 0
    if starts and start < end and _GUTENBERG_CREDIT.match(texts[start]):
        start += 1
    return paragraphs[start:end], start + len(texts) - end
