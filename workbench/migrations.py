"""Named, ordered steps that bring a database made by an older workbench up to schema.sql.

A new database is built from schema.sql and every step here is recorded as applied, so a step
only ever runs on a database created before it existed. Never edit a step once released: add a
new one, and update schema.sql to match (tests/test_migrations.py proves the two roads agree).
"""

from __future__ import annotations

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
