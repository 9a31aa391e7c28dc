"""`workbench run` against the fake server: requests, retries, budgets, concurrency, errors."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import ingest_paragraphs, paragraph_rows, run_against, statuses, words
from tests.fakeserver import FakeServer, Reply
from workbench.engine.recipes import DEFAULT_SYSTEM_PROMPT, Recipe

NOTEBOOK_PROMPT = (
    "You are an expert novelist. Paraphrase the given text in your own words, refining the prose "
    "and making it a bit richer. Don't write additional story or meaning, keep the original "
    "meaning and form. The response should contain only one paragraph. Keep a similar length in "
    "your output to the original, not more than 50% difference, and shouldn't be shorter than "
    "the original text."
)


def run(cli, fake: FakeServer, *args: str):
    """A run of the engine under test: its answers here are made of other words than the
    original's, which the meaning rule would reject (tests/test_faithful.py tests that rule)."""
    return run_against(cli, fake, "--disable-rule", "meaning_drift", *args)


def attempts(db_path: Path) -> list[dict]:
    return list(Database(db_path).query("SELECT * FROM attempts ORDER BY id"))


def test_request_is_the_notebooks(cli, fake, tmp_path, db_path):
    paragraph = words(12)
    ingest_paragraphs(cli, tmp_path, [paragraph])
    result = run(cli, fake)
    assert result.exit_code == 0, result.stderr
    (body,) = fake.requests
    assert body["messages"] == [
        {"role": "system", "content": NOTEBOOK_PROMPT},
        {"role": "user", "content": paragraph},
    ]
    assert body["temperature"] == 0.9
    assert body["model"] == "fake-model"  # the first model /models lists
    assert DEFAULT_SYSTEM_PROMPT == NOTEBOOK_PROMPT


def test_default_max_tokens_leaves_room_for_the_longest_accepted_answer(cli, fake, tmp_path):
    ingest_paragraphs(cli, tmp_path, [words(10), words(100)])
    run(cli, fake, "--concurrency", "1")
    caps = [body["max_tokens"] for body in fake.requests]
    # 2 × words may be accepted; at 1.6 tokens a word plus a margin, and no more.
    assert caps == [2 * 10 * 1.6 + 32, 2 * 100 * 1.6 + 32]
    uncapped = Recipe(model="m", max_tokens=0).request_body("a b", 2, max_ratio=2.0)
    assert "max_tokens" not in uncapped


def test_options_reach_the_request(cli, fake, tmp_path):
    fake.models = ("first", "second")
    ingest_paragraphs(cli, tmp_path, [words(12)])
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("Rewrite this.\n", encoding="utf-8")
    result = run(
        cli,
        fake,
        "--model",
        "second",
        "--temperature",
        "0.3",
        "--max-tokens",
        "77",
        "--system-prompt-file",
        prompt_file,
    )
    assert result.exit_code == 0, result.stderr
    (body,) = fake.requests
    assert body["model"] == "second"
    assert body["temperature"] == 0.3
    assert body["max_tokens"] == 77
    assert body["messages"][0] == {"role": "system", "content": "Rewrite this."}


def test_system_prompt_option_and_model_from_environment(cli, fake, tmp_path, monkeypatch):
    fake.models = ("a", "b")
    monkeypatch.setenv("WORKBENCH_MODEL", "b")
    monkeypatch.setenv("WORKBENCH_BASE_URL", fake.base_url)
    ingest_paragraphs(cli, tmp_path, [words(12)])
    result = cli("run", "-q", "--system-prompt", "Be brief.")
    assert result.exit_code == 0, result.stderr
    assert fake.requests[0]["model"] == "b"
    assert fake.requests[0]["messages"][0]["content"] == "Be brief."


def test_unknown_model_is_refused_before_any_request(cli, fake, tmp_path):
    ingest_paragraphs(cli, tmp_path, [words(12)])
    result = run(cli, fake, "--model", "nope")
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"Error: model 'nope' is not loaded at {fake.base_url}; it has: fake-model"
    )
    assert fake.requests == []


