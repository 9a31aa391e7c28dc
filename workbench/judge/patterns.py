"""What small models write instead of a paraphrase, as regular expressions.

Refusals, lead-ins ("Here is the paraphrased text:") and commentary ("This passage conveys…"):
each list is tried with one combined search first, since most answers match none.
"""

from __future__ import annotations

import re
from functools import cache


def new_match(patterns: tuple[re.Pattern[str], ...], text: str, original: str) -> str | None:
    """The first pattern `text` matches and the original does not (the author may write
    "I made…" or "Here is…"; then it is prose, not a model talking)."""
    if not _any_of(patterns).search(text):
        return None  # most answers: one search instead of one a pattern
    for pattern in patterns:
        found = pattern.search(text)
        if found and not pattern.search(original):
            return found.group(0).strip()
    return None


@cache
def _any_of(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    """One pattern matching wherever any of `patterns` does (they share their flags)."""
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags)


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
