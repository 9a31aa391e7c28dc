"""Kill a real `workbench run` process mid-run and run it again: nothing lost, nothing repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlite_utils import Database

from tests.conftest import statuses, words
from tests.fakeserver import FakeServer

PARAGRAPHS = [words(12, f"p{i}_") for i in range(30)]


def start_run(base_url: str, db_path: Path, *options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            "--base-url",
            base_url,
            "--concurrency",
            "2",
            "--db",
            str(db_path),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_attempts(db_path: Path, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with Database(db_path) as db:
            if db["attempts"].count >= count:
                return
        time.sleep(0.02)
    raise AssertionError("the run made no progress")


def succeeded_texts(db_path: Path, recipe: str | None = None) -> set[str]:
    return {text for text, status in statuses(db_path, recipe).items() if status == "succeeded"}


def ingest(cli, tmp_path: Path) -> None:
    source = tmp_path / "book.txt"
    source.write_text("\n\n".join(PARAGRAPHS), encoding="utf-8")
    assert cli("ingest", source).exit_code == 0


def check_finished(db_path: Path, recipe: str = "default") -> None:
    assert set(statuses(db_path, recipe).values()) == {"succeeded"}
    with Database(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_paragraph = db.execute(
            "SELECT count(*) FROM attempts a JOIN recipes r ON r.id = a.recipe_id "
            "WHERE a.outcome = 'accepted' AND r.name = ? GROUP BY a.paragraph_id",
            [recipe],
        ).fetchall()
        assert len(per_paragraph) == len(PARAGRAPHS)
        assert {n for (n,) in per_paragraph} == {1}
        # The counts the triggers keep are the attempts' own.
        assert (
            db.execute(
                "SELECT paragraph_id, recipe_id, count(*), sum(outcome = 'accepted'), "
                "sum(outcome = 'rejected'), max(attempt_number) FROM attempts "
                "GROUP BY paragraph_id, recipe_id ORDER BY 1, 2"
            ).fetchall()
            == db.execute(
                "SELECT paragraph_id, recipe_id, attempts, accepted, rejected, last_attempt_number "
                "FROM progress ORDER BY 1, 2"
            ).fetchall()
        )


def test_sigkill_mid_run_then_resume(cli, tmp_path, db_path):
    ingest(cli, tmp_path)
    with FakeServer(latency=0.05, slots=2) as server:
        process = start_run(server.base_url, db_path)
        wait_for_attempts(db_path, 8, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        done_before = succeeded_texts(db_path)
        sent_before = len(server.requests)
        assert 8 <= len(done_before) < len(PARAGRAPHS)
        with Database(db_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert next(db.query("SELECT status FROM runs"))["status"] == "running"

        result = cli("run", "--base-url", server.base_url, "-q")
        assert result.exit_code == 0, result.stderr
        resent = {b["messages"][1]["content"] for b in server.requests[sent_before:]}
        assert not resent & done_before  # a finished paragraph is never sent again
    check_finished(db_path)
    with Database(db_path) as db:
        runs = list(db.query("SELECT status, message FROM runs ORDER BY id"))
    assert [r["status"] for r in runs] == ["interrupted", "completed"]
    assert "killed" in runs[0]["message"]


def test_ctrl_c_marks_the_run_interrupted_and_resumes(cli, tmp_path, db_path):
    ingest(cli, tmp_path)
    with FakeServer(latency=0.05, slots=2) as server:
        process = start_run(server.base_url, db_path)
        wait_for_attempts(db_path, 4, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 130
        assert "Interrupted: finished attempts are saved; run again to resume." in stderr
        assert "Traceback" not in stderr
        with Database(db_path) as db:
            run = next(db.query("SELECT status, ended_at FROM runs"))
        assert run["status"] == "interrupted" and run["ended_at"]
        assert cli("run", "--base-url", server.base_url, "-q").exit_code == 0
    check_finished(db_path)


def test_a_second_ctrl_c_closes_the_run_all_the_same(cli, tmp_path, db_path):
    """Pressed twice: the run is still closed as interrupted with what arrived committed, and
    the command does not claim nothing changed."""
    ingest(cli, tmp_path)
    with FakeServer(latency=0.2, slots=2) as server:
        process = start_run(server.base_url, db_path)
        wait_for_attempts(db_path, 4, process)
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Interrupted: finished attempts are saved; run again to resume." in stderr
    assert "nothing changed" not in stderr and "Traceback" not in stderr
    with Database(db_path) as db:
        assert next(db.query("SELECT status FROM runs"))["status"] == "interrupted"
        assert db["claims"].count == 0
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sigkill_in_a_second_recipe_then_resume(cli, tmp_path, db_path):
    ingest(cli, tmp_path)
    with FakeServer(latency=0.05, slots=2) as server:
        assert cli("run", "--base-url", server.base_url, "-q", "--concurrency", "4").exit_code == 0
        first_recipe = len(server.requests)
        process = start_run(server.base_url, db_path, "--recipe", "cool", "--temperature", "0.2")
        wait_for_attempts(db_path, first_recipe + 8, process)
        process.send_signal(signal.SIGKILL)
        process.wait()
        done_before = succeeded_texts(db_path, "cool")
        sent_before = len(server.requests)
        assert 8 <= len(done_before) < len(PARAGRAPHS)

        result = cli("run", "--base-url", server.base_url, "-q")  # goes on with the current: cool
        assert result.exit_code == 0, result.stderr
        assert "recipe 'cool'" in result.stdout
        resumed = server.requests[sent_before:]
        assert {b["temperature"] for b in resumed} == {0.2}
        assert not {b["messages"][1]["content"] for b in resumed} & done_before
    check_finished(db_path, "default")
    check_finished(db_path, "cool")
    assert len(server.requests) == first_recipe + len(PARAGRAPHS) + (sent_before - first_recipe
        - len(done_before))  # fmt: skip