def test_api_key_is_sent_but_never_stored(cli, fake, tmp_path, db_path, monkeypatch):
    secret = "sk-test-very-secret-key"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    ingest_paragraphs(cli, tmp_path, [words(12)])
    assert run(cli, fake).exit_code == 0
    assert fake.headers[0]["Authorization"] == f"Bearer {secret}"
    assert secret.encode() not in db_path.read_bytes()
    for suffix in ("-wal", "-shm"):
        wal = db_path.with_name(db_path.name + suffix)
        if wal.exists():
            assert secret.encode() not in wal.read_bytes()
    result = cli("run", "--base-url", fake.base_url, "--api-key", secret, "-q")
    assert secret not in result.stdout + result.stderr


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_every_attempt_is_recorded(cli, fake, tmp_path, db_path, stream):
    paragraph = words(10)
    ingest_paragraphs(cli, tmp_path, [paragraph])
    fake.enqueue(Reply("short", finish_reason="stop"), words(9, "new"))
    assert run(cli, fake, stream).exit_code == 0
    first, second = attempts(db_path)
    assert (first["attempt_number"], first["outcome"], first["reason"]) == (
        1,
        "rejected",
        "too_short",
    )
    assert first["detail"] == "1 words, fewer than 8 (0.8 × 10)"
    assert (second["attempt_number"], second["outcome"], second["reason"]) == (2, "accepted", None)
    assert second["answer"] == words(9, "new")
    assert json.loads(second["request"]) == fake.requests[1]
    if stream == "--no-stream":
        assert "stream" not in fake.requests[1]
        assert json.loads(second["response"])["choices"][0]["message"]["content"] == words(9, "new")
    else:  # the events exactly as received, one a word
        assert fake.requests[1]["stream"] is True
        events = [line for line in second["response"].split("\n\n") if line]
        assert events[-1] == "data: [DONE]"
        pieces = [json.loads(e[6:])["choices"] for e in events[1:-3]]
        assert "".join(c[0]["delta"]["content"] for c in pieces) == words(9, "new")
    assert second["http_status"] == 200
    assert second["finish_reason"] == "stop"
    assert (second["prompt_tokens"], second["completion_tokens"]) == (
        len(NOTEBOOK_PROMPT.split()) + 10,
        9,
    )
    assert second["latency_s"] > 0
    assert second["started_at"] <= second["finished_at"]
    run_row = next(Database(db_path).query("SELECT * FROM runs"))
    assert run_row["status"] == "completed"
    recipe = Database(db_path).table("recipes").get(run_row["recipe_id"])
    assert (recipe["model"], recipe["max_attempts"]) == ("fake-model", 5)
    assert json.loads(run_row["settings"])["concurrency"] == 4
    assert "api_key" not in run_row["settings"]
    assert {first["rules_id"], second["rules_id"]} == {run_row["rules_id"]}


