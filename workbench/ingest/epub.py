"""EPUB: read an EPUB 2 or 3 into the paragraphs and sections of a `Book` (see book.py).

The spine's documents in order (ebooklib), the navigation document and non-linear documents
aside, each parsed with lxml's forgiving HTML parser: `<h1>`…`<h6>` and table-of-contents titles
are sections, block elements are paragraphs, `<br>` is a line break. What ebooklib would fail on
obscurely (not a zip, no container, a damaged entry) or read as noise (DRM) is refused first,
in plain words. Imported only when an .epub is read: nothing else pays for lxml and ebooklib.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from workbench.ingest.book import Book, Builder, Passage, ReadOptions, Section, Unreadable, titled
from workbench.ingest.gutenberg import gutenberg_bounds, is_gutenberg_credit
from workbench.ingest.lines import collapse_spaces

if TYPE_CHECKING:
    from lxml import etree
    from lxml.html import HtmlElement

# Encryption that is not DRM: the two schemes that obfuscate embedded fonts.
_FONT_OBFUSCATION = {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
_RIGHTS_FILES = {
    "META-INF/rights.xml": "Adobe ADEPT",
    "META-INF/sinf.xml": "Apple FairPlay",
    "META-INF/license.lcpl": "Readium LCP",
}
_ENC = "{http://www.w3.org/2001/04/xmlenc#}"
_NO_DRM = "workbench cannot read it"
# EPUB allows stored and deflated entries; zipfile also reads these two (not Deflate64).
_READABLE_COMPRESSION = {
    zipfile.ZIP_STORED,
    zipfile.ZIP_DEFLATED,
    zipfile.ZIP_BZIP2,
    zipfile.ZIP_LZMA,
}

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
    from ebooklib import epub
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
        for entry in archive.infolist():
            if entry.flag_bits & 0x1:  # zipfile cannot read it without the password
                raise Unreadable(
                    f"is protected (its entry {entry.filename} is password-encrypted); {_NO_DRM}"
                )
            if entry.compress_type not in _READABLE_COMPRESSION:
                raise Unreadable(
                    f"is not a valid EPUB ({entry.filename} uses a compression Python cannot read)"
                )
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
    return str(rootfiles[0])


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
        self.builder = Builder()
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
    start, end, started = gutenberg_bounds(texts)
    if started and start < end and is_gutenberg_credit(texts[start]):
        start += 1
    return paragraphs[start:end], start + len(texts) - end
