"""Headings in plain text: `CHAPTER V.`, `Chapter 5`, `BOOK II`, `Letter 4`, `PART ONE`.

With a title on the same line or the next, they become the section of the paragraphs below.
"""

from __future__ import annotations

import re

from workbench.ingest.book import Section
from workbench.ingest.lines import collapse_spaces

_NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    "sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty"
)


_ORDINALS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|last"


_NUMBER = (
    rf"(?:\d+|[IVXLCDM]+|[ivxlcdm]+"
    rf"|(?i:(?:{_NUMBER_WORDS})(?:-(?:{_NUMBER_WORDS}))?|the\s+(?:{_ORDINALS})))"
)


_OUTER = "BOOK|Book|PART|Part|VOLUME|Volume"


_INNER = "CHAPTER|Chapter|LETTER|Letter|STAVE|Stave|CANTO|Canto"


# A heading line: a keyword in capitals or with a capital, a number, then either nothing, a
# title after punctuation (`CHAPTER I. The Period`, `BOOK II—THE GOLDEN THREAD`), or a title
# in capitals (`CHAPTER I THE FIRST`). "Chapter 5 of the report" is prose, not a heading.
_HEADING = re.compile(
    rf"^(?P<key>{_OUTER}|{_INNER})\s+(?P<number>{_NUMBER})\b"
    r"(?:\s*[.:]?\s*$|\s*[.:—–-]+\s*(?P<title>\S.*)$|\s+(?P<caps>[^a-z]*[A-Z][^a-z]*)$)"
)


_STANDALONE = re.compile(
    r"^(?:PREFACE|PROLOGUE|EPILOGUE|INTRODUCTION|FOREWORD|AFTERWORD|APPENDIX|CONTENTS"
    r"|Preface|Prologue|Epilogue|Introduction|Foreword|Afterword|Appendix|Contents"
    r"|[IVXLC]+)\.?$"
)


HEADING_MAX_WORDS = 12


def heading_of(line: str) -> tuple[Section, bool] | None:
    """The section a line opens, and whether it still wants a title; None for prose."""
    line = collapse_spaces(line)
    if len(line.split()) > HEADING_MAX_WORDS:
        return None
    match = _HEADING.match(line)
    if match:
        level = 1 if match["key"] in _OUTER.split("|") else 2
        return Section(line, level), not (match["title"] or match["caps"])
    if _STANDALONE.match(line):
        return Section(line, 2), True
    return None


def _is_title(line: str, *, capitals: bool) -> bool:
    """A short line that names a chapter: "Down the Rabbit-Hole", or, on a line of its own
    after a blank one, in capitals ("WHY THE PRINCESS HAS A STORY ABOUT HER")."""
    line = collapse_spaces(line)
    words = line.split()
    if not words or len(words) > HEADING_MAX_WORDS or line.endswith((",", ";")):
        return False
    if capitals:
        return any(c.isalpha() for c in line) and not any(c.islower() for c in line)
    return True
