"""Meaning similarity: WordLlama offline, and a server's /embeddings on loopback."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

from tests.fakeserver import FakeServer, Reply
from workbench.judge import embeddings
from workbench.judge import wordllama as meaning
from workbench.judge.vectors import MeaningUnavailable
from workbench.llm.client import Server
from workbench.llm.retry import is_transient

ORIGINAL = (
    "Léonie Marsh was six when the clock stopped and seventeen when she decided to start it "
    "again. She told no one of the decision, least of all her father."
)
PARAPHRASE = (
    "Léonie Marsh had been six years old when the clock stopped; at seventeen she made up her "
    "mind to set it going again, and kept it from everyone, above all her father."
)
UNRELATED = "Stock markets fell sharply on Tuesday as investors worried about interest rates."


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_wordllama_loads_offline_without_touching_the_network():
    # Every socket connection raises: loading and scoring must not need one.
    result = run_python(
        """
        import logging, socket, sys

        def refuse(*args, **kwargs):
            raise OSError("network use in an offline test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        from workbench.judge import wordllama as meaning

        paraphrase = meaning.similarity("The cat sat on the mat.", "A cat was sitting on the rug.")
        unrelated = meaning.similarity("The cat sat on the mat.", "Stock markets fell on Tuesday.")
        assert paraphrase > 0.5 > unrelated, (paraphrase, unrelated)
        assert "huggingface_hub" not in sys.modules
        assert logging.getLogger().handlers == [], "import wordllama configured logging"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_wordllama_stays_off_the_import_path_of_commands():
    result = run_python(
        """
        import sys
        import workbench.cli, workbench.judge.wordllama, workbench.judge.facts
        assert "wordllama" not in sys.modules, "imported at start-up"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr


def test_a_paraphrase_scores_higher_than_unrelated_text():
    paraphrase = meaning.similarity(ORIGINAL, PARAPHRASE)
    unrelated = meaning.similarity(ORIGINAL, UNRELATED)
    assert 0.7 < paraphrase <= 1.0
    assert unrelated < 0.3
    assert meaning.similarity(ORIGINAL, ORIGINAL) == pytest.approx(1.0)


def test_the_batch_form_gives_the_same_scores():
    pairs = [(ORIGINAL, PARAPHRASE), (ORIGINAL, UNRELATED), (ORIGINAL, "")]
    scores = meaning.similarities(pairs)
    assert scores[:2] == pytest.approx([meaning.similarity(o, a) for o, a in pairs[:2]], abs=1e-6)
    assert scores[2] == 0.0  # a blank answer has no meaning to compare
    assert meaning.similarities([]) == []


def test_the_model_is_loaded_once_and_shared():
    assert meaning.load_wordllama() is meaning.load_wordllama()


def test_a_missing_package_is_one_line(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MeaningUnavailable) as error:
        meaning.wordllama_files()
    assert str(error.value) == "the meaning rule needs WordLlama: pip install 'wordllama>=0.4'"


def test_a_missing_model_file_is_one_line(monkeypatch):
    monkeypatch.setattr(meaning, "WORDLLAMA_WEIGHTS", Path("weights") / "gone.safetensors")
    with pytest.raises(MeaningUnavailable) as error:
        meaning.wordllama_files()
    message = str(error.value)
    assert "\n" not in message
    assert "gone.safetensors is missing: reinstall it" in message


# --- POST /embeddings -------------------------------------------------------------------------


def call(fake: FakeServer, original: str = ORIGINAL, answer: str = PARAPHRASE, **kw):
    server = Server(fake.base_url)
    return embeddings.embeddings_similarity(
        server, server.session(), "embedder", original, answer, **kw
    )


def test_the_server_scores_a_pair(fake):
    result = call(fake)
    assert result.error is None and not result.failed
    assert result.http_status == 200
    assert fake.embedding_requests == [{"model": "embedder", "input": [ORIGINAL, PARAPHRASE]}]
    assert result.request == fake.embedding_requests[0]
    assert len(json.loads(result.response)["data"]) == 2
    assert 0.3 < result.score < 1.0
    assert result.latency_s > 0 and result.started_at <= result.finished_at


def test_the_score_is_the_cosine_of_the_two_vectors(fake):
    assert call(fake, "the cat sat", "sat the cat").score == pytest.approx(1.0)
    unrelated = call(fake, "alpha beta gamma", "delta epsilon zeta").score
    assert unrelated < 0.5


def test_a_server_error_is_recorded_not_raised(fake):
    fake.enqueue_embeddings(Reply.error(500, "model crashed"))
    result = call(fake)
    assert (result.error, result.error_detail, result.http_status) == (
        "http_500",
        "model crashed",
        500,
    )
    assert result.score is None and result.failed
    assert is_transient(result)  # the caller's retry policy applies as to a completion


def test_a_server_without_embeddings_is_refused_not_retried(fake):
    fake.enqueue_embeddings(Reply.error(404, "no embedding model loaded"))
    result = call(fake)
    assert result.error == "http_404" and not is_transient(result)


def test_a_garbage_body_is_bad_json(fake):
    fake.enqueue_embeddings(Reply(body="<html>oops</html>"))
    result = call(fake)
    assert result.error == "bad_json"
    assert result.response == "<html>oops</html>"
    assert is_transient(result)


@pytest.mark.parametrize(
    "body",
    [
        {"data": []},
        {"data": [{"embedding": [1.0, 0.0]}]},
        {"data": [{"embedding": [1.0, 0.0]}, {"embedding": [1.0]}]},
        {"data": [{"embedding": "nope"}, {"embedding": [1.0]}]},
        {"data": [{"embedding": [1.0, None]}, {"embedding": [1.0, 2.0]}]},
        {"data": [{"embedding": [1.0, float("nan")]}, {"embedding": [1.0, 2.0]}]},
        {"object": "list"},
        [1, 2],
    ],
)
def test_a_body_without_two_embeddings_is_bad_body(fake, body):
    fake.enqueue_embeddings(Reply(body=json.dumps(body)))
    result = call(fake)
    assert result.error == "bad_body", result.error_detail
    assert result.score is None


def test_embeddings_out_of_order_are_put_back_in_order(fake):
    body = {
        "data": [
            {"index": 1, "embedding": [0.0, 1.0]},
            {"index": 0, "embedding": [1.0, 0.0]},
        ]
    }
    fake.enqueue_embeddings(Reply(body=json.dumps(body)))
    assert call(fake).score == pytest.approx(0.0)


def test_a_dropped_connection_and_a_timeout_are_recorded(fake):
    fake.enqueue_embeddings(Reply(drop=True), Reply(delay=0.5))
    assert call(fake).error == "connection_error"
    assert call(fake, timeout=0.1).error == "timeout"


def test_an_unreachable_server_is_a_connection_error():
    with FakeServer() as fake:
        url = fake.base_url
    server = Server(url)
    result = embeddings.embeddings_similarity(server, requests.Session(), "m", "a b", "a b")
    assert result.error == "connection_error" and result.http_status is None
