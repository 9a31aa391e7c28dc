"""Meaning similarity offline: the model a job's rules name, loaded from its installed wheel.

Two models, each giving the cosine of the two texts' embeddings (1 the same meaning, near 0
unrelated), both loaded lazily once per process, so commands that do not judge never import
them:

- `minilm` (the default for new jobs): all-MiniLM-L6-v2, a contextual sentence encoder
  (minilm.py). It tells a freely written, faithful rewrite from one that says something else
  far better than a bag of words can: on books it never saw, 0.95 of the answers it accepted
  were good while it kept 0.92 of the good ones (benchmarks/measure_meaning.py).
- `wordllama`: the word-level measure of jobs made before MiniLM (wordllama.py), kept for them
  and for anyone who wants it back: `workbench rules --meaning-model wordllama`.

A job can also measure meaning with an embeddings model of its server (`--embeddings-model`):
that goes through checks.py, not here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

MeaningModel = Literal["minilm", "wordllama"]
MEANING_MODELS: tuple[MeaningModel, ...] = ("minilm", "wordllama")
NAMES: dict[str, str] = {"minilm": "MiniLM", "wordllama": "WordLlama"}
# The full name, for doctor and the docs.
DESCRIPTIONS: dict[str, str] = {
    "minilm": "MiniLM (all-MiniLM-L6-v2, a sentence encoder)",
    "wordllama": "WordLlama (l2_supercat 256-d, averaged word vectors)",
}


def similarities(model: str, pairs: Sequence[tuple[str, str]]) -> list[float]:
    """The meaning similarity of each (original, answer), embedded in batches."""
    if model == "minilm":
        from workbench.judge import minilm

        return minilm.similarities(pairs)
    from workbench.judge import wordllama

    return wordllama.similarities(pairs)


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
