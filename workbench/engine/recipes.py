"""Recipes: the named, stored ways a job asks for paraphrases.

A recipe is what a request says (model, system prompt, user template, temperature, max_tokens
policy, retry temperature, feedback) plus two budgets (accepted outputs wanted per paragraph,
validated attempts allowed per wanted output). What it asks never changes once stored: asking
another way is another recipe, so every answer of a recipe was asked for the same way and two
recipes can be compared on the same paragraphs. Its budgets may change, and the paragraphs whose
status they decide move at once (their status is derived: see schema.sql, paragraph_status).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlite_utils import Database

from workbench.errors import DatabaseError, SettingError, WorkbenchError
from workbench.judge.rules import Rejection
from workbench.store.states import Status
from workbench.store.times import utc_now

DEFAULT_RECIPE = "default"
DEFAULT_SYSTEM_PROMPT = (
    "You are an expert novelist. Paraphrase the given text in your own words, refining the prose "
    "and making it a bit richer. Don't write additional story or meaning, keep the original "
    "meaning and form. The response should contain only one paragraph. Keep a similar length in "
    "your output to the original, not more than 50% difference, and shouldn't be shorter than "
    "the original text."
)
DEFAULT_USER_TEMPLATE = "{text}"  # the notebook sent the paragraph alone
DEFAULT_TEMPERATURE = 0.9
DEFAULT_OUTPUTS = 1
DEFAULT_MAX_ATTEMPTS = 5
# The default max_tokens cap: room for the longest answer the rules accept (max_ratio × input
# words) at a generous 1.6 tokens a word, plus a margin. SmolLM2's accepted answers on our
# sample measured 1.21 tokens a word on average, 1.46 at most; English BPE averages about 1.3.
# A model that loops is cut off there instead of generating for minutes: in the demo, looping
# answers were 70% of all tokens generated.
TOKENS_PER_WORD = 1.6
TOKEN_MARGIN = 32

_NAME = re.compile(r"[\w][\w.-]*")  # a word: it goes on command lines and in lists
# The fields that say how a recipe asks (fixed once stored), and its budgets (may change).
ASKING = (
    "model", "system_prompt", "user_template", "temperature", "max_tokens",
    "retry_temperature", "feedback",
)  # fmt: skip
BUDGETS = ("outputs", "max_attempts")


@dataclass(frozen=True)
class Recipe:
    """One way of asking, with its budgets. `model` is None only until a first run names it."""

    name: str = DEFAULT_RECIPE
    model: str | None = None
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    user_template: str = DEFAULT_USER_TEMPLATE
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = None  # None: room for the longest acceptable answer; 0: no cap
    retry_temperature: tuple[float, float] | None = None
    feedback: bool = False
    outputs: int = DEFAULT_OUTPUTS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    id: int | None = field(default=None, compare=False)  # its row, once stored

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or self.name == "all":
            raise SettingError(
                "{name} {value!r}: a recipe name is letters, digits, '_', '-' and '.', "
                "and not 'all'",
                value=self.name,
            )
        if not 0 <= self.temperature <= 2:
            raise SettingError(
                "{temperature} {value:g}: must be between 0 and 2", value=self.temperature
            )
        if "{text}" not in self.user_template:
            raise SettingError(
                "{user_template} {value!r} has no {{text}}: put {{text}} where the paragraph goes",
                value=_short(self.user_template),
            )
        if not self.system_prompt.strip():
            raise SettingError("{system_prompt} is empty")
        if self.max_tokens is not None and self.max_tokens < 0:
            raise SettingError("{max_tokens} must be 0 (no cap) or more")
        if self.retry_temperature is not None:
            low, high = self.retry_temperature
            if not 0 <= low <= high <= 2:
                raise SettingError(
                    "{retry_temperature} must be LOW:HIGH with 0 <= LOW <= HIGH <= 2"
                )
        if self.outputs < 1:
            raise SettingError("{outputs} must be at least 1")
        if self.max_attempts < 1:
            raise SettingError("{max_attempts} must be at least 1")

    # --- its forms -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("id")
        data["retry_temperature"] = list(self.retry_temperature or []) or None
        return data

    @property
    def hash(self) -> str:
        """A short fingerprint of how it asks (budgets and name left out)."""
        asking = {name: getattr(self, name) for name in ASKING}
        text = json.dumps(asking, sort_keys=True, ensure_ascii=False, default=list)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def describe(self) -> list[str]:
        """The whole recipe, a line a setting, for people."""
        return [
            f"model              {self.model or '(the first model the server lists)'}",
            f"system prompt      {_short(self.system_prompt, 70)!r}",
            f"user template      {_short(self.user_template, 70)!r}",
            f"temperature        {self.temperature:g}",
            f"max tokens         {describe_max_tokens(self.max_tokens)}",
            f"retry temperature  {describe_retry(self.retry_temperature)}",
            f"feedback           {'on' if self.feedback else 'off'}",
            f"outputs            {self.outputs} accepted answer{'s' * (self.outputs > 1)} "
            "a paragraph",
            f"max attempts       {self.max_attempts} validated answers per wanted output",
        ]

    def status(self, accepted: int, rejected: int) -> Status:
        """A paragraph's status under this recipe, from its counts of verdicts. The view
        progress_status (schema.sql) derives it the same way, for SQL readers; a test holds
        the two together (tests/test_recipes.py)."""
        if accepted >= self.outputs:
            return Status.SUCCEEDED
        if accepted + rejected >= self.budget:
            return Status.SKIPPED
        return Status.PENDING

    @property
    def budget(self) -> int:
        """Validated answers a paragraph may get: max_attempts per wanted output."""
        return self.outputs * self.max_attempts

    # --- the request it builds ---------------------------------------------------------------

    def max_tokens_for(self, word_count: int, max_ratio: float) -> int | None:
        if self.max_tokens is not None:
            return self.max_tokens or None
        return math.ceil(max_ratio * word_count * TOKENS_PER_WORD) + TOKEN_MARGIN

    def request_body(
        self,
        paragraph: str,
        word_count: int,
        *,
        max_ratio: float,
        previous: tuple[str, Rejection] | None = None,
        rng: random.Random | None = None,
    ) -> dict[str, Any]:
        """The chat completion this recipe sends for a paragraph: by default the notebook's
        request, its system prompt then the paragraph alone.

        `previous` is the last rejected answer of this paragraph, when this is a retry: with a
        retry temperature it changes temperature and seed, with feedback it is shown to the
        model with the reason it was rejected. `max_ratio` (a rule setting) sizes the default
        max_tokens.
        """
        if self.model is None:
            raise ValueError("the recipe's model is resolved before any request")
        user = self.user_template.replace("{text}", paragraph)
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": user},
        ]
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        body["temperature"] = self.temperature
        if previous is not None and self.retry_temperature:
            rng = rng or random.Random()
            body["temperature"] = round(rng.uniform(*self.retry_temperature), 3)
            body["seed"] = rng.randrange(2**31)
        if previous is not None and self.feedback:
            answer, rejection = previous
            messages.append({"role": "assistant", "content": answer})
            messages.append(
                {"role": "user", "content": f"{rejection.feedback} Paraphrase the text again."}
            )
        max_tokens = self.max_tokens_for(word_count, max_ratio)
        if max_tokens:
            body["max_tokens"] = max_tokens
        return body


def describe_max_tokens(value: int | None) -> str:
    if value is None:
        return "room for the longest acceptable answer"
    return "no cap" if value == 0 else str(value)


def describe_retry(value: tuple[float, float] | None) -> str:
    return f"{value[0]:g}:{value[1]:g}" if value else "off"


def _short(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


LABELS = {
    "model": "model",
    "system_prompt": "the system prompt",
    "user_template": "the user template",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "retry_temperature": "retry temperature",
    "feedback": "feedback",
}


def _setting(name: str, value: Any, other: Any) -> str:
    """One setting's value as the refusal shows it, told apart from `other`."""
    if name in ("system_prompt", "user_template"):
        shown = _short(value, 60)
        if shown == _short(other, 60):
            return f"{shown!r} ({len(value):,} characters)"
        return repr(shown)
    if name == "model":
        return repr(value)
    if name == "temperature":
        return f"{value:g}"
    if name == "max_tokens":
        return describe_max_tokens(value)
    if name == "retry_temperature":
        return describe_retry(value)
    return "on" if value else "off"


