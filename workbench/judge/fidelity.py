"""How faithful the rules' verdicts are: what benchmarks/measure_meaning.py measured, for people.

Quoted where a job's output should say how far its pairs can be trusted (the dataset card).
Each figure says what it was measured on, and whether the threshold was chosen on other data
(held out: what to expect on a new book) or on the same data (in-sample: it flatters).
Measured on four books' labelled answers: 226 faithful paraphrases we wrote and 494 real answers
of the built-in 135M model (benchmarks/MEASURED.md); written drifts that keep the original's
words are measured apart there, and get through far more often.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from workbench.judge.settings import MIN_MEANING, Rules


@dataclass(frozen=True)
class Measured:
    """One measure of a rule set against answers labelled by hand."""

    precision: float  # good answers among those accepted
    recall: float  # good answers kept, of all good ones
    data: str  # what it was measured on
    held_out: bool  # the threshold was chosen on other data than this

    def describe(self) -> str:
        how = "held out" if self.held_out else "in-sample"
        return (
            f"{self.precision:.3f} of accepted answers good, {self.recall:.3f} of good answers "
            f"kept ({how}: {self.data})"
        )


# The default rules, by meaning model, at the threshold a job stores for it.
FIGURES: dict[str, tuple[Measured, ...]] = {
    "minilm": (
        Measured(0.944, 0.973, "each of four books, the threshold chosen on the other three", True),
        Measured(0.957, 0.973, "four books, at 0.74", False),
    ),
    "wordllama": (
        Measured(0.948, 0.885, "each of four books, the threshold chosen on the other three", True),
        Measured(0.966, 0.885, "four books at 0.75, the threshold of jobs made before", False),
    ),
}


def measured(rules: Rules) -> tuple[Measured, ...]:
    """What was measured of rules like these: the default rules with a meaning model at its own
    threshold; nothing for rules changed otherwise, which no labelled set has measured."""
    if rules.embeddings_model is not None:
        return ()
    model = rules.meaning_model
    as_measured = replace(Rules(), meaning_model=model, min_meaning=MIN_MEANING[model])
    if replace(rules, judge_model=None) != as_measured:
        return ()
    return FIGURES.get(model, ())
