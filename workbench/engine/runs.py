"""The runs a job records: one row per `workbench run`, the one owner of the `runs` table.

A run row is inserted when the run starts and closed when it ends (completed, interrupted,
failed). A row left `running` by a process that is gone (killed, power cut) is closed as
interrupted by the next command that needs the job to itself; a live one is never raced.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from workbench.errors import WorkbenchError
from workbench.store.states import RunStatus
from workbench.store.times import utc_now
from workbench.store.transactions import transaction


@dataclass(frozen=True)
class RunRow:
    """What every attempt of a run records of it."""

    id: int
    recipe_id: int
    rules_id: int


def start_run(
    db: Database, recipe_id: int, rules_id: int, base_url: str, settings: dict[str, Any]
) -> RunRow:
    """Insert a running run; `settings` are its own options (never the API key)."""
    cursor = db.execute(
        "INSERT INTO runs (recipe_id, rules_id, started_at, status, base_url, settings, pid, "
        "hostname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            recipe_id, rules_id, utc_now(), RunStatus.RUNNING, base_url,
            json.dumps(settings, ensure_ascii=False), os.getpid(), socket.gethostname(),
        ],
    )  # fmt: skip
    assert cursor.lastrowid is not None
    return RunRow(cursor.lastrowid, recipe_id, rules_id)


def end_run(db: Database, run: RunRow, status: RunStatus, message: str | None) -> None:
    with transaction(db):
        db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
            [status, utc_now(), message, run.id],
        )


def process_alive(pid: int, hostname: str) -> bool:
    """Whether the process that started a run still lives (only knowable on this host)."""
    if hostname != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_dead_runs(db: Database) -> None:
    """Close runs whose process died (SIGKILL, power cut) as interrupted; refuse to race a live
    one, whose verdicts and attempt numbers would collide with ours."""
    for run_id, pid, hostname in db.execute(
        "SELECT id, pid, hostname FROM runs WHERE status = ?", [RunStatus.RUNNING]
    ).fetchall():
        if process_alive(pid, hostname) and pid != os.getpid():
            raise WorkbenchError(
                f"run #{run_id} (process {pid}) is still working on this database; "
                "wait for it to finish or stop it first"
            )
        with transaction(db):
            db.execute(
                """
                UPDATE runs SET status = ?,
                    message = 'the process ended without closing the run (killed?)',
                    ended_at = (SELECT max(finished_at) FROM attempts WHERE run_id = runs.id)
                WHERE id = ?
                """,
                [RunStatus.INTERRUPTED, run_id],
            )