# --- stored recipes ----------------------------------------------------------------------------

_COLUMNS = (*ASKING, *BUDGETS)


def _from_row(row: dict[str, Any]) -> Recipe:
    try:
        return _recipe(row)
    except SettingError as e:  # edited by hand outside workbench: say so, not which option
        raise DatabaseError(
            "the recipe {recipe!r} stored in the database cannot be used: {problem}",
            recipe=row["name"],
            problem=e,
        ) from None


def _recipe(row: dict[str, Any]) -> Recipe:
    retry = row["retry_temperature"]
    return Recipe(
        name=row["name"],
        model=row["model"],
        system_prompt=row["system_prompt"],
        user_template=row["user_template"],
        temperature=row["temperature"],
        max_tokens=row["max_tokens"],
        retry_temperature=tuple(float(x) for x in retry.split(":")) if retry else None,  # type: ignore[arg-type]
        feedback=bool(row["feedback"]),
        outputs=row["outputs"],
        max_attempts=row["max_attempts"],
        id=row["id"],
    )


def stored_recipes(db: Database) -> list[Recipe]:
    """Every recipe, in the order they were made."""
    return [_from_row(row) for row in db.query("SELECT * FROM recipes ORDER BY id")]


def find_recipe(db: Database, name: str) -> Recipe | None:
    rows = list(db.query("SELECT * FROM recipes WHERE name = ?", [name]))
    return _from_row(rows[0]) if rows else None


