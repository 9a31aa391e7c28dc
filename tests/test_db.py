"""Opening the database: create it from schema.sql, refuse files that are not ours, unchanged."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import pytest

import workbench.store.database
from tests.conftest import assert_one_line_error
from tests.conftest import db_snapshot as snapshot
from workbench.errors import DatabaseError
from workbench.store.database import APPLICATION_ID, SQLITE_HEADER, open_db, schema_sql
from workbench.store.migrations import MIGRATIONS

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "ingest": lambda book: ["ingest", book],
    "run": lambda book: ["run", "-q"],
    "report": lambda book: ["report"],
    "report --json": lambda book: ["report", "--json"],
    "export": lambda book: ["export"],
}


def schema_objects(conn: sqlite3.Connection) -> set[tuple[str, str, str, str]]:
    return set(
        conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND tbl_name != '_sqlite_migrations'"
        )
    )


def make_sqlite(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path


# --- files that are not ours --------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_a_text_file_is_not_a_sqlite_database(cli, book, tmp_path, command):
    notes = tmp_path / "notes.db"
    notes.write_text("Shopping list:\n- eggs\n- more eggs\n", encoding="utf-8")
    before = snapshot(notes)
    result = cli(*command(book), "--db", "notes.db")
    assert_one_line_error(result, "--db notes.db is not a SQLite database")
    assert snapshot(notes) == before
    assert not (tmp_path / "output.jsonl").exists()


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
def test_another_programs_sqlite_database_is_refused_unchanged(cli, book, tmp_path, command):
    other = make_sqlite(
        tmp_path / "other.db",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)",
        "INSERT INTO notes (body) VALUES ('keep me')",
    )
    before = snapshot(other)
    result = cli(*command(book), "--db", "other.db")
    assert_one_line_error(
        result, "--db other.db is a SQLite database but not a workbench one (tables: notes)"
    )
    assert snapshot(other) == before


def test_another_programs_database_lists_at_most_five_tables(cli, tmp_path):
    other = make_sqlite(tmp_path / "other.db", *(f"CREATE TABLE t{i} (x)" for i in range(1, 8)))
    before = snapshot(other)
    assert_one_line_error(
        cli("report", "--db", "other.db"),
        "--db other.db is a SQLite database but not a workbench one (tables: t1, t2, t3, t4, t5…)",
    )
    assert snapshot(other) == before


def test_another_programs_empty_database_with_its_own_application_id(cli, tmp_path):
    other = make_sqlite(tmp_path / "other.db", "PRAGMA application_id = 1234")
    before = snapshot(other)
    assert_one_line_error(
        cli("report", "--db", "other.db"),
        "--db other.db is a SQLite database but not a workbench one (tables: none)",
    )
    assert snapshot(other) == before


def test_a_corrupt_sqlite_file_is_refused(cli, tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(SQLITE_HEADER + b"\xff" * 200)
    before = snapshot(broken)
    result = cli("report", "--db", "broken.db")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --db broken.db cannot be used: ")
    assert result.stderr.count("\n") == 1
    assert snapshot(broken) == before


def test_open_db_refuses_a_folder(tmp_path):
    folder = tmp_path / "dbdir"
    folder.mkdir()
    # The library names the database; the command line names the option that gave it (--db).
    with pytest.raises(DatabaseError, match=r"^database .*dbdir is a folder, not a database file$"):
        open_db(folder, create=True)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("command", ["report", "export", "ingest"])
def test_a_folder_as_db_is_a_one_line_error(cli, book, tmp_path, command):
    (tmp_path / "dbdir").mkdir()
    args = [command, book] if command == "ingest" else [command]
    result = cli(*args, "--db", "dbdir")
    assert_one_line_error(result, "--db dbdir is a folder, not a database file")
    assert list((tmp_path / "dbdir").iterdir()) == []


@pytest.mark.parametrize("command", ["report", "export", "run"])
def test_a_missing_database_is_not_created(cli, tmp_path, command):
    args = {"report": ["report"], "export": ["export"], "run": ["run", "-q"]}[command]
    result = cli(*args, "--db", "missing.db")
    assert_one_line_error(result, "no database at missing.db: run `workbench ingest` first")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_default_database_comes_from_workbench_db(cli, tmp_path, db_path):
    # conftest points $WORKBENCH_DB at tmp_path/test.db
    result = cli("report")
    assert_one_line_error(result, f"no database at {db_path}: run `workbench ingest` first")
    assert not db_path.exists()


def test_an_empty_file_is_not_a_database_yet(cli, tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert_one_line_error(
        cli("report", "--db", "empty.db"), "no database at empty.db: run `workbench ingest` first"
    )
    assert empty.read_bytes() == b""


# --- a fresh database ---------------------------------------------------------------------------


def test_a_fresh_database_is_marked_and_complete(cli, book, db_path):
    assert cli("ingest", book).exit_code == 0
    gc.collect()
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert APPLICATION_ID == 0x57426E63
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1 + len(MIGRATIONS._migrations)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {
            (kind, name)
            for kind, name in conn.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        assert names == {
            ("table", "sources"),
            ("table", "sections"),
            ("table", "paragraphs"),
            ("table", "recipes"),
            ("table", "rules"),
            ("table", "runs"),
            ("table", "attempts"),
            ("table", "earlier_verdicts"),
            ("table", "progress"),
            ("table", "tallies"),
            ("table", "checks"),
            ("table", "reviews"),
            ("table", "run_servers"),
            ("table", "server_tallies"),
            ("table", "claims"),
            ("table", "batches"),
            ("table", "batch_requests"),
            *(
                ("table", f"{table}_fts{part}")
                for table in ("paragraphs", "attempts")
                for part in ("", "_data", "_idx", "_docsize", "_config")
            ),
            ("table", "_sqlite_migrations"),
            ("view", "pairs"),
            ("view", "paragraph_status"),
            ("view", "progress_status"),
            ("view", "verdicts"),
        }
    finally:
        conn.close()


def test_open_db_creates_only_when_asked(tmp_path):
    path = tmp_path / "new.db"
    with pytest.raises(DatabaseError, match="no database at"):
        open_db(path)
    assert not path.exists()
    db = open_db(path, create=True)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    db.close()
    assert path.read_bytes().startswith(SQLITE_HEADER)


def test_the_schema_is_schema_sql(tmp_path):
    assert schema_sql() == (REPO / "schema.sql").read_text(encoding="utf-8")
    expected = sqlite3.connect(":memory:")
    expected.executescript((REPO / "schema.sql").read_text(encoding="utf-8"))
    db = open_db(tmp_path / "new.db", create=True)
    try:
        objects = schema_objects(db.conn)
        assert objects == schema_objects(expected)
        kinds = {kind for kind, *_ in objects}
        assert kinds == {"table", "index", "view", "trigger"}
    finally:
        db.close()
        expected.close()


def test_the_schema_comes_from_schema_sql_and_nowhere_else(tmp_path, monkeypatch):
    monkeypatch.setattr(
        workbench.store.database, "schema_sql", lambda: "CREATE TABLE only_this (x INTEGER);\n"
    )
    db = open_db(tmp_path / "new.db", create=True)
    try:
        assert set(db.table_names()) == {"only_this", "_sqlite_migrations"}
    finally:
        db.close()


def test_reopening_a_workbench_database_changes_nothing(tmp_path):
    path = tmp_path / "w.db"
    open_db(path, create=True).close()
    before = snapshot(path)
    db = open_db(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1 + len(MIGRATIONS._migrations)
    db.close()
    assert snapshot(path) == before


# --- a database from a newer workbench ----------------------------------------------------------


def test_a_database_with_an_unknown_migration_is_from_a_newer_workbench(cli, book, db_path):
    assert cli("ingest", book).exit_code == 0
    gc.collect()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('workbench', '0042_variants', '2030-01-01 00:00:00')"
    )
    conn.commit()
    conn.close()
    before = snapshot(db_path)
    for args in (["report"], ["export"], ["ingest", book]):
        result = cli(*args)
        assert_one_line_error(
            result,
            f"--db {db_path} was written by a newer workbench (schema steps 0042_variants); "
            "upgrade workbench to use it",
        )
    del result  # its exception chain holds the refused connection open
    assert snapshot(db_path) == before
    assert not Path("output.jsonl").exists()


def test_another_migration_sets_steps_are_not_ours(cli, book, db_path):
    assert cli("ingest", book).exit_code == 0
    gc.collect()
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
        "VALUES ('some-plugin', '0001_extra', '2030-01-01 00:00:00')"
    )
    conn.commit()
    conn.close()
    result = cli("report", "--json")
    assert result.exit_code == 0, result.stderr


def test_a_db_in_a_missing_folder_is_a_one_line_error(cli, book, tmp_path):
    target = tmp_path / "no" / "such" / "folder" / "x.db"
    result = cli("ingest", book, "--db", target)
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot open --db {target}: unable to open database file\n"


def damage(path: Path, pages: tuple[int, ...] = (4, 5)) -> None:
    """Overwrite whole pages of a database past its header, as a failing disk or copy would."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    for page in pages:
        data[(page - 1) * page_size : page * page_size] = b"\xa5" * page_size
    path.write_bytes(bytes(data))


