"""Open a workbench database: create it from schema.sql, or check it is ours and migrate it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from importlib import resources
from pathlib import Path

from sqlite_utils import Database

from workbench.errors import DatabaseError, SchemaBehind
from workbench.store.filesystems import network_file_system
from workbench.store.migrations import MIGRATIONS, known_steps, schema_version
from workbench.store.sql import sql_statements
from workbench.store.times import utc_now
from workbench.store.transactions import is_locked, transaction

# PRAGMA application_id marks the file as ours ("WBnc"), as the SQLite docs recommend for
# application file formats: an unrelated SQLite file is refused before anything is written.
APPLICATION_ID = 0x57426E63
SQLITE_HEADER = b"SQLite format 3\x00"

# How long a command waits for another process's write to finish before it gives up (every write
# transaction starts BEGIN IMMEDIATE, so this wait applies to it: store/transactions.py).
BUSY_TIMEOUT_S = 10.0


def database_trouble(error: sqlite3.DatabaseError) -> str | None:
    """What an error SQLite raised says about the database file, for one line to the user; None
    when it is not the file's state but a bug of ours."""
    text = str(error)
    if is_locked(error):  # a write transaction says how long it waited (DatabaseLocked)
        return f"another process is using the database ({text}); try again when it is done"
    if "disk is full" in text:
        return f"cannot write the database: {text}; what was committed is kept"
    if "malformed" in text or "not a database" in text:
        return (
            f"the database file is damaged ({text}): restore it from a copy "
            "(`sqlite3 FILE .recover` may save its rows)"
        )
    return None


def schema_sql() -> str:
    """The text of schema.sql: the wheel's copy, or the one at the top of a source checkout."""
    packaged = resources.files("workbench.store").joinpath("schema.sql")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "schema.sql").read_text(encoding="utf-8")


def open_db(path: str | os.PathLike[str], *, create: bool = False) -> Database:
    """Open the database at `path`, creating it only when `create` is true.

    Raises DatabaseError, having written nothing, when the file is not a SQLite database, is
    another program's database, or was written by a newer workbench.
    """
    path = Path(path)
    _check_file(path, may_be_missing=create)
    try:
        # No sqlite-utils plugins: workbench uses none, and looking them up costs 15 ms a command.
        db = Database(path, execute_plugins=False)
    except sqlite3.Error as e:  # e.g. its folder does not exist
        raise DatabaseError("cannot open {db} {path}: {e}", path=path, e=e) from None
    try:
        _prepare(db, path)
    except BaseException as e:
        db.close()  # a refused file must not stay open (and locked) behind the error
        if isinstance(e, sqlite3.DatabaseError):
            raise DatabaseError("{db} {path} cannot be used: {e}", path=path, e=e) from None
        raise
    return db


def _check_file(path: Path, *, may_be_missing: bool = False) -> None:
    """DatabaseError unless `path` is a SQLite file, or missing (or empty) when
    `may_be_missing`."""
    if path.is_dir():
        raise DatabaseError("{db} {path} is a folder, not a database file", path=path)
    remote = network_file_system(path)
    if remote is not None:
        raise DatabaseError(
            "{db} {path} is on a network file system ({kind}), where SQLite's locking cannot "
            "be trusted and two processes could corrupt it: keep it on a local disk",
            path=path,
            kind=remote,
        )
    exists = path.exists() and path.stat().st_size > 0
    if not exists and not may_be_missing:
        raise DatabaseError("no database at {path}: run `workbench ingest` first", path=path)
    if exists:
        _check_header(path)


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as e:
        raise DatabaseError("cannot read {db} {path}: {e}", path=path, e=e.strerror) from None
    if header != SQLITE_HEADER:
        raise DatabaseError("{db} {path} is not a SQLite database", path=path)


def _prepare(db: Database, path: Path) -> None:
    # First, so that every statement after it waits for another process's write lock.
    db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    application_id = db.execute("PRAGMA application_id").fetchone()[0]
    if application_id == 0 and not db.table_names():
        _tune(db)
        _create(db)
        return
    _check_ours(db, path)
    _tune(db)
    if MIGRATIONS.pending(db):
        _migrate(db)


