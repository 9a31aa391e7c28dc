"""Sources: the files named (a folder's books in name order) read into paragraphs with identities.

Splitting follows the notebook: paragraphs are separated by blank lines, stripped, and those
with fewer than min_words words (`len(p.split())`) are kept aside as `filtered`. Reading the
formats is the readers' job (readers.py); this module owns identity: a paragraph is (source,
hash of its words, occurrence), so ingesting again adds only what is new.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError
from workbench.ingest.book import DEFAULT_ENCODING, FORMATS, Format, ReadOptions, Section
from workbench.ingest.encoding import check_encoding
from workbench.ingest.readers import read_book

DEFAULT_MIN_WORDS = 10  # the notebook's: shorter paragraphs are stored as filtered, never sent


def identity_hash(text: str) -> str:
    """The hash that identifies a paragraph: of its words with one space between them, so that
    spacing and line breaks alone (--keep-spacing, verse kept or joined) never make a new one."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Paragraph:
    position: int  # 1-based place in the file
    text: str
    sha256: str  # identity_hash(text)
    occurrence: int  # n-th paragraph with this identity in the file
    section: int | None = None  # index into SourceText.sections
    verse: bool = False

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class SourceText:
    path: Path
    encoding: str
    sha256: str
    paragraphs: list[Paragraph]
    format: Format = "txt"
    sections: tuple[Section, ...] = ()
    boilerplate: int = 0  # Project Gutenberg licence paragraphs left out


def source_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand the PATH arguments: a file stands for itself, a folder for its .txt, .md and .epub
    files, sorted by name (hidden ones, such as macOS's ._book.epub, are not books)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in FORMATS and not p.name.startswith(".") and p.is_file()
            )
            if not found:
                raise InputError(f"{path} has no .txt, .md or .epub files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise InputError(f"{path} is not a regular file")
        else:
            raise InputError(f"{path} does not exist")
    return list(dict.fromkeys(p.resolve() for p in files))


def read_source(
    path: Path,
    *,
    encoding: str = DEFAULT_ENCODING,
    keep_line_breaks: bool = False,
    keep_boilerplate: bool = False,
    keep_spacing: bool = False,
) -> SourceText:
    """Read and split one file; refuse binary, mis-encoded, corrupt and empty files in plain
    words."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    options = ReadOptions(encoding, keep_line_breaks, keep_boilerplate, keep_spacing)
    book = read_book(path, data, options)
    seen: Counter[str] = Counter()
    paragraphs = []
    for position, passage in enumerate(book.paragraphs, start=1):
        digest = identity_hash(passage.text)
        seen[digest] += 1
        paragraphs.append(
            Paragraph(position, passage.text, digest, seen[digest], passage.section, passage.verse)
        )
    return SourceText(
        path,
        book.encoding,
        hashlib.sha256(data).hexdigest(),
        paragraphs,
        book.format,
        tuple(book.sections),
        book.boilerplate,
    )


def read_sources(
    paths: Iterable[str | Path],
    *,
    encoding: str = DEFAULT_ENCODING,
    keep_line_breaks: bool = False,
    keep_boilerplate: bool = False,
    keep_spacing: bool = False,
) -> list[SourceText]:
    """Read and check every file named, before anything is written anywhere."""
    check_encoding(encoding)  # a bad --encoding is an error even when only EPUBs are read
    return [
        read_source(
            path,
            encoding=encoding,
            keep_line_breaks=keep_line_breaks,
            keep_boilerplate=keep_boilerplate,
            keep_spacing=keep_spacing,
        )
        for path in source_files(paths)
    ]