DAMAGED = (
    "the database file is damaged (database disk image is malformed): restore it from a copy "
    "(`sqlite3 FILE .recover` may save its rows)"
)


def test_a_damaged_database_is_one_line(cli, book, db_path):
    assert cli("ingest", book).exit_code == 0
    gc.collect()
    damage(db_path)
    for command in (["report"], ["report", "--json"]):
        assert_one_line_error(cli(*command), DAMAGED)
    doctor = cli("doctor", "--base-url", "http://127.0.0.1:9/v1")
    assert doctor.exit_code == 1
    assert f"✗ database   {DAMAGED}\n" in doctor.stdout


def test_a_number_too_large_for_sqlite_is_one_line(cli, book):
    assert cli("ingest", book).exit_code == 0
    assert_one_line_error(
        cli("report", "--run", "99999999999999999999"),
        "a number given is too large (Python int too large to convert to SQLite INTEGER)",
    )


def test_the_default_database_is_workbench_db(cli, book, tmp_path, monkeypatch):
    """Without --db or $WORKBENCH_DB, every command works on workbench.db in the current folder."""
    monkeypatch.delenv("WORKBENCH_DB")
    assert cli("ingest", book).exit_code == 0
    assert (tmp_path / "workbench.db").is_file()
    assert cli("report").exit_code == 0
    assert "[default: workbench.db]" in " ".join(cli("report", "--help").stdout.split())
