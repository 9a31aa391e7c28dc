"""The work a run finds: the paragraphs pending under its recipe, and what each needs to go on.

A run claims paragraphs a few at a time (claims.py); for those it claimed, `work_items` reads
what the worker needs to go on where earlier runs stopped: the answers accepted so far (with
those a rule still has to ask a server about), the rejections counted, and the last rejected
answer with its reason (what a retry's temperature and feedback follow). Counts and statuses
come from `paragraph_status` (the counts triggers keep), never from counting attempts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from workbench.engine.claims import or_awaiting
from workbench.engine.recipes import Recipe
from workbench.judge.answer import Known
from workbench.judge.rules import RULES, Rejection
from workbench.judge.settings import Rules


@dataclass(frozen=True)
class Awaiting:
    """An answer accepted for now, that a rule still has to ask a server about."""

    attempt_id: int
    attempt_number: int
    answer: str | None
    cleaned: str
    finish_reason: str | None
    known: Known


@dataclass(frozen=True)
class WorkItem:
    paragraph_id: int
    text: str
    word_count: int
    accepted: tuple[tuple[int, str], ...]  # (attempt number, answer) accepted under the recipe
    rejected: int  # rejected answers under the recipe, in earlier runs
    previous: tuple[str, Rejection] | None = None  # the last rejected answer, and why
    awaiting: tuple[Awaiting, ...] = ()


def awaiting_condition(rules: Rules) -> str:
    """SQL true of an accepted answer that a rule still has to ask a server about."""
    conditions = []
    if rules.on("judge"):
        conditions.append("judge IS NULL")
    if rules.on("meaning_drift") and rules.embeddings_model:
        conditions.append("meaning IS NULL")
    return " OR ".join(conditions)


def has_pending(db: Database, recipe: Recipe, rules: Rules) -> bool:
    """Whether `recipe` has a paragraph to work (a recipe not stored yet: any paragraph)."""
    if recipe.id is None:
        found = db.execute("SELECT 1 FROM paragraphs WHERE filtered = 0 LIMIT 1").fetchone()
        return found is not None
    return bool(
        db.execute(
            f"SELECT 1 FROM paragraph_status s WHERE s.recipe_id = :recipe "
            f"AND (s.status = 'pending'{_or_awaiting(rules)}) LIMIT 1",
            {"recipe": recipe.id},
        ).fetchone()
    )


def count_work(db: Database, recipe: Recipe, rules: Rules) -> int:
    """How many paragraphs a run of `recipe` has to work (others' claims included)."""
    return int(
        db.execute(
            f"SELECT count(*) FROM paragraph_status s WHERE s.recipe_id = :recipe "
            f"AND (s.status = 'pending'{_or_awaiting(rules)})",
            {"recipe": recipe.id},
        ).fetchone()[0]
    )


def _or_awaiting(rules: Rules) -> str:
    return or_awaiting(awaiting_condition(rules))


def work_items(db: Database, recipe: Recipe, rules: Rules, ids: Sequence[int]) -> list[WorkItem]:
    """What the worker needs for these paragraphs (claimed under the stored `recipe`), in the
    order given."""
    rows: dict[int, tuple[Any, ...]] = {}
    for chunk in _chunks(ids):
        for row in db.execute(
            "SELECT s.paragraph_id, s.text, s.word_count, s.accepted, s.rejected "
            "FROM paragraph_status s WHERE s.recipe_id = ? "
            f"AND s.paragraph_id IN ({', '.join('?' * len(chunk))})",
            [recipe.id, *chunk],
        ):
            rows[row[0]] = row
    answers = _accepted_answers(db, recipe, rules, [pid for pid in ids if rows[pid][3]])
    previous = _last_rejections(db, recipe, [pid for pid in ids if rows[pid][4]])
    items = []
    for pid in ids:
        _, text, words, _, rejected = rows[pid]
        found = answers.get(pid, [])
        accepted = tuple((a.attempt_number, a.cleaned) for a, _ in found)
        waiting = tuple(a for a, waits in found if waits)
        items.append(WorkItem(pid, text, words, accepted, rejected, previous.get(pid), waiting))
    return items


def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _accepted_answers(
    db: Database, recipe: Recipe, rules: Rules, ids: list[int]
) -> dict[int, list[tuple[Awaiting, bool]]]:
    """The accepted answers of these paragraphs under the recipe (by verdict in force: a
    person's where they gave one, with the text they repaired), in order, each with whether it
    awaits a rule's check (never one a person decided)."""
    found: dict[int, list[tuple[Awaiting, bool]]] = {}
    waits = awaiting_condition(rules) or "0"
    for chunk in _chunks(ids):
        for (paragraph_id, attempt_id, number, answer, cleaned, finish_reason, similarity,
             repetition, meaning, judge, awaits) in db.execute(
            "SELECT a.paragraph_id, a.id, a.attempt_number, a.answer, v.text, a.finish_reason, "
            f"a.similarity, a.repetition, a.meaning, a.judge, v.review_id IS NULL AND ({waits}) "
            "FROM attempts a JOIN verdicts v ON v.attempt_id = a.id "
            f"WHERE a.recipe_id = ? AND v.outcome = 'accepted' "
            f"AND a.paragraph_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY a.paragraph_id, a.attempt_number",
            [recipe.id, *chunk],
        ):  # fmt: skip
            known = Known(similarity, repetition, meaning, judge)
            answer_ = Awaiting(attempt_id, number, answer, cleaned, finish_reason, known)
            found.setdefault(paragraph_id, []).append((answer_, bool(awaits)))
    return found


def _last_rejections(
    db: Database, recipe: Recipe, ids: list[int]
) -> dict[int, tuple[str, Rejection]]:
    """The last rejected answer of each of these paragraphs under the recipe, with its reason
    (one a rule of today gave: a retry's feedback names the rule)."""
    found: dict[int, tuple[str, Rejection]] = {}
    for chunk in _chunks(ids):
        for paragraph_id, answer, reason, detail in db.execute(
            "SELECT paragraph_id, answer, reason, detail FROM attempts "
            "WHERE recipe_id = ? AND outcome = 'rejected' "
            f"AND paragraph_id IN ({', '.join('?' * len(chunk))}) "
            "ORDER BY paragraph_id, attempt_number",
            [recipe.id, *chunk],
        ):
            if reason in RULES:
                found[paragraph_id] = (answer or "", Rejection(reason, detail or ""))
    return found
