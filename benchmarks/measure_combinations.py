"""Measures combined with MiniLM, on the same leave-one-book-out split: do they help?

    python benchmarks/measure_combinations.py

What measure_meaning.py does for one measure, for combinations: for each held-out book, a
logistic regression of the measures is fitted on the other books' labelled answers (good
against everything else, the written drifts included), its score's threshold chosen there by
measure_meaning's rule (the lowest at which 0.95 of the accepted answers are good), and both
measured on the held-out book's answers. The measures:
- `minilm`: the meaning check as it ships (meaning.py: the mean of the paragraphs' cosine and
  the original's sentences' coverage), for comparison;
- `minilm_paragraph`, `wordllama`: the two models' cosine of original and answer;
- `facts`: 1 when facts_changed would reject the answer (a number dropped or added, a name
  added);
- `aligned_answer`, `aligned_original`: each sentence of the answer embedded on its own (MiniLM)
  and matched with its nearest sentence of the original, the mean of those similarities; and the
  same from the original's side: does every sentence say something the other text says?
- `length`: the log of the original's words (short paragraphs score lower).
It prints one line per combination: the held-out figures of all four books together, then each
book's, and each book's fitted weights, to see whether a combination would carry to a fifth.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from labelled import BOOKS, SHORT, Item, load, missing_books  # noqa: E402
from measure_meaning import Judged, Measured, scores_for  # noqa: E402

from workbench.judge import minilm  # noqa: E402
from workbench.judge.facts import check_facts  # noqa: E402
from workbench.judge.sentences import sentences  # noqa: E402

COMBINATIONS = (
    ("minilm",),  # the check as it ships: a fixed mean of the two views, nothing fitted
    ("minilm_paragraph",),
    ("minilm_paragraph", "wordllama"),
    ("minilm_paragraph", "facts"),
    ("minilm_paragraph", "length"),
    ("minilm_paragraph", "aligned_original"),
    ("minilm_paragraph", "aligned_answer", "aligned_original"),
    ("minilm_paragraph", "aligned_answer", "aligned_original", "length"),
)


def alignment(items: Sequence[Item]) -> tuple[list[float], list[float]]:
    """Each item's sentence alignment, from the answer's side and from the original's."""
    texts = sorted({s for i in items for t in (i.original, i.answer) for s in sentences(t)})
    vectors = dict(zip(texts, minilm.load_minilm().embed(texts), strict=True))
    answer_side, original_side = [], []
    for item in items:
        a = numpy.array([vectors[s] for s in sentences(item.answer)])
        o = numpy.array([vectors[s] for s in sentences(item.original)])
        similar = a @ o.T
        answer_side.append(float(similar.max(axis=1).mean()))
        original_side.append(float(similar.max(axis=0).mean()))
    return answer_side, original_side


def fit(x: numpy.ndarray, y: numpy.ndarray, l2: float = 1e-2) -> numpy.ndarray:
    """Logistic regression by Newton's method (a few features: it converges in a few steps)."""
    x = numpy.c_[x, numpy.ones(len(x))]
    w = numpy.zeros(x.shape[1])
    for _ in range(50):
        p = 1 / (1 + numpy.exp(-x @ w))
        gradient = x.T @ (p - y) + l2 * w
        hessian = (x.T * (p * (1 - p))) @ x + l2 * numpy.eye(len(w))
        w -= numpy.linalg.solve(hessian, gradient)
    return w


def main() -> None:
    books = [b for b in BOOKS if b not in missing_books()]
    items = [i for i in load() if i.book in books]
    scores = scores_for(items)
    scores["facts"] = [float(check_facts(i.original, i.answer).invented) for i in items]
    scores["length"] = [math.log(len(i.original.split())) for i in items]
    scores["aligned_answer"], scores["aligned_original"] = alignment(items)
    judged = Judged(items, scores)
    print("| measures | all held out: good among accepted | good kept | per book (precision/kept) "
          "| weights per held-out book |")  # fmt: skip
    print("|---|---|---|---|---|")
    for names in COMBINATIONS:
        total, per_book, weights = Measured(0, 0, 0, 0), [], []
        for book in books:
            train = [k for k, i in enumerate(items) if i.book != book and judged.passes[k]]
            x = numpy.array([[scores[n][k] for n in names] for k in train])
            y = numpy.array([float(items[k].good) for k in train])
            w = fit(x, y)
            weights.append(" ".join(f"{v:.1f}" for v in w[:-1]))
            combined = list(
                1 / (1 + numpy.exp(-(numpy.array([[scores[n][k] for n in names]
                                                   for k in range(len(items))]) @ w[:-1] + w[-1])))
            )  # fmt: skip
            judged.scores["combined"] = combined
            others = [b for b in books if b != book]
            threshold = judged.choose("combined", judged.indices(others))
            m = judged.measure("combined", threshold, judged.indices([book]))
            per_book.append(f"{SHORT[book]} {m.precision or 0:.2f}/{m.kept or 0:.2f}")
            total = Measured(total.good + m.good, total.bad + m.bad,
                             total.good_accepted + m.good_accepted,
                             total.bad_accepted + m.bad_accepted)  # fmt: skip
        print(
            f"| {' + '.join(names)} | {total.precision or 0:.3f} | {total.kept or 0:.3f} "
            f"| {', '.join(per_book)} | {'; '.join(weights)} |"
        )


if __name__ == "__main__":
    main()
