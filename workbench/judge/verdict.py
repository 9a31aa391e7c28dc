"""The verdict on one answer: cleaned, measured and judged by the rules.

Used alike by a run on each answer as it comes, and by judging again (rejudge.py) on stored ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.judge.answer import OFFLINE, Answer, Checker, Known, Measures, NeedsCheck, measure
from workbench.judge.cleaners import clean
from workbench.judge.rules import Rejection, check
from workbench.judge.settings import DEFAULT_RULES, Rules
from workbench.store.attempts import VerdictRow
from workbench.store.states import Outcome

NOTHING_KNOWN = Known()


@dataclass(frozen=True)
class Verdict:
    """What the rules say of one answer."""

    cleaned: str  # the answer after the cleaners: what was judged, what export writes
    measures: Measures
    rejection: Rejection | None  # None: accepted
    # Accepted for now: a rule needs what only a server can say ("judge", "embeddings"), and
    # this judgment had none; the next `run` asks it.
    awaiting: str | None = None

    @property
    def outcome(self) -> Outcome:
        return Outcome.ACCEPTED if self.rejection is None else Outcome.REJECTED

    @property
    def reason(self) -> str | None:
        return self.rejection.reason if self.rejection else None

    @property
    def detail(self) -> str | None:
        return self.rejection.detail if self.rejection else None

    def row(self, rules_id: int) -> VerdictRow:
        """The verdict as the attempts columns hold it, given by rules version `rules_id`."""
        m = self.measures
        return VerdictRow(
            self.outcome, self.reason, self.detail, m.length_ratio, m.similarity, m.repetition,
            m.meaning, m.judge, rules_id,
        )  # fmt: skip


def judge(
    original: str,
    answer: str | None,
    finish_reason: str | None,
    rules: Rules,
    *,
    accepted: Sequence[str] = (),
    known: Known = NOTHING_KNOWN,
    known_cleaned: str | None = None,
    checker: Checker = OFFLINE,
) -> Verdict:
    """Clean, measure and judge one answer.

    `accepted`: the answers already accepted for the paragraph under the same recipe. `known`:
    measures stored from an earlier judgment of the cleaned text `known_cleaned`, reused when
    the cleaners give the same text again. `checker` gives what the text alone cannot (meaning,
    the judge); when it has no server to ask, the answer is accepted for now (`awaiting`).
    """
    cleaned = clean(original, answer or "", rules)
    subject = Answer(
        original, cleaned, finish_reason, tuple(accepted),
        known if cleaned == known_cleaned else NOTHING_KNOWN, checker,
    )  # fmt: skip
    try:
        rejection = check(subject, rules)
    except NeedsCheck as e:
        return Verdict(cleaned, measure(subject, rules), None, awaiting=e.kind)
    return Verdict(cleaned, measure(subject, rules), rejection)


def validate(
    original: str,
    text: str,
    finish_reason: str | None = None,
    rules: Rules = DEFAULT_RULES,
    *,
    accepted: Sequence[str] = (),
    checker: Checker = OFFLINE,
) -> Rejection | None:
    """The first enabled rule the (cleaned) answer breaks, or None when it is accepted.

    `accepted`: the answers already accepted for the same paragraph and recipe.
    """
    return check(Answer(original, text, finish_reason, tuple(accepted), checker=checker), rules)
