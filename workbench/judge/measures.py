"""Measures of an answer's text against the original: word-sequence similarity and repetition."""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w']+")


def similarity(original: str, answer: str) -> float:
    """How much of the answer is the original's word sequence, from 0 to 1: twice the longest
    common subsequence of their words over the words of both (difflib's ratio, computed exactly
    by rapidfuzz, some 40 times faster), lower-cased, punctuation ignored. A copy scores 1, a
    real paraphrase well under 0.7."""
    from rapidfuzz.distance import Indel  # here: commands that judge nothing never load it

    a, b = _WORD.findall(original.lower()), _WORD.findall(answer.lower())
    return Indel.normalized_similarity(a, b) if a and b else 0.0


def repeated_share(text: str, n: int = 4) -> float:
    """The share of a text's word n-grams that occur in it more than once: 0 for prose, high
    for an answer that loops (or copies the original and then repeats it)."""
    repeated, grams = repeated_grams(text, n)
    return repeated / grams if grams else 0.0


def repeated_grams(text: str, n: int = 4) -> tuple[int, int]:
    """(n-grams of the text that occur in it more than once, all its n-grams). The first
    never falls as text is added, which lets a stream be stopped on a loop (judge/early.py)."""
    words = _WORD.findall(text.lower())
    grams = [tuple(words[k : k + n]) for k in range(len(words) - n + 1)]
    seen: dict[tuple[str, ...], int] = {}
    for gram in grams:
        seen[gram] = seen.get(gram, 0) + 1
    return sum(c for c in seen.values() if c > 1), len(grams)