def test_raw_body_is_kept_exactly(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    raw = (
        '{"choices": [{"message": {"role": "assistant", "content": "  '
        + words(10, "x")
        + '  "}, "finish_reason": "stop"}],  "extra": {"server": "odd"}}'
    )
    fake.enqueue(Reply(body=raw))
    assert run(cli, fake).exit_code == 0
    (row,) = attempts(db_path)
    assert row["response"] == raw
    assert row["answer"] == words(10, "x")  # stripped
    assert row["prompt_tokens"] is None  # no usage sent: stored as unknown
    assert row["outcome"] == "accepted"


def test_paragraph_is_skipped_after_max_attempts_with_its_reason(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.enqueue(*["Paraphrased Text: " + words(10)] * 4, words(30))
    result = run(cli, fake)
    assert result.exit_code == 0
    assert [a["reason"] for a in attempts(db_path)] == ["banned_phrase"] * 4 + ["too_long"]
    (row,) = paragraph_rows(db_path)
    assert (row["status"], row["skip_reason"]) == ("skipped", "too_long")
    assert len(fake.requests) == 5
    assert "0 succeeded, 1 skipped" in result.stdout


def test_max_attempts_option(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.responder = lambda body, call: Reply("no")
    assert run(cli, fake, "--max-attempts", "2").exit_code == 0
    assert len(attempts(db_path)) == 2
    assert statuses(db_path)[words(10)] == "skipped"


def test_truncated_answers_are_rejected(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.enqueue(Reply(words(10, "x"), finish_reason="length"), words(10, "y"))
    assert run(cli, fake).exit_code == 0
    assert [a["reason"] for a in attempts(db_path)] == ["truncated", None]


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply.error(500, "boom"), "http_500"),
        (Reply.error(503, "loading model"), "http_503"),
        (Reply.error(429, "slow down"), "http_429"),
        (Reply(body="<html>not json</html>"), "bad_json"),
        (Reply(body='{"choices": []}'), "bad_body"),
        (Reply(drop=True), "connection_error"),
    ],
)
def test_failed_requests_retry_without_using_validation_attempts(
    cli, fake, tmp_path, db_path, reply, reason
):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    # A kept-alive connection closed unanswered as it is reused goes out again at once: the
    # race of a server closing it, not a failure (test_stale_connection.py); a second is one.
    late = [reply, reply] if reason == "connection_error" else [reply]
    fake.enqueue(reply, reply, "bad", "bad", "bad", "bad", *late, words(10, "ok"))
    result = run(cli, fake, "--max-attempts", "5")
    assert result.exit_code == 0, result.stderr
    rows = attempts(db_path)
    assert [r["outcome"] for r in rows] == ["failed", "failed"] + ["rejected"] * 4 + [
        "failed",
        "accepted",
    ]
    assert rows[0]["reason"] == reason
    assert [r["attempt_number"] for r in rows] == list(range(1, 9))
    assert statuses(db_path)[words(10)] == "succeeded"


def test_timeouts_are_retried(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.enqueue(Reply(delay=1.5), words(10, "ok"))
    assert run(cli, fake, "--timeout", "0.3").exit_code == 0
    rows = attempts(db_path)
    assert [(r["outcome"], r["reason"]) for r in rows] == [
        ("failed", "timeout"),
        ("accepted", None),
    ]
    assert rows[0]["http_status"] is None


def policy_waits(hints: list[float | None], retries: int, backoff: float) -> list[float]:
    """The waits the transport policy sleeps between tries that fail with these Retry-After
    hints (None: no header), in order."""
    from workbench.llm.client import Completion
    from workbench.llm.retry import TransientFailure, transport_policy

    waits: list[float] = []
    calls: list[object] = []

    def failing():
        completion = Completion(request={}, started_at="", error="http_429", http_status=429)
        completion.retry_after = hints[len(calls)] if len(calls) < len(hints) else None
        calls.append(completion)
        raise TransientFailure(completion)

    with pytest.raises(TransientFailure):
        transport_policy(retries=retries, backoff=backoff, sleep=waits.append)(failing)
    assert len(calls) == retries + 1  # the first try and the retries
    return waits


def test_backoff_waits_grow_and_honour_retry_after_up_to_the_cap():
    from workbench.llm.defaults import MAX_BACKOFF

    # A hint larger than the backoff wins; no hint, the backoff; a huge hint, the cap.
    waits = policy_waits([30.0, None, 1000.0, None], retries=4, backoff=1.0)
    assert 30 <= waits[0] < 31  # Retry-After 30 (the backoff alone would be 1 to 2)
    assert 2 <= waits[1] < 3  # 2**1 plus jitter
    assert MAX_BACKOFF <= waits[2] < MAX_BACKOFF + 1  # capped, not 1000
    assert 8 <= waits[3] < 9  # 2**3 plus jitter
    # A hint smaller than the backoff does not shorten it.
    assert 4 <= policy_waits([None, None, 0.5], retries=3, backoff=1.0)[2] < 5


def test_backoff_is_jittered():
    """Requests that failed together do not come back together: each wait takes a random
    share of the backoff on top."""
    seconds = {round(policy_waits([], retries=1, backoff=1.0)[0], 6) for _ in range(20)}
    assert len(seconds) > 10 and all(1 <= s < 2 for s in seconds)


def test_retry_after_is_waited_even_without_backoff(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.enqueue(Reply.error(429, "busy", headers={"Retry-After": "1"}), words(10, "ok"))
    started = time.monotonic()
    assert run(cli, fake).exit_code == 0  # --backoff 0
    assert time.monotonic() - started >= 1.0
    assert [r["reason"] for r in attempts(db_path)] == ["http_429", None]


def test_server_that_keeps_failing_stops_the_run(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10), words(11)])
    fake.responder = lambda body, call: Reply.error(500, "model crashed")
    result = run(cli, fake, "--retries", "2", "--concurrency", "1")
    assert result.exit_code == 5
    assert result.stderr.strip() == (
        "Error: the server kept failing, last: http_500: model crashed"
    )
    assert len(fake.requests) == 3
    run_row = next(Database(db_path).query("SELECT status, message FROM runs"))
    assert run_row["status"] == "failed"
    assert "model crashed" in run_row["message"]
    assert set(statuses(db_path).values()) == {"pending"}


def test_client_error_stops_the_run_with_the_servers_message(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10), words(11), words(12)])
    fake.responder = lambda body, call: Reply.error(400, "context length exceeded")
    result = run(cli, fake, "--concurrency", "1")
    assert result.exit_code == 4
    assert result.stderr.strip() == (
        "Error: the server refused the request: HTTP 400: context length exceeded"
    )
    assert len(fake.requests) == 1  # not retried, and no other paragraph sent
    (row,) = attempts(db_path)
    assert (row["outcome"], row["reason"], row["http_status"]) == ("failed", "http_400", 400)
    assert next(Database(db_path).query("SELECT status FROM runs"))["status"] == "failed"


