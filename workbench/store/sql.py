"""Running SQL scripts inside one transaction."""

from __future__ import annotations

import sqlite3


def sql_statements(script: str) -> list[str]:
    """Split a SQL script into statements, to run in one transaction (executescript commits)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
