"""Step m005: the pairs view says where each paragraph is in its book."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """The pairs view says where each paragraph is in its book: its source's id, its section
    (id and heading title) and the original's word count, after the columns it had. `export`
    filters on them (--source, --section, --min-words) and writes the section in the metadata
    of its formats; Datasette can facet pairs by section. Its inner query now reads only the
    attempts columns it uses, not every request and response body."""
    db.execute("DROP VIEW pairs")
    db.execute(
        """
        CREATE VIEW pairs AS
        SELECT
            p.id             AS paragraph_id,
            s.name           AS source,
            p.position       AS position,
            r.name           AS recipe,
            a.cleaned        AS paraphrase,
            p.text           AS original,
            a.id             AS attempt_id,
            a.run_id         AS run_id,
            a.recipe_id      AS recipe_id,
            a.attempt_number AS attempt_number,
            p.source_id      AS source_id,
            p.section_id     AS section_id,
            c.title          AS section,
            p.word_count     AS word_count
        FROM (
            SELECT id, paragraph_id, recipe_id, run_id, attempt_number, cleaned, row_number() OVER (
                PARTITION BY paragraph_id, recipe_id ORDER BY attempt_number
            ) AS nth
            FROM attempts WHERE outcome = 'accepted'
        ) a
        JOIN paragraphs p ON p.id = a.paragraph_id
        JOIN sources s ON s.id = p.source_id
        JOIN recipes r ON r.id = a.recipe_id
        LEFT JOIN sections c ON c.id = p.section_id
        WHERE a.nth <= r.outputs
        ORDER BY s.id, p.position, p.id, r.id, a.attempt_number
        """
    )
