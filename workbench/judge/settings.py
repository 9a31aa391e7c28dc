"""The rules' settings: the job's rules as data, with their JSON form and their defaults.

The job stores its rules as `Rules.to_json()`, one row per version (versions.py); each setting
is checked here, and a bad one is a SettingError naming it, which the command line words as the
option that gave it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.errors import SettingError
from workbench.judge.meaning import MEANING_MODELS, MeaningModel
from workbench.judge.rules import CODES, DEFAULT_ENABLED, check_codes

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


# meaning_drift: the meaning similarity of answer and original under which the answer says
# something else, by the meaning model. MiniLM's 0.74 is the threshold chosen on all four
# labelled books (the most good answers kept with at least 0.95 of the accepted ones good);
# chosen on three books and measured on the fourth, that choice gave 0.944 good among accepted
# with 0.973 of the good answers kept (benchmarks/measure_meaning.py, benchmarks/MEASURED.md).
# WordLlama's 0.75 is what jobs made before MiniLM were judged with.
DEFAULT_MEANING_MODEL: MeaningModel = "minilm"
MIN_MEANING: dict[str, float] = {"minilm": 0.74, "wordllama": 0.75}
DEFAULT_MIN_MEANING = MIN_MEANING[DEFAULT_MEANING_MODEL]
# The meaning model of rules stored before the setting existed: they were judged with WordLlama,
# and keep it until the job's rules change it (a new version judges every answer again).
STORED_MEANING_MODEL: MeaningModel = "wordllama"


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
    # The model meaning_drift measures with, offline: "minilm" or "wordllama" (meaning.py).
    meaning_model: MeaningModel = DEFAULT_MEANING_MODEL
    # Meaning from this embedding model of the run's server (POST /embeddings) instead of the
    # meaning model; None: the meaning model, offline. Changing it measures every answer again.
    embeddings_model: str | None = None
    judge_model: str | None = None  # the judge rule asks this model; None: the recipe's own
    enabled: frozenset[str] = field(default_factory=lambda: DEFAULT_ENABLED)

    def __post_init__(self) -> None:
        check_codes(self.enabled)
        if not self.max_ratio <= MAX_RATIO_LIMIT:  # also refuses inf and nan
            raise SettingError("{max_ratio} must be at most {limit:g}", limit=MAX_RATIO_LIMIT)
        if not 0 <= self.min_ratio <= self.max_ratio:
            raise SettingError("{min_ratio} must be between 0 and {max_ratio}")
        if not 0 < self.similarity <= 1:
            raise SettingError("{similarity} must be above 0 and at most 1")
        if not 0 < self.max_repetition <= 1:
            raise SettingError("{max_repetition} must be above 0 and at most 1")
        if not -1 <= self.min_meaning <= 1:
            raise SettingError("{min_meaning} must be between -1 and 1")
        if self.meaning_model not in MEANING_MODELS:
            raise SettingError(
                "{meaning_model} {value!r} is not a meaning model; choose one of: {models}",
                value=self.meaning_model,
                models=", ".join(MEANING_MODELS),
            )
        for name in ("embeddings_model", "judge_model"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise SettingError("{" + name + "} is empty")

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
            "meaning_model": self.meaning_model,
            "embeddings_model": self.embeddings_model,
            "judge_model": self.judge_model,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rules:
        """Rules from their stored form; a setting it lacks takes today's default, but for the
        meaning model: rules stored before it existed were judged with WordLlama, and keep it
        (with WordLlama's threshold when they stored none)."""
        defaults = cls()
        model = data.get("meaning_model", STORED_MEANING_MODEL)
        return cls(
            banned_phrases=tuple(data.get("banned_phrases", defaults.banned_phrases)),
            min_ratio=float(data.get("min_ratio", defaults.min_ratio)),
            max_ratio=float(data.get("max_ratio", defaults.max_ratio)),
            similarity=float(data.get("similarity", defaults.similarity)),
            max_repetition=float(data.get("max_repetition", defaults.max_repetition)),
            min_meaning=float(data.get("min_meaning", MIN_MEANING.get(model, 0.0))),
            meaning_model=model,
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
        if old.meaning_model != self.meaning_model:  # first: a threshold may follow it
            changes.append(f"meaning_model {old.meaning_model} → {self.meaning_model}")
        for name in ("min_ratio", "max_ratio", "similarity", "max_repetition", "min_meaning"):
            before, after = getattr(old, name), getattr(self, name)
            if before != after:
                changes.append(f"{name} {before:g} → {after:g}")
        for name, unset in (
            ("embeddings_model", "none, offline"),
            ("judge_model", "the recipe's"),
        ):
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


DEFAULT_RULES = Rules()  # the notebook's settings, the rules and cleaners on by default
