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

import re

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
    """Asked of each piece of a streamed answer: the rule that stops it, or None to go on.

    Judging the whole answer so far after every piece would cost more than the answer (the
    rules are linear in its length, so quadratic over a stream). So it first keeps, as pieces
    come, what is cheap to keep up to date and that each of the four rules needs to fire: a
    banned phrase seen, a blank line with words after it, more words than too_long allows,
    enough repeated 4-word sequences. Only when one of these holds are the rules asked, in
    their order; when they say "go on" (another rule fires first), they are asked again a few
    pieces later, not at every piece.
    """

    RECHECK_EVERY = 8  # pieces between two askings of the rules once something holds

    def __init__(self, original: str, rules: Rules, max_tokens: int | None) -> None:
        self.original, self.rules = original, rules
        self.words = len(original.split())
        self.longest = _longest_passing(self.words, rules, max_tokens)
        self.rejection: Rejection | None = None
        self._seen = 0  # characters of the answer looked at so far
        self._phrases = [p for p in rules.banned_phrases if p] if rules.on("banned_phrase") else []
        self._reach = max((len(p) for p in self._phrases), default=0)
        self._blank = -1  # where the first blank line is, once there is one
        self._counted = 0  # characters whose words are counted
        self._grams = _Grams()
        self._wait = 0  # pieces to go before the rules are asked again

    def __call__(self, partial: str) -> str | None:
        if not self._may_stop(partial):
            return None
        if self._wait > 0:
            self._wait -= 1
            return None
        reason = self._judge(partial)
        if reason is None:
            self._wait = self.RECHECK_EVERY
        return reason

    def _may_stop(self, text: str) -> bool:
        """Whether one of the four rules could fire now (necessary, not sufficient)."""
        start, self._seen = self._seen, len(text)
        if self._phrases and any(p in text[max(0, start - self._reach) :] for p in self._phrases):
            return True
        if self._blank < 0:
            found = text.find("\n\n", max(0, start - 1))
            self._blank = found
        if self._blank >= 0 and text[self._blank + 2 :].strip():
            return True
        if self.rules.on("too_long") and len(text.split()) > int(self.rules.max_ratio * self.words):
            return True
        if self.rules.on("repetition") and self.longest is not None:
            end = _last_word_end(text)  # a word still being written is counted once it ends
            self._grams.add(text[self._counted : end])
            self._counted = max(self._counted, end)
            threshold = self.rules.max_repetition * max(1, self.longest - 3)
            return self._grams.repeated >= threshold
        return False

    def _judge(self, partial: str) -> str | None:
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


_WORD = re.compile(r"[\w']+")


def _last_word_end(text: str) -> int:
    """Where the text's last complete word ends: before a word it may still be writing."""
    end = len(text)
    while end and (text[end - 1].isalnum() or text[end - 1] in "_'"):
        end -= 1
    return end


class _Grams:
    """The 4-word sequences of a growing text, counted as measures.repeated_grams counts them:
    `repeated` is how many of them occur more than once (each occurrence counted)."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.counts: dict[tuple[str, ...], int] = {}
        self.repeated = 0

    def add(self, text: str) -> None:
        for word in _WORD.findall(text.lower()):
            self.words.append(word)
            if len(self.words) >= 4:
                gram = tuple(self.words[-4:])
                count = self.counts.get(gram, 0) + 1
                self.counts[gram] = count
                self.repeated += 2 if count == 2 else 1 if count > 2 else 0


def _longest_passing(words: int, rules: Rules, max_tokens: int | None) -> int | None:
    """The most words an answer can have and still pass (None: no bound is known)."""
    bounds = []
    if rules.on("too_long"):
        bounds.append(int(rules.max_ratio * words))
    if max_tokens:
        bounds.append(max_tokens)  # a word is a token at least
    return min(bounds) if bounds else None