def test_a_redirect_loop_is_refused_at_once(cli, fake, tmp_path, db_path):
    """The client cannot send it, and never will: not retried for minutes as a network fault."""
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.responder = lambda body, call: Reply(
        status=307, body="", headers={"Location": "/v1/chat/completions"}
    )
    started = time.monotonic()
    result = run(cli, fake, "--backoff", "1")
    assert time.monotonic() - started < 10
    assert result.exit_code == 4
    assert result.stderr.strip() == (
        "Error: the server refused the request: too_many_redirects: Exceeded 30 redirects."
    )
    (row,) = attempts(db_path)
    assert (row["outcome"], row["reason"]) == ("failed", "too_many_redirects")


def test_an_api_key_no_header_can_carry_is_refused_without_showing_it(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    result = run(cli, fake, "--api-key", "sk-secret\nmore")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --api-key must be one line of printable characters, without spaces around it\n"
    )
    assert "sk-secret" not in result.output and fake.requests == []


def test_a_refusal_does_not_wait_for_the_requests_in_flight(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10, "slow"), words(10, "bad")])

    def responder(body, call):
        if "slow0" in body["messages"][-1]["content"]:
            return Reply(delay=30)
        time.sleep(0.3)  # the slow one is in flight by now
        return Reply.error(400, "context length exceeded")

    fake.responder = responder
    started = time.monotonic()
    result = run(cli, fake, "--concurrency", "2")
    assert time.monotonic() - started < 10  # not the 30 s of the slow request
    assert result.exit_code == 4
    assert next(Database(db_path).query("SELECT status FROM runs"))["status"] == "failed"
    assert set(statuses(db_path).values()) == {"pending"}
    assert Database(db_path)["claims"].count == 0


