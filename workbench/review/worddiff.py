"""A word-level diff of an original paragraph and an answer, as two escaped HTML fragments.

The original comes back with the words the answer dropped or replaced in `<del>`, the answer
with the words it added in `<ins>`, so the two read side by side. Words and punctuation marks
are compared; the whitespace after each is kept as written (line breaks included) and never
counts as a change. Standard library only: `browse` renders it, and tests read it directly.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from html import escape as _escape

# A word (with inner apostrophes or hyphens: don't, well-known) or one punctuation mark,
# then the whitespace that follows it.
TOKEN = re.compile(r"(\w+(?:['’-]\w+)*|[^\w\s])(\s*)")

# Exact matching is quadratic on repetitive text: two long looping answers (a small model at
# max_tokens) took seconds. Past this many token pairs, difflib's "autojunk" heuristic (very
# common tokens cannot start a match) keeps it to milliseconds, at some cost in precision.
EXACT_UP_TO = 500 * 500

Token = tuple[str, str]  # (word or mark, whitespace after it)


def escape(text: str) -> str:
    """Escape text for an HTML text node (quotes need no escaping there)."""
    return _escape(text, quote=False)


def tokens(text: str) -> tuple[str, list[Token]]:
    """The leading whitespace of `text`, and its (word, whitespace after) pairs."""
    found = [(m.group(1), m.group(2)) for m in TOKEN.finditer(text)]
    lead = text[: len(text) - len(text.lstrip())]
    return lead, found


def word_diff(original: str, answer: str) -> tuple[str, str]:
    """HTML for both sides: the original with `<del>` marks, the answer with `<ins>` marks."""
    lead_a, a = tokens(original)
    lead_b, b = tokens(answer)
    exact = len(a) * len(b) <= EXACT_UP_TO
    matcher = SequenceMatcher(None, [t for t, _ in a], [t for t, _ in b], autojunk=not exact)
    left, right = [escape(lead_a)], [escape(lead_b)]
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            left.append(_plain(a[i1:i2]))
            right.append(_plain(b[j1:j2]))
        else:
            left.append(_marked(a[i1:i2], "del"))
            right.append(_marked(b[j1:j2], "ins"))
    return "".join(left), "".join(right)


def _plain(run: list[Token]) -> str:
    return "".join(escape(word) + escape(space) for word, space in run)


def _marked(run: list[Token], tag: str) -> str:
    """The run inside <tag>, the whitespace after its last word outside, so marks hug words."""
    if not run:
        return ""
    inner = _plain(run[:-1]) + escape(run[-1][0])
    return f"<{tag}>{inner}</{tag}>{escape(run[-1][1])}"
