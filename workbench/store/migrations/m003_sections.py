"""Step m003: headings become sections instead of paragraphs."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
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