def test_limit_works_that_many_paragraphs_in_source_order(cli, fake, tmp_path, db_path):
    paragraphs = [words(10, f"p{i}_") for i in range(5)]
    ingest_paragraphs(cli, tmp_path, paragraphs)
    result = run(cli, fake, "--limit", "2", "--concurrency", "1")
    assert result.exit_code == 0
    assert [b["messages"][1]["content"] for b in fake.requests] == paragraphs[:2]
    assert "3 paragraphs still pending" in result.stdout
    assert run(cli, fake).exit_code == 0
    sent = [b["messages"][1]["content"] for b in fake.requests]
    assert sorted(sent) == sorted(paragraphs)  # the rest, each once
    assert set(statuses(db_path).values()) == {"succeeded"}


def test_finished_job_does_nothing_and_says_so(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    assert run(cli, fake).exit_code == 0
    before = len(fake.requests)
    result = run(cli, fake)
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "Nothing to do: no pending paragraphs under recipe 'default' (see `workbench report`)."
    )
    assert len(fake.requests) == before
    assert Database(db_path)["runs"].count == 1


def test_new_text_ingested_later_is_the_only_new_work(cli, fake, tmp_path, db_path):
    path = ingest_paragraphs(cli, tmp_path, [words(10, "a")])
    assert run(cli, fake).exit_code == 0
    path.write_text(f"{words(10, 'a')}\n\n{words(10, 'b')}\n", encoding="utf-8")
    assert "added 1 " in cli("ingest", path).stdout
    assert run(cli, fake).exit_code == 0
    assert [b["messages"][1]["content"] for b in fake.requests] == [words(10, "a"), words(10, "b")]


def test_resumed_paragraph_gets_only_the_rest_of_its_attempts(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    # Two rejections, then a server failure stops the run with the paragraph pending.
    fake.enqueue("no", "no", Reply.error(503, "down"))
    assert run(cli, fake, "--retries", "0").exit_code == 5
    fake.responder = lambda body, call: Reply("no")
    assert run(cli, fake).exit_code == 0
    assert len(fake.requests) == 3 + 3  # 5 - 2 validated; the failed one does not count
    numbers = [a["attempt_number"] for a in attempts(db_path)]
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert statuses(db_path)[words(10)] == "skipped"


def test_lowered_max_attempts_skips_without_a_request(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    fake.enqueue("no", "no", Reply.error(400, "stop"))  # two rejections, then the run stops
    assert run(cli, fake).exit_code == 4
    assert statuses(db_path)[words(10)] == "pending"
    result = run(cli, fake, "--max-attempts", "2")
    assert result.exit_code == 0
    assert len(fake.requests) == 3
    assert result.stdout.startswith("Nothing to do")
    (row,) = paragraph_rows(db_path)
    assert (row["status"], row["skip_reason"]) == ("skipped", "too_short")


def test_concurrency_keeps_k_requests_in_flight(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10, f"p{i}_") for i in range(12)])
    with FakeServer(latency=0.2) as server:
        started = time.perf_counter()
        result = cli("run", "--base-url", server.base_url, "-q", "--concurrency", "4")
        elapsed = time.perf_counter() - started
    assert result.exit_code == 0
    assert server.max_in_flight == 4
    assert len(server.requests) == 12
    assert elapsed < 12 * 0.2  # far from one at a time (3 waves of 0.2 s ideally)


