"""Report: the notebook's summary and more, for one recipe, read from the database alone; and
recipes compared on the paragraphs they have all finished."""

from __future__ import annotations

import json
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

OUTCOMES = ("accepted", "rejected", "failed")


def _counts(db: Database, sql: str, params: list[Any] | None = None) -> dict[str, int]:
    return {str(key): count for key, count in db.execute(sql, params or []).fetchall()}


def report(db: Database, recipe_name: str | None = None) -> dict[str, Any]:
    """Everything `workbench report` shows for one recipe (the current one by default), as one
    JSON-ready dict; `recipes` lists every recipe of the job."""
    recipes = stored_recipes(db)
    recipe = named_recipe(db, recipe_name) if recipe_name or recipes else None
    rid = recipe.id if recipe else None
    filtered = db.execute("SELECT count(*) FROM paragraphs WHERE filtered = 1").fetchone()[0]
    statuses = paragraph_counts(db, rid)
    eligible = sum(statuses.values())
    by_outcome = _counts(
        db, "SELECT outcome, count(*) FROM attempts WHERE recipe_id IS ? GROUP BY outcome", [rid]
    )
    attempts = {outcome: by_outcome.get(outcome, 0) for outcome in OUTCOMES}
    prompt_tokens, completion_tokens, mean_latency = db.execute(
        "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
        "avg(latency_s) FROM attempts WHERE recipe_id IS ? AND outcome != 'failed'",
        [rid],
    ).fetchone()
    return {
        "recipe": recipe.name if recipe else None,
        "paragraphs": {
            "total": filtered + eligible,
            "eligible": eligible,
            "filtered": filtered,
            **statuses,
        },
        "skipped_reasons": _counts(
            db,
            "SELECT last_reason, count(*) FROM paragraph_status WHERE recipe_id IS ? "
            "AND status = 'skipped' GROUP BY last_reason ORDER BY count(*) DESC, last_reason",
            [rid],
        ),
        "attempts": {"total": sum(attempts.values()), **attempts},
        # The notebook's "total retries": answers asked for again after a rejection (every
        # rejection but the last of each skipped paragraph).
        "retries": max(0, attempts["rejected"] - statuses["skipped"]),
        "rejection_reasons": _counts(
            db,
            "SELECT reason, count(*) FROM attempts WHERE recipe_id IS ? AND outcome = 'rejected' "
            "GROUP BY reason ORDER BY count(*) DESC, reason",
            [rid],
        ),
        "failure_reasons": _counts(
            db,
            "SELECT reason, count(*) FROM attempts WHERE recipe_id IS ? AND outcome = 'failed' "
            "GROUP BY reason ORDER BY count(*) DESC, reason",
            [rid],
        ),
        # How many answers finished paragraphs needed: {"1": 700, "2": 150, …}
        "attempts_per_paragraph": _counts(
            db,
            "SELECT accepted + rejected, count(*) FROM paragraph_status WHERE recipe_id IS ? "
            "AND status IN ('succeeded', 'skipped') GROUP BY 1 ORDER BY 1",
            [rid],
        ),
        "tokens": {"prompt": prompt_tokens, "completion": completion_tokens},
        "mean_latency_s": round(mean_latency, 3) if mean_latency is not None else None,
        "sources": [
            dict(row)
            for row in db.query(
                "SELECT s.id, s.name, s.path, count(p.id) AS paragraphs, "
                "(SELECT count(*) FROM paragraph_status ps WHERE ps.source_id = s.id "
                " AND ps.recipe_id IS :rid AND ps.status = 'succeeded') AS succeeded "
                "FROM sources s LEFT JOIN paragraphs p ON p.source_id = s.id "
                "GROUP BY s.id ORDER BY s.id",
                {"rid": rid},
            )
        ],
        "sections": sections(db, rid),
        "runs": [
            dict(row)
            for row in db.query(
                "SELECT r.id, r.started_at, r.ended_at, r.status, c.model, r.base_url, "
                "r.message, r.rules_id, count(a.id) AS attempts, "
                "coalesce(sum(a.outcome = 'accepted'), 0) AS accepted, "
                "coalesce(sum(a.outcome = 'rejected'), 0) AS rejected, "
                "coalesce(sum(a.outcome = 'failed'), 0) AS failed "
                "FROM runs r JOIN recipes c ON c.id = r.recipe_id "
                "LEFT JOIN attempts a ON a.run_id = r.id WHERE r.recipe_id IS ? "
                "GROUP BY r.id ORDER BY r.id",
                [rid],
            )
        ],
        "skipped": [
            dict(row)
            for row in db.query(
                """
                SELECT ps.paragraph_id, ps.source, ps.position, ps.last_reason AS reason,
                    (SELECT a.detail FROM attempts a WHERE a.paragraph_id = ps.paragraph_id
                     AND a.recipe_id = ps.recipe_id AND a.outcome = 'rejected'
                     ORDER BY a.attempt_number DESC LIMIT 1) AS detail,
                    ps.text,
                    (SELECT c.title FROM paragraphs p JOIN sections c ON c.id = p.section_id
                     WHERE p.id = ps.paragraph_id) AS section
                FROM paragraph_status ps
                WHERE ps.recipe_id IS ? AND ps.status = 'skipped'
                ORDER BY ps.source_id, ps.position
                """,
                [rid],
            )
        ],
        "recipes": recipe_summaries(db, recipes),
    }


