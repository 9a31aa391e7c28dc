"""Storing what was read: new paragraphs added, known ones kept with their attempts, sections.

A file ingested again adds only paragraphs it has not seen (by identity: source, hash of its
words, occurrence); a paragraph whose spacing alone changed is updated in place; a paragraph no
longer in the file is removed only if it was never sent. Headings are matched by position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from workbench.ingest.book import Section
from workbench.ingest.sources import DEFAULT_MIN_WORDS, SourceText
from workbench.store.times import utc_now
from workbench.store.transactions import transaction


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

    def describe(self, min_words: int) -> str:
        """One line for people: what the file held and what changed in the job."""
        return (
            f"{self.path.name}: {self.found:,} paragraphs ({self.short:,} under {min_words} words"
            + (f", {self.verse:,} verse" if self.verse else "")
            + ")"
            + (f" in {self.sections:,} sections" if self.sections else "")
            + (
                f"; {self.boilerplate:,} boilerplate paragraphs left out"
                if self.boilerplate
                else ""
            )
            + f"; added {self.added:,} ({self.added_pending:,} to paraphrase, "
            f"{self.added - self.added_pending:,} filtered), {self.found - self.added:,} "
            "already known"
            + (f"; {self.respaced:,} re-spaced" if self.respaced else "")
            + (f"; {self.refiltered:,} re-sorted by --min-words" if self.refiltered else "")
            + (
                f"; {self.removed:,} no longer paragraphs of the file, removed"
                if self.removed
                else ""
            )
        )


def ingest(
    db: Database, sources: list[SourceText], *, min_words: int = DEFAULT_MIN_WORDS
) -> list[IngestResult]:
    """Store the paragraphs not stored yet of sources read by read_sources, in one transaction."""
    with transaction(db):
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
        db.table("sources").update(source_id, values)
    else:
        source_id = db.table("sources").insert({**values, "first_ingested_at": now}).last_pk
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
    db.table("paragraphs").insert_all(new_rows, batch_size=500)
    conn = db.conn
    conn.executemany("UPDATE paragraphs SET position = ? WHERE id = ?", moved)
    conn.executemany("UPDATE paragraphs SET text = ? WHERE id = ?", respaced)
    conn.executemany("UPDATE paragraphs SET section_id = ? WHERE id = ?", resectioned)
    # Paragraphs edited out of the file are forgotten unless they were sent (attempts are
    # history) or are being worked (claimed by a run or a batch). Those kept are in no section.
    present = {(p.sha256, p.occurrence) for p in source.paragraphs}
    removed = 0
    for key, (paragraph_id, *_) in known.items():
        if key not in present:
            removed += db.execute(
                "DELETE FROM paragraphs WHERE id = ? "
                "AND NOT EXISTS (SELECT 1 FROM attempts WHERE paragraph_id = ?) "
                "AND NOT EXISTS (SELECT 1 FROM claims WHERE paragraph_id = ?)",
                [paragraph_id, paragraph_id, paragraph_id],
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
            cursor = db.execute(
                "INSERT INTO sections (source_id, position, title, level) VALUES (?, ?, ?, ?)",
                [source_id, position, section.title, section.level],
            )
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
            continue
        section_id, title, level = row
        if (title, level) != (section.title, section.level):
            db.execute(
                "UPDATE sections SET title = ?, level = ? WHERE id = ?",
                [section.title, section.level, section_id],
            )
        ids.append(section_id)
    return ids