def test_concurrency_one_is_one_at_a_time(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, [words(10, f"p{i}_") for i in range(4)])
    with FakeServer(latency=0.05) as server:
        assert cli("run", "--base-url", server.base_url, "-q", "--concurrency", "1").exit_code == 0
    assert server.max_in_flight == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "Error: --concurrency must be at least 1"),
        (["--max-attempts", "0"], "Error: --max-attempts must be at least 1"),
        (["--limit", "0"], "Error: --limit must be at least 1"),
        (
            ["--base-url", "localhost:1234"],
            "Error: invalid --base-url 'localhost:1234': "
            "expected http(s)://HOST[:PORT]/v1, e.g. http://localhost:1234/v1",
        ),
        (
            ["--base-url", "ftp://example/v1"],
            "Error: invalid --base-url 'ftp://example/v1': "
            "expected http(s)://HOST[:PORT]/v1, e.g. http://localhost:1234/v1",
        ),
        (
            ["--system-prompt", "a", "--system-prompt-file", "x"],
            "Error: give --system-prompt or --system-prompt-file, not both",
        ),
        (["--system-prompt-file", "missing.txt"], "Error: missing.txt does not exist"),
        (
            ["--judge-base-url", "garbage"],
            "Error: invalid --judge-base-url 'garbage': "
            "expected http(s)://HOST[:PORT]/v1, e.g. http://localhost:1234/v1",
        ),
    ],
)
def test_bad_options_are_one_line_and_change_nothing(cli, tmp_path, db_path, args, message):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    before = db_path.read_bytes()
    result = cli("run", *args)
    assert result.exit_code == 1
    assert result.stderr.strip() == message
    assert "Traceback" not in result.output
    assert db_path.read_bytes() == before


def test_unreachable_server_is_reported_fast_and_changes_nothing(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    with FakeServer() as server:
        url = server.base_url  # a port that was just free and is closed now
    before = db_path.read_bytes()
    started = time.perf_counter()
    result = cli("run", "--base-url", url)
    assert time.perf_counter() - started < 10
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"Error: cannot reach {url}: is the server running? "
        "(LM Studio: Developer tab → Start Server)"
    )
    assert db_path.read_bytes() == before
    assert Database(db_path)["runs"].count == 0


def test_hanging_server_is_reported_within_ten_seconds(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    with FakeServer(models_reply=Reply(delay=30, drop=True)) as server:
        started = time.perf_counter()
        result = cli("run", "--base-url", server.base_url)
        assert time.perf_counter() - started < 10
    assert result.exit_code == 3
    assert "did not answer within" in result.stderr
    assert Database(db_path)["runs"].count == 0


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(body="hello"), "did not answer with an OpenAI-style model list"),
        (Reply(status=404, body="not found"), "answered HTTP 404"),
        (Reply(status=401, body="{}"), "refused the API key (HTTP 401)"),
    ],
)
def test_server_that_is_not_openai_compatible(cli, tmp_path, db_path, reply, message):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    with FakeServer(models_reply=reply) as server:
        result = cli("run", "--base-url", server.base_url)
        assert server.requests == []
    assert result.exit_code == 3
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_server_without_models_needs_model_option(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, [words(10)])
    with FakeServer(models=()) as server:
        result = cli("run", "--base-url", server.base_url, "-q")
        assert result.exit_code == 3
        assert "lists no models" in result.stderr
        assert cli("run", "--base-url", server.base_url, "-q", "--model", "x").exit_code == 0


def test_run_without_a_database_says_ingest_first(cli, tmp_path, db_path):
    result = cli("run")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: no database at {db_path}: run `workbench ingest` first"
    assert not db_path.exists()


def leave_running_run(
    cli, fake, db_path: Path, pid: int, hostname: str | None = None, heartbeat: str | None = None
) -> None:
    """A first run, then a runs row as a process that is still running, or was killed, leaves
    it, holding the claim on the paragraph the first run left."""
    assert run(cli, fake, "--limit", "1").exit_code == 0
    with Database(db_path) as db:
        db.table("runs").insert(
            {"recipe_id": 1, "rules_id": 1, "started_at": "2020-01-01T00:00:00.000Z",
             "status": "running", "base_url": "u", "settings": "{}", "pid": pid,
             "hostname": hostname or socket.gethostname(), "heartbeat_at": heartbeat}
        )  # fmt: skip
        db.execute(
            "INSERT INTO claims (paragraph_id, recipe_id, run_id, claimed_at, lease_until) "
            "SELECT id, 1, 2, '2020-01-01T00:00:00.000Z', ? FROM paragraphs WHERE id = 2",
            [heartbeat or "2999-01-01T00:00:00.000Z"],
        )
        db.conn.commit()


