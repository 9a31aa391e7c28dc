"""Validation: clean an answer, then try the named rules on it, each with a stable reason code.

Cleaners fix what is certainly wrapping, not writing: a reasoning model's <think> block, quotes
around the whole answer. The attempt keeps both the raw answer and the cleaned one.

Rules reject. They run in order and the first that matches wins, as in the notebook, whose four
rules keep their exact definitions and order. `truncated` and `empty` come first because they
explain the rest. The rules for what small models do (refusal, preamble, commentary,
too_similar) come after the notebook's, so an answer the notebook rejected is rejected for the
same reason, and they catch only what it let through; `duplicate` comes last, as it only
matters for an answer every other rule accepts. `Rules` holds their settings: the job's rules,
stored in the database as JSON (judging.py keeps the versions).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any, Protocol

from rapidfuzz.distance import Indel

from workbench.errors import WorkbenchError

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
MAX_RATIO_LIMIT = 100.0  # past this, too_long means nothing (and the word count overflows)
# too_similar: word-sequence similarity at which an answer is a copy. 0.9 is the lowest that
# rejects none of 86 hand-written paraphrases: light rewrites score up to 0.895, a real copy as
# little as 0.89 (benchmarks/MEASURED.md).
DEFAULT_SIMILARITY = 0.9
# repetition: the share of an answer's 4-word sequences that occur in it more than once, at or
# above which it loops. No hand-written paraphrase and no paragraph of either book reaches 0.15;
# 73 real answers that loop under the token cap do (benchmarks/MEASURED.md).
DEFAULT_MAX_REPETITION = 0.15
# meaning_drift: WordLlama similarity of answer and original under which the answer says
# something else. At 0.75, with the other default rules, 0.95 of the answers accepted from the
# labelled set are good and 0.98 of the 86 hand-written paraphrases are kept (the two it loses
# are short lines of dialogue); chosen on half the paragraphs, a threshold keeping 0.95 of the
# good answers does as well on the other half (benchmarks/measure_rules.py).
DEFAULT_MIN_MEANING = 0.75
JUDGE_QUESTION = (
    "Does the rewrite say the same as the original, adding nothing and leaving nothing out? "
    "Answer yes or no."
)


@dataclass(frozen=True)
class Rules:
    """The settings of the rules: the job's rules, shared by every recipe.

    `enabled` lists the rules and cleaners that are on. A job stores it whole, so a rule that a
    later workbench adds stays off for a job made before it, until the job turns it on.
    """

    banned_phrases: tuple[str, ...] = DEFAULT_BANNED_PHRASES
    min_ratio: float = DEFAULT_MIN_RATIO
    max_ratio: float = DEFAULT_MAX_RATIO
    similarity: float = DEFAULT_SIMILARITY
    max_repetition: float = DEFAULT_MAX_REPETITION
    min_meaning: float = DEFAULT_MIN_MEANING
    # Meaning from this embedding model of the run's server (POST /embeddings); None: WordLlama,
    # offline. Changing it measures every stored answer again.
    embeddings_model: str | None = None
    judge_model: str | None = None  # the judge rule asks this model; None: the recipe's own
    enabled: frozenset[str] = field(default_factory=lambda: DEFAULT_ENABLED)

    def __post_init__(self) -> None:
        check_codes(self.enabled)
        if not self.max_ratio <= MAX_RATIO_LIMIT:  # also refuses inf and nan
            raise WorkbenchError(f"--max-ratio must be at most {MAX_RATIO_LIMIT:g}")
        if not 0 <= self.min_ratio <= self.max_ratio:
            raise WorkbenchError("--min-ratio must be between 0 and --max-ratio")
        if not 0 < self.similarity <= 1:
            raise WorkbenchError("--similarity must be above 0 and at most 1")
        if not 0 < self.max_repetition <= 1:
            raise WorkbenchError("--max-repetition must be above 0 and at most 1")
        if not -1 <= self.min_meaning <= 1:
            raise WorkbenchError("--min-meaning must be between -1 and 1")
        for name in ("embeddings_model", "judge_model"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise WorkbenchError(f"--{name.replace('_', '-')} is empty")

    def on(self, code: str) -> bool:
        return code in self.enabled

    def without(self, *codes: str) -> Rules:
        """These rules with the given rules or cleaners off."""
        return replace(self, enabled=self.enabled - set(codes))

    def to_json(self) -> dict[str, Any]:
        """The stored form: every setting, rules and cleaners in their order."""
        return {
            "enabled": [code for code in CODES if code in self.enabled],
            "banned_phrases": list(self.banned_phrases),
            "min_ratio": self.min_ratio,
            "max_ratio": self.max_ratio,
            "similarity": self.similarity,
            "max_repetition": self.max_repetition,
            "min_meaning": self.min_meaning,
            "embeddings_model": self.embeddings_model,
            "judge_model": self.judge_model,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rules:
        """Rules from their stored form; a setting it lacks takes today's default."""
        defaults = cls()
        return cls(
            banned_phrases=tuple(data.get("banned_phrases", defaults.banned_phrases)),
            min_ratio=float(data.get("min_ratio", defaults.min_ratio)),
            max_ratio=float(data.get("max_ratio", defaults.max_ratio)),
            similarity=float(data.get("similarity", defaults.similarity)),
            max_repetition=float(data.get("max_repetition", defaults.max_repetition)),
            min_meaning=float(data.get("min_meaning", defaults.min_meaning)),
            embeddings_model=data.get("embeddings_model"),
            judge_model=data.get("judge_model"),
            enabled=frozenset(data.get("enabled", defaults.enabled)) & set(CODES),
        )

    @property
    def hash(self) -> str:
        """A short fingerprint of the settings: equal rules have equal hashes."""
        text = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def changes_from(self, old: Rules) -> list[str]:
        """What differs from `old`, for people: ["min_ratio 0.8 → 0.7", "commentary off"]."""
        changes = []
        for name in ("min_ratio", "max_ratio", "similarity", "max_repetition", "min_meaning"):
            before, after = getattr(old, name), getattr(self, name)
            if before != after:
                changes.append(f"{name} {before:g} → {after:g}")
        for name, unset in (("embeddings_model", "WordLlama"), ("judge_model", "the recipe's")):
            before, after = getattr(old, name), getattr(self, name)
            if before != after:
                changes.append(f"{name} {before or unset} → {after or unset}")
        added = [p for p in self.banned_phrases if p not in old.banned_phrases]
        removed = [p for p in old.banned_phrases if p not in self.banned_phrases]
        if added:
            changes.append(f"banned {', '.join(map(repr, added))}")
        if removed:
            changes.append(f"no longer banned {', '.join(map(repr, removed))}")
        for code in CODES:
            if self.on(code) != old.on(code):
                changes.append(f"{code} {'on' if self.on(code) else 'off'}")
        return changes


