"""Ingest: read text files, split them into paragraphs, store the new ones.

Splitting follows the notebook: paragraphs are separated by blank lines, stripped, and those
with fewer than --min-words words (`len(p.split())`) are kept aside as `filtered`.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from workbench.db import utc_now
from workbench.errors import InputError

DEFAULT_MIN_WORDS = 10
DEFAULT_ENCODING = "utf-8"

# A blank line is one holding only whitespace; any run of them separates paragraphs.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


@dataclass(frozen=True)
class Paragraph:
    position: int  # 1-based place in the file
    text: str
    sha256: str
    occurrence: int  # n-th paragraph with this exact text in the file

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class SourceText:
    path: Path
    encoding: str
    sha256: str
    paragraphs: list[Paragraph]


@dataclass(frozen=True)
class IngestResult:
    path: Path
    found: int  # paragraphs in the file
    short: int  # of which under --min-words
    added: int  # paragraphs not seen before
    added_pending: int  # of which will be paraphrased
    refiltered: int  # known paragraphs whose filtered/pending status changed with --min-words
    removed: int  # never-sent paragraphs no longer in the file, deleted


def split_paragraphs(text: str, *, keep_line_breaks: bool = False) -> list[str]:
    """Split on blank lines and strip; join hard-wrapped lines with spaces unless asked not to."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = []
    for chunk in _PARAGRAPH_BREAK.split(text):
        chunk = chunk.strip()
        if not chunk:
            continue
        if not keep_line_breaks:
            chunk = " ".join(line.strip() for line in chunk.split("\n") if line.strip())
        paragraphs.append(chunk)
    return paragraphs


def source_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand the PATH arguments: a file stands for itself, a folder for its *.txt files, sorted."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.txt") if p.is_file())
            if not found:
                raise InputError(f"{path} has no .txt files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise InputError(f"{path} is not a regular file")
        else:
            raise InputError(f"{path} does not exist")
    return list(dict.fromkeys(p.resolve() for p in files))


def read_source(path: Path, *, encoding: str, keep_line_breaks: bool = False) -> SourceText:
    """Read and split one file; refuse binary, mis-encoded and empty files in plain words."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    # NUL bytes mean binary, except in the wide encodings where they are half of most letters.
    if b"\x00" in data and not codec.startswith(("utf-16", "utf-32")):
        raise InputError(f"{path} looks like a binary file, not text")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path} is not valid {encoding} (byte 0x{data[e.start]:02x} at offset {e.start}); "
            f"pass its encoding, e.g. --encoding cp1252"
        ) from None
    texts = split_paragraphs(text, keep_line_breaks=keep_line_breaks)
    if not texts:
        raise InputError(f"{path} is empty: it has no paragraphs")
    seen: Counter[str] = Counter()
    paragraphs = []
    for position, paragraph in enumerate(texts, start=1):
        digest = hashlib.sha256(paragraph.encode("utf-8")).hexdigest()
        seen[digest] += 1
        paragraphs.append(Paragraph(position, paragraph, digest, seen[digest]))
    return SourceText(path, encoding, hashlib.sha256(data).hexdigest(), paragraphs)


def read_sources(
    paths: Iterable[str | Path],
    *,
    encoding: str = DEFAULT_ENCODING,
    keep_line_breaks: bool = False,
) -> list[SourceText]:
    """Read and check every file named, before anything is written anywhere."""
    return [
        read_source(path, encoding=encoding, keep_line_breaks=keep_line_breaks)
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
    }
    if row:
        source_id = row[0]
        db["sources"].update(source_id, values)
    else:
        source_id = db["sources"].insert({**values, "first_ingested_at": now}).last_pk

    known = {
        (sha, occurrence): (paragraph_id, position)
        for paragraph_id, sha, occurrence, position in db.execute(
            "SELECT id, sha256, occurrence, position FROM paragraphs WHERE source_id = ?",
            [source_id],
        )
    }
    new_rows, moved = [], []
    for p in source.paragraphs:
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
                }
            )
        elif existing[1] != p.position:
            moved.append((p.position, existing[0]))
    db["paragraphs"].insert_all(new_rows, batch_size=500)
    for position, paragraph_id in moved:
        db.execute("UPDATE paragraphs SET position = ? WHERE id = ?", [position, paragraph_id])
    # Paragraphs edited out of the file are forgotten unless they were sent: attempts are history.
    present = {(p.sha256, p.occurrence) for p in source.paragraphs}
    removed = 0
    for key, (paragraph_id, _) in known.items():
        if key not in present:
            removed += db.execute(
                "DELETE FROM paragraphs WHERE id = ? "
                "AND NOT EXISTS (SELECT 1 FROM attempts WHERE paragraph_id = ?)",
                [paragraph_id, paragraph_id],
            ).rowcount
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
    )
