"""A batch file answered by Ray Data for real: a local Ray instance, its HTTP processor
(`ray.data.llm`) posting each body to the fake server, read back by `batch read`.

Ray lives in its own environment (`make ray`: `ray[data]`, pydantic and aiohttp, about 640 MB):
the test runs samples/ray_http_batch.py with its Python, `.venv-ray/bin/python` or
$WORKBENCH_RAY_PYTHON, and is skipped when there is none. It takes some 20 s (Ray's start).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import ingest_paragraphs, statuses, words
from tests.fakeserver import FakeServer, Reply

ROOT = Path(__file__).resolve().parent.parent
RAY_PYTHON = Path(os.environ.get("WORKBENCH_RAY_PYTHON") or ROOT / ".venv-ray" / "bin" / "python")
pytestmark = pytest.mark.skipif(
    not RAY_PYTHON.exists(), reason=f"no Ray environment at {RAY_PYTHON} (make ray)"
)


def without_nulls(body: dict) -> dict:
    return {key: value for key, value in body.items() if value is not None}


def test_ray_datas_http_processor_round_trip(cli, tmp_path, db_path):
    paragraphs = [words(12, f"p{i}_") for i in range(5)]
    ingest_paragraphs(cli, tmp_path, paragraphs)
    result = cli("batch", "write", "--model", "fake-model", "-o", "requests.jsonl")
    assert result.exit_code == 0, result.stderr
    written = [json.loads(line) for line in Path("requests.jsonl").read_text().splitlines()]

    def responder(body, call):
        if body["messages"][-1]["content"] == paragraphs[2]:
            return Reply.error(400, "context length exceeded")
        return Reply()

    with FakeServer(responder=responder) as server:
        ray = subprocess.run(
            [str(RAY_PYTHON), str(ROOT / "samples" / "ray_http_batch.py"), "requests.jsonl",
             "results.jsonl", "--url", f"{server.base_url}/chat/completions"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        )  # fmt: skip
        assert ray.returncode == 0, ray.stderr[-3000:]
        sent = list(server.requests)
    # Each body as written, but for the keys Arrow fills with null (none here: no retries).
    assert sorted(map(json.dumps, map(without_nulls, sent))) == sorted(
        json.dumps(line["body"]) for line in written
    )
    result = cli("batch", "read", "results.jsonl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "Read 5 lines: 5 answers stored (4 accepted, 0 rejected, 1 failed)."
    )
    failed = list(Database(db_path).query("SELECT reason, detail FROM attempts "
                                          "WHERE outcome = 'failed'"))  # fmt: skip
    assert failed == [{"reason": "http_400", "detail": "context length exceeded"}]
    assert statuses(db_path)[paragraphs[2]] == "pending"
    assert sum(s == "succeeded" for s in statuses(db_path).values()) == 4
