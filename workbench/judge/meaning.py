"""Meaning similarity offline: the model a job's rules name, loaded from its installed wheel.

Two models, each giving the cosine of the two texts' embeddings (1 the same meaning, near 0
unrelated), both loaded lazily once per process, so commands that do not judge never import
them:

- `minilm` (the default for new jobs): all-MiniLM-L6-v2, a contextual sentence encoder
  (minilm.py), in two views averaged: the cosine of the two paragraphs, and how well each
  sentence of the original is said somewhere in the answer (the mean, over the original's
  sentences, of each one's best cosine with a sentence of the answer). The first sees an answer
  about something else; the second sees a part left out, and forgives a free rewrite that
  splits, merges and reorders sentences, which scores lower as a whole. On books the threshold
  was not chosen on, the two together kept 0.973 of the good answers where the paragraphs'
  cosine alone kept 0.925, with as few bad ones accepted (benchmarks/measure_meaning.py).
- `wordllama`: the word-level measure of jobs made before MiniLM (wordllama.py): the cosine of
  the two paragraphs' averaged word vectors. Kept for those jobs and for anyone who wants it
  back: `workbench rules --meaning-model wordllama`.

A job can also measure meaning with an embeddings model of its server (`--embeddings-model`):
that goes through checks.py, not here.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

from workbench.judge.sentences import sentences

MeaningModel = Literal["minilm", "wordllama"]
MEANING_MODELS: tuple[MeaningModel, ...] = ("minilm", "wordllama")
NAMES: dict[str, str] = {"minilm": "MiniLM", "wordllama": "WordLlama"}
# The full name, for doctor and the docs.
DESCRIPTIONS: dict[str, str] = {
    "minilm": "MiniLM (all-MiniLM-L6-v2, a sentence encoder)",
    "wordllama": "WordLlama (l2_supercat 256-d, averaged word vectors)",
}


def similarities(model: str, pairs: Sequence[tuple[str, str]]) -> list[float]:
    """The meaning similarity of each (original, answer), embedded in batches; 0.0 when either
    is blank."""
    if model == "minilm":
        return _minilm(pairs)
    from workbench.judge import wordllama

    return wordllama.similarities(pairs)


def prefetch(model: str, original: str) -> None:
    """Start embedding `original` and its sentences in the background, for a run to call while
    the paragraph's answer is asked for: the CPU is idle then, and the answer's check, which
    waits for it, then embeds the answer alone (about half of MiniLM's cost an answer). Nothing
    for WordLlama, whose cost is a fraction of a millisecond."""
    if model != "minilm" or not original.strip():
        return
    global _jobs
    with _prefetch_lock:
        if original in _prefetching:
            return
        if _jobs is None:  # one thread: it overlaps the requests, not the other checks
            _jobs = queue.SimpleQueue()
            # A daemon: a run that stops (Ctrl-C) must not wait for what it no longer needs.
            threading.Thread(
                target=_prefetch_loop, args=(_jobs,), name="meaning-prefetch", daemon=True
            ).start()
        future: Future[None] = Future()
        _prefetching[original] = future
        _jobs.put((original, future))
    future.add_done_callback(lambda _: _forget(original, future))


_jobs: queue.SimpleQueue[tuple[str, Future[None]]] | None = None
_prefetching: dict[str, Future[None]] = {}
_prefetch_lock = threading.Lock()


def _prefetch_loop(jobs: queue.SimpleQueue[tuple[str, Future[None]]]) -> None:
    while True:
        original, future = jobs.get()
        if not future.set_running_or_notify_cancel():
            continue  # taken back: its answer came first
        try:
            _embed_original(original)
        except BaseException as e:  # the asker's own embedding raises it in its place
            future.set_exception(e)
        else:
            future.set_result(None)


def _embed_original(original: str) -> None:
    from workbench.judge import minilm

    texts = {original, *sentences(original)}
    minilm.load_minilm().vectors(texts, kept=texts)


def _forget(original: str, future: Future[None]) -> None:
    with _prefetch_lock:
        if _prefetching.get(original) is future:
            del _prefetching[original]


def _await_prefetched(originals: set[str]) -> None:
    """Wait for the originals being embedded in the background, sooner than embedding them
    again; one still queued there (the answer came first) is taken back and embedded with the
    answer. A failure there is left to the caller's own embedding, which raises it in its place."""
    with _prefetch_lock:
        pending = [f for o in originals if (f := _prefetching.get(o)) is not None]
    for future in pending:
        if not future.cancel():  # already running: nearly done
            future.exception()


@dataclass(eq=False)
class _Asked:
    """One thread's pairs, waiting to be measured with the others'."""

    pairs: Sequence[tuple[str, str]]
    found: list[float] | None = None
    error: BaseException | None = None
    done: bool = False


_asked: list[_Asked] = []
_measuring = False
_turn = threading.Condition()


def _minilm(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """MiniLM's meaning, the pairs of threads that ask at once measured together: a run's
    answers often arrive together, and one batch of four costs far less than four of one. The
    first to ask measures what is waiting; those who ask meanwhile wait, and the next batch is
    theirs (one of them measures it)."""
    global _measuring
    mine = _Asked(pairs)
    with _turn:
        _asked.append(mine)
        while not mine.done and _measuring:
            _turn.wait()
        if not mine.done:
            _measuring, batch = True, list(_asked)
            _asked.clear()
    if not mine.done:
        try:
            found = _minilm_now([pair for asked in batch for pair in asked.pairs])
            for asked in batch:
                asked.found, found = found[: len(asked.pairs)], found[len(asked.pairs) :]
        except BaseException as e:  # each asker raises it as its own
            for asked in batch:
                asked.error = e
        finally:
            with _turn:
                _measuring = False
                for asked in batch:
                    asked.done = True
                _turn.notify_all()
    if mine.error is not None:
        raise mine.error
    assert mine.found is not None
    return mine.found


def _minilm_now(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """MiniLM's meaning: the mean of the paragraphs' cosine and the original's sentences'
    coverage. Originals and their sentences stay embedded in the encoder's cache."""
    import numpy

    from workbench.judge import minilm

    split = {text: sentences(text) for pair in pairs for text in pair if text.strip()}
    originals = {o for o, a in pairs if o.strip() and a.strip()}
    _await_prefetched(originals)
    kept = originals | {s for o in originals for s in split[o]}
    wanted = [t for pair in pairs for text in pair if text.strip() for t in (text, *split[text])]
    vectors = minilm.load_minilm().vectors(wanted, kept=kept)
    found = []
    for original, answer in pairs:
        if not original.strip() or not answer.strip():
            found.append(0.0)
            continue
        whole = float(numpy.dot(vectors[original], vectors[answer]))
        said = numpy.stack([vectors[s] for s in split[original]])
        saying = numpy.stack([vectors[s] for s in split[answer]])
        coverage = float((said @ saying.T).max(axis=1).mean())
        found.append(min(1.0, max(-1.0, (whole + coverage) / 2)))
    return found


def similarity(model: str, original: str, answer: str) -> float:
    return similarities(model, [(original, answer)])[0]


def load(model: str) -> None:
    """Load the model now (it loads on first use otherwise): raises MeaningUnavailable in one
    line when its package or files are missing."""
    if model == "minilm":
        from workbench.judge import minilm

        minilm.load_minilm()
    else:
        from workbench.judge import wordllama

        wordllama.load_wordllama()
