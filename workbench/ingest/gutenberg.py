"""Project Gutenberg's licence header and footer: found, left out and counted.

The body of a Gutenberg book lies between its `*** START OF …` and `*** END OF …` lines; what is
outside is licence text, not the author's, and never paraphrased unless `keep_boilerplate`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from workbench.ingest.lines import _PARAGRAPH_BREAK

# The line after which the book starts, and the one at which it ends. Older files end their
# header with the "small print" instead, and end the book with "End of Project Gutenberg's …".
_GUTENBERG_START = re.compile(
    r"^\s*(?:\*+\s*START OF (?:THE |THIS )?PROJECT GUTENBERG|\*END\*\s*THE SMALL PRINT)",
    re.IGNORECASE,
)


_GUTENBERG_END = re.compile(
    r"^\s*(?:\*+\s*)?END OF (?:THE |THIS )?PROJECT GUTENBERG", re.IGNORECASE
)


# The producers' credit that opens most books right after the START line.
_GUTENBERG_CREDIT = re.compile(
    r"^\s*(?:Produced by|This e-?text was produced by|E-?text prepared by|Transcribed by)\b",
    re.IGNORECASE,
)


def _count_blocks(lines: Sequence[str]) -> int:
    return sum(1 for chunk in _PARAGRAPH_BREAK.split("\n".join(lines)) if chunk.strip())


def gutenberg_bounds(texts: Sequence[str]) -> tuple[int, int, bool]:
    """Where the book lies among a file's lines (or an EPUB's paragraphs): the index after the
    last START line before the first END line (0 without one), the END line's index (the
    length without one), and whether there was a START line."""
    end = next((i for i, text in enumerate(texts) if _GUTENBERG_END.match(text)), len(texts))
    starts = [i for i, text in enumerate(texts[:end]) if _GUTENBERG_START.match(text)]
    return (starts[-1] + 1 if starts else 0), end, bool(starts)


def is_gutenberg_credit(text: str) -> bool:
    """Whether a line (or paragraph) is the producers' credit that opens most books."""
    return bool(_GUTENBERG_CREDIT.match(text))


def gutenberg_body(lines: list[str]) -> tuple[list[str], int]:
    """The lines between Project Gutenberg's START and END lines, and how many paragraphs lay
    outside them (the marker lines and the producers' credit included). A file without the
    markers comes back whole."""
    start, end, started = gutenberg_bounds(lines)
    if not started and end == len(lines):
        return lines, 0
    body = lines[start:end]
    left_out = _count_blocks(lines[:start]) + _count_blocks(lines[end:])
    if started:  # a credit is only boilerplate in a real Gutenberg file
        first = next((i for i, line in enumerate(body) if line.strip()), None)
        if first is not None and is_gutenberg_credit(body[first]):
            stop = next((i for i in range(first, len(body)) if not body[i].strip()), len(body))
            body = body[stop:]
            left_out += 1
    return body, left_out
