"""EPUB files for tests, written with ebooklib (the library workbench reads them with)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ebooklib import epub


def make_epub(
    path: Path,
    chapters: list[tuple[str, str]],
    *,
    spine: list[int] | None = None,
    toc: bool = True,
) -> Path:
    """An EPUB 3 of `chapters` (TOC title, body HTML) with a nav document first in its spine;
    `spine` reorders the chapters (indexes into `chapters`)."""
    book = epub.EpubBook()
    book.set_identifier("workbench-test")
    book.set_title("A Test Book")
    book.set_language("en")
    items = []
    for number, (title, body) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=title, file_name=f"text/ch{number}.xhtml", lang="en")
        item.content = body
        book.add_item(item)
        items.append(item)
    if toc:
        book.toc = [epub.Link(item.file_name, title, f"ch{n}") for n, (item, (title, _)) in
                    enumerate(zip(items, chapters, strict=True), start=1)]  # fmt: skip
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    order = spine if spine is not None else range(len(items))
    book.spine = ["nav", *(items[i] for i in order)]
    epub.write_epub(str(path), book)
    return path


def add_file(path: Path, name: str, data: bytes | str) -> Path:
    """Add a file to an existing EPUB (rights and encryption files ebooklib does not write)."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, data)
    return path


def drop_file(path: Path, name: str) -> Path:
    """Rewrite an EPUB without one of its files."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            if info.filename != name:
                archive.writestr(info, data)
    return path


def mark_entry(path: Path, name: str, *, flags: int = 0, method: int | None = None) -> Path:
    """Set general-purpose flag bits (0x1: password-encrypted) or the compression method of one
    entry, in its local and central headers: what zipfile cannot write but other tools do."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        local = archive.getinfo(name).header_offset
    central = data.index(b"PK\x01\x02")  # the first central header
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    for flag_at, method_at in ((local + 6, local + 8), (central + 8, central + 10)):
        data[flag_at] |= flags
        if method is not None:
            data[method_at : method_at + 2] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


ENCRYPTION_XML = """<?xml version="1.0" encoding="UTF-8"?>
<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
            xmlns:enc="http://www.w3.org/2001/04/xmlenc#">
  <enc:EncryptedData>
    <enc:EncryptionMethod Algorithm="{algorithm}"/>
    <enc:CipherData><enc:CipherReference URI="{uri}"/></enc:CipherData>
  </enc:EncryptedData>
</encryption>
"""
AES = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
FONT_OBFUSCATION = "http://www.idpf.org/2008/embedding"
