"""Ingest: store the paragraphs of books read by workbench.ingest.books, and the sections they are in.

Splitting follows the notebook: paragraphs are separated by blank lines, stripped, and those
with fewer than --min-words words (`len(p.split())`) are kept aside as `filtered`. Reading the
formats (plain text, Markdown, EPUB) is workbench/books.py's job; this module owns identity:
a paragraph is (source, hash of its words, occurrence), so ingesting again adds only what is new.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from workbench.ingest.books import (
    DEFAULT_ENCODING,
    FORMATS,
    Format,
    ReadOptions,
    Section,
    check_encoding,
    read_book,
)
from workbench.store.database import utc_now
from workbench.errors import InputError

DEFAULT_MIN_WORDS = 10

__all__ = ["DEFAULT_ENCODING", "DEFAULT_MIN_WORDS", "ingest", "read_source", "read_sources"]


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


@dataclass(frozen=True)
class IngestResult:
    path: Path
    found: int  # paragraphs in the file
    short: int  # of which under --min-words
    added: int  # paragraphs not seen before
    added_pending: int  # of which will be paraphrased
    refiltered: int  # known paragraphs whose filtered/pending status changed with --min-words
    removed: int  # never-sent paragraphs no longer in the file, deleted
    sections: int = 0  # headings found
    boilerplate: int = 0  # Project Gutenberg licence paragraphs left out
    verse: int = 0  # paragraphs that kept their line breaks as verse
    respaced: int = 0  # known paragraphs whose spacing or line breaks changed, updated in place


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


def ingest(
    db: Database, sources: list[SourceText], *, min_words: int = DEFAULT_MIN_WORDS
) -> list[IngestResult]:
    """Store the paragraphs not stored yet of sources read by read_sources, in one transaction."""
    with db.atomic():
        return [_store(db, source, min_words) for source in sources]


def _store(db: Database, source: SourceText, min_words: int) -> IngestResult:
    now = utc_now()
    row = db.execute("SELECT id FROM sources WHERE path = ?", [str(source.path)]).fetchone()
    values = {
        "path": str(source.path),
        "name": source.path.name,
        "encoding": source.encoding,
        "sha256": source.sha256,
        "min_words": min_words,
        "paragraph_count": len(source.paragraphs),
        "last_ingested_at": now,
        "format": source.format,
        "boilerplate": source.boilerplate,
    }
    if row:
        source_id = row[0]
        db["sources"].update(source_id, values)
    else:
        source_id = db["sources"].insert({**values, "first_ingested_at": now}).last_pk
    section_ids = _store_sections(db, source_id, source.sections)

    known = {
        (sha, occurrence): (paragraph_id, position, text, section_id)
        for paragraph_id, sha, occurrence, position, text, section_id in db.execute(
            "SELECT id, sha256, occurrence, position, text, section_id FROM paragraphs "
            "WHERE source_id = ?",
            [source_id],
        )
    }
    new_rows: list[dict[str, object]] = []
    moved, respaced, resectioned = [], [], []
    for p in source.paragraphs:
        section_id = None if p.section is None else section_ids[p.section]
        existing = known.get((p.sha256, p.occurrence))
        if existing is None:
            new_rows.append(
                {
                    "source_id": source_id,
                    "position": p.position,
                    "sha256": p.sha256,
                    "occurrence": p.occurrence,
                    "text": p.text,
                    "word_count": p.word_count,
                    "filtered": int(p.word_count < min_words),
                    "section_id": section_id,
                }
            )
            continue
        paragraph_id, position, text, old_section_id = existing
        if position != p.position:
            moved.append((p.position, paragraph_id))
        # Same words, other spacing or line breaks (--keep-spacing, verse now kept): the text
        # is updated in place, so the paragraph keeps its id, status and attempts.
        if text != p.text:
            respaced.append((p.text, paragraph_id))
        if old_section_id != section_id:
            resectioned.append((section_id, paragraph_id))
    db["paragraphs"].insert_all(new_rows, batch_size=500)
    conn = db.conn
    conn.executemany("UPDATE paragraphs SET position = ? WHERE id = ?", moved)
    conn.executemany("UPDATE paragraphs SET text = ? WHERE id = ?", respaced)
    conn.executemany("UPDATE paragraphs SET section_id = ? WHERE id = ?", resectioned)
    # Paragraphs edited out of the file are forgotten unless they were sent: attempts are history.
    # Those kept are in no section any more.
    present = {(p.sha256, p.occurrence) for p in source.paragraphs}
    removed = 0
    for key, (paragraph_id, *_) in known.items():
        if key not in present:
            removed += db.execute(
                "DELETE FROM paragraphs WHERE id = ? "
                "AND NOT EXISTS (SELECT 1 FROM attempts WHERE paragraph_id = ?)",
                [paragraph_id, paragraph_id],
            ).rowcount
            db.execute(
                "UPDATE paragraphs SET section_id = NULL WHERE id = ? AND section_id IS NOT NULL",
                [paragraph_id],
            )
    db.execute(
        "DELETE FROM sections WHERE source_id = ? AND position > ?",
        [source_id, len(source.sections)],
    )
    # A different --min-words re-sorts paragraphs that were never sent.
    refiltered = db.execute(
        """
        UPDATE paragraphs SET filtered = word_count < :min_words
        WHERE source_id = :source_id
          AND filtered != (word_count < :min_words)
          AND NOT EXISTS (SELECT 1 FROM attempts WHERE paragraph_id = paragraphs.id)
        """,
        {"min_words": min_words, "source_id": source_id},
    ).rowcount
    return IngestResult(
        path=source.path,
        found=len(source.paragraphs),
        short=sum(p.word_count < min_words for p in source.paragraphs),
        added=len(new_rows),
        added_pending=sum(not r["filtered"] for r in new_rows),
        refiltered=refiltered,
        removed=removed,
        sections=len(source.sections),
        boilerplate=source.boilerplate,
        verse=sum(p.verse for p in source.paragraphs),
        respaced=len(respaced),
    )


def _store_sections(db: Database, source_id: int, sections: Iterable[Section]) -> list[int]:
    """Make the source's sections those given, by position: a heading renamed or moved updates
    the row in place, so ingesting the same file again changes nothing. Rows past the last
    position are deleted by the caller once no paragraph points at them. Returns the ids."""
    existing = {
        position: (section_id, title, level)
        for section_id, position, title, level in db.execute(
            "SELECT id, position, title, level FROM sections WHERE source_id = ?", [source_id]
        )
    }
    ids = []
    for position, section in enumerate(sections, start=1):
        row = existing.get(position)
        if row is None:
            ids.append(
                db["sections"]
                .insert(
                    {
                        "source_id": source_id,
                        "position": position,
                        "title": section.title,
                        "level": section.level,
                    }
                )
                .last_pk
            )
            continue
        section_id, title, level = row
        if (title, level) != (section.title, section.level):
            db.execute(
                "UPDATE sections SET title = ?, level = ? WHERE id = ?",
                [section.title, section.level, section_id],
            )
        ids.append(section_id)
    return ids