def sections(db: Database, recipe_id: int | None) -> list[dict[str, Any]]:
    """Paragraphs by section (the heading above them; None before a source's first) and by
    status under a recipe, in book order: where a book's skipped paragraphs cluster."""
    return [
        dict(row)
        for row in db.query(
            """
            SELECT s.name AS source, c.position AS position, c.title AS section,
                c.level AS level, count(*) AS paragraphs, sum(p.filtered) AS filtered,
                sum(p.filtered = 0 AND coalesce(ps.status, 'pending') = 'pending') AS pending,
                coalesce(sum(ps.status = 'succeeded'), 0) AS succeeded,
                coalesce(sum(ps.status = 'skipped'), 0) AS skipped
            FROM paragraphs p
            JOIN sources s ON s.id = p.source_id
            LEFT JOIN sections c ON c.id = p.section_id
            LEFT JOIN paragraph_status ps ON ps.paragraph_id = p.id AND ps.recipe_id IS :rid
            GROUP BY p.source_id, p.section_id
            ORDER BY p.source_id, c.position
            """,
            {"rid": recipe_id},
        )
    ]


def recipe_summaries(db: Database, recipes: list[Recipe] | None = None) -> list[dict[str, Any]]:
    """One summary per recipe: what `workbench recipes` lists and `report --json` includes."""
    current = current_recipe_name(db)
    summaries = []
    for recipe in stored_recipes(db) if recipes is None else recipes:
        by_outcome = _counts(
            db,
            "SELECT outcome, count(*) FROM attempts WHERE recipe_id = ? GROUP BY outcome",
            [recipe.id],
        )
        prompt, completion = db.execute(
            "SELECT coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0) "
            "FROM attempts WHERE recipe_id = ?",
            [recipe.id],
        ).fetchone()
        attempts = {outcome: by_outcome.get(outcome, 0) for outcome in OUTCOMES}
        validated = attempts["accepted"] + attempts["rejected"]
        summaries.append(
            {
                "name": recipe.name,
                "current": recipe.name == current,
                "model": recipe.model,
                "hash": recipe.hash,
                "settings": recipe.to_json(),
                "paragraphs": paragraph_counts(db, recipe.id),
                "attempts": attempts,
                "tokens": {"prompt": prompt, "completion": completion},
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
                "rejection_reasons": _counts(
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


def format_report(data: dict[str, Any]) -> str:
    """The report as text for people."""
    p, a = data["paragraphs"], data["attempts"]
    others = [r["name"] for r in data["recipes"] if r["name"] != data["recipe"]]
    lines = [
        f"Recipe      {data['recipe'] or '(none yet: `workbench run` makes one)'}"
        + (f"  (others: {', '.join(others)}; --recipe NAME, --compare)" if others else ""),
        f"Paragraphs  {p['total']:>7,}",
        f"  filtered  {p['filtered']:>7,}  (too short to send)",
        f"  eligible  {p['eligible']:>7,}",
        f"    succeeded {p['succeeded']:>5,}",
        f"    skipped   {p['skipped']:>5,}",
        f"    pending   {p['pending']:>5,}",
        f"Attempts    {a['total']:>7,}  accepted {a['accepted']:,} · rejected {a['rejected']:,}"
        f" · failed {a['failed']:,}",
        f"Retries     {data['retries']:>7,}  (answers asked for again after a rejection)",
        f"Tokens      prompt {data['tokens']['prompt']:,} · completion "
        f"{data['tokens']['completion']:,}"
        + (f" · mean latency {data['mean_latency_s']:.2f} s" if data["mean_latency_s"] else ""),
    ]
    for title, counts in (
        ("Rejection reasons", data["rejection_reasons"]),
        ("Failure reasons", data["failure_reasons"]),
        ("Skipped paragraphs by reason", data["skipped_reasons"]),
    ):
        if counts:
            lines.append(title)
            lines.extend(f"  {code:<22} {count:>6,}" for code, count in counts.items())
    if data["attempts_per_paragraph"]:
        lines.append(
            "Answers per finished paragraph  "
            + " · ".join(f"{n}: {count:,}" for n, count in data["attempts_per_paragraph"].items())
        )
    if data["runs"]:
        lines.append("Runs")
        for run in data["runs"]:
            lines.append(
                f"  #{run['id']} {run['started_at'][:19].replace('T', ' ')} {run['status']:<11} "
                f"{run['model']}  {run['attempts']:,} attempts ({run['accepted']:,} accepted)"
                + (f"  {run['message']}" if run["message"] else "")
            )
    if data["skipped"]:
        lines.append("Skipped")
        for row in data["skipped"]:
            preview = row["text"][:60] + ("…" if len(row["text"]) > 60 else "")
            section = row["section"] or ""
            section = section if len(section) <= 30 else section[:29] + "…"
            lines.append(
                f"  {row['source']} ¶{row['position']}"
                + (f" [{section}]" if section else "")
                + f" {row['reason']}: {row['detail']}  {preview!r}"
            )
    return "\n".join(lines)


def report_json(db: Database, recipe_name: str | None = None) -> str:
    return json.dumps(report(db, recipe_name), ensure_ascii=False, indent=2)
