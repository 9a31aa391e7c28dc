"""An old database migrated ends where a new one built from schema.sql starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from workbench.db import APPLICATION_ID, open_db
from workbench.ingest import identity_hash
from workbench.migrations import MIGRATIONS

V1 = Path(__file__).parent / "data" / "schema-v1.sql"


def make_v1(path: Path) -> None:
    """A database as the first release made it: schema-v1.sql, no migrations applied."""
    conn = sqlite3.connect(path)
    conn.executescript(V1.read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.executescript(
        """
        INSERT INTO sources VALUES (1, '/b.txt', 'b.txt', 'utf-8', 'h', 10, 2, 't', 't');
        INSERT INTO paragraphs VALUES (1, 1, 1, 'h1', 1, 'the original text', 3, 'succeeded', NULL);
        INSERT INTO runs VALUES (1, 't', 't', 'completed', 'u', 'm', '{}', NULL, 1, 'h');
        INSERT INTO attempts (id, paragraph_id, run_id, attempt_number, started_at, finished_at,
            latency_s, request, outcome, answer)
        VALUES (1, 1, 1, 1, 't', 't', 1.0, '{}', 'accepted', 'a paraphrase here');
        """
    )
    conn.commit()
    conn.close()


def shape(db: Database) -> dict:
    """Everything about the schema that matters: columns, indexes, views and their columns."""
    result = {}
    for name, kind in db.execute(
        "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall():
        if kind in ("table", "view"):
            result[name] = [tuple(row) for row in db.execute(f"PRAGMA table_xinfo('{name}')")]
        elif kind == "index":
            result[name] = [tuple(row) for row in db.execute(f"PRAGMA index_xinfo('{name}')")]
    return result


def test_every_step_has_a_docstring_and_runs_in_order():
    names = [m.name for m in MIGRATIONS._migrations]
    assert names == sorted(names)
    assert all(m.fn.__doc__ for m in MIGRATIONS._migrations)


def test_old_database_migrated_equals_fresh_one(tmp_path):
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    make_v1(old)
    with open_db(old) as migrated, open_db(fresh, create=True) as new:
        assert shape(migrated) == shape(new)
        assert migrated.execute("PRAGMA user_version").fetchone() == (
            1 + len(MIGRATIONS._migrations),
        )
        assert new.execute("PRAGMA user_version").fetchone() == (1 + len(MIGRATIONS._migrations),)
        assert [m.name for m in MIGRATIONS.applied(migrated)] == [
            m.name for m in MIGRATIONS.applied(new)
        ]


def test_migrated_data_still_exports(tmp_path, cli):
    old = tmp_path / "old.db"
    make_v1(old)
    result = cli("export", "--db", old, "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert "a paraphrase here\\n<bot>: the original text" in result.stdout


# --- a database made by workbench 0.1, before sections and one-space paragraphs ----------------

V0_1 = Path(__file__).parent / "data" / "v0.1"


def make_v0_1(folder: Path) -> Path:
    """The database workbench 0.1 made of tests/data/v0.1/*.txt (see ingested.sql), with the
    two files copied beside it and its sources pointing at the copies."""
    path = folder / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((V0_1 / "ingested.sql").read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    for name in ("chapters.txt", "prose.txt"):
        copy = folder / name
        copy.write_bytes((V0_1 / name).read_bytes())
        conn.execute("UPDATE sources SET path = ? WHERE name = ?", [str(copy.resolve()), name])
    conn.commit()
    conn.close()
    return path


def table(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def test_v0_1_database_migrated_equals_fresh_one(tmp_path):
    old = make_v0_1(tmp_path)
    with open_db(old) as migrated, open_db(tmp_path / "fresh.db", create=True) as new:
        assert shape(migrated) == shape(new)


def test_migration_respaces_and_rehashes_paragraphs_in_place(tmp_path):
    old = make_v0_1(tmp_path)
    before = table(old, "SELECT id, source_id, position, word_count, status FROM paragraphs")
    attempts = table(old, "SELECT * FROM attempts ORDER BY id")
    assert any("  " in text for (text,) in table(old, "SELECT text FROM paragraphs"))
    open_db(old).close()
    assert (
        table(old, "SELECT id, source_id, position, word_count, status FROM paragraphs") == before
    )
    assert table(old, "SELECT * FROM attempts ORDER BY id") == attempts
    assert len(attempts) == 5
    for text, sha256, section_id in table(old, "SELECT text, sha256, section_id FROM paragraphs"):
        assert "  " not in text
        assert sha256 == identity_hash(text)
        assert section_id is None
    assert table(old, "SELECT text FROM paragraphs WHERE id = 12") == [
        ("She laughed aloud. The sound went up into the rafters and came back to her changed.",)
    ]
    assert table(old, "SELECT name, format, boilerplate FROM sources ORDER BY id") == [
        ("chapters.txt", "txt", 0),
        ("prose.txt", "txt", 0),
    ]


def test_texts_that_differed_only_in_spacing_become_two_occurrences(tmp_path):
    old = tmp_path / "old.db"
    make_v1(old)
    conn = sqlite3.connect(old)
    conn.execute(
        "INSERT INTO paragraphs VALUES (2, 1, 2, 'h2', 1, 'the  original text', 3, 'pending', NULL)"
    )
    conn.commit()
    conn.close()
    open_db(old).close()
    assert table(old, "SELECT id, text, occurrence FROM paragraphs ORDER BY id") == [
        (1, "the original text", 1),
        (2, "the original text", 2),
    ]


def test_ingesting_again_after_the_upgrade_keeps_every_sent_paragraph(tmp_path, cli):
    old = make_v0_1(tmp_path)
    prose = cli("ingest", tmp_path / "prose.txt", "--db", old)
    assert prose.exit_code == 0, prose.stderr
    # Double spaces were made single by the migration: the same file adds and removes nothing.
    assert prose.stdout == (
        "prose.txt: 4 paragraphs (0 under 10 words); added 0 (0 to paraphrase, 0 filtered), "
        "4 already known\n"
    )
    ids = table(old, "SELECT id FROM paragraphs ORDER BY id")

    chapters = cli("ingest", tmp_path / "chapters.txt", "--db", old)
    assert chapters.exit_code == 0, chapters.stderr
    # The headings, stored as paragraphs by 0.1 and never sent, become sections; the verse,
    # sent and accepted, keeps its id and attempt and gets its line breaks back.
    assert chapters.stdout == (
        "chapters.txt: 4 paragraphs (0 under 10 words, 1 verse) in 2 sections; added 0 "
        "(0 to paraphrase, 0 filtered), 4 already known; 1 re-spaced; "
        "4 no longer paragraphs of the file, removed\n"
    )
    assert table(old, "SELECT id FROM paragraphs ORDER BY id") == [
        row for row in ids if row[0] not in (1, 2, 6, 7)
    ]
    assert table(
        old,
        "SELECT p.id, s.title, p.status, p.text FROM paragraphs p "
        "JOIN sections s ON s.id = p.section_id WHERE p.id = 4",
    ) == [
        (
            4,
            "CHAPTER I. THE WHEEL",
            "succeeded",
            "The wheel goes round, the wheel goes round,\nAnd grinds the corn to flour;\n"
            "The water falls, the water falls,\nAnd tells the passing hour.",
        )
    ]
    assert table(old, "SELECT count(*) FROM attempts") == [(5,)]
    again = cli("ingest", tmp_path / "chapters.txt", tmp_path / "prose.txt", "--db", old)
    assert [line.split("; added ")[1] for line in again.stdout.splitlines()] == [
        "0 (0 to paraphrase, 0 filtered), 4 already known",
        "0 (0 to paraphrase, 0 filtered), 4 already known",
    ]
    exported = cli("export", "--db", old, "-o", "-")
    assert exported.exit_code == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 5
    assert "  " not in exported.stdout
