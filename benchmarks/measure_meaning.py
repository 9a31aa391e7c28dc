"""How well the meaning check tells faithful paraphrases from answers that say something else,
measured across books: each threshold chosen on some books and measured on a book it never saw.

    python benchmarks/measure_meaning.py [--books goblin,pride,night-side,story]

The labelled answers are benchmarks/labelled.py's (four texts of four authors and periods).
Every answer is judged as `run` judges it: by the default rules without meaning_drift first
(an answer they reject stays rejected), then by the meaning measure at a threshold. Two kinds of
set are measured apart, because they are not the same question:
- **answers**: the real answers of the built-in model and the faithful paraphrases we wrote, free
  and light; what a job meets (the model's answers) and what it must keep (good rewrites);
- **drifts**: drifts we wrote that keep the original's words and change its meaning (roles
  swapped, an event reversed, a fact changed…): the hardest case for any embedding.
The goal on unseen text: at least 0.95 of the accepted answers good, at least 0.90 of the good
ones kept.

How a threshold is chosen, on a set of books: the lowest threshold (so the most good answers
kept) at which at least 0.95 of the accepted answers of those books are good. Leave one book
out: for each book, the threshold is chosen on the other books and measured on it. The default
is the same choice made on all the books; its figures on each book are then in-sample, and
said so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from labelled import BOOKS, SHORT, Item, load, missing_books  # noqa: E402

from workbench.judge.settings import MIN_MEANING, Rules  # noqa: E402
from workbench.judge.verdict import validate  # noqa: E402

GOAL_PRECISION, GOAL_KEPT = 0.95, 0.90

Score = Callable[[Item], float]


@dataclass(frozen=True)
class Measured:
    """Items judged at one threshold."""

    good: int  # good answers in the set
    bad: int
    good_accepted: int
    bad_accepted: int

    @property
    def precision(self) -> float | None:
        accepted = self.good_accepted + self.bad_accepted
        return self.good_accepted / accepted if accepted else None

    @property
    def kept(self) -> float | None:
        return self.good_accepted / self.good if self.good else None

    @property
    def bad_rejected(self) -> float | None:
        return 1 - self.bad_accepted / self.bad if self.bad else None

    @property
    def meets_goal(self) -> bool:
        return (self.precision or 0) >= GOAL_PRECISION and (self.kept or 0) >= GOAL_KEPT


class Judged:
    """The labelled items with what the other rules said and each measure's score."""

    def __init__(self, items: list[Item], scores: dict[str, list[float]]) -> None:
        self.items = items
        self.scores = scores
        rules = Rules().without("meaning_drift")
        self.passes = [
            validate(i.original, i.answer, i.finish_reason, rules) is None for i in items
        ]

    def indices(self, books: Sequence[str], drifts: bool = False) -> list[int]:
        """The items of these books: answers and paraphrases, or (drifts) the written drifts
        with the good paraphrases beside them."""

        def wanted(item: Item) -> bool:
            if drifts:
                return item.kind is not None or item.good
            return item.kind is None

        return [k for k, item in enumerate(self.items) if item.book in books and wanted(item)]

    def measure(self, measure: str, threshold: float, indices: list[int]) -> Measured:
        scores = self.scores[measure]
        good = [k for k in indices if self.items[k].good]
        bad = [k for k in indices if not self.items[k].good]

        def accepted(ks: list[int]) -> int:
            return sum(self.passes[k] and scores[k] >= threshold for k in ks)

        return Measured(len(good), len(bad), accepted(good), accepted(bad))

    def choose(self, measure: str, indices: list[int]) -> float:
        """The lowest threshold at which at least GOAL_PRECISION of the accepted answers are
        good (the most good answers kept at that precision); the most precise one if none is."""
        scores = self.scores[measure]
        candidates = sorted({round(scores[k], 4) for k in indices if self.passes[k]})
        best, best_precision = candidates[-1] if candidates else 1.0, -1.0
        for threshold in candidates:
            precision = self.measure(measure, threshold, indices).precision or 0.0
            if precision >= GOAL_PRECISION:
                return threshold
            if precision > best_precision:
                best, best_precision = threshold, precision
        return best


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def number(threshold: float) -> str:
    """A threshold as chosen (to 4 decimals: the candidates are the scores themselves)."""
    return f"{threshold:.4f}".rstrip("0").rstrip(".")


def row(name: str, threshold: float, m: Measured) -> str:
    return (
        f"| {name} | {number(threshold)} | {fmt(m.precision)} | {fmt(m.kept)} "
        f"({m.good_accepted} of {m.good}) | {fmt(m.bad_rejected)} ({m.bad_accepted} of {m.bad} "
        f"through) | {'yes' if m.meets_goal else 'no'} |"
    )


HEAD = (
    "| book | threshold | good among accepted | good kept | bad rejected | goal |\n"
    "|---|---|---|---|---|---|"
)