def test_a_live_runs_paragraphs_are_left_to_it(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10, "a"), words(10, "b")])
    leave_running_run(cli, fake, db_path, os.getppid())
    result = run(cli, fake)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        "Nothing to do now: every pending paragraph under recipe 'default' is being worked by "
        f"run #2 (process {os.getppid()})."
    )
    assert len(fake.requests) == 1  # the first run's; b is the live run's
    assert [r["id"] for r in Database(db_path).query("SELECT id FROM runs")] == [1, 2]
    # What it judges by, and the budgets of the recipe it works, are not changed under it.
    server = ("--base-url", fake.base_url)
    for args in [("rules", "--min-ratio", "0.5"), ("run", "--min-ratio", "0.5", *server),
                 ("run", "--max-attempts", "2", *server)]:  # fmt: skip
        result = cli(*args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith(
            f"Error: run #2 (process {os.getppid()}) is still working on this database, and "
        )


def test_a_dead_run_is_closed_as_interrupted_and_its_claims_taken_at_once(
    cli, fake, tmp_path, db_path
):
    ingest_paragraphs(cli, tmp_path, [words(10, "a"), words(10, "b")])
    leave_running_run(cli, fake, db_path, 999_999_999)
    assert run(cli, fake).exit_code == 0
    rows = list(Database(db_path).query("SELECT id, status, message FROM runs ORDER BY id"))
    assert [(r["id"], r["status"]) for r in rows] == [
        (1, "completed"),
        (2, "interrupted"),
        (3, "completed"),
    ]
    assert rows[1]["message"] == "the process ended without closing the run (killed?)"
    assert set(statuses(db_path).values()) == {"succeeded"}
    assert Database(db_path)["claims"].count == 0


def test_a_run_on_another_host_is_alive_while_it_beats(cli, fake, tmp_path, db_path):
    """Another host's process cannot be asked: its heartbeat says whether it lives. Once it is
    older than a lease, its run is closed and its claims are free (a container started again
    under a new host name is not locked out)."""
    ingest_paragraphs(cli, tmp_path, [words(10, "a"), words(10, "b")])
    from workbench.store.times import utc_after

    leave_running_run(cli, fake, db_path, 1, "elsewhere", heartbeat=utc_after(30))
    result = run(cli, fake)
    assert "being worked by run #2 (process 1 on elsewhere)" in result.stdout
    with Database(db_path) as db:  # it stops beating
        db.execute("UPDATE runs SET heartbeat_at = ? WHERE id = 2", [utc_after(-61)])
        db.execute("UPDATE claims SET lease_until = ? WHERE run_id = 2", [utc_after(-1)])
        db.conn.commit()
    assert run(cli, fake).exit_code == 0
    rows = list(Database(db_path).query("SELECT status, message FROM runs WHERE id = 2"))
    assert rows == [
        {"status": "interrupted",
         "message": "no heartbeat from elsewhere for over 60 s (its process is gone?)"}
    ]  # fmt: skip
    assert set(statuses(db_path).values()) == {"succeeded"}


def test_progress_goes_to_stderr_and_quiet_silences_it(cli, fake, tmp_path):
    ingest_paragraphs(cli, tmp_path, [words(10, "a"), words(10, "b")])
    result = cli("run", "--base-url", fake.base_url, "--limit", "1")
    lines = result.stderr.splitlines()
    assert lines[0] == "new recipe 'default' (the job's first):"
    assert lines[1] == "  model              fake-model"
    assert "Run #1: 1 paragraphs with recipe 'default' (fake-model)" in lines
    assert result.stdout.startswith("Run #1 completed (recipe 'default', fake-model): 1 succeeded")
    result = cli("run", "--base-url", fake.base_url, "--quiet")
    assert result.stderr == ""
    assert result.stdout.startswith("Run #2 completed")


def test_version(cli):
    from workbench import __version__

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"workbench {__version__}\n"
