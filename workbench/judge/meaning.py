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

from collections.abc import Sequence
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
    the paragraph's answer is asked for (meaning_threads.py). Nothing for WordLlama, whose cost
    is a fraction of a millisecond."""
    if model == "minilm" and original.strip():
        from workbench.judge import meaning_threads  # threads and futures: not at start-up

        meaning_threads.prefetch(original)


def _minilm(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """MiniLM's meaning, measured together with that of other threads asking at once."""
    from workbench.judge import meaning_threads

    return meaning_threads.together(pairs, _minilm_now)


def _minilm_now(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """MiniLM's meaning: the mean of the paragraphs' cosine and the original's sentences'
    coverage. Originals and their sentences stay embedded in the encoder's cache."""
    import numpy

    from workbench.judge import meaning_threads, minilm

    split = {text: sentences(text) for pair in pairs for text in pair if text.strip()}
    originals = {o for o, a in pairs if o.strip() and a.strip()}
    meaning_threads.await_prefetched(originals)
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
