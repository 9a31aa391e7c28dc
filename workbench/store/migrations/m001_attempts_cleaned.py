"""Step m001: keep the cleaned answer beside the raw one."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
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
