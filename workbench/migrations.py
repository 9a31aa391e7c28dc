"""Named, ordered steps that bring a database made by an older workbench up to schema.sql.

A new database is built from schema.sql and every step here is recorded as applied, so a step
only ever runs on a database created before it existed. Never edit a step once released: add a
new one, and update schema.sql to match (tests/test_migrations.py proves the two roads agree).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("workbench")


def known_steps() -> set[str]:
    """The names of the steps this version of workbench knows."""
    return {migration.name for migration in MIGRATIONS._migrations}


def schema_version(db: Database) -> int:
    """1 for the first released schema, plus one per applied step."""
    return 1 + len(MIGRATIONS.applied(db))


@MIGRATIONS()
def m001_attempts_cleaned(db: Database) -> None:
    """Keep the cleaned answer beside the raw one: validation and export use the cleaned text
    (reasoning blocks and wrapping quotes removed), the audit keeps what the server sent."""
    db.execute("ALTER TABLE attempts ADD COLUMN cleaned TEXT")
    # Before cleaners existed the answer was validated and exported as it came.
    db.execute("UPDATE attempts SET cleaned = answer WHERE outcome != 'failed'")
    db.execute("DROP VIEW pairs")
    db.execute(
        """
        CREATE VIEW pairs AS
        SELECT
            p.id         AS paragraph_id,
            s.name       AS source,
            p.position   AS position,
            a.cleaned    AS paraphrase,  -- the prompt of the pair
            p.text       AS original,    -- the target of the pair
            a.id         AS attempt_id,
            a.run_id     AS run_id
        FROM paragraphs p
        JOIN sources s ON s.id = p.source_id
        JOIN attempts a ON a.paragraph_id = p.id AND a.outcome = 'accepted'
        WHERE p.status = 'succeeded'
        ORDER BY s.id, p.position, p.id
        """
    )


@MIGRATIONS()
def m003_sections(db: Database) -> None:
    """Headings become sections instead of paragraphs: a `sections` table, the section of each
    paragraph, and on each source the reader it got (txt, md, epub) and how many Project
    Gutenberg licence paragraphs were left out. Older rows get no section and format 'txt' (all
    files were read as plain text) until their file is ingested again."""
    db.execute(
        """
        CREATE TABLE sections (
            id        INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            position  INTEGER NOT NULL,
            title     TEXT NOT NULL,
            level     INTEGER NOT NULL,
            UNIQUE (source_id, position)
        )
        """
    )
    db.execute("ALTER TABLE paragraphs ADD COLUMN section_id INTEGER REFERENCES sections(id)")
    db.execute("CREATE INDEX paragraphs_by_section ON paragraphs (section_id)")
    db.execute(
        "ALTER TABLE sources ADD COLUMN format TEXT NOT NULL DEFAULT 'txt' "
        "CHECK (format IN ('txt', 'md', 'epub'))"
    )
    db.execute("ALTER TABLE sources ADD COLUMN boilerplate INTEGER NOT NULL DEFAULT 0")


# Frozen copy of the spacing rule of m004 (the reader's rule may change; this step may not).
_M004_SPACES = re.compile(r"[^\S\n\u00a0]+")


@MIGRATIONS()
def m004_paragraph_spacing(db: Database) -> None:
    """Runs of spaces inside stored paragraphs become one space, as ingest now makes them, and a
    paragraph's identity hash is taken over its words alone (spacing and line breaks aside).
    Re-ingesting the file a database was made from then adds and removes nothing, and the same
    rows keep their ids, statuses and attempts. Word counts cannot change (text.split())."""
    updates = []
    for (source_id,) in db.execute("SELECT id FROM sources").fetchall():
        seen: Counter[str] = Counter()
        for paragraph_id, text in db.execute(
            "SELECT id, text FROM paragraphs WHERE source_id = ? ORDER BY position, id",
            [source_id],
        ).fetchall():
            lines = (_M004_SPACES.sub(" ", line).strip() for line in text.split("\n"))
            respaced = "\n".join(line for line in lines if line)
            digest = hashlib.sha256(" ".join(respaced.split()).encode("utf-8")).hexdigest()
            seen[digest] += 1  # two texts that differed only in spacing are now the same one
            updates.append((respaced, digest, seen[digest], paragraph_id))
    # Free every occurrence number first, so no update collides with the UNIQUE identity.
    db.execute("UPDATE paragraphs SET occurrence = -id")
    db.conn.executemany(
        "UPDATE paragraphs SET text = ?, sha256 = ?, occurrence = ? WHERE id = ?", updates
    )
