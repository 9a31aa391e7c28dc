"""Streaming that stops early: server-sent events read as they come, the connection closed as
soon as a rule fires that more text cannot undo, and what the attempt keeps of it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import ingest_paragraphs, run_against, words
from tests.fakeserver import FakeServer, Reply
from workbench.engine.recipes import Recipe
from workbench.judge.early import EarlyStop
from workbench.judge.settings import DEFAULT_RULES
from workbench.judge.verdict import judge, validate

DATA = Path(__file__).parent / "data"
TEN = words(10)


def run(cli, fake, *args):
    return run_against(cli, fake, "--disable-rule", "meaning_drift", "--max-attempts", "1", *args)


def only_attempt(db_path):
    (row,) = Database(db_path).query("SELECT * FROM attempts")
    return row


LOOP = "and the door was shut " * 40
CASES = [
    # (answer streamed, the rule that stops it, the most pieces it may take before stopping)
    ("### Paraphrased Text: " + words(60, "w"), "banned_phrase", 3),
    (words(9, "a") + "\n\n" + words(60, "b"), "multiple_paragraphs", 11),
    (words(100, "x"), "too_long", 21),  # int(2 × 10) = 20 words allowed
    (LOOP, "repetition", 60),
]


@pytest.mark.parametrize(("answer", "reason", "most"), CASES, ids=[c[1] for c in CASES])
def test_a_stream_is_stopped_as_soon_as_a_rule_fires_for_good(
    cli, tmp_path, db_path, answer, reason, most
):
    ingest_paragraphs(cli, tmp_path, [TEN])
    with FakeServer(piece_delay=0.005) as fake:
        fake.enqueue(Reply(answer))
        assert run(cli, fake).exit_code == 0
        (sent,) = fake.streamed
    assert sent.closed_by_client
    # It wrote a piece or two into the socket after the close, before the reset reached it.
    assert sent.pieces <= most + 3 and sent.total > most + 10
    row = only_attempt(db_path)
    assert (row["outcome"], row["reason"], row["finish_reason"]) == ("rejected", reason, "aborted")
    assert answer.startswith(row["answer"]) and len(row["answer"]) < len(answer)
    assert row["completion_tokens"] <= most  # the pieces received, one a token
    # The events exactly as received: no end, no usage.
    assert row["response"].startswith("data: {") and "[DONE]" not in row["response"]
    pieces = [json.loads(e[6:]) for e in row["response"].split("\n\n") if e.startswith("data: ")]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in pieces)
    assert text.strip() == row["answer"]
    assert json.loads(row["request"])["stream"] is True


def test_an_answer_that_passes_is_read_to_its_end(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [TEN])
    fake.enqueue(Reply(words(12, "ok")))
    assert run(cli, fake).exit_code == 0
    row = only_attempt(db_path)
    assert (row["outcome"], row["finish_reason"], row["completion_tokens"]) == (
        "accepted",
        "stop",
        12,
    )
    assert row["response"].endswith("data: [DONE]\n\n")
    assert not fake.streamed[0].closed_by_client


def test_no_stream_reads_whole_answers(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [TEN])
    fake.enqueue(Reply(words(100, "x")))
    assert run(cli, fake, "--no-stream").exit_code == 0
    row = only_attempt(db_path)
    assert (row["reason"], row["finish_reason"]) == ("too_long", "stop")
    assert "stream" not in fake.requests[0] and fake.streamed == []


def test_a_server_that_does_not_stream_is_asked_the_usual_way(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [words(10, f"p{i}_") for i in range(3)])
    with FakeServer(streams=False) as fake:
        assert run(cli, fake, "--concurrency", "1").exit_code == 0
        streamed = ["stream" in body for body in fake.requests]
    assert streamed == [True, False, False]  # asked once; it answered with one body
    outcomes = [r["outcome"] for r in Database(db_path).query("SELECT outcome FROM attempts")]
    assert outcomes == ["accepted"] * 3


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(words(12, "ok"), cut_after=4), "bad_stream"),
        (Reply(body=None, content=words(12, "ok"), cut_after=0), "bad_stream"),
    ],
)
def test_a_stream_cut_short_is_a_failure_retried(cli, fake, tmp_path, db_path, reply, reason):
    ingest_paragraphs(cli, tmp_path, [TEN])
    fake.enqueue(reply, Reply(words(12, "ok")))
    assert run(cli, fake).exit_code == 0
    rows = list(Database(db_path).query("SELECT outcome, reason, response FROM attempts"))
    assert [(r["outcome"], r["reason"]) for r in rows] == [("failed", reason), ("accepted", None)]
    assert rows[0]["response"].startswith("data: ")  # what came is kept


def test_an_error_event_is_a_failure_retried(cli, fake, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [TEN])
    event = 'data: {"error": {"message": "out of memory"}}\n\n'
    fake.enqueue(Reply(body=event, headers={"Content-Type": "text/event-stream"}), words(12))
    assert run(cli, fake).exit_code == 0
    rows = list(Database(db_path).query("SELECT reason, detail FROM attempts"))
    assert (rows[0]["reason"], rows[0]["detail"]) == ("stream_error", "out of memory")


def test_a_stopped_answer_keeps_its_verdict_when_judged_again(cli, fake, tmp_path, db_path):
    """Judged again under the same rules it gets the same verdict; under rules that would let
    its text pass, it is truncated, never accepted: it is not the whole answer."""
    ingest_paragraphs(cli, tmp_path, [TEN])
    fake.enqueue(Reply("### Paraphrased Text: " + words(60, "w")))
    assert run(cli, fake).exit_code == 0
    assert cli("rules", "--min-ratio", "0.5").exit_code == 0
    assert only_attempt(db_path)["reason"] == "banned_phrase"
    assert cli("rules", "--disable-rule", "banned_phrase", "--min-ratio", "0.1").exit_code == 0
    row = only_attempt(db_path)
    assert (row["outcome"], row["reason"]) == ("rejected", "truncated")
    assert row["detail"] == "workbench stopped reading it early (finish_reason: aborted)"


# --- the decision, on real answers ----------------------------------------------------------


def pieces_of(text: str) -> list[str]:
    """A text as a server streams it: a word a piece, with the space before it."""
    return re.findall(r"\s*\S+|\s+", text)


def stopped_at(original: str, answer: str) -> tuple[int, str | None]:
    """Where EarlyStop stops a real answer streamed a word at a time: (pieces read, rule)."""
    max_tokens = Recipe(model="m").max_tokens_for(len(original.split()), DEFAULT_RULES.max_ratio)
    watch = EarlyStop(original, DEFAULT_RULES, max_tokens)
    text = ""
    for n, piece in enumerate(pieces_of(answer), start=1):
        text += piece
        reason = watch(text)
        if reason is not None:
            return n, reason
    return len(pieces_of(answer)), None


def real_answers() -> list[tuple[str, str, str]]:
    rows = [json.loads(line) for line in (DATA / "smollm2-answers.jsonl").read_text().splitlines()]
    return [(r["original"], r["answer"], r["finish_reason"]) for r in rows]


def test_real_answers_are_stopped_only_when_the_whole_answer_is_rejected():
    """68 real SmolLM2-135M answers replayed a word at a time: every one stopped early is one
    the rules reject whole, and the stopped text gets the stopping rule as its verdict."""
    stopped = 0
    for original, answer, finish_reason in real_answers():
        n, reason = stopped_at(original, answer)
        if reason is None:
            continue
        stopped += 1
        assert validate(original, answer, finish_reason, DEFAULT_RULES) is not None, answer
        partial = "".join(pieces_of(answer)[:n])
        verdict = judge(original, partial, "aborted", DEFAULT_RULES)
        assert verdict.reason == reason
    assert stopped >= 10  # the loops and second paragraphs small models write


def test_good_answers_are_never_stopped():
    for original, answer, _ in real_answers():
        if validate(original, answer, "stop", DEFAULT_RULES) is None:
            assert stopped_at(original, answer) == (len(pieces_of(answer)), None)
    # And a hand-written paraphrase of every length, streamed: never stopped.
    assert stopped_at(TEN, words(20, "y")) == (20, None)
