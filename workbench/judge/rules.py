"""The rules: each one a check with a stable reason code, tried in order, the first that fires wins.

They run in order as in the notebook, whose four rules keep their exact definitions and order.
`truncated` and `empty` come first because they explain the rest. The rules for what small
models do (refusal, preamble, commentary, too_similar, repetition) come after the notebook's, so
an answer the notebook rejected is rejected for the same reason, and they catch only what it let
through; `duplicate` comes late, as it only matters for an answer every other rule accepts, and
`judge`, a request to a model, last. Their settings are `Rules` (settings.py); what they look at
is an `Answer` (answer.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.errors import SettingError
from workbench.judge.cleaners import CLEANERS
from workbench.judge.meaning import NAMES
from workbench.judge.measures import similarity
from workbench.judge.patterns import (
    COMMENTARY_PATTERNS,
    PREAMBLE_PATTERNS,
    REFUSAL_PATTERNS,
    new_match,
)
from workbench.store.states import FinishReason

if TYPE_CHECKING:  # settings.py builds its defaults from this registry
    from workbench.judge.answer import Answer
    from workbench.judge.settings import Rules


JUDGE_QUESTION = (
    "Does the rewrite say the same as the original, adding nothing and leaving nothing out? "
    "Answer yes or no."
)


def check_codes(codes: frozenset[str]) -> None:
    """SettingError naming any of `codes` that is not a rule or cleaner."""
    unknown = codes - set(CODES)
    if unknown:
        raise SettingError(
            "unknown rule {unknown}; the rules and cleaners are: {codes}",
            unknown=", ".join(sorted(unknown)),
            codes=", ".join(CODES),
        )


@dataclass(frozen=True)
class Rejection:
    reason: str  # stable snake_case code, stored in attempts.reason
    detail: str  # what matched, for people

    @property
    def feedback(self) -> str:
        """The sentence --feedback adds to the next request."""
        return f"Your previous answer was rejected because {RULES[self.reason].feedback}."


@dataclass(frozen=True)
class Rule:
    code: str
    check: Callable[[Answer, Rules], str | None]  # the detail when it rejects, else None
    feedback: str  # completes "Your previous answer was rejected because …"
    notebook: bool = False  # one of the notebook's four
    default: bool = True  # on in a new job's rules

    def __call__(self, answer: Answer, rules: Rules) -> str | None:
        return self.check(answer, rules)


def truncated(answer: Answer, rules: Rules) -> str | None:
    if answer.finish_reason == "length":
        return "the server cut the answer off at max_tokens (finish_reason: length)"
    # A provider's filter stopped or blanked the answer: what is left is not the model's
    # paraphrase of the paragraph, however well it reads, so it never becomes a pair.
    if answer.finish_reason == "content_filter":
        return "the server's content filter stopped the answer (finish_reason: content_filter)"
    return None


def empty(answer: Answer, rules: Rules) -> str | None:
    return "the answer is empty" if not answer.text else None


def refusal(answer: Answer, rules: Rules) -> str | None:
    found = new_match(REFUSAL_PATTERNS, answer.text, answer.original)
    return f"refuses: {found!r}" if found else None


def preamble(answer: Answer, rules: Rules) -> str | None:
    found = new_match(PREAMBLE_PATTERNS, answer.text, answer.original)
    return f"starts with a lead-in: {found!r}" if found else None


def commentary(answer: Answer, rules: Rules) -> str | None:
    found = new_match(COMMENTARY_PATTERNS, answer.text, answer.original)
    return f"comments on its work: {found!r}" if found else None


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


def too_similar(answer: Answer, rules: Rules) -> str | None:
    if answer.similarity >= rules.similarity:
        return (
            f"a near copy of the original "
            f"(similarity {answer.similarity:.2f} ≥ {rules.similarity:g})"
        )
    return None


def repetition(answer: Answer, rules: Rules) -> str | None:
    share = answer.repetition
    if share >= rules.max_repetition:
        return (
            f"repeats itself: {share:.0%} of its 4-word sequences occur more than once "
            f"(≥ {rules.max_repetition:.0%})"
        )
    return None


def meaning_drift(answer: Answer, rules: Rules) -> str | None:
    score = answer.meaning(rules)
    if score < rules.min_meaning:
        by = (
            f"embeddings of {rules.embeddings_model}"
            if rules.embeddings_model
            else NAMES[rules.meaning_model]
        )
        return f"says something else: meaning similarity {score:.2f} < {rules.min_meaning:g} ({by})"
    return None


def facts_changed(answer: Answer, rules: Rules) -> str | None:
    from workbench.judge.facts import check_facts

    found = check_facts(answer.original, answer.text)
    return found.detail() if found.invented else None


def judge(answer: Answer, rules: Rules) -> str | None:
    verdict = answer.judged(rules)
    if verdict != "yes":
        model = rules.judge_model or "the recipe's model"
        return f"the judge ({model}) answered {verdict!r}: {JUDGE_QUESTION}"
    return None


def _normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def duplicate(answer: Answer, rules: Rules) -> str | None:
    """With `--outputs N`, a second answer must be another paraphrase, not the first again."""

    mine = _normalised(answer.text)
    for n, earlier in enumerate(answer.accepted, start=1):
        if _normalised(earlier) == mine:
            return f"the same text as accepted answer {n} of this paragraph"
        score = similarity(earlier, answer.text)
        if score >= rules.similarity:
            return (
                f"a near copy of accepted answer {n} of this paragraph "
                f"(similarity {score:.2f} ≥ {rules.similarity:g})"
            )
    return None


# Code → rule, in the order they are tried.
RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("truncated", truncated, "it was cut off: keep to the original's length"),
        Rule("empty", empty, "it was empty"),
        Rule("banned_phrase", banned_phrase, "it contained a heading or note", notebook=True),
        Rule(
            "multiple_paragraphs",
            multiple_paragraphs,
            "it had more than one paragraph",
            notebook=True,
        ),
        Rule("too_short", too_short, "it was much shorter than the original", notebook=True),
        Rule("too_long", too_long, "it was much longer than the original", notebook=True),
        Rule("refusal", refusal, "it refused; this is fiction to rewrite, nothing more"),
        Rule("preamble", preamble, "it began with a lead-in: reply with the paraphrase alone"),
        Rule("commentary", commentary, "it commented on the text: reply with the paraphrase alone"),
        Rule("too_similar", too_similar, "it copied the original: use your own words"),
        Rule("repetition", repetition, "it repeated itself: say each thing once"),
        Rule(
            "meaning_drift",
            meaning_drift,
            "it changed the meaning: say what the original says, and nothing else",
        ),
        Rule(
            "facts_changed",
            facts_changed,
            "it changed a number or a name: keep the original's facts",
            default=False,  # costs 2 of 86 good paraphrases for 4 more bad answers caught
        ),
        Rule(
            "duplicate",
            duplicate,
            "it repeated an answer already accepted: write a different paraphrase",
        ),
        # Last: a request to a model, asked only of an answer every other rule accepts.
        Rule(
            "judge",
            judge,
            "it did not say the same as the original: add nothing and leave nothing out",
            default=False,
        ),
    )
}


# Every rule and cleaner, in the order they run: the codes --disable-rule and --enable-rule take.
CODES: tuple[str, ...] = (*CLEANERS, *RULES)


DEFAULT_ENABLED: frozenset[str] = frozenset(
    [*CLEANERS, *(code for code, rule in RULES.items() if rule.default)]
)


# The notebook exactly: its four rules (plus truncated and empty, which it could not see), and
# no cleaners.
NOTEBOOK_ENABLED: frozenset[str] = frozenset(
    code for code, rule in RULES.items() if rule.notebook or code in ("truncated", "empty")
)


def check(answer: Answer, rules: Rules) -> Rejection | None:
    """The first enabled rule `answer` breaks, or None.

    An answer the run stopped early (finish reason "aborted") is never accepted: the rule
    that stopped it fires again on the same text under the same rules; should a later rules
    change let the text pass, it is rejected as truncated, since it is not the whole answer.
    """
    for code, rule in RULES.items():
        if not rules.on(code):
            continue
        detail = rule(answer, rules)
        if detail is not None:
            return Rejection(code, detail)
    if answer.finish_reason == FinishReason.ABORTED:
        return Rejection("truncated", "workbench stopped reading it early (finish_reason: aborted)")
    return None