def check_codes(codes: frozenset[str]) -> None:
    """WorkbenchError naming any of `codes` that is not a rule or cleaner."""
    unknown = codes - set(CODES)
    if unknown:
        raise WorkbenchError(
            f"unknown rule {', '.join(sorted(unknown))}; the rules and cleaners are: "
            f"{', '.join(CODES)}"
        )


@dataclass(frozen=True)
class Rejection:
    reason: str  # stable snake_case code, stored in attempts.reason
    detail: str  # what matched, for people

    @property
    def feedback(self) -> str:
        """The sentence --feedback adds to the next request."""
        return f"Your previous answer was rejected because {RULES[self.reason].feedback}."


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
    """Meaning from WordLlama, in this process; no server, so no embeddings model and no judge."""

    def meaning(self, original: str, answer: str, rules: Rules) -> float:
        if rules.embeddings_model:
            raise NeedsCheck("embeddings")
        from workbench.judge import meaning  # loads WordLlama on first use, once a process

        return round(meaning.similarity(original, answer), 4)

    def judge(self, original: str, answer: str, rules: Rules) -> str:
        raise NeedsCheck("judge")


OFFLINE = OfflineChecker()


@dataclass(frozen=True)
class Known:
    """Measures of an answer judged before, reused when the rules would measure them the same
    way (judging.py decides): judging again then costs no recomputation and no request."""

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


def measure(answer: Answer, rules: Rules) -> Measures:
    """The answer's measures once judged. Meaning is measured for every answer when WordLlama
    gives it (a quarter of a millisecond), so rejected answers can be sorted by it too."""
    if "meaning" not in answer.found and rules.on("meaning_drift") and not rules.embeddings_model:
        answer.meaning(rules)
    ratio = answer.output_words / answer.input_words if answer.input_words else 0.0
    return Measures(
        length_ratio=round(ratio, 4),
        similarity=answer.similarity,
        repetition=answer.repetition,
        meaning=answer.found.get("meaning", answer.known.meaning),
        judge=answer.found.get("judge", answer.known.judge),
    )


@dataclass(frozen=True)
class Rule:
    code: str
    check: Callable[[Answer, Rules], str | None]  # the detail when it rejects, else None
    feedback: str  # completes "Your previous answer was rejected because …"
    notebook: bool = False  # one of the notebook's four
    default: bool = True  # on in a new job's rules

    def __call__(self, answer: Answer, rules: Rules) -> str | None:
        return self.check(answer, rules)


