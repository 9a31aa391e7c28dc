"""Lines into paragraphs: spacing, the file's wrap width, verse, and joining hard-wrapped lines.

A paragraph's hard-wrapped lines are joined with a space, unless most of them are much shorter
than the file's wrap width (verse, a letter's closing), when it keeps its line breaks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Spaces and tabs, and the other blanks of Unicode, but not the no-break space an author (or a
# typesetter of French) put there on purpose.
_SPACES = re.compile(r"[^\S\n\u00a0]+")


# A blank line is one holding only whitespace; any run of them separates paragraphs.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


# A line is a verse line when it is shorter than this share of the file's wrap width. Prose
# wrapped at 70 columns fills its lines to 55 or more (a line breaks early only for a word
# longer than the room left); verse and a letter's closing lines stay well under.
VERSE_LINE_SHARE = 0.75


# The wrap width is this percentile of the lengths of the file's non-blank lines: in a
# hard-wrapped file most lines are full, in an unwrapped one most lines are whole paragraphs.
WRAP_PERCENTILE = 0.9


# Below this wrap width there is no telling verse from prose: every paragraph is joined.
MIN_WRAP_WIDTH = 40


def normalize_text(text: str) -> str:
    """Universal newlines, no BOM."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def collapse_spaces(line: str) -> str:
    """One space for every run of spaces, and none at either end."""
    return _SPACES.sub(" ", line).strip()


def wrap_width(lines: Sequence[str]) -> int:
    """The width a text file was hard-wrapped at, estimated from its line lengths."""
    lengths = sorted(len(line.strip()) for line in lines if line.strip())
    if not lengths:
        return 0
    return lengths[min(len(lengths) - 1, int(len(lengths) * WRAP_PERCENTILE))]


def is_verse(lines: Sequence[str], width: int) -> bool:
    """Whether a paragraph's lines are verse: at least half of them (the last one aside) are
    shorter than VERSE_LINE_SHARE of the wrap width."""
    if len(lines) < 2 or width < MIN_WRAP_WIDTH:
        return False
    body = [len(line.strip()) for line in lines[:-1]]
    short = sum(length < VERSE_LINE_SHARE * width for length in body)
    return 2 * short >= len(body)


def join_lines(lines: Sequence[str], breaks: Sequence[bool], *, keep_spacing: bool) -> str:
    """Join a paragraph's lines: `breaks[i]` keeps a line break after line i, else a space."""
    parts: list[str] = []
    for i, line in enumerate(lines):
        line = line.strip() if keep_spacing else collapse_spaces(line)
        if not line:
            continue
        if parts:
            parts.append("\n" if breaks[i - 1] else " ")
        parts.append(line)
    return "".join(parts)
