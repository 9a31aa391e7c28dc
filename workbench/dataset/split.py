"""Exact, stable splits: round(F × N) of an export's N units in train, chosen by a seeded hash.

A unit is what a side keeps whole: a paragraph (by its identity, the hash of its words, so the
copies of a repeated paragraph are one unit) or, with `--split-by section`, a section of a source
(its file name and its place among the source's headings; the paragraphs before the first
heading are a section of their own). Each unit has a key, 63 bits of blake2b("SEED:IDENTITY"),
and the units are ordered by (key, identity): the first round(F × N) are train, the rest
validation. So the split is exact, the seed alone chooses it, and it is nested: the train side at
0.8 is inside the train side at 0.9 of the same seed.

When the job changes by M units (paragraphs that gained their first exported answer, or that left
the export), at most M of the other units change sides, all in the same direction, and they are
those whose keys are nearest the cut: either train's units with the highest keys move to
validation, or validation's with the lowest keys move to train, never both. Everything else
stays where it was.

Counting the units needs them all before the first record is written: export reads its rows
twice (the first time without texts), putting each unit in a private SQLite table on disk,
which sorts them, counts them without their copies, and finds the cut by its index's order;
memory stays flat however many there are.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PARAGRAPH = "paragraph"
SECTION = "section"
SPLIT_BY = (PARAGRAPH, SECTION)
UNIT_WORDS = {PARAGRAPH: ("paragraph", "paragraphs"), SECTION: ("section", "sections")}
_BATCH = 10_000  # units inserted at a time


def split_key(seed: int, identity: str) -> int:
    """A unit's place in the seeded order: 63 bits of blake2b("SEED:IDENTITY") (a SQLite
    integer), independent of every other unit."""
    digest = hashlib.blake2b(f"{seed}:{identity}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def section_identity(source: str, section_position: int | None) -> str:
    """What `--split-by section` keeps together: a source's file name and the heading's place
    among its headings (0 before the first)."""
    return f"{source}\x1f{section_position or 0}"


def train_count(share: float, units: int) -> int:
    """round(share × units), half up, on the share as written: 0.25 of 10 is 3, 0.15 of 10 is 2
    (in binary floating point 0.15 × 10 is 1.4999…)."""
    return int((Decimal(repr(share)) * units).to_integral_value(ROUND_HALF_UP))


@dataclass(frozen=True)
class Cut:
    """Where the seeded order is cut: the units up to `last` are train, the rest validation."""

    units: int  # distinct units in the export
    train: int  # of them in train: round(share × units)
    last: tuple[int, str] | None  # (key, identity) of the last unit in train; None: none is

    def side(self, key: int, identity: str) -> int:
        """0 for train, 1 for validation."""
        return 0 if self.last is not None and (key, identity) <= self.last else 1


class Units:
    """The distinct units of an export and their keys, in a private SQLite database on disk
    (deleted when closed), so that a million of them cost a few MB of page cache, not their
    size in memory."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._pending: list[tuple[int, str]] = []
        self._conn = sqlite3.connect("")  # "": a private, temporary database on disk
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        # Rows appended as they come, then indexed once: a sort SQLite does on disk, about four
        # times faster than keeping a primary key in order through half a million inserts.
        self._conn.execute("CREATE TABLE units (key INTEGER NOT NULL, identity TEXT NOT NULL)")

    def add(self, identity: str) -> None:
        self._pending.append((split_key(self.seed, identity), identity))
        if len(self._pending) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self._conn.executemany("INSERT INTO units VALUES (?, ?)", self._pending)
        self._pending.clear()

    def cut(self, share: float) -> Cut:
        """The cut that puts round(share × units) of the units in train."""
        self._flush()
        self._conn.execute("CREATE INDEX IF NOT EXISTS units_in_order ON units (key, identity)")
        # DISTINCT: the copies of a repeated paragraph are one unit. Both read the index in order.
        units = self._conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT key, identity FROM units)"
        ).fetchone()[0]
        train = train_count(share, units)
        last = None
        if train:
            key, identity = self._conn.execute(
                "SELECT DISTINCT key, identity FROM units ORDER BY key, identity LIMIT 1 OFFSET ?",
                [train - 1],
            ).fetchone()
            last = (key, identity)
        return Cut(units, train, last)

    def close(self) -> None:
        self._conn.close()