def _new_match(patterns: tuple[re.Pattern[str], ...], answer: Answer) -> str | None:
    """The first pattern the answer matches and the original does not (the author may write
    "I made…" or "Here is…"; then it is prose, not a model talking)."""
    if not _any_of(patterns).search(answer.text):
        return None  # most answers: one search instead of one a pattern
    for pattern in patterns:
        found = pattern.search(answer.text)
        if found and not pattern.search(answer.original):
            return found.group(0).strip()
    return None


@cache
def _any_of(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """One pattern matching wherever any of `patterns` does (they share their flags)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags)


# --- rules ------------------------------------------------------------------------------------


def truncated(answer: Answer, rules: Rules) -> str | None:
    if answer.finish_reason == "length":
        return "the server cut the answer off at max_tokens (finish_reason: length)"
    return None


def empty(answer: Answer, rules: Rules) -> str | None:
    return "the answer is empty" if not answer.text else None


REFUSAL_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:I'm|I am) (?:sorry|afraid)\b",
        r"^I (?:cannot|can't|can not|won't|will not|am unable|'m unable|am not able)\b",
        r"^(?:Sorry|Unfortunately),? (?:but )?I\b",
        r"\bas an AI\b",
        r"\b(?:I|I'm|I am) (?:not able|unable) to (?:help|assist|comply|paraphrase)\b",
    )
)


def refusal(answer: Answer, rules: Rules) -> str | None:
    found = _new_match(REFUSAL_PATTERNS, answer)
    return f"refuses: {found!r}" if found else None


PREAMBLE_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^(?:Sure|Certainly|Of course|Absolutely|Okay|OK)\b[^\n]{0,60}?[!.:,]",
        r"^Here(?:'s| is| are)\b[^\n]{0,100}?:",
        r"^(?:The |A |My )?(?:paraphrased?|rewritten|revised|refined|rephrased|improved|enhanced)"
        r"(?: version| text| paragraph| passage)?(?: of [^\n:]{0,60})?\s*:",
        r"^(?:Paraphrase|Rewrite|Revision|Output|Answer|Response)\s*:",
    )
)


def preamble(answer: Answer, rules: Rules) -> str | None:
    found = _new_match(PREAMBLE_PATTERNS, answer)
    return f"starts with a lead-in: {found!r}" if found else None


COMMENTARY_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE | re.MULTILINE)
    for p in (
        r"^\s*[(\[]?(?:Note|Notes|Changes|Changes made|Explanation|Edits)\s*:",
        r"\b(?:In this|This) (?:paraphrase|paraphrased version|version|revision|rewrite|"
        r"rewritten version|refined version)\b",
        r"\bI(?: have|'ve)? (?:made|changed|kept|tried|rephrased|refined|replaced|used|added|"
        r"maintained|preserved|rewrote|removed|aimed)\b[^.\n]{0,80}?\b(?:text|paraphrase|"
        r"original|sentence|wording|changes|meaning|tone|style|version|phrasing|word choice)\b",
        r"\bthe (?:original|paraphrased) (?:text|paragraph|passage|sentence|version)\b",
        # Analysis instead of a rewrite, what small models do most: "The story of … is a
        # poignant tale", "This passage conveys", "It's a story about", "The final line of the
        # scene", "In this tale", "a metaphor for", "the writer", "a classic example of".
        r"^(?:The|This|Your) (?:story|tale|narrative|passage|text|paragraph|sentence|phrase|"
        r"final line)(?: is\b| of\b| about\b| has\b| explores\b| conveys\b| begins\b|"
        r" touches\b| takes place\b|,|:)",
        r"^(?:It's a|It is a|A great|What a) (?:story|tale|scene)\b",
        r"^\W*(?:That|This)(?:'s| is) (?:an? |the )?(?:\w+ )?(?:story|tale|sentence|passage)\b",
        r"^\W*(?:This|That|It)(?:'s| is) (?:a|an|the) (?:\w+ ){0,2}example\b",
        r"\b(?:perfect|classic|great|possible|common|beautiful|prime) example of\b",
        r"\b(?:the|this|a) (?:narrative|narrator|reader|protagonist|trope|writer|author)\b",
        r"\bIn this (?:\w+ )?(?:tale|story|novel|scene|context|narrative|passage|sentence)\b",
        r"\bIn my (?:own )?(?:novel|stories|writing)\b",
        r"\b(?:foreshadowing|symbolism|imagery|descriptive language|sentence structure)\b",
        r"\ba (?:delightful|classic|poignant|timeless) (?:tale|example|story|reminder)\b",
        r"\b(?:is|are) a (?:testament|metaphor|symbol|reminder|reference)\b",
        r"\ba (?:testament|metaphor) (?:to|for|of)\b",
        r"\b(?:story|stories|tale) (?:is|are) about\b",
        r"\bthemes? of\b",
        # Talking to the user about the rewrite: "I'd suggest", "I'll rephrase it", "your text",
        # "make it more engaging", "To add more depth to your text, here's a revised version".
        r"\bI(?:'d| would| could)? suggest\b",
        r"\bI(?:'ll| will| could| can|'d| would) (?:rephrase|rewrite|reword|refine)\b",
        r"\bmake it (?:clearer|more (?:clear|engaging|concise|vivid|polished|elegant|"
        r"sophisticated|interesting))\b",
        r"\byour (?:text|passage|paragraph|sentence|writing|narrative)\b",
        # (at the start of the answer, "Here's a revised version" is a preamble's)
        r"[,.;:!]\s+here(?:'s| is) (?:a|an|the|my|how)\b[^\n]{0,60}?(?:version|rewrite|"
        r"revision|take|paraphrase|rephrase it|can be done)\b",
    )
)


def commentary(answer: Answer, rules: Rules) -> str | None:
    found = _new_match(COMMENTARY_PATTERNS, answer)
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


_WORD = re.compile(r"[\w']+")


def similarity(original: str, answer: str) -> float:
    """How much of the answer is the original's word sequence, from 0 to 1: twice the longest
    common subsequence of their words over the words of both (difflib's ratio, computed exactly
    by rapidfuzz, some 40 times faster), lower-cased, punctuation ignored. A copy scores 1, a
    real paraphrase well under 0.7."""
    a, b = _WORD.findall(original.lower()), _WORD.findall(answer.lower())
    return Indel.normalized_similarity(a, b) if a and b else 0.0


def too_similar(answer: Answer, rules: Rules) -> str | None:
    if answer.similarity >= rules.similarity:
        return (
            f"a near copy of the original "
            f"(similarity {answer.similarity:.2f} ≥ {rules.similarity:g})"
        )
    return None


def repeated_share(text: str, n: int = 4) -> float:
    """The share of a text's word n-grams that occur in it more than once: 0 for prose, high
    for an answer that loops (or copies the original and then repeats it)."""
    words = _WORD.findall(text.lower())
    grams = [tuple(words[k : k + n]) for k in range(len(words) - n + 1)]
    seen: dict[tuple[str, ...], int] = {}
    for gram in grams:
        seen[gram] = seen.get(gram, 0) + 1
    return sum(c for c in seen.values() if c > 1) / len(grams) if grams else 0.0


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
        by = f"embeddings of {rules.embeddings_model}" if rules.embeddings_model else "WordLlama"
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


# --- cleaners ---------------------------------------------------------------------------------

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_QUOTES = {'"': '"', "“": "”", "'": "'", "‘": "’", "«": "»"}


def strip_think(text: str, original: str) -> str:
    """Drop reasoning models' <think>…</think> blocks (an unclosed one runs to the end)."""
    if "</think>" in text and "<think>" not in text:  # some servers drop the opening tag
        text = text.split("</think>", 1)[1]
    return _THINK.sub("", text).strip()


def strip_quotes(text: str, original: str) -> str:
    """Drop quotes wrapped around the whole answer, unless the original is wrapped the same way
    or the answer has other quotes of that kind inside (then they are dialogue)."""
    if len(text) < 2 or text[0] not in _QUOTES or text[-1] != _QUOTES[text[0]]:
        return text
    opening, closing = text[0], _QUOTES[text[0]]
    inner = text[1:-1]
    if original[:1] == opening or opening in inner or closing in inner:
        return text
    return inner.strip()


CLEANERS: dict[str, Callable[[str, str], str]] = {
    "strip_think": strip_think,
    "strip_quotes": strip_quotes,
}


def clean(original: str, text: str, rules: Rules | None = None) -> str:
    """The answer without what cleaners remove; validate this, export this."""
    for code, cleaner in CLEANERS.items():
        if rules is None or rules.on(code):
            text = cleaner(text, original)
    return text


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
DEFAULT_RULES = Rules()  # the notebook's settings, the rules and cleaners on by default


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


def check(answer: Answer, rules: Rules) -> Rejection | None:
    """The first enabled rule `answer` breaks, or None."""
    for code, rule in RULES.items():
        if not rules.on(code):
            continue
        detail = rule(answer, rules)
        if detail is not None:
            return Rejection(code, detail)
    return None
