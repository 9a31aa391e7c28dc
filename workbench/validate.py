"""Validation: the named rules an answer must pass, each with a stable reason code.

Rules run in order and the first that matches rejects the answer, as in the notebook. The
notebook's four rules keep its exact definitions; `truncated` and `empty` come first because
they explain the rest (a cut-off or missing answer also looks too short).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# The notebook's list, matched case-sensitively as substrings.
DEFAULT_BANNED_PHRASES: tuple[str, ...] = (
    "###",
    "Paraphrased Text",
    "Alternate Refinement",
    "Extended Alternate Refinement",
    "[Note:",
    "### Question:",
)
DEFAULT_MIN_RATIO = 0.8  # an answer needs at least int(0.8 * input words) words
DEFAULT_MAX_RATIO = 2.0  # and at most int(2 * input words)


@dataclass(frozen=True)
class Rules:
    """The settings of the rules; the defaults are the notebook's."""

    banned_phrases: tuple[str, ...] = DEFAULT_BANNED_PHRASES
    min_ratio: float = DEFAULT_MIN_RATIO
    max_ratio: float = DEFAULT_MAX_RATIO


@dataclass(frozen=True)
class Rejection:
    reason: str  # stable snake_case code, stored in attempts.reason
    detail: str  # what matched, for people


@dataclass(frozen=True)
class Answer:
    """What a rule looks at."""

    original: str
    text: str  # choices[0].message.content.strip()
    finish_reason: str | None
    input_words: int = field(init=False)
    output_words: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_words", len(self.original.split()))
        object.__setattr__(self, "output_words", len(self.text.split()))


Rule = Callable[[Answer, Rules], "str | None"]  # returns the detail when it rejects


def truncated(answer: Answer, rules: Rules) -> str | None:
    if answer.finish_reason == "length":
        return "the server cut the answer off at max_tokens (finish_reason: length)"
    return None


def empty(answer: Answer, rules: Rules) -> str | None:
    return "the answer is empty" if not answer.text else None


def banned_phrase(answer: Answer, rules: Rules) -> str | None:
    for phrase in rules.banned_phrases:
        if phrase in answer.text:
            return f"contains {phrase!r}"
    return None


def multiple_paragraphs(answer: Answer, rules: Rules) -> str | None:
    count = len(answer.text.split("\n\n"))
    return f"{count} paragraphs, expected 1" if count > 1 else None


def too_short(answer: Answer, rules: Rules) -> str | None:
    least = int(rules.min_ratio * answer.input_words)
    if answer.output_words < least:
        return (
            f"{answer.output_words} words, fewer than {least} "
            f"({rules.min_ratio:g} × {answer.input_words})"
        )
    return None


def too_long(answer: Answer, rules: Rules) -> str | None:
    most = int(rules.max_ratio * answer.input_words)
    if answer.output_words > most:
        return (
            f"{answer.output_words} words, more than {most} "
            f"({rules.max_ratio:g} × {answer.input_words})"
        )
    return None


# Reason code → rule, in the order they are tried.
RULES: dict[str, Rule] = {
    "truncated": truncated,
    "empty": empty,
    "banned_phrase": banned_phrase,
    "multiple_paragraphs": multiple_paragraphs,
    "too_short": too_short,
    "too_long": too_long,
}


NOTEBOOK_RULES = Rules()


def validate(
    original: str, text: str, finish_reason: str | None = None, rules: Rules = NOTEBOOK_RULES
) -> Rejection | None:
    """The first rule the answer breaks, or None when it is accepted."""
    answer = Answer(original, text, finish_reason)
    for reason, rule in RULES.items():
        detail = rule(answer, rules)
        if detail is not None:
            return Rejection(reason, detail)
    return None
