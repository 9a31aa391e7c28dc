"""Step m007: full-text search over paragraphs and answers."""

from __future__ import annotations

from sqlite_utils import Database

from workbench.store.sql import sql_statements


def migrate(db: Database) -> None:
    """Full-text search over paragraphs and answers, for Datasette's search box: the FTS5 tables
    of sqlite-utils' enable_fts(), filled from what is stored, and triggers that keep them in
    step only when a text changes (sqlite-utils' own fire on any update, and judging every
    answer again updates every row)."""
    db.table("paragraphs").enable_fts(["text"], fts_version="FTS5", create_triggers=False)
    db.table("attempts").enable_fts(["cleaned"], fts_version="FTS5", create_triggers=False)
    for statement in sql_statements(M007_TRIGGERS):
        db.execute(statement)


M007_TRIGGERS = """
CREATE TRIGGER paragraphs_fts_insert AFTER INSERT ON paragraphs
BEGIN
    INSERT INTO paragraphs_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER paragraphs_fts_delete AFTER DELETE ON paragraphs
BEGIN
    INSERT INTO paragraphs_fts (paragraphs_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER paragraphs_fts_update AFTER UPDATE OF text ON paragraphs
BEGIN
    INSERT INTO paragraphs_fts (paragraphs_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO paragraphs_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER attempts_fts_insert AFTER INSERT ON attempts
BEGIN
    INSERT INTO attempts_fts (rowid, cleaned) VALUES (new.id, new.cleaned);
END;
CREATE TRIGGER attempts_fts_delete AFTER DELETE ON attempts
BEGIN
    INSERT INTO attempts_fts (attempts_fts, rowid, cleaned) VALUES ('delete', old.id, old.cleaned);
END;
CREATE TRIGGER attempts_fts_update AFTER UPDATE OF cleaned ON attempts
BEGIN
    INSERT INTO attempts_fts (attempts_fts, rowid, cleaned) VALUES ('delete', old.id, old.cleaned);
    INSERT INTO attempts_fts (rowid, cleaned) VALUES (new.id, new.cleaned);
END;
"""