def _check_ours(db: Database, path: Path) -> None:
    """DatabaseError unless `db` is a workbench database this version knows every step of."""
    if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        tables = db.table_names()
        listed = ", ".join(tables[:5]) + ("…" if len(tables) > 5 else "")
        raise DatabaseError(
            "{db} {path} is a SQLite database but not a workbench one (tables: {tables})",
            path=path,
            tables=listed or "none",
        )
    unknown = {m.name for m in MIGRATIONS.applied(db)} - known_steps()
    if unknown:
        raise DatabaseError(
            "{db} {path} was written by a newer workbench (schema steps {steps}); "
            "upgrade workbench to use it",
            path=path,
            steps=", ".join(sorted(unknown)),
        )


def _migrate(db: Database) -> None:
    """Apply the pending steps, with foreign keys off: a step that rebuilds a table drops the
    old one while other tables still point at it (SQLite's own procedure; each step checks
    PRAGMA foreign_key_check before it commits). One transaction holds them all, so a second
    process opening the file at the same moment waits, then finds nothing left to do."""
    db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set before it
    try:
        with transaction(db):
            if MIGRATIONS.pending(db):
                MIGRATIONS.apply(db)
                db.execute(f"PRAGMA user_version = {schema_version(db)}")
    finally:
        db.execute("PRAGMA foreign_keys = ON")


def _tune(db: Database) -> None:
    # WAL lets `browse` and `report` read while `run` writes; NORMAL sync is still crash-safe
    # in WAL mode (a power cut may lose the last commits, never consistency) and makes the
    # commit after every attempt cheap.
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")


def _create(db: Database) -> None:
    with transaction(db):
        if db.table_names():  # another process made it while this one waited for the lock
            return
        for statement in sql_statements(schema_sql()):
            db.execute(statement)
        MIGRATIONS.ensure_migrations_table(db)
        for name in sorted(known_steps()):  # step names sort in the order they apply
            db.table("_sqlite_migrations").insert(
                {"migration_set": MIGRATIONS.name, "name": name, "applied_at": utc_now()}
            )
        # Both pragmas live in the file header and commit with the schema, so a crash here
        # leaves either an empty file or a complete database.
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {schema_version(db)}")


def open_db_readonly(path: str | os.PathLike[str]) -> Database:
    """Open the database at `path` for reading only, checking it as open_db does.

    For `browse`, which must work on a read-only file or folder and beside a running `run`: it
    writes nothing, not even a pragma. Raises DatabaseError as open_db does, and
    SchemaBehind when a schema step is pending (only a writer can apply it).
    """
    path = Path(path)
    _check_file(path)
    try:
        db = Database(sqlite3.connect(readonly_uri(path), uri=True), execute_plugins=False)
    except sqlite3.Error as e:
        raise DatabaseError("cannot open {db} {path}: {e}", path=path, e=e) from None
    try:
        _check_ours(db, path)
        pending = [m.name for m in MIGRATIONS.pending(db)]
        if pending:
            raise SchemaBehind(path, pending)
    except sqlite3.DatabaseError as e:
        db.close()
        raise DatabaseError("{db} {path} cannot be used: {e}", path=path, e=e) from None
    except BaseException:
        db.close()
        raise
    return db


def readonly_uri(path: str | os.PathLike[str]) -> str:
    """A SQLite URI that reads `path` without writing to it or beside it.

    `mode=ro` sees what a running `run` commits. It fails on a WAL database in a folder we
    cannot write when no -shm file is there (SQLite cannot create one): then nothing is writing
    the file either, and `immutable=1` reads it as it stands.
    """
    path = Path(path).resolve()
    uri = path.as_uri()
    try:
        with contextlib.closing(sqlite3.connect(f"{uri}?mode=ro", uri=True)) as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return f"{uri}?mode=ro"
    except sqlite3.OperationalError:
        shm = path.with_name(path.name + "-shm")
        if os.access(path.parent, os.W_OK) or shm.exists():
            raise
        return f"{uri}?immutable=1"


def writable(path: str | os.PathLike[str]) -> bool:
    """Whether this process may write the database file and create its journal beside it."""
    path = Path(path)
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
