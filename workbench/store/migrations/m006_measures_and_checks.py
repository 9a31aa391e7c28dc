"""Step m006: every measure a rule looks at kept on the attempt, and a `checks` table."""

from __future__ import annotations

from sqlite_utils import Database

from workbench.store.sql import sql_statements


def migrate(db: Database) -> None:
    """Every measure a rule looks at, kept on the attempt (repetition, meaning, the judge's
    verdict, beside length_ratio and similarity), and a `checks` table for the requests rules
    send about an answer (the judge, an embeddings model). Older answers have none of the new
    measures: judging them again, whenever the rules change, fills them in."""
    for column in ("repetition REAL", "meaning REAL", "judge TEXT CHECK (judge IN ('yes', 'no'))"):
        db.execute(f"ALTER TABLE attempts ADD COLUMN {column}")
    for statement in sql_statements(M006_SQL):
        db.execute(statement)


M006_SQL = """
CREATE INDEX attempts_awaiting ON attempts (recipe_id, paragraph_id)
WHERE outcome = 'accepted' AND (judge IS NULL OR meaning IS NULL);
CREATE TABLE checks (
    id INTEGER PRIMARY KEY,
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    kind TEXT NOT NULL CHECK (kind IN ('judge', 'embeddings')),
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    latency_s REAL NOT NULL,
    request TEXT NOT NULL,
    http_status INTEGER,
    response TEXT,
    result TEXT,
    error TEXT,
    error_detail TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER
);
CREATE INDEX checks_by_attempt ON checks (attempt_id);
CREATE INDEX checks_by_run ON checks (run_id, kind);
"""
