"""Recipes side by side: one line each (`workbench recipes`), and compared on the paragraphs
they have all finished (`workbench report --compare`): did the new prompt or model do better?"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from workbench.errors import WorkbenchError
from workbench.recipes import (
    Recipe,
    current_recipe_name,
    named_recipe,
    paragraph_counts,
    stored_recipes,
)
from workbench.report import counts, tally


def recipe_summaries(db: Database, recipes: list[Recipe] | None = None) -> list[dict[str, Any]]:
    """One summary per recipe: what `workbench recipes` lists and `report --json` includes."""
    current = current_recipe_name(db)
    summaries = []
    for recipe in stored_recipes(db) if recipes is None else recipes:
        numbers = tally(db, recipe.id)
        attempts = {k: v for k, v in numbers["attempts"].items() if k != "total"}
        completion = numbers["tokens"]["completion"]
        validated = attempts["accepted"] + attempts["rejected"]
        summaries.append(
            {
                "name": recipe.name,
                "current": recipe.name == current,
                "model": recipe.model,
                "hash": recipe.hash,
                "settings": recipe.to_json(),
                "paragraphs": paragraph_counts(db, recipe),
                "attempts": attempts,
                "tokens": numbers["tokens"],
                "accept_rate": round(attempts["accepted"] / validated, 3) if validated else None,
                "completion_tokens_per_accepted": round(completion / attempts["accepted"], 1)
                if attempts["accepted"]
                else None,
            }
        )
    return summaries


def format_recipes(summaries: list[dict[str, Any]]) -> str:
    """One line per recipe: `workbench recipes`."""
    if not summaries:
        return "No recipes yet: `workbench run` makes the first, `default`."
    lines = [
        f"  {'recipe':<14} {'model':<24} {'prompt':<32} {'succ.':>6} {'skip.':>6} "
        f"{'pend.':>6} {'accept':>6} {'tok/acc':>8}"
    ]
    for s in summaries:
        p = s["paragraphs"]
        prompt = " ".join(s["settings"]["system_prompt"].split())
        prompt = prompt if len(prompt) <= 32 else prompt[:31] + "…"
        lines.append(
            f"{'*' if s['current'] else ' '} {s['name']:<14} {s['model']!s:<24} {prompt:<32} "
            f"{p['succeeded']:>6,} {p['skipped']:>6,} {p['pending']:>6,} "
            f"{_rate(s['accept_rate']):>6} {_rate(s['completion_tokens_per_accepted'], False):>8}"
        )
    return "\n".join(lines)


def compare(db: Database, names: list[str] | None = None) -> dict[str, Any]:
    """Recipes side by side over the paragraphs they have all finished (succeeded or skipped):
    did the new prompt or model do better?"""
    recipes = [named_recipe(db, name) for name in names] if names else stored_recipes(db)
    if len(recipes) < 2:
        raise WorkbenchError(
            "--compare needs two recipes or more; this job has "
            + (", ".join(r.name for r in stored_recipes(db)) or "none")
            + " (make another with `workbench run --recipe NAME …`)"
        )
    ids = [recipe.id for recipe in recipes]
    marks = ", ".join("?" * len(ids))
    db.execute("DROP TABLE IF EXISTS temp.compared")
    db.execute(
        f"""
        CREATE TEMP TABLE compared AS
        SELECT paragraph_id FROM paragraph_status
        WHERE recipe_id IN ({marks}) AND status != 'pending'
        GROUP BY paragraph_id HAVING count(*) = ?
        """,
        [*ids, len(ids)],
    )
    common = db.execute("SELECT count(*) FROM temp.compared").fetchone()[0]
    rows = []
    for recipe in recipes:
        (validated, accepted, completion, latency, failed) = db.execute(
            """
            SELECT coalesce(sum(a.outcome != 'failed'), 0),
                coalesce(sum(a.outcome = 'accepted'), 0),
                coalesce(sum(a.completion_tokens), 0),
                avg(CASE WHEN a.outcome != 'failed' THEN a.latency_s END),
                coalesce(sum(a.outcome = 'failed'), 0)
            FROM attempts a JOIN temp.compared c ON c.paragraph_id = a.paragraph_id
            WHERE a.recipe_id = ?
            """,
            [recipe.id],
        ).fetchone()
        first_try = db.execute(
            """
            SELECT count(*) FROM temp.compared c
            WHERE (SELECT a.outcome FROM attempts a WHERE a.paragraph_id = c.paragraph_id
                   AND a.recipe_id = ? AND a.outcome != 'failed'
                   ORDER BY a.attempt_number LIMIT 1) = 'accepted'
            """,
            [recipe.id],
        ).fetchone()[0]
        succeeded = db.execute(
            "SELECT count(*) FROM paragraph_status s JOIN temp.compared c "
            "ON c.paragraph_id = s.paragraph_id WHERE s.recipe_id = ? AND s.status = 'succeeded'",
            [recipe.id],
        ).fetchone()[0]
        rows.append(
            {
                "name": recipe.name,
                "model": recipe.model,
                "succeeded": succeeded,
                "accept_rate": round(accepted / validated, 3) if validated else None,
                "accepted_first_try": round(first_try / common, 3) if common else None,
                "attempts_per_accepted": round(validated / accepted, 2) if accepted else None,
                "completion_tokens_per_accepted": round(completion / accepted, 1)
                if accepted
                else None,
                "mean_latency_s": round(latency, 3) if latency is not None else None,
                "failed": failed,
                "rejection_reasons": counts(
                    db,
                    "SELECT a.reason, count(*) FROM attempts a JOIN temp.compared c "
                    "ON c.paragraph_id = a.paragraph_id WHERE a.recipe_id = ? "
                    "AND a.outcome = 'rejected' GROUP BY a.reason ORDER BY count(*) DESC, a.reason",
                    [recipe.id],
                ),
            }
        )
    db.execute("DROP TABLE temp.compared")
    return {"paragraphs": common, "recipes": rows}


def _rate(value: float | None, percent: bool = True) -> str:
    if value is None:
        return "–"
    return f"{value:.0%}" if percent else f"{value:g}"


def format_compare(data: dict[str, Any]) -> str:
    """The comparison as a table for people, a column per recipe."""
    recipes = data["recipes"]
    width = max(12, *(len(r["name"]) for r in recipes)) + 2
    reasons = sorted({reason for r in recipes for reason in r["rejection_reasons"]})
    rows: list[tuple[str, list[str]]] = [
        ("model", [str(r["model"]) for r in recipes]),
        ("succeeded", [f"{r['succeeded']:,}" for r in recipes]),
        ("accept rate", [_rate(r["accept_rate"]) for r in recipes]),
        ("accepted at first try", [_rate(r["accepted_first_try"]) for r in recipes]),
        ("answers per accepted", [_rate(r["attempts_per_accepted"], False) for r in recipes]),
        (
            "completion tokens per accepted",
            [_rate(r["completion_tokens_per_accepted"], False) for r in recipes],
        ),
        ("mean latency (s)", [_rate(r["mean_latency_s"], False) for r in recipes]),
        ("rejections", [""] * len(recipes) if reasons else []),
        *(
            (f"  {reason}", [f"{r['rejection_reasons'].get(reason, 0):,}" for r in recipes])
            for reason in reasons
        ),
    ]
    label = max(len(name) for name, _ in rows) + 2
    lines = [
        f"Over the {data['paragraphs']:,} paragraphs every recipe compared has finished:",
        " " * label + "".join(f"{r['name']:>{width}}" for r in recipes),
    ]
    for name, values in rows:
        if values:
            lines.append(f"{name:<{label}}" + "".join(f"{value:>{width}}" for value in values))
    return "\n".join(lines)
