"""Step m004: stored paragraphs respaced, identity hashes over their words alone."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from sqlite_utils import Database

# Frozen copy of the spacing rule of m004 (the reader's rule may change; this step may not).
_M004_SPACES = re.compile(r"[^\S\n\u00a0]+")


def migrate(db: Database) -> None:
    """Runs of spaces inside stored paragraphs become one space, as ingest now makes them, and a
    paragraph's identity hash is taken over its words alone (spacing and line breaks aside).
    Re-ingesting the file a database was made from then adds and removes nothing, and the same
    rows keep their ids, statuses and attempts. Word counts cannot change (text.split())."""
    updates = []
    for (source_id,) in db.execute("SELECT id FROM sources").fetchall():
        seen: Counter[str] = Counter()
        for paragraph_id, text in db.execute(
            "SELECT id, text FROM paragraphs WHERE source_id = ? ORDER BY position, id",
            [source_id],
        ).fetchall():
            lines = (_M004_SPACES.sub(" ", line).strip() for line in text.split("\n"))
            respaced = "\n".join(line for line in lines if line)
            digest = hashlib.sha256(" ".join(respaced.split()).encode("utf-8")).hexdigest()
            seen[digest] += 1  # two texts that differed only in spacing are now the same one
            updates.append((respaced, digest, seen[digest], paragraph_id))
    # Free every occurrence number first, so no update collides with the UNIQUE identity.
    db.execute("UPDATE paragraphs SET occurrence = -id")
    db.conn.executemany(
        "UPDATE paragraphs SET text = ?, sha256 = ?, occurrence = ? WHERE id = ?", updates
    )
