"""Recipes side by side: one line each (`workbench recipes`), and compared on the paragraphs
they have all finished (`workbench report --compare`): did the new prompt or model do better?"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from workbench.engine.recipes import (
    Recipe,
    current_recipe_name,
    named_recipe,
    paragraph_counts,
    stored_recipes,
)
from workbench.errors import WorkbenchError
from workbench.review.tallies import Tokens, tally


@dataclass(frozen=True)
class RecipeSummary:
    """One recipe in a line: what `workbench recipes` lists and `report --json` includes."""

    name: str
    current: bool
    model: str | None
    hash: str
    settings: dict[str, Any]
    paragraphs: dict[str, int]  # pending, succeeded, skipped
    attempts: dict[str, int]  # accepted, rejected, failed
    tokens: Tokens
    accept_rate: float | None  # accepted among validated answers
    completion_tokens_per_accepted: float | None


@dataclass(frozen=True)
class RecipeComparison:
    """One recipe over the paragraphs every recipe compared has finished."""

    name: str
    model: str
    paragraphs: int
    succeeded: int
    accept_rate: float | None
    accepted_first_try: float | None
    attempts_per_accepted: float | None
    completion_tokens_per_accepted: float | None
    mean_latency_s: float | None
    failed: int
    rejection_reasons: dict[str, int]


@dataclass(frozen=True)
class Comparison:
    paragraphs: int  # finished by every recipe compared
    recipes: list[RecipeComparison]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def recipe_summaries(db: Database, recipes: list[Recipe] | None = None) -> list[RecipeSummary]:
    """One summary per recipe, in the order they were made."""
    current = current_recipe_name(db)
    summaries = []
    for recipe in stored_recipes(db) if recipes is None else recipes:
        numbers = tally(db, recipe.id)
        a = numbers.attempts
        validated = a.accepted + a.rejected
        summaries.append(
            RecipeSummary(
                name=recipe.name,
                current=recipe.name == current,
                model=recipe.model,
                hash=recipe.hash,
                settings=recipe.to_json(),
                paragraphs={str(k): n for k, n in paragraph_counts(db, recipe).items()},
                attempts={"accepted": a.accepted, "rejected": a.rejected, "failed": a.failed},
                tokens=numbers.tokens,
                accept_rate=round(a.accepted / validated, 3) if validated else None,
                completion_tokens_per_accepted=round(numbers.tokens.completion / a.accepted, 1)
                if a.accepted
                else None,
            )
        )
    return summaries


def format_recipes(summaries: list[RecipeSummary]) -> str:
    """One line per recipe: `workbench recipes`."""
    if not summaries:
        return "No recipes yet: `workbench run` makes the first, `default`."
    name = max(6, *(len(s.name) for s in summaries))
    model = max(5, *(len(str(s.model)) for s in summaries))
    lines = [
        f"  {'recipe':<{name}}  {'model':<{model}}  {'prompt':<32} {'succ.':>6} {'skip.':>6} "
        f"{'pend.':>6} {'accept':>6} {'tok/acc':>8}"
    ]
    for s in summaries:
        p = s.paragraphs
        prompt = " ".join(s.settings["system_prompt"].split())
        prompt = prompt if len(prompt) <= 32 else prompt[:31] + "…"
        lines.append(
            f"{'*' if s.current else ' '} {s.name:<{name}}  {s.model!s:<{model}}  "
            f"{prompt:<32} {p['succeeded']:>6,} {p['skipped']:>6,} {p['pending']:>6,} "
            f"{_rate(s.accept_rate):>6} {_rate(s.completion_tokens_per_accepted, False):>8}"
        )
    return "\n".join(lines)


# Recipes side by side over the paragraphs they have all finished (succeeded or skipped), one
# row per recipe. :recipes names them, comma-separated ('' for all). `report --compare` and
# browse's "Compare recipes" page (datasette.yaml) both run this, so they show the same numbers.
COMPARE_SQL = """
with chosen as (
  select id, name, model from recipes
  where :recipes = '' or instr(',' || :recipes || ',', ',' || name || ',') > 0
),
finished as (
  select g.paragraph_id from progress_status g join chosen c on c.id = g.recipe_id
  where g.status != 'pending'
  group by g.paragraph_id having count(*) = (select count(*) from chosen)
),
answers as (  -- by verdict in force: a person's where they gave one, else the rules'
  select a.recipe_id, a.paragraph_id, a.attempt_number, v.outcome, a.completion_tokens,
    a.latency_s
  from attempts a join finished f on f.paragraph_id = a.paragraph_id
  join verdicts v on v.attempt_id = a.id
  where a.recipe_id in (select id from chosen)
),
firsts as (  -- each finished paragraph's first judged answer, under each recipe
  select recipe_id, paragraph_id, outcome from (
    select recipe_id, paragraph_id, outcome, row_number() over (
      partition by recipe_id, paragraph_id order by attempt_number) as nth
    from answers where outcome != 'failed'
  ) where nth = 1
)
select
  c.name as recipe,
  c.model,
  (select count(*) from finished) as paragraphs,
  (select count(*) from progress_status g join finished f on f.paragraph_id = g.paragraph_id
   where g.recipe_id = c.id and g.status = 'succeeded') as succeeded,
  round(1.0 * sum(a.outcome = 'accepted') / nullif(sum(a.outcome != 'failed'), 0), 3)
    as accept_rate,
  (select round(1.0 * sum(outcome = 'accepted') / nullif(count(*), 0), 3)
   from firsts where firsts.recipe_id = c.id) as accepted_first_try,
  round(1.0 * sum(a.outcome != 'failed') / nullif(sum(a.outcome = 'accepted'), 0), 2)
    as attempts_per_accepted,
  round(1.0 * sum(a.completion_tokens) / nullif(sum(a.outcome = 'accepted'), 0), 1)
    as completion_tokens_per_accepted,
  round(avg(case when a.outcome != 'failed' then a.latency_s end), 3) as mean_latency_s,
  coalesce(sum(a.outcome = 'failed'), 0) as failed,
  (select json_group_object(reason, n) from (
     select reason, count(*) as n from verdicts b join finished f on f.paragraph_id = b.paragraph_id
     where b.recipe_id = c.id and b.outcome = 'rejected'
     group by reason order by n desc, reason)) as rejection_reasons
