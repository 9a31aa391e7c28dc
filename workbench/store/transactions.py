"""Write transactions: every write of the tool goes through `transaction(db)`.

A transaction that starts deferred, reads and then writes gets SQLITE_BUSY at once when another
process holds the write lock: SQLite cannot wait for the lock there (the snapshot it read may be
stale), so the busy timeout never applies. `transaction` starts with BEGIN IMMEDIATE instead,
which takes the write lock first and waits up to the busy timeout for it; a second writer
(a `rules` during a `run`, two runs side by side) then waits its turn instead of failing.

Keep what runs inside one short: a transaction holds the only write lock of the file, and every
other writer waits for it. Nothing slow (a request to a server, starting a server, loading a
model) belongs inside.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlite_utils import Database

from workbench.errors import DatabaseLocked


def is_locked(error: sqlite3.Error) -> bool:
    """Whether SQLite said the database is locked or busy (another connection holds it)."""
    text = str(error)
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


@contextmanager
def transaction(db: Database, *, keep: bool = True) -> Iterator[Database]:
    """Commit what the block writes, or none of it; nested blocks are savepoints. With `keep`
    false (a dry run), what it wrote is rolled back at the end all the same.

    Raises DatabaseLocked when another process kept the write lock for longer than the busy
    timeout (the time waited is in the message).
    """
    conn = db.conn
    if conn.in_transaction:
        savepoint = f"workbench_{secrets.token_hex(8)}"
        conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield db
        except BaseException:
            if conn.in_transaction:  # an error may already have ended the whole transaction
                conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            raise
        if not keep:
            conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
        conn.execute(f"RELEASE SAVEPOINT {savepoint}")
        return
    started = time.monotonic()
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        if is_locked(e):
            raise DatabaseLocked(time.monotonic() - started) from None
        raise
    try:
        yield db
    except BaseException:
        conn.rollback()  # a no-op when the error already ended the transaction
        raise
    if not keep:
        conn.rollback()
        return
    try:
        conn.execute("COMMIT")
    except BaseException:
        conn.rollback()
        raise
