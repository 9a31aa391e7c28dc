"""The labelled answers, across books: what the measuring scripts read (tests/data/*.jsonl).

Four texts, of four authors and periods, so that a threshold can be chosen on some and measured on
another:
- princess-and-the-goblin.txt (MacDonald, 1872) and pride-and-prejudice.txt (Austen, 1813): the
  shared public-domain novels, read from $WORKBENCH_CORPUS (default /work/shared/corpus); their
  rows hold a paragraph's index and sha256, never its text;
- the-clockmakers-daughter.txt (our sample story) and night-side.txt (our 1920s newspaper
  sketches), in samples/.
A row finds its paragraph by sha256 among the paragraphs of either split the sets were made
with (`read_source`'s, or the notebook's frozen split of workbench 0.1, which counted headings),
so both kinds of row resolve; a row whose hash matches nothing is an error.

The sets: real answers of the built-in SmolLM2-135M labelled by hand (*-answers.jsonl,
smollm2-answers.jsonl), faithful paraphrases written by us (good-paraphrases.jsonl: light and
free; free-*.jsonl: free), and drifts written by us that keep the original's words but change
its meaning (drifts-*.jsonl, each with its kind: reversed, roles, negated, fact, invented,
dropped, or free- ones that also reword).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from workbench.ingest.sources import read_source
from workbench.judge.cleaners import clean

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
SAMPLES = ROOT / "samples"
DEFAULT_CORPUS = Path("/work/shared/corpus")

GOBLIN = "princess-and-the-goblin.txt"
PRIDE = "pride-and-prejudice.txt"
STORY = "the-clockmakers-daughter.txt"
NIGHT_SIDE = "night-side.txt"
BOOKS = (GOBLIN, PRIDE, NIGHT_SIDE, STORY)
# The short names the tables use.
SHORT = {GOBLIN: "goblin", PRIDE: "pride", NIGHT_SIDE: "night-side", STORY: "story"}

LABELS = ("good", "meaning_drift", "commentary", "copy", "preamble", "loop", "garbage", "refusal")


@dataclass(frozen=True)
class Item:
    """One labelled answer and the paragraph it answers."""

    dataset: str  # the file it comes from, without .jsonl
    book: str  # the paragraph's file name
    original: str
    answer: str  # cleaned, as run validates it
    finish_reason: str | None
    label: str
    also: tuple[str, ...] = ()
    style: str | None = None  # light or free: a paraphrase written by us
    kind: str | None = None  # a drift written by us: how it changes the meaning

    @property
    def good(self) -> bool:
        return self.label == "good"

    @property
    def written(self) -> bool:
        """Written by us (a paraphrase or a drift), not a model's real answer."""
        return self.style is not None or self.kind is not None

    def has(self, defect: str) -> bool:
        return self.label == defect or defect in self.also


def corpus() -> Path:
    return Path(os.environ.get("WORKBENCH_CORPUS") or DEFAULT_CORPUS)


def book_path(name: str) -> Path:
    return (SAMPLES if (SAMPLES / name).is_file() else corpus()) / name


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")


def notebook_split(path: Path) -> list[str]:
    """The split workbench 0.1 made of a file (the notebook's: blank lines, hard-wrapped lines
    joined), frozen here so that the rows made with it stay valid."""
    text = path.read_text(encoding="utf-8").lstrip("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    chunks = (
        " ".join(line.strip() for line in chunk.strip().split("\n") if line.strip())
        for chunk in _BLANK_LINES.split(text)
    )
    return [chunk for chunk in chunks if chunk]


@cache
def paragraphs_by_hash(name: str) -> dict[str, str]:
    """sha256 → paragraph text, over both splits of a book (empty when it is not here)."""
    path = book_path(name)
    if not path.is_file():
        return {}
    found = {p.sha256: p.text for p in read_source(path, encoding="utf-8").paragraphs}
    for text in notebook_split(path):
        found.setdefault(hashlib.sha256(text.encode("utf-8")).hexdigest(), text)
    return found


def original_of(row: dict) -> str | None:
    """The paragraph a row answers; None when its book is not on this machine."""
    if "original" in row:
        return str(row["original"])
    found = paragraphs_by_hash(row["source"])
    if not found:
        return None
    if row["sha256"] not in found:
        raise ValueError(f"{row['source']} ¶{row['index']}: no paragraph has its sha256")
    return found[row["sha256"]]


def _story_label(row: dict) -> tuple[str, tuple[str, ...]]:
    """smollm2-answers.jsonl lists defects; the label is the first of loop (cut off or
    repeating), commentary, preamble, refusal, copy, meaning_drift (invented)."""
    defects = ["meaning_drift" if d == "invented" else d for d in row["defects"]]
    if row["finish_reason"] == "length" and "loop" not in defects:
        defects.append("loop")
    for label in ("loop", "commentary", "preamble", "refusal", "copy", "meaning_drift"):
        if label in defects:
            return label, tuple(d for d in defects if d != label)
    return "good", ()


def _item(dataset: str, row: dict, original: str) -> Item:
    book = row.get("source", STORY)
    if "defects" in row:
        label, also = _story_label(row)
    else:
        label = row.get("label") or "good"
        also = tuple(row.get("also", ()))
    return Item(
        dataset,
        book,
        original,
        clean(original, row["answer"]),
        row.get("finish_reason", "stop"),
        label,
        also,
        row.get("style"),
        row.get("kind"),
    )


def load(files: Iterable[Path] | None = None) -> list[Item]:
    """Every labelled answer whose book is on this machine, from every set (or these files)."""
    items = []
    for path in sorted(files or DATA.glob("*.jsonl")):
        for row in read_jsonl(path):
            original = original_of(row)
            if original is not None:
                items.append(_item(path.stem, row, original))
    return items


def missing_books() -> list[str]:
    """The books the sets point at that are not on this machine (their rows are left out)."""
    return [name for name in BOOKS if not book_path(name).is_file()]
