"""Stopping early: which rules can fire on a partial answer, for good.

A streamed answer is read piece by piece (llm/stream.py). After each piece, `EarlyStop` judges
the answer so far with the rules themselves, in their order, up to the last rule that can stop
a stream. It stops the stream only when the first rule that fires is one whose verdict more
text cannot undo:

- banned_phrase: the phrase is in the text, and stays in it;
- multiple_paragraphs: a blank line with words after it stays;
- too_long: words are only ever added (a piece may lengthen the last word, never remove one);
- repetition, a runaway loop: the 4-word sequences that occur twice stay repeated, but more
  text could dilute their share; so it stops only when the repeats already reach the limit's
  share of the longest answer that could still pass (max_ratio × the original's words while
  too_long is on, else the request's max_tokens at a token a word at least).

Any other rule firing first (too_short, on every answer's first words; a preamble) means "go
on". As the same rules judge the same text afterwards, the verdict stored with the stopped
answer is the rule that stopped it; rules.check rejects a stopped answer as truncated should a
later rules change let its text pass. The settings are the rules' own: each rule lives in one
place. Rules that need a server (meaning from an embeddings model, the judge) come after these
and are never asked here.
"""

from __future__ import annotations

from workbench.judge.answer import Answer, NeedsCheck
from workbench.judge.cleaners import clean
from workbench.judge.measures import repeated_grams
from workbench.judge.rules import RULES, Rejection
from workbench.judge.settings import Rules

# The rules whose verdict on a partial answer more text cannot undo (repetition with a bound).
FINAL_ON_PARTS = ("banned_phrase", "multiple_paragraphs", "too_long", "repetition")
_LAST = max(list(RULES).index(code) for code in FINAL_ON_PARTS)
_IN_ORDER = list(RULES)[: _LAST + 1]  # the rules judged on a partial answer


class _NoServer:
    """A partial answer is never sent anywhere to be checked."""

    def meaning(self, original: str, answer: str, rules: Rules) -> float:
        raise NeedsCheck("embeddings")

    def judge(self, original: str, answer: str, rules: Rules) -> str:
        raise NeedsCheck("judge")


class EarlyStop:
    """Asked of each piece of a streamed answer: the rule that stops it, or None to go on."""

    def __init__(self, original: str, rules: Rules, max_tokens: int | None) -> None:
        self.original, self.rules = original, rules
        self.words = len(original.split())
        self.longest = _longest_passing(self.words, rules, max_tokens)
        self.rejection: Rejection | None = None

    def __call__(self, partial: str) -> str | None:
        answer = Answer(
            self.original, clean(self.original, partial.strip(), self.rules), None,
            checker=_NoServer(),
        )  # fmt: skip
        try:
            for code in _IN_ORDER:
                if not self.rules.on(code):
                    continue
                detail = RULES[code](answer, self.rules)
                if detail is None:
                    continue
                if code in FINAL_ON_PARTS and self._final(code, answer):
                    self.rejection = Rejection(code, detail)
                    return code
                return None
        except NeedsCheck:
            return None
        return None

    def _final(self, code: str, answer: Answer) -> bool:
        if code != "repetition":
            return True
        if self.longest is None:
            return False
        repeated, _ = repeated_grams(answer.text)
        return repeated >= self.rules.max_repetition * max(1, self.longest - 3)


def _longest_passing(words: int, rules: Rules, max_tokens: int | None) -> int | None:
    """The most words an answer can have and still pass (None: no bound is known)."""
    bounds = []
    if rules.on("too_long"):
        bounds.append(int(rules.max_ratio * words))
    if max_tokens:
        bounds.append(max_tokens)  # a word is a token at least
    return min(bounds) if bounds else None