def leave_one_out(judged: Judged, measure: str, books: Sequence[str]) -> tuple[list[str], Measured]:
    """For each book, the threshold chosen on the others, measured on it; and all together."""
    lines, total = [], Measured(0, 0, 0, 0)
    for book in books:
        others = [b for b in books if b != book]
        threshold = judged.choose(measure, judged.indices(others))
        m = judged.measure(measure, threshold, judged.indices([book]))
        lines.append(row(f"{SHORT[book]} (chosen on {', '.join(SHORT[b] for b in others)})",
                         threshold, m))  # fmt: skip
        total = Measured(*(a + b for a, b in zip(_fields(total), _fields(m), strict=True)))
    return lines, total


def _fields(m: Measured) -> tuple[int, int, int, int]:
    return m.good, m.bad, m.good_accepted, m.bad_accepted


def scores_for(items: list[Item]) -> dict[str, list[float]]:
    """Each measure's score of every item (the models load once, embed in batches): the meaning
    check as it ships for each model, and MiniLM's paragraph cosine alone beside it."""
    from workbench.judge import meaning, minilm

    pairs = [(i.original, i.answer) for i in items]
    return {
        "minilm": meaning.similarities("minilm", pairs),
        "minilm_paragraph": minilm.similarities(pairs),
        "wordllama": meaning.similarities("wordllama", pairs),
    }


MEASURES = {
    "minilm": "MiniLM: the paragraphs and the original's sentences (the check)",
    "minilm_paragraph": "MiniLM, the paragraphs' cosine alone",
    "wordllama": "WordLlama (the old check)",
}


def report(judged: Judged, books: Sequence[str]) -> tuple[str, dict[str, float]]:
    """The Markdown report, and the default threshold chosen for each measure on all books."""
    out: list[str] = []
    say = out.append
    items = judged.items
    say("**Labelled answers by book** (answers: real answers and written paraphrases; drifts: "
        "written drifts that keep the words)")  # fmt: skip
    say("")
    say("| book | good (written) | real answers | of which pass the other rules | drifts |")
    say("|---|---|---|---|---|")
    for book in books:
        mine = [k for k, i in enumerate(items) if i.book == book]
        real = [k for k in mine if not items[k].written]
        say(
            f"| {SHORT[book]} | {sum(items[k].good for k in mine)} | {len(real)} "
            f"| {sum(judged.passes[k] for k in real)} "
            f"| {sum(items[k].kind is not None for k in mine)} |"
        )
    defaults = {}
    for measure, name in MEASURES.items():
        say("")
        say(f"### {name}")
        say("")
        say("Leave one book out, on the answers (each threshold chosen on the other books):")
        say("")
        say(HEAD)
        lines, total = leave_one_out(judged, measure, books)
        out.extend(lines)
        say(row("**all held-out books**", float("nan"), total).replace("nan", "—"))
        threshold = judged.choose(measure, judged.indices(books))
        defaults[measure] = threshold
        say("")
        say(
            f"Chosen on all the books: **{number(threshold)}**. At it, on each book (in-sample: "
            "this threshold saw these answers):"
        )
        say("")
        say(HEAD)
        for book in books:
            say(row(SHORT[book], threshold, judged.measure(measure, threshold,
                                                           judged.indices([book]))))  # fmt: skip
        say(row("all", threshold, judged.measure(measure, threshold, judged.indices(books))))
        say("")
        stored = MIN_MEANING.get(measure, threshold)
        say(
            f"At the threshold a job stores for this model, {number(stored)}, on each book, "
            "all together (in-sample too), and on the free paraphrases alone (the rewrites a "
            "strong model writes):"
        )
        say("")
        say(HEAD)
        for book in books:
            say(row(SHORT[book], stored, judged.measure(measure, stored, judged.indices([book]))))
        say(row("all", stored, judged.measure(measure, stored, judged.indices(books))))
        for book in books:
            free = [k for k in judged.indices([book]) if items[k].style != "light"]
            say(row(f"{SHORT[book]}, free paraphrases", stored,
                    judged.measure(measure, stored, free)))  # fmt: skip
        say("")
        say("The drifts that keep the words, at that threshold (with the good paraphrases):")
        say("")
        say(HEAD)
        for book in books:
            if any(items[k].kind for k in judged.indices([book], drifts=True)):
                m = judged.measure(measure, stored, judged.indices([book], drifts=True))
                say(row(SHORT[book], stored, m))
    return "\n".join(out), defaults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", help="comma-separated short names (default: every book here)")
    args = parser.parse_args()
    by_short = {v: k for k, v in SHORT.items()}
    books = [by_short[b] for b in args.books.split(",")] if args.books else list(BOOKS)
    missing = missing_books()
    books = [b for b in books if b not in missing]
    items = [i for i in load() if i.book in books]
    text, _ = report(Judged(items, scores_for(items)), books)
    if missing:
        print(f"Not on this machine, left out: {', '.join(missing)}.\n")
    print(text)


if __name__ == "__main__":
    main()
