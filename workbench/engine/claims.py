"""Claims: who works a paragraph under a recipe now, so that runs can share one database.

A run claims the paragraphs it is about to work, a few at a time, in source order: one
`INSERT … ON CONFLICT DO UPDATE … RETURNING` inside BEGIN IMMEDIATE, which takes the paragraphs
no one holds and those whose holder's lease has lapsed, and nothing else. Its heartbeat extends
the lease of everything it holds every HEARTBEAT_S; it commits an attempt only while it holds
the paragraph's claim; it deletes a claim as it finishes the paragraph, and all of them as it
ends. A batch file reserves its paragraphs the same way, with no lease: until its results are
read or it is cancelled.

A run whose process is gone (on this host) has its claims deleted at once by the next command
that closes dead runs (runs.py); one on another host keeps them until the lease lapses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from workbench.store.times import utc_after, utc_now
from workbench.store.transactions import transaction

LEASE_S = 60.0  # a claim lapses this long after its holder's last heartbeat
HEARTBEAT_S = 15.0  # how often a run extends its leases (well within one lease)


@dataclass(frozen=True, order=True)
class Place:
    """A paragraph's place in source order: where a run's claims go on from."""

    source_id: int
    position: int
    paragraph_id: int


START = Place(-1, -1, -1)  # before every paragraph

# Paragraphs to work under a recipe after a place in source order, that no one holds (a lapsed
# lease is no hold), claimed for a run (with a lease) or a batch (without). {or_awaiting}: the
# paragraphs with an answer a rule still has to ask a server about, for a run. RETURNING gives
# no order: the caller sorts what it got.
_CLAIM_SQL = """
INSERT INTO claims (paragraph_id, recipe_id, run_id, batch_id, claimed_at, lease_until)
SELECT s.paragraph_id, s.recipe_id, :run, :batch, :now, :lease
FROM paragraph_status s
WHERE s.recipe_id = :recipe
  AND (s.status = 'pending'{or_awaiting})
  AND (s.source_id, s.position, s.paragraph_id) > (:source, :position, :paragraph)
  AND NOT EXISTS (
      SELECT 1 FROM claims c
      WHERE c.paragraph_id = s.paragraph_id AND c.recipe_id = s.recipe_id
        AND (c.batch_id IS NOT NULL OR c.lease_until >= :now)
  )
ORDER BY s.source_id, s.position, s.paragraph_id
LIMIT :count
ON CONFLICT (paragraph_id, recipe_id) DO UPDATE SET
    run_id = excluded.run_id, batch_id = excluded.batch_id, claimed_at = excluded.claimed_at,
    lease_until = excluded.lease_until
WHERE claims.run_id IS NOT NULL AND claims.lease_until < excluded.claimed_at
RETURNING paragraph_id
"""


def or_awaiting(awaiting: str) -> str:
    """The claim's extra condition for paragraphs with answers awaiting a server's check (a
    verdict given by hand needs no rule's check)."""
    if not awaiting:
        return ""
    return (
        " OR s.paragraph_id IN (SELECT paragraph_id FROM attempts "
        f"WHERE recipe_id = :recipe AND outcome = 'accepted' AND ({awaiting}) "
        "AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.attempt_id = attempts.id))"
    )


def claim(
    db: Database, run_id: int, recipe_id: int, awaiting: str, after: Place, count: int
) -> list[Place]:
    """Claim for run `run_id` up to `count` paragraphs to work under the recipe after `after`
    in source order; their places, in source order (none: nothing left to claim after it)."""
    with transaction(db):
        return claim_now(db, run_id, recipe_id, awaiting, after, count)


def claim_now(
    db: Database, run_id: int, recipe_id: int, awaiting: str, after: Place, count: int
) -> list[Place]:
    """`claim`, inside the caller's write transaction."""
    return _claim(db, recipe_id, or_awaiting(awaiting), after, count, run=run_id)


def reserve(db: Database, batch_id: int, recipe_id: int, after: Place, count: int) -> list[Place]:
    """Reserve for a batch file up to `count` pending paragraphs after `after` (none awaiting
    a server's check: a batch cannot ask it), inside the caller's write transaction; their
    places, in source order. A batch's reservation has no lease: it lasts until its results
    are read or it is cancelled."""
    return _claim(db, recipe_id, "", after, count, batch=batch_id)


def _claim(
    db: Database,
    recipe_id: int,
    awaiting: str,
    after: Place,
    count: int,
    *,
    run: int | None = None,
    batch: int | None = None,
) -> list[Place]:
    now = utc_now()
    ids = [
        row[0]
        for row in db.execute(
            _CLAIM_SQL.format(or_awaiting=awaiting),
            {
                "run": run, "batch": batch, "recipe": recipe_id, "now": now,
                "lease": utc_after(LEASE_S) if run is not None else None,
                "source": after.source_id, "position": after.position,
                "paragraph": after.paragraph_id, "count": count,
            },
        ).fetchall()
    ]  # fmt: skip
    return places(db, ids)


def places(db: Database, ids: Sequence[int]) -> list[Place]:
    """The places of these paragraphs, in source order."""
    found: list[Place] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.extend(
            Place(*row)
            for row in db.execute(
                "SELECT source_id, position, id FROM paragraphs "
                f"WHERE id IN ({', '.join('?' * len(chunk))})",
                list(chunk),
            )
        )
    return sorted(found)


def holds(db: Database, run_id: int, recipe_id: int, paragraph_id: int) -> bool:
    """Whether the run still holds the paragraph's claim (it may commit what it found)."""
    return (
        db.execute(
            "SELECT 1 FROM claims WHERE paragraph_id = ? AND recipe_id = ? AND run_id = ?",
            [paragraph_id, recipe_id, run_id],
        ).fetchone()
        is not None
    )


def reserved(db: Database, batch_id: int, recipe_id: int, paragraph_id: int) -> bool:
    """Whether the batch still reserves the paragraph (its results may be committed)."""
    return (
        db.execute(
            "SELECT 1 FROM claims WHERE paragraph_id = ? AND recipe_id = ? AND batch_id = ?",
            [paragraph_id, recipe_id, batch_id],
        ).fetchone()
        is not None
    )


def release(db: Database, run_id: int, recipe_id: int, paragraph_ids: Iterable[int]) -> None:
    """Delete the run's claims on these paragraphs, inside the caller's transaction."""
    db.conn.executemany(
        "DELETE FROM claims WHERE paragraph_id = ? AND recipe_id = ? AND run_id = ?",
        ((paragraph_id, recipe_id, run_id) for paragraph_id in paragraph_ids),
    )


def release_run(db: Database, run_id: int) -> int:
    """Delete every claim of a run (ended, or dead), inside the caller's transaction."""
    return db.execute("DELETE FROM claims WHERE run_id = ?", [run_id]).rowcount


def extend_leases(db: Database, run_id: int) -> None:
    """The heartbeat's part here: the run's claims last another LEASE_S."""
    db.execute("UPDATE claims SET lease_until = ? WHERE run_id = ?", [utc_after(LEASE_S), run_id])


def release_batch(db: Database, batch_id: int, paragraph_ids: Iterable[int] | None = None) -> int:
    """Free a batch's reservations (all of them, or these paragraphs'), inside the caller's
    transaction."""
    if paragraph_ids is None:
        return db.execute("DELETE FROM claims WHERE batch_id = ?", [batch_id]).rowcount
    return sum(
        db.execute(
            "DELETE FROM claims WHERE batch_id = ? AND paragraph_id = ?", [batch_id, paragraph_id]
        ).rowcount
        for paragraph_id in paragraph_ids
    )