from chosen c left join answers a on a.recipe_id = c.id
group by c.id order by c.id
"""


def compare(db: Database, names: list[str] | None = None) -> Comparison:
    """Recipes side by side over the paragraphs they have all finished (succeeded or skipped):
    did the new prompt or model do better?"""
    recipes = [named_recipe(db, name) for name in names] if names else stored_recipes(db)
    if len(recipes) < 2:
        raise WorkbenchError(
            "--compare needs two recipes or more; this job has "
            + (", ".join(r.name for r in stored_recipes(db)) or "none")
            + " (make another with `workbench run --recipe NAME …`)"
        )
    rows = [
        RecipeComparison(*numbers, json.loads(reasons or "{}"))  # type: ignore[call-arg]
        for *numbers, reasons in db.execute(
            COMPARE_SQL, {"recipes": ",".join(r.name for r in recipes) if names else ""}
        )
    ]
    return Comparison(rows[0].paragraphs if rows else 0, rows)


def _rate(value: float | None, percent: bool = True) -> str:
    if value is None:
        return "–"
    return f"{value:.0%}" if percent else f"{value:g}"


def format_compare(data: Comparison) -> str:
    """The comparison as a table for people, a column per recipe."""
    recipes = data.recipes
    width = max(12, *(len(r.name) for r in recipes), *(len(str(r.model)) for r in recipes))
    width += 2
    reasons = sorted({reason for r in recipes for reason in r.rejection_reasons})
    rows: list[tuple[str, list[str] | None]] = [
        ("model", [str(r.model) for r in recipes]),
        ("succeeded", [f"{r.succeeded:,}" for r in recipes]),
        ("accept rate", [_rate(r.accept_rate) for r in recipes]),
        ("accepted at first try", [_rate(r.accepted_first_try) for r in recipes]),
        ("answers per accepted", [_rate(r.attempts_per_accepted, False) for r in recipes]),
        (
            "completion tokens per accepted",
            [_rate(r.completion_tokens_per_accepted, False) for r in recipes],
        ),
        ("mean latency (s)", [_rate(r.mean_latency_s, False) for r in recipes]),
        *((("rejections", None),) if reasons else ()),
        *(
            (f"  {reason}", [f"{r.rejection_reasons.get(reason, 0):,}" for r in recipes])
            for reason in reasons
        ),
    ]
    label = max(len(name) for name, _ in rows) + 2
    lines = [
        f"Over the {data.paragraphs:,} paragraphs every recipe compared has finished:",
        " " * label + "".join(f"{r.name:>{width}}" for r in recipes),
    ]
    for name, values in rows:  # None: a heading
        values_text = "".join(f"{value:>{width}}" for value in values or [])
        lines.append(f"{name:<{label}}{values_text}".rstrip())
    return "\n".join(lines)
