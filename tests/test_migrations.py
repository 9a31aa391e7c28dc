"""An old database migrated ends where a new one built from schema.sql starts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from workbench.db import APPLICATION_ID, open_db
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
