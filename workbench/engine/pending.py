"""The work a run finds: the paragraphs pending under its recipe, in source order.

With each, what the worker needs to go on where earlier runs stopped: the answers accepted so
far (with those a rule still has to ask a server about), the rejections counted, the last
attempt number.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from workbench.engine.recipes import Recipe
from workbench.engine.worker import Awaiting, WorkItem
from workbench.judge.answer import Known
from workbench.judge.settings import Rules


def pending_work(
    db: Database, recipe: Recipe, rules: Rules, limit: int | None = None
) -> list[WorkItem]:
    """The paragraphs to work under `recipe`, in source order: those pending, and those with
    an answer accepted for now that a rule still has to ask a server about."""
    if recipe.id is None:  # a new recipe: every paragraph that is not filtered
        sql = (
            "SELECT id, text, word_count, 0, 0, 0 FROM paragraphs WHERE filtered = 0 "
            "ORDER BY source_id, position, id"
        )
        params: dict[str, Any] = {}
    else:
        awaiting = awaiting_condition(rules)
        or_awaiting = (
            " OR s.paragraph_id IN (SELECT paragraph_id FROM attempts "
            f"WHERE recipe_id = :recipe AND outcome = 'accepted' AND ({awaiting}))"
            if awaiting
            else ""
        )
        sql = f"""
            SELECT s.paragraph_id, s.text, s.word_count, s.accepted, s.rejected,
                coalesce(g.last_attempt_number, 0)
            FROM paragraph_status s
            LEFT JOIN progress g ON g.paragraph_id = s.paragraph_id AND g.recipe_id = s.recipe_id
            WHERE s.recipe_id = :recipe AND (s.status = 'pending'{or_awaiting})
            ORDER BY s.source_id, s.position, s.paragraph_id
        """
        params = {"recipe": recipe.id}
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    rows = db.execute(sql, params).fetchall()
    answers = _accepted_answers(db, recipe, rules, [row[0] for row in rows if row[3]])
    items = []
    for pid, text, words, _, rejected, last in rows:
        found = answers.get(pid, [])
        accepted = tuple((a.attempt_number, a.cleaned) for a, _ in found)
        waiting = tuple(a for a, waits in found if waits)
        items.append(WorkItem(pid, text, words, accepted, rejected, last, waiting))
    return items


def has_pending(db: Database, recipe: Recipe, rules: Rules) -> bool:
    """Whether `recipe` has a paragraph to work (a recipe not stored yet: any paragraph)."""
    return bool(pending_work(db, recipe, rules, limit=1))


def _accepted_answers(
    db: Database, recipe: Recipe, rules: Rules, ids: list[int]
) -> dict[int, list[tuple[Awaiting, bool]]]:
    """The accepted answers of these paragraphs under the recipe, in order, each with whether
    it awaits a rule's check."""
    found: dict[int, list[tuple[Awaiting, bool]]] = {}
    waits = awaiting_condition(rules) or "0"
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for (paragraph_id, attempt_id, number, answer, cleaned, finish_reason, similarity,
             repetition, meaning, judge, awaits) in db.execute(
            "SELECT paragraph_id, id, attempt_number, answer, cleaned, finish_reason, "
            f"similarity, repetition, meaning, judge, {waits} FROM attempts "
            f"WHERE recipe_id = ? AND outcome = 'accepted' "
            f"AND paragraph_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY paragraph_id, attempt_number",
            [recipe.id, *chunk],
        ):  # fmt: skip
            known = Known(similarity, repetition, meaning, judge)
            answer_ = Awaiting(attempt_id, number, answer, cleaned, finish_reason, known)
            found.setdefault(paragraph_id, []).append((answer_, bool(awaits)))
    return found


def awaiting_condition(rules: Rules) -> str:
    """SQL true of an accepted answer that a rule still has to ask a server about."""
    conditions = []
    if rules.on("judge"):
        conditions.append("judge IS NULL")
    if rules.on("meaning_drift") and rules.embeddings_model:
        conditions.append("meaning IS NULL")
    return " OR ".join(conditions)
