"""The runs a job records: one row per `workbench run`, the one owner of the `runs` table.

A run row is inserted when the run starts, with the servers it sends to (run_servers), beats
every few seconds while it works (heartbeat_at, with its claims' leases) and is closed when it
ends (completed, interrupted, failed). A row left `running` by a process that is gone is closed
as interrupted, and its claims deleted, by the next command that looks: at once when the process
ran on this host and is gone, else when its heartbeat is older than a claim's lease (a container
started again under a new host name is not locked out of its database).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlite_utils import Database

from workbench.engine.claims import LEASE_S, extend_leases, release_run
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


@dataclass(frozen=True)
class LiveRun:
    """Another run working the database now."""

    id: int
    recipe_id: int
    pid: int
    hostname: str

    def describe(self) -> str:
        where = "" if self.hostname == socket.gethostname() else f" on {self.hostname}"
        return f"run #{self.id} (process {self.pid}{where})"


def start_run(
    db: Database,
    recipe_id: int,
    rules_id: int,
    servers: list[tuple[str, int]],
    settings: dict[str, Any],
) -> RunRow:
    """Insert a running run with its servers (base URL, concurrency), inside the caller's
    transaction; `settings` are its own options (never the API key)."""
    now = utc_now()
    cursor = db.execute(
        "INSERT INTO runs (recipe_id, rules_id, started_at, status, base_url, settings, pid, "
        "hostname, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            recipe_id, rules_id, now, RunStatus.RUNNING, servers[0][0],
            json.dumps(settings, ensure_ascii=False), os.getpid(), socket.gethostname(), now,
        ],
    )  # fmt: skip
    assert cursor.lastrowid is not None
    db.conn.executemany(
        "INSERT INTO run_servers (run_id, position, base_url, concurrency) VALUES (?, ?, ?, ?)",
        [(cursor.lastrowid, n, url, slots) for n, (url, slots) in enumerate(servers, start=1)],
    )
    return RunRow(cursor.lastrowid, recipe_id, rules_id)


def heartbeat(db: Database, run: RunRow) -> None:
    """Say the run is alive: its row's heartbeat and its claims' leases, in one transaction."""
    with transaction(db):
        db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?", [utc_now(), run.id])
        extend_leases(db, run.id)


def end_run(db: Database, run: RunRow, status: RunStatus, message: str | None) -> None:
    """Close the run and delete the claims it still holds."""
    with transaction(db):
        db.execute(
            "UPDATE runs SET status = ?, ended_at = ?, message = ? WHERE id = ?",
            [status, utc_now(), message, run.id],
        )
        release_run(db, run.id)


def process_alive(pid: int, hostname: str, heartbeat_at: str | None) -> bool:
    """Whether the process that started a run still lives: asked of the system on this host;
    elsewhere, whether its heartbeat is younger than a claim's lease."""
    if hostname != socket.gethostname():
        return heartbeat_at is not None and _age_s(heartbeat_at) < LEASE_S
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # a pid no process can have
        return False
    return True


def _age_s(stamp: str) -> float:
    """Seconds since a time as utc_now() writes it (a time that cannot be read is old)."""
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - then) / timedelta(seconds=1)


def close_dead_runs(db: Database) -> list[LiveRun]:
    """Close runs whose process died (SIGKILL, power cut) as interrupted and delete their
    claims, inside the caller's transaction; returns the runs still alive (this one aside)."""
    live = []
    for run_id, recipe_id, pid, hostname, started_at, heartbeat_at in db.execute(
        "SELECT id, recipe_id, pid, hostname, started_at, heartbeat_at FROM runs WHERE status = ?",
        [RunStatus.RUNNING],
    ).fetchall():
        if process_alive(pid, hostname, heartbeat_at or started_at):
            if pid != os.getpid() or hostname != socket.gethostname():
                live.append(LiveRun(run_id, recipe_id, pid, hostname))
            continue
        why = (
            "the process ended without closing the run (killed?)"
            if hostname == socket.gethostname()
            else f"no heartbeat from {hostname} for over {LEASE_S:g} s (its process is gone?)"
        )
        db.execute(
            """
            UPDATE runs SET status = ?, message = ?,
                ended_at = (SELECT max(finished_at) FROM attempts WHERE run_id = runs.id)
            WHERE id = ?
            """,
            [RunStatus.INTERRUPTED, why, run_id],
        )
        release_run(db, run_id)
    return live


def refuse_while_live(live: list[LiveRun], what: str) -> None:
    """WorkbenchError when another run works the database: `what` would change what it relies
    on (the rules it judges by, the budgets of its recipe)."""
    if live:
        runs = ", ".join(run.describe() for run in live)
        raise WorkbenchError(
            f"{runs} {'is' if len(live) == 1 else 'are'} still working on this database, "
            f"and {what}; wait for {'it' if len(live) == 1 else 'them'} to finish or stop "
            f"{'it' if len(live) == 1 else 'them'} first"
        )
