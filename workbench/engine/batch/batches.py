"""The batches a job has written: the one owner of the `batches` and `batch_requests` tables.

A batch is one request file (OpenAI's Batch API takes one file a batch): its row, one row per
line with the body asked and, once its result is read, the attempt it became. It reserves its
paragraphs (claims with no lease) until every line is read, or until it is cancelled.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from workbench.engine.claims import release_batch
from workbench.errors import WorkbenchError
from workbench.store.times import utc_now
from workbench.store.transactions import transaction


def counted(n: int, word: str) -> str:
    """ "1 paragraph", "2 paragraphs": a count with its noun (a plural of an added s)."""
    return f"{n:,} {word}{'s' * (n != 1)}"


@dataclass(frozen=True)
class BatchRow:
    """A batch, with how far its results have been read."""

    id: int
    recipe: str
    created_at: str
    files: list[str]
    requests: int
    read: int  # lines whose result is stored
    status: str  # written, read or cancelled
    reserved: int  # paragraphs it still holds

    def describe(self) -> str:
        return (
            f"#{self.id}  {self.created_at[:19].replace('T', ' ')}  {self.status:<9}  "
            f"recipe {self.recipe!r}  {self.read:,} of {counted(self.requests, 'result')} read"
            + (f"  holds {counted(self.reserved, 'paragraph')}" if self.reserved else "")
            + f"  {', '.join(_shown(f) for f in self.files)}"
        )


def _shown(file: str) -> str:
    """A file's path from the current folder when it is under it, else as stored."""
    path = Path(file)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return file


@dataclass(frozen=True)
class Request:
    """One line of a batch file, as stored."""

    custom_id: str
    batch_id: int
    paragraph_id: int
    recipe_id: int
    attempt_number: int
    request: str  # the body, as JSON
    attempt_id: int | None  # its result's attempt, once read


def new_batch(db: Database, recipe_id: int, rules_id: int, token: str) -> int:
    """Insert a batch being written (inside the caller's transaction); its id."""
    cursor = db.execute(
        "INSERT INTO batches (recipe_id, rules_id, token, created_at, files, requests, status) "
        "VALUES (?, ?, ?, ?, '[]', 0, 'written')",
        [recipe_id, rules_id, token, utc_now()],
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def name_file(db: Database, batch_id: int, file: Path) -> None:
    """Record the batch's file, by its absolute path."""
    files = json.dumps([str(file.resolve())])
    db.execute("UPDATE batches SET files = ? WHERE id = ?", [files, batch_id])


def add_requests(db: Database, batch_id: int, requests: Sequence[Request]) -> None:
    db.conn.executemany(
        "INSERT INTO batch_requests (custom_id, batch_id, paragraph_id, recipe_id, "
        "attempt_number, request) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (r.custom_id, batch_id, r.paragraph_id, r.recipe_id, r.attempt_number, r.request)
            for r in requests
        ],
    )
    db.execute(
        "UPDATE batches SET requests = (SELECT count(*) FROM batch_requests WHERE batch_id = ?) "
        "WHERE id = ?",
        [batch_id, batch_id],
    )


def drop_batch(db: Database, batch_id: int) -> None:
    """Forget a batch that ended up with no line (inside the caller's transaction)."""
    release_batch(db, batch_id)
    db.execute("DELETE FROM batch_requests WHERE batch_id = ?", [batch_id])
    db.execute("DELETE FROM batches WHERE id = ?", [batch_id])


