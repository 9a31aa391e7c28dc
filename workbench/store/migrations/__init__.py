"""Named, ordered steps that bring a database made by an older workbench up to schema.sql.

A new database is built from schema.sql and every step here is recorded as applied, so a step
only ever runs on a database created before it existed. Each step is a module of its own, named
for what it does, with a `migrate(db)` function and the SQL of its time frozen beside it. Never
edit a step once released: add a new one (a module, and a line in STEPS), and update schema.sql
to match (tests/test_migrations.py proves the two roads agree).
"""

from __future__ import annotations

from types import ModuleType

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from workbench.store.migrations import (
    m001_attempts_cleaned,
    m002_recipes_and_rules,
    m003_sections,
    m004_paragraph_spacing,
    m005_pairs_with_sections,
    m006_measures_and_checks,
    m007_search,
    m008_reviews,
    m009_runners_servers_batches,
)

# In the order they apply; their names sort in the same order.
STEPS: tuple[ModuleType, ...] = (
    m001_attempts_cleaned,
    m002_recipes_and_rules,
    m003_sections,
    m004_paragraph_spacing,
    m005_pairs_with_sections,
    m006_measures_and_checks,
    m007_search,
    m008_reviews,
    m009_runners_servers_batches,
)

MIGRATIONS = Migrations("workbench")
for _step in STEPS:
    MIGRATIONS(name=_step.__name__.rsplit(".", 1)[1])(_step.migrate)


def known_steps() -> set[str]:
    """The names of the steps this version of workbench knows."""
    return {migration.name for migration in MIGRATIONS._migrations}


def schema_version(db: Database) -> int:
    """1 for the first released schema, plus one per applied step."""
    return 1 + len(MIGRATIONS.applied(db))
