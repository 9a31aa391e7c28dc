"""What rule options ask of the job's rules, on `run` or `rules`: a change to apply to them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from workbench.errors import SettingError
from workbench.judge.meaning import MEANING_MODELS
from workbench.judge.rules import NOTEBOOK_ENABLED, check_codes
from workbench.judge.settings import MIN_MEANING, Rules

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
    meaning_model: str | None = None  # minilm or wordllama
    # A server's embeddings model; a meaning model's name ("minilm", "wordllama"): back to it,
    # offline (how jobs made before --meaning-model went back to WordLlama).
    embeddings_model: str | None = None
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
        meaning_model = self.meaning_model.lower() if self.meaning_model else None
        if self.embeddings_model is not None:
            offline = self.embeddings_model.lower() in MEANING_MODELS
            embeddings_model = None if offline else self.embeddings_model
            meaning_model = self.embeddings_model.lower() if offline else meaning_model
        if meaning_model is not None and meaning_model != rules.meaning_model:
            # Another model's scores sit elsewhere: its own threshold, unless one is given.
            numbers.setdefault("min_meaning", MIN_MEANING.get(meaning_model, rules.min_meaning))
        meaning_model = meaning_model or rules.meaning_model
        if self.judge_model is not None:
            own = self.judge_model.lower() == RECIPES_MODEL
            judge_model = None if own else self.judge_model
        return replace(
            rules,
            enabled=frozenset(enabled),
            banned_phrases=tuple(phrases),
            embeddings_model=embeddings_model,
            judge_model=judge_model,
            meaning_model=meaning_model,  # type: ignore[arg-type]  # checked by Rules
            **numbers,
        )
