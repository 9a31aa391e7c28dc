"""How faithful the rules' verdicts are: what benchmarks/measure_rules.py measured, for people.

Quoted where a job's output should say how far its pairs can be trusted (the dataset card,
`doctor`). Each figure says what it was measured on, and whether the threshold was chosen on
other data (held out) or on the same data (then it flatters).
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.judge.settings import DEFAULT_MIN_MEANING, Rules


@dataclass(frozen=True)
class Measured:
    """One measure of a rule set against answers labelled by hand."""

    precision: float  # good answers among those accepted
    recall: float  # good answers kept, of all good ones
    data: str  # what it was measured on
    held_out: bool  # the threshold was chosen on other data than this


# By the meaning measure of the default rules (benchmarks/MEASURED.md).
FIGURES: dict[str, tuple[Measured, ...]] = {
    "wordllama": (
        Measured(0.95, 0.98, "370 labelled answers of two books (the set it was tuned on)", False),
        Measured(0.94, 0.96, "the half of those paragraphs the threshold was not chosen on", True),
    ),
}


def measured(rules: Rules) -> tuple[Measured, ...]:
    """What was measured of rules like these: the defaults, with their meaning measure; nothing
    for rules changed by hand, which no labelled set has measured."""
    if rules.embeddings_model is not None or rules.min_meaning != DEFAULT_MIN_MEANING:
        return ()
    if rules != Rules(enabled=rules.enabled) or rules.enabled != Rules().enabled:
        return ()
    return FIGURES.get("wordllama", ())
