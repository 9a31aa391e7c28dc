"""Cleaners: what is certainly wrapping, not writing, removed before an answer is judged.

A reasoning model's <think> block, quotes around the whole answer. The attempt keeps both the
raw answer and the cleaned one; the cleaned one is judged and exported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.judge.settings import Rules


_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)


_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»"}


def strip_think(text: str, original: str) -> str:
    """Drop reasoning models' <think>…</think> blocks (an unclosed one runs to the end)."""
    if "</think>" in text and "<think>" not in text:  # some servers drop the opening tag
        text = text.split("</think>", 1)[1]
    return _THINK.sub("", text).strip()


def strip_quotes(text: str, original: str) -> str:
    """Drop quotes wrapped around the whole answer, unless the original is wrapped the same way
    or the answer has other quotes of that kind inside (then they are dialogue)."""
    if len(text) < 2 or text[0] not in _QUOTES or text[-1] != _QUOTES[text[0]]:
        return text
    opening, closing = text[0], _QUOTES[text[0]]
    inner = text[1:-1]
    if original[:1] == opening or opening in inner or closing in inner:
        return text
    return inner.strip()


CLEANERS: dict[str, Callable[[str, str], str]] = {
    "strip_think": strip_think,
    "strip_quotes": strip_quotes,
}


def clean(original: str, text: str, rules: Rules | None = None) -> str:
    """The answer without what cleaners remove; validate this, export this."""
    for code, cleaner in CLEANERS.items():
        if rules is None or rules.on(code):
            text = cleaner(text, original)
    return text
