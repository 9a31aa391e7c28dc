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
    assert rejections == [{"outcome": "rejected", "reason": "too_short", "attempts": 2}]
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
