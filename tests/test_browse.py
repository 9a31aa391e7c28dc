"""The Datasette metadata and canned queries work against a real database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import words
from workbench.browse import metadata

pytest.importorskip("datasette")


def datasette_get(db_path, path: str) -> dict:
    metadata_file = db_path.with_name("metadata.json")
    metadata_file.write_text(json.dumps(metadata(db_path)))
    command = [sys.executable, "-m", "datasette", str(db_path), "--metadata", str(metadata_file)]
    result = subprocess.run(
        [*command, "--get", path], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)


def test_canned_queries_run(cli, fake, tmp_path, db_path):
    source = tmp_path / "s.txt"
    source.write_text(f"{words(10)}\n\nshort one\n\n{words(11)}\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    fake.enqueue("no", "no", words(11, "x"))
    assert (
        cli(
            "run", "--base-url", fake.base_url, "-q", "--concurrency", "1", "--max-attempts", "2"
        ).exit_code
        == 0
    )
    name = db_path.stem
    rejections = datasette_get(db_path, f"/{name}/rejection_reasons.json?_shape=array")
    assert rejections == [
        {"recipe": "default", "outcome": "rejected", "reason": "too_short", "attempts": 2}
    ]
    skipped = datasette_get(db_path, f"/{name}/skipped_paragraphs.json?_shape=array")
    assert [row["skip_reason"] for row in skipped] == ["too_short"]
    attempts = datasette_get(
        db_path, f"/{name}/paragraph_attempts.json?_shape=array&paragraph_id=3"
    )
    assert [row["outcome"] for row in attempts] == ["accepted"]
    runs = datasette_get(db_path, f"/{name}/runs_summary.json?_shape=array")
    assert runs[0]["attempts"] == 3 and runs[0]["status"] == "completed"
    pairs = datasette_get(db_path, f"/{name}/pairs.json?_shape=array")
    assert [row["paraphrase"] for row in pairs] == [words(11, "x")]


def test_metadata_describes_every_table_and_view(db_path, cli, tmp_path):
    from sqlite_utils import Database

    (tmp_path / "s.txt").write_text(words(10), encoding="utf-8")
    cli("ingest", tmp_path / "s.txt")
    tables = metadata(db_path)["databases"]["test"]["tables"]
    db = Database(db_path)
    ours = set(db.table_names()) - {"_sqlite_migrations"} | set(db.view_names())
    assert ours == set(tables)


def test_browse_serves_the_database_on_loopback(cli, tmp_path, db_path):
    import socket
    import time

    import requests

    (tmp_path / "s.txt").write_text(words(10), encoding="utf-8")
    assert cli("ingest", tmp_path / "s.txt").exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "browse", "--port", str(port), "--db", str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/test/paragraphs.json", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
        assert page.status_code == 200
        assert words(10) in page.text
        home = requests.get(f"http://127.0.0.1:{port}/test", timeout=5).text
        assert "Why answers were rejected" in home  # the canned queries are there
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_browse_refuses_a_file_that_is_not_ours(cli, tmp_path):
    other = tmp_path / "other.db"
    other.write_text("not a database", encoding="utf-8")
    result = cli("browse", "--db", other)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: --db {other} is not a SQLite database"
