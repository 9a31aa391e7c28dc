"""Where a job's database is by default, in a module of its own: every command shows it in
--help without loading the database layer (sqlite-utils)."""

from __future__ import annotations

DEFAULT_DB = "workbench.db"  # or --db PATH, or $WORKBENCH_DB
