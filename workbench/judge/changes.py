"""What rule options ask of the job's rules, on `run` or `rules`: a change to apply to them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from workbench.errors import SettingError
from workbench.judge.rules import NOTEBOOK_ENABLED, check_codes
from workbench.judge.settings import Rules

WORDLLAMA = "wordllama"  # --embeddings-model wordllama: meaning from WordLlama again


RECIPES_MODEL = "recipe"  # --judge-model recipe: the judge is the recipe's own model


@dataclass(frozen=True)
class RuleChanges:
    """What rule options ask of the job's rules (on `run` or `rules`); empty: keep them."""

    reset: bool = False  # back to the defaults first
    notebook: bool = False  # only the notebook's rules, no cleaners
    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    banned_phrases: tuple[str, ...] | None = None  # replace the list
    add_banned_phrases: tuple[str, ...] = ()
    min_ratio: float | None = None
    max_ratio: float | None = None
    similarity: float | None = None
    max_repetition: float | None = None
    min_meaning: float | None = None
    embeddings_model: str | None = None  # WORDLLAMA: back to WordLlama
    judge: bool | None = None  # the judge rule on or off
    judge_model: str | None = None  # RECIPES_MODEL: the recipe's own model

    def __post_init__(self) -> None:
        check_codes(self.enable | self.disable)
        both = self.enable & self.disable
        if both:
            raise SettingError(
                "both {enable_rule} and {disable_rule} {codes}", codes=", ".join(sorted(both))
            )

    @property
    def asks_nothing(self) -> bool:
        return self == RuleChanges()

    def apply(self, rules: Rules) -> Rules:
        if self.reset:
            rules = Rules()
        enabled = set(NOTEBOOK_ENABLED if self.notebook else rules.enabled)
        enabled = (enabled | self.enable) - self.disable
        phrases = list(
            self.banned_phrases if self.banned_phrases is not None else rules.banned_phrases
        )
        phrases += [p for p in self.add_banned_phrases if p not in phrases]
        if self.judge is not None:
            enabled = (enabled | {"judge"}) if self.judge else (enabled - {"judge"})
        numbers = {
            name: getattr(self, name)
            for name in ("min_ratio", "max_ratio", "similarity", "max_repetition", "min_meaning")
            if getattr(self, name) is not None
        }
        embeddings_model, judge_model = rules.embeddings_model, rules.judge_model
        if self.embeddings_model is not None:
            wordllama = self.embeddings_model.lower() == WORDLLAMA
            embeddings_model = None if wordllama else self.embeddings_model
        if self.judge_model is not None:
            own = self.judge_model.lower() == RECIPES_MODEL
            judge_model = None if own else self.judge_model
        return replace(
            rules,
            enabled=frozenset(enabled),
            banned_phrases=tuple(phrases),
            embeddings_model=embeddings_model,
            judge_model=judge_model,
            **numbers,
        )
