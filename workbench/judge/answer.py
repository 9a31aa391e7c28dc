"""What a rule looks at: the answer, its measures, and where the rest of its measures come from.

An `Answer` measures itself lazily (similarity, repetition) and asks its `Checker` for what the
text alone cannot say: meaning, and the judge's verdict. The offline checker measures meaning in
this process; a run's checker (checks.py) asks servers. `Known` carries measures stored with an
answer judged before, so judging it again costs nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from workbench.judge.measures import repeated_share, similarity

if TYPE_CHECKING:
    from workbench.judge.settings import Rules


class NeedsCheck(Exception):
    """A rule needs what only a server can say: an embeddings model's meaning, the judge's
    verdict. Judging again without a server leaves such answers for the next `run`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "embeddings" or "judge"


class Checker(Protocol):
    """Where the measures a rule cannot compute from the text alone come from."""

    def meaning(self, original: str, answer: str, rules: Rules) -> float: ...

    def judge(self, original: str, answer: str, rules: Rules) -> str: ...  # "yes" or "no"


class OfflineChecker:
    """Meaning from the rules' meaning model, in this process; no server, so no embeddings
    model and no judge."""

    def meaning(self, original: str, answer: str, rules: Rules) -> float:
        if rules.embeddings_model:
            raise NeedsCheck("embeddings")
        from workbench.judge import meaning  # loads the model on first use, once a process

        return round(meaning.similarity(rules.meaning_model, original, answer), 4)

    def judge(self, original: str, answer: str, rules: Rules) -> str:
        raise NeedsCheck("judge")

    def prefetch(self, original: str, rules: Rules) -> None:
        """Start measuring the original now, in the background, when the rules will measure its
        answers' meaning offline: a run calls this as it asks for an answer."""
        if _measures_offline(rules):
            from workbench.judge import meaning

            meaning.prefetch(rules.meaning_model, original)

    def prepare(self, rules: Rules) -> None:
        """Load now the meaning model `rules` will ask for: a command calls this before a
        transaction in which answers are judged, so that no write lock waits for a model."""
        if _measures_offline(rules):
            from workbench.judge import meaning

            meaning.load(rules.meaning_model)


def _measures_offline(rules: Rules) -> bool:
    """Whether `rules` measure meaning with a model in this process."""
    return rules.on("meaning_drift") and not rules.embeddings_model


OFFLINE = OfflineChecker()


@dataclass(frozen=True)
class Known:
    """Measures of an answer judged before, reused when the rules would measure them the same
    way (rejudge.py decides): judging again then costs no recomputation and no request."""

    similarity: float | None = None
    repetition: float | None = None
    meaning: float | None = None
    judge: str | None = None


@dataclass(frozen=True)
class Answer:
    """What a rule looks at."""

    original: str
    text: str  # the cleaned answer
    finish_reason: str | None
    # The answers already accepted for this paragraph under the same recipe (for `duplicate`).
    accepted: tuple[str, ...] = ()
    known: Known = field(default_factory=Known)
    checker: Checker = OFFLINE
    input_words: int = field(init=False)
    output_words: int = field(init=False)
    # What the rules measured beyond the text's own numbers, filled as they ask (meaning, judge).
    found: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_words", len(self.original.split()))
        object.__setattr__(self, "output_words", len(self.text.split()))

    @cached_property
    def similarity(self) -> float:
        if self.known.similarity is not None:
            return self.known.similarity
        # Rounded as stored, so a stored measure and a fresh one judge alike at the threshold.
        return round(similarity(self.original, self.text), 4)

    @cached_property
    def repetition(self) -> float:
        if self.known.repetition is not None:
            return self.known.repetition
        return round(repeated_share(self.text), 4)

    def meaning(self, rules: Rules) -> float:
        if "meaning" not in self.found:
            known = self.known.meaning
            self.found["meaning"] = (
                known
                if known is not None
                else self.checker.meaning(self.original, self.text, rules)
            )
        return float(self.found["meaning"])

    def judged(self, rules: Rules) -> str:
        if "judge" not in self.found:
            known = self.known.judge
            self.found["judge"] = (
                known if known is not None else self.checker.judge(self.original, self.text, rules)
            )
        return str(self.found["judge"])


@dataclass(frozen=True)
class Measures:
    """The numbers the rules look at, stored on each validated attempt so that judging it again
    costs no recomputation and the audit can sort answers by how close they came to a limit."""

    length_ratio: float  # answer words / original words
    similarity: float  # word-sequence similarity to the original (too_similar's measure)
    repetition: float  # share of its 4-word sequences that recur (repetition's measure)
    meaning: float | None = None  # meaning similarity (meaning_drift's), when it was measured
    judge: str | None = None  # the judge's "yes" or "no", when it was asked


# The meaning models cheap enough to measure every answer with, so that answers another rule
# rejected can be sorted by meaning too: WordLlama takes a quarter of a millisecond. MiniLM
# (some 30 ms) measures only the answers that reach meaning_drift.
MEASURED_ALWAYS = frozenset({"wordllama"})


def measure(answer: Answer, rules: Rules) -> Measures:
    """The answer's measures once judged."""
    if (
        "meaning" not in answer.found
        and rules.on("meaning_drift")
        and not rules.embeddings_model
        and rules.meaning_model in MEASURED_ALWAYS
    ):
        with contextlib.suppress(NeedsCheck):  # judging again measures it in a batch later
            answer.meaning(rules)
    ratio = answer.output_words / answer.input_words if answer.input_words else 0.0
    return Measures(
        length_ratio=round(ratio, 4),
        similarity=answer.similarity,
        repetition=answer.repetition,
        meaning=answer.found.get("meaning", answer.known.meaning),
        judge=answer.found.get("judge", answer.known.judge),
    )