def requests_by_id(db: Database, custom_ids: Iterable[str]) -> dict[str, Request]:
    ids = list(custom_ids)
    found: dict[str, Request] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in db.execute(
            "SELECT custom_id, batch_id, paragraph_id, recipe_id, attempt_number, request, "
            f"attempt_id FROM batch_requests WHERE custom_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            found[row[0]] = Request(*row)
    return found


def statuses(db: Database, batch_ids: Iterable[int]) -> dict[int, str]:
    ids = list(batch_ids)
    return dict(
        db.execute(
            f"SELECT id, status FROM batches WHERE id IN ({', '.join('?' * len(ids))})", ids
        ).fetchall()
    )


def mark_read(db: Database, custom_id: str, attempt_id: int) -> None:
    db.execute(
        "UPDATE batch_requests SET attempt_id = ? WHERE custom_id = ?", [attempt_id, custom_id]
    )


def unread_of(db: Database, batch_id: int, paragraph_id: int) -> int:
    """Lines of the batch for this paragraph whose result is not read yet."""
    return int(
        db.execute(
            "SELECT count(*) FROM batch_requests WHERE batch_id = ? AND paragraph_id = ? "
            "AND attempt_id IS NULL",
            [batch_id, paragraph_id],
        ).fetchone()[0]
    )


def close_if_read(db: Database, batch_id: int) -> bool:
    """Mark the batch read when every line's result is stored; whether it is."""
    return (
        db.execute(
            "UPDATE batches SET status = 'read', ended_at = ? WHERE id = ? AND status = 'written' "
            "AND NOT EXISTS (SELECT 1 FROM batch_requests WHERE batch_id = batches.id "
            "AND attempt_id IS NULL)",
            [utc_now(), batch_id],
        ).rowcount
        > 0
    )


def outstanding(db: Database, recipe_id: int | None = None) -> list[int]:
    """The batches still awaiting results (of a recipe), oldest first."""
    return [
        row[0]
        for row in db.execute(
            "SELECT id FROM batches WHERE status = 'written' AND (? IS NULL OR recipe_id = ?) "
            "ORDER BY id",
            [recipe_id, recipe_id],
        )
    ]


def cancel(db: Database, batch_ids: Iterable[int]) -> int:
    """Cancel batches (inside the caller's transaction): their paragraphs are free again and
    their results, should they come, are not taken. Returns the paragraphs freed."""
    freed = 0
    for batch_id in batch_ids:
        freed += release_batch(db, batch_id)
        db.execute(
            "UPDATE batches SET status = 'cancelled', ended_at = ? WHERE id = ?",
            [utc_now(), batch_id],
        )
    return freed


def cancel_batches(db: Database, batch_ids: list[int] | None = None) -> str:
    """Cancel these batches (every one awaiting results when None); what was done, in words."""
    with transaction(db):
        waiting = outstanding(db)
        chosen = batch_ids or waiting
        for batch_id in chosen:
            if batch_id not in waiting:
                known = db.execute("SELECT status FROM batches WHERE id = ?", [batch_id])
                row = known.fetchone()
                raise WorkbenchError(
                    f"batch #{batch_id} is {row[0]}, not awaiting results"
                    if row
                    else f"no batch #{batch_id} in this job (`workbench batch list`)"
                )
        freed = cancel(db, chosen)
    if not chosen:
        return "No batch is awaiting results."
    return (
        f"Cancelled batch {', '.join(f'#{b}' for b in chosen)}: "
        f"{counted(freed, 'paragraph')} {'is' if freed == 1 else 'are'} free again."
    )


def finish_files(db: Database) -> list[str]:
    """Give their names to files a stopped `batch write` committed but had not renamed yet
    (FILE.part beside a missing FILE); what was done, a line each."""
    done = []
    for batch_id, files in db.execute("SELECT id, files FROM batches WHERE status = 'written'"):
        for name in json.loads(files):
            final, part = Path(name), Path(name + ".part")
            if not final.exists() and part.exists():
                part.replace(final)
                done.append(f"batch #{batch_id}: its file was written whole before the command "
                            f"stopped; named {_shown(name)} now")  # fmt: skip
    return done


def list_batches(db: Database) -> list[BatchRow]:
    return [
        BatchRow(id_, recipe, created, json.loads(files), requests, read, status, held)
        for id_, recipe, created, files, requests, read, status, held in db.execute(
            """
            SELECT b.id, r.name, b.created_at, b.files, b.requests,
                (SELECT count(*) FROM batch_requests q
                 WHERE q.batch_id = b.id AND q.attempt_id IS NOT NULL),
                b.status,
                (SELECT count(*) FROM claims c WHERE c.batch_id = b.id)
            FROM batches b JOIN recipes r ON r.id = b.recipe_id ORDER BY b.id
            """
        )
    ]