def current_recipe_name(db: Database) -> str:
    """The recipe of the latest run, or `default` before any run."""
    row = db.execute(
        "SELECT r.name FROM runs JOIN recipes r ON r.id = runs.recipe_id "
        "ORDER BY runs.id DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else DEFAULT_RECIPE


def named_recipe(db: Database, name: str | None) -> Recipe:
    """The stored recipe called `name` (the current one when None): for report and export."""
    name = name or current_recipe_name(db)
    recipe = find_recipe(db, name)
    if recipe is None:
        known = [r.name for r in stored_recipes(db)]
        raise WorkbenchError(
            f"no recipe {name!r} in this job"
            + (f"; it has: {', '.join(known)}" if known else ": `workbench run` makes one")
        )
    return recipe


def verdict_counts(
    db: Database, recipe_id: int | None, run_id: int | None = None
) -> list[tuple[int, int, str | None, int]]:
    """(accepted, rejected, last rejection reason, paragraphs): the paragraphs of a recipe that
    have attempts (of those a run worked, with `run_id`), grouped by their counts of verdicts.
    A few dozen rows for a million paragraphs, read from an index that triggers keep."""
    worked = (
        " AND paragraph_id IN (SELECT paragraph_id FROM attempts WHERE run_id = :run)"
        if run_id is not None
        else ""
    )
    return db.execute(
        "SELECT accepted, rejected, last_reason, count(*) FROM progress "
        f"WHERE recipe_id IS :recipe{worked} GROUP BY 1, 2, 3",
        {"recipe": recipe_id, "run": run_id},
    ).fetchall()


def paragraph_counts(
    db: Database,
    recipe: Recipe | None,
    *,
    counted: list[tuple[int, int, str | None, int]] | None = None,
) -> dict[Status, int]:
    """Paragraphs pending, succeeded and skipped under a recipe (all pending under a recipe not
    stored yet). `counted`: its verdict_counts, when already read."""
    eligible = db.execute("SELECT count(*) FROM paragraphs WHERE filtered = 0").fetchone()[0]
    counts = {Status.PENDING: eligible, Status.SUCCEEDED: 0, Status.SKIPPED: 0}
    if recipe is None or recipe.id is None:
        return counts
    for accepted, rejected, _, paragraphs in (
        verdict_counts(db, recipe.id) if counted is None else counted
    ):
        status = recipe.status(accepted, rejected)
        if status != Status.PENDING:
            counts[status] += paragraphs
            counts[Status.PENDING] -= paragraphs
    return counts


@dataclass(frozen=True)
class RecipePlan:
    """The recipe a run will work, and how it differs from what is stored."""

    recipe: Recipe
    stored: Recipe | None  # None: a new recipe, stored when its run starts
    based_on: str | None = None  # a new recipe takes what it was not given from this one
    given: tuple[str, ...] = ()  # the options given for a new recipe

    @property
    def budget_changes(self) -> dict[str, tuple[int, int]]:
        if self.stored is None:
            return {}
        return {
            name: (getattr(self.stored, name), getattr(self.recipe, name))
            for name in BUDGETS
            if getattr(self.stored, name) != getattr(self.recipe, name)
        }


def plan_recipe(db: Database, name: str | None, given: dict[str, Any]) -> RecipePlan:
    """The recipe to work: the named (or current) one, with the options given on top.

    Raises WorkbenchError, before anything is sent or stored, when an option contradicts how a
    stored recipe asks. `given` holds only the options the user passed.
    """
    unknown = set(given) - set(_COLUMNS)
    if unknown:
        raise ValueError(f"not recipe settings: {sorted(unknown)}")
    current = current_recipe_name(db)
    name = name or current
    stored = find_recipe(db, name)
    if stored is not None:
        differences = [
            f"{LABELS[key]} {_setting(key, getattr(stored, key), value)}, "
            f"not {_setting(key, value, getattr(stored, key))}"
            for key, value in given.items()
            if key in ASKING and value != getattr(stored, key)
        ]
        if differences:
            raise WorkbenchError(
                f"recipe {name!r} asks with {', and '.join(differences)}; "
                "to try another way of asking, name it: --recipe NAME"
            )
        return RecipePlan(replace(stored, **given), stored)
    base = find_recipe(db, current) if name != current else None
    template = base or Recipe()
    recipe = replace(template, **given, name=name, id=None)
    return RecipePlan(recipe, None, based_on=base.name if base else None, given=tuple(given))


def save_recipe(db: Database, recipe: Recipe) -> Recipe:
    """Store a new recipe, or the budgets of a stored one; returns it with its id."""
    if recipe.model is None:
        raise ValueError("a recipe is stored with the model the server named")
    values = {
        **{name: getattr(recipe, name) for name in _COLUMNS},
        "retry_temperature": describe_retry(recipe.retry_temperature)
        if recipe.retry_temperature
        else None,
        "feedback": int(recipe.feedback),
    }
    if recipe.id is None:
        row = {"name": recipe.name, **values, "created_at": utc_now()}
        row_id = db.table("recipes").insert(row).last_pk
        return replace(recipe, id=row_id)
    db.execute(
        "UPDATE recipes SET outputs = ?, max_attempts = ? WHERE id = ?",
        [recipe.outputs, recipe.max_attempts, recipe.id],
    )
    return recipe
