"""Sentences of a paragraph, for measures that compare two texts sentence by sentence."""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (with the closing quotes or brackets after it), before white space
# and the capital (or opening quote) of the next one; a line break (verse) ends one too.
_END = re.compile(r"[.!?]+[\"”’)\]]*(?=\s+[\"“‘(\[]?[A-Z])|(?=\n)")
# Words whose full stop ends no sentence: "Mr. Bennet", "St. Aubert's", "Dr. Bell".
ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "messrs", "dr", "st", "mt", "jr", "sr", "rev", "capt", "col", "gen",
     "lt", "sgt", "prof", "hon", "esq", "no", "vol", "ch", "fig"}
)  # fmt: skip
_LAST_WORD = re.compile(r"(\w+)\W*$")


def sentences(text: str) -> list[str]:
    """The text's sentences, in order; the whole text when it has one (or none)."""
    found, start = [], 0
    for end in _END.finditer(text):
        before = _LAST_WORD.search(text, start, end.start() + 1)
        if end.group().startswith(".") and before and before.group(1).lower() in ABBREVIATIONS:
            continue
        found.append(text[start : end.end()].strip())
        start = end.end()
    found.append(text[start:].strip())
    return [s for s in found if s] or [text.strip()]
