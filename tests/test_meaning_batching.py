"""MiniLM's cost on a run's critical path: the original measured while its answer is asked
for, and the answers of threads that ask at once measured in one batch."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import ingest_paragraphs, run_against
from tests.fakeserver import FakeServer
from workbench.judge import meaning, meaning_threads, minilm
from workbench.judge.sentences import sentences
from workbench.judge.vectors import MeaningUnavailable


def unique(stem: str) -> tuple[str, str]:
    """An original of two sentences and a paraphrase, unlike any other test's (the encoder's
    cache is the process's)."""
    tag = f"{stem}{time.monotonic_ns()}"
    original = (
        f"The ferryman {tag} waited at the landing until the fog lifted. "
        "Then he rowed the doctor across, slowly, counting the strokes aloud."
    )
    answer = (
        f"Ferryman {tag} stayed at the landing till the fog had gone, and then took the doctor "
        "over the water, slowly, saying each stroke out loud."
    )
    return original, answer


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every text the encoder embeds, with the name of the thread that embedded it."""
    seen: list[tuple[str, str]] = []
    real = minilm.MiniLM.embed

    def recording(self: minilm.MiniLM, texts):
        texts = list(texts)
        seen.extend((text, threading.current_thread().name) for text in texts)
        return real(self, texts)

    monkeypatch.setattr(minilm.MiniLM, "embed", recording)
    return seen


def test_a_prefetched_original_is_embedded_in_the_background_once(embedded):
    original, answer = unique("prefetch")
    meaning.prefetch("minilm", original)
    deadline = time.monotonic() + 10
    while not embedded and time.monotonic() < deadline:  # the request is out meanwhile
        time.sleep(0.001)
    score = meaning.similarity("minilm", original, answer)  # waits for the prefetch to end
    by_text = {text: thread for text, thread in embedded}
    assert [text for text, _ in embedded].count(original) == 1
    assert by_text[original].startswith("meaning-prefetch")
    for sentence in sentences(original):
        assert by_text[sentence].startswith("meaning-prefetch")
    assert not by_text[answer].startswith("meaning-prefetch")  # the answer, in the asker's thread
    assert score == pytest.approx(meaning._minilm_now([(original, answer)])[0], abs=1e-5)


def test_an_original_still_queued_when_its_answer_comes_is_embedded_with_it(embedded, monkeypatch):
    slow, _ = unique("slow")
    original, answer = unique("queued")
    real = minilm.MiniLM.embed  # the recording one

    def slow_for_one(self, texts):
        texts = list(texts)
        if slow in texts:
            time.sleep(1.5)  # long enough that the next is still queued when its answer comes
        return real(self, texts)

    monkeypatch.setattr(minilm.MiniLM, "embed", slow_for_one)
    meaning.prefetch("minilm", slow)  # takes the prefetching thread
    meaning.prefetch("minilm", original)  # waits behind it
    meaning.similarity("minilm", original, answer)  # taken back: not waiting for `slow`
    by_text = dict(embedded)
    assert [text for text, _ in embedded].count(original) == 1
    assert not by_text[original].startswith("meaning-prefetch")


def test_prefetching_is_for_minilm_alone(embedded):
    original, _ = unique("wordllama")
    meaning.prefetch("wordllama", original)  # WordLlama costs a fraction of a millisecond
    meaning.prefetch("minilm", "   ")  # nothing to measure
    time.sleep(0.2)
    assert embedded == []


def pairs_at_once(count: int) -> list[tuple[str, str]]:
    return [unique(f"together{i}x") for i in range(count)]


def test_answers_asked_at_once_are_measured_together(monkeypatch):
    pairs = pairs_at_once(4)
    alone = [meaning.similarity("minilm", o, a) for o, a in pairs]  # one at a time
    batches: list[int] = []
    measure = meaning._minilm_now

    def first_waits_for_the_others(asked):
        batches.append(len(asked))
        if len(batches) == 1:  # the first asker measures alone while the others queue
            deadline = time.monotonic() + 10
            while len(meaning_threads._asked) < len(pairs) - 1 and time.monotonic() < deadline:
                time.sleep(0.005)
        return measure(asked)

    monkeypatch.setattr(meaning, "_minilm_now", first_waits_for_the_others)
    with ThreadPoolExecutor(len(pairs)) as threads:
        together = list(threads.map(lambda pair: meaning.similarity("minilm", *pair), pairs))
    assert batches == [1, len(pairs) - 1]
    assert together == pytest.approx(alone, abs=1e-5)  # a vector does not depend on its batch


def test_a_failure_reaches_every_thread_that_asked_and_the_next_ask_works(monkeypatch):
    pairs = pairs_at_once(3)
    measure = meaning._minilm_now
    calls: list[int] = []

    def failing(asked):
        calls.append(len(asked))
        deadline = time.monotonic() + 10
        while len(calls) == 1 and len(meaning_threads._asked) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        raise MeaningUnavailable("the meaning model is missing")

    monkeypatch.setattr(meaning, "_minilm_now", failing)

    def ask(pair: tuple[str, str]) -> str:
        try:
            meaning.similarity("minilm", *pair)
        except MeaningUnavailable as e:
            return str(e)
        return "measured"

    with ThreadPoolExecutor(len(pairs)) as threads:
        said = list(threads.map(ask, pairs))
    assert said == ["the meaning model is missing"] * 3
    monkeypatch.setattr(meaning, "_minilm_now", measure)
    assert meaning.similarity("minilm", *pairs[0]) == pytest.approx(measure([pairs[0]])[0])


def test_a_run_measures_each_original_while_its_answer_is_asked_for(
    cli, tmp_path, fake, monkeypatch
):
    prefetched: list[tuple[str, str]] = []
    real = meaning.prefetch

    def recording(model: str, text: str) -> None:
        prefetched.append((model, text))
        real(model, text)

    monkeypatch.setattr(meaning, "prefetch", recording)
    paragraphs = [unique(f"run{i}x")[0] for i in range(3)]
    ingest_paragraphs(cli, tmp_path, paragraphs)
    result = run_against(cli, fake, "--max-attempts", "1")
    assert result.exit_code == 0, result.stderr
    assert sorted(prefetched) == sorted(("minilm", p) for p in paragraphs)
    prefetched.clear()
    assert cli("rules", "--disable-rule", "meaning_drift").exit_code == 0
    ingest_paragraphs(cli, tmp_path, [unique("off")[0]])
    assert run_against(cli, fake, "--max-attempts", "1").exit_code == 0
    assert prefetched == []  # nothing measured when the rule is off


def test_a_server_slot_is_not_idle_while_an_answer_is_judged(cli, tmp_path, monkeypatch):
    """Two workers a request: while one judges (here a slow meaning check), the other's request
    is out, and the servers still never get more requests at once than the run allows."""
    in_flight_while_judging: list[int] = []

    with FakeServer(latency=0.2) as fake:

        def slow_meaning(model: str, original: str, answer: str) -> float:
            most, until = 0, time.monotonic() + 0.3
            while time.monotonic() < until:
                most = max(most, fake.in_flight)
                time.sleep(0.01)
            in_flight_while_judging.append(most)
            return 0.9

        monkeypatch.setattr(meaning, "similarity", slow_meaning)
        ingest_paragraphs(cli, tmp_path, [unique(f"slot{i}x")[0] for i in range(8)])
        result = run_against(cli, fake, "--max-attempts", "1", "--concurrency", "2")
        assert result.exit_code == 0, result.stderr
    assert len(in_flight_while_judging) == 8
    assert max(in_flight_while_judging) == 2  # both requests out while an answer is judged
    assert fake.max_in_flight == 2


def test_the_process_exits_only_once_the_measures_under_way_are_done(tmp_path):
    """A daemon thread cut off inside the encoder can abort the process: the exit waits."""
    done = tmp_path / "done"
    script = f"""
import threading, time
from pathlib import Path
from workbench.judge import meaning_threads

def slow(pairs):
    time.sleep(0.5)
    Path({str(done)!r}).write_text("measured")
    return [0.0] * len(pairs)

threading.Thread(target=meaning_threads.together, args=([("a", "b")], slow), daemon=True).start()
time.sleep(0.1)  # the measure is under way; the main thread ends
"""
    ended = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ended.returncode == 0, ended.stderr
    assert done.read_text() == "measured"
