"""Named, ordered steps that bring a database made by an older workbench up to schema.sql.

A new database is built from schema.sql and every step here is recorded as applied, so a step
only ever runs on a database created before it existed. Never edit a step once released: add a
new one, and update schema.sql to match (tests/test_db.py proves the two roads agree).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("workbench")


def schema_version(db: Database) -> int:
    """1 for the first released schema, plus one per applied step."""
    return 1 + len(MIGRATIONS.applied(db))
