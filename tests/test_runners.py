"""Runners side by side: two `run` processes on one database, claims that keep them apart,
attempt numbers from the database, and kill -9 at any moment."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlite_utils import Database

from tests.conftest import ingest_paragraphs, run_against, statuses, words
from tests.fakeserver import FakeServer, Reply, rotate_words

PARAGRAPHS = [words(12, f"p{i}_") for i in range(40)]


def start_run(base_url: str, db_path: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", "--base-url", base_url, "--db", str(db_path),
         "--disable-rule", "meaning_drift", "-q", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def wait_for_attempts(db_path: Path, count: int, *processes: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, process.communicate()
        with Database(db_path) as db:
            if db["attempts"].count >= count:
                return
        time.sleep(0.02)
    raise AssertionError("no progress")


def check_consistent(db_path: Path, recipes: tuple[str, ...] = ("default",)) -> None:
    """Every paragraph succeeded once per recipe, the file is sound, the counts are the
    attempts' own, and no claim is left."""
    with Database(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for recipe in recipes:
            accepted = db.execute(
                "SELECT a.paragraph_id, count(*) FROM attempts a JOIN recipes r "
                "ON r.id = a.recipe_id WHERE r.name = ? AND a.outcome = 'accepted' "
                "GROUP BY a.paragraph_id",
                [recipe],
            ).fetchall()
            assert len(accepted) == len(PARAGRAPHS) and {n for _, n in accepted} == {1}
        assert (
            db.execute(
                "SELECT paragraph_id, recipe_id, count(*), sum(outcome = 'accepted'), "
                "max(attempt_number) FROM attempts GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall()
            == db.execute(
                "SELECT paragraph_id, recipe_id, attempts, accepted, last_attempt_number "
                "FROM progress ORDER BY 1, 2"
            ).fetchall()
        )
        assert db["claims"].count == 0


def test_two_runs_side_by_side_never_work_the_same_paragraph(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    with FakeServer(slots=4, latency=0.15) as server:
        first = start_run(server.base_url, db_path, "--concurrency", "2")
        second = start_run(server.base_url, db_path, "--concurrency", "2")
        for process in (first, second):
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            assert out.startswith("Run #") or out.startswith("Nothing to do now")
        calls = dict(server.calls)
    assert calls == {p: 1 for p in PARAGRAPHS}  # each paragraph asked once, by one of them
    check_consistent(db_path)
    with Database(db_path) as db:
        per_run = dict(db.execute("SELECT run_id, count(*) FROM attempts GROUP BY 1").fetchall())
        assert set(db.execute("SELECT status FROM runs").fetchall()) == {("completed",)}
    assert len(per_run) == 2 and min(per_run.values()) >= 5  # both did a share


def test_two_recipes_on_two_servers_side_by_side(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    with FakeServer(slots=2, latency=0.05) as one, FakeServer(slots=2, latency=0.05) as two:
        assert (
            run_against(cli, one, "--disable-rule", "meaning_drift", "--limit", "1").exit_code == 0
        )
        first = start_run(one.base_url, db_path, "--recipe", "default", "--concurrency", "2")
        second = start_run(two.base_url, db_path, "--recipe", "cool", "--temperature", "0.2",
                           "--concurrency", "2")  # fmt: skip
        for process in (first, second):
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
        assert {b["temperature"] for b in two.requests} == {0.2}
        assert {b["temperature"] for b in one.requests} == {0.9}
        assert sorted(b["messages"][-1]["content"] for b in two.requests) == sorted(PARAGRAPHS)
    check_consistent(db_path, ("default", "cool"))


def test_kill_9_of_one_runner_loses_nothing_and_the_other_takes_its_claims(cli, tmp_path, db_path):
    """The survivor lets go of the dead one's claims when it comes back to them (its process
    is gone on this host), and finishes the book; only requests in flight are asked twice."""
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    with FakeServer(slots=4, latency=0.1) as server:
        victim = start_run(server.base_url, db_path, "--concurrency", "2")
        survivor = start_run(server.base_url, db_path, "--concurrency", "2")
        wait_for_attempts(db_path, 10, victim, survivor)
        with Database(db_path) as db:
            victim_run = db.execute("SELECT id FROM runs WHERE pid = ?", [victim.pid]).fetchone()[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        _, err = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, err
        calls = Counter(server.calls)
    check_consistent(db_path)
    assert max(calls.values()) <= 2 and sum(calls.values()) - len(PARAGRAPHS) <= 2
    with Database(db_path) as db:
        status, message = db.execute(
            "SELECT status, message FROM runs WHERE id = ?", [victim_run]
        ).fetchone()
    assert status == "interrupted" and "killed" in message


def test_an_answer_is_committed_only_while_its_claim_is_held(cli, tmp_path, db_path):
    """Another run takes the paragraph over while its request is in flight (as after a lease
    lapsed): the answer is not kept, and the run says so."""
    ingest_paragraphs(cli, tmp_path, [words(12, "a"), words(12, "b")])

    def responder(body, call):
        if body["messages"][-1]["content"] == words(12, "b"):
            conn = sqlite3.connect(db_path)
            conn.execute(
                "INSERT INTO runs (recipe_id, rules_id, started_at, status, base_url, settings, "
                "pid, hostname, heartbeat_at) VALUES (1, 1, 't', 'running', 'u', '{}', ?, ?, "
                "'2999-01-01T00:00:00.000Z')",
                [os.getppid(), socket.gethostname()],
            )
            conn.execute("UPDATE claims SET run_id = last_insert_rowid() WHERE paragraph_id = 2")
            conn.commit()
            conn.close()
        return Reply(content=rotate_words(body["messages"][-1]["content"]))

    with FakeServer(responder=responder) as server:
        result = run_against(cli, server, "--disable-rule", "meaning_drift", "--concurrency", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip().endswith(
        "1 answers were not kept: another run had taken their paragraphs over (this one "
        "stopped beating for over a minute)."
    )
    assert statuses(db_path) == {words(12, "a"): "succeeded", words(12, "b"): "pending"}
    with Database(db_path) as db:
        assert db["attempts"].count == 1
        assert db.execute("SELECT run_id FROM claims").fetchall() == [(2,)]  # still the other's


def test_attempt_numbers_come_from_the_database(cli, tmp_path, db_path):
    """Another writer stores an attempt of the same paragraph while a request is in flight:
    the run's attempt takes the next number instead of colliding on it."""
    ingest_paragraphs(cli, tmp_path, [words(12)])

    def responder(body, call):
        conn = sqlite3.connect(db_path)
        conn.execute(
            "INSERT INTO attempts (paragraph_id, recipe_id, run_id, attempt_number, started_at, "
            "finished_at, latency_s, request, outcome, reason) "
            "VALUES (1, 1, 1, 1, 't', 't', 0, '{}', 'failed', 'elsewhere')"
        )
        conn.commit()
        conn.close()
        return Reply()

    with FakeServer(responder=responder) as server:
        result = run_against(cli, server, "--disable-rule", "meaning_drift")
    assert result.exit_code == 0, result.stderr
    with Database(db_path) as db:
        rows = db.execute("SELECT attempt_number, reason FROM attempts ORDER BY id").fetchall()
    assert rows == [(1, "elsewhere"), (2, None)]
