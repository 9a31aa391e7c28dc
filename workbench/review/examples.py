"""`report --reason`: the latest answers judged for one reason, beside their originals."""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from workbench.errors import SettingError, WorkbenchError
from workbench.review.report import target


@dataclass(frozen=True)
class Example:
    attempt_id: int
    paragraph_id: int
    source: str
    position: int
    run_id: int
    attempt_number: int
    outcome: str
    reason: str | None
    detail: str | None
    original: str
    answer: str | None


@dataclass(frozen=True)
class ReasonExamples:
    recipe: str | None
    reason: str
    total: int  # answers judged for it, shown or not
    examples: list[Example]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def examples(
    db: Database, reason: str, show: int, recipe_name: str | None = None, run_id: int | None = None
) -> ReasonExamples:
    """The latest `show` answers judged `reason` (a rule's code, a failure's, or `reviewer`
    for answers a person rejected that the rules accepted) by verdict in force, each with its
    original, answer and detail: what a rule really rejects."""
    recipe = target(db, recipe_name, run_id)
    if show < 1:
        raise SettingError("{show} must be at least 1")
    rid = recipe.id if recipe else None
    found = dict(
        db.execute(
            "SELECT reason, sum(attempts) FROM tallies WHERE recipe_id IS ? "
            "AND outcome != 'accepted' AND (? IS NULL OR run_id = ?) GROUP BY reason",
            [rid, run_id, run_id],
        ).fetchall()
    )
    if reason not in found:
        where = f"recipe {recipe.name!r}" if recipe else "this job"
        raise WorkbenchError(
            f"no answer under {where} was rejected or failed for {reason!r}"
            + (f"; the reasons are: {', '.join(sorted(found))}" if found else "")
        )
    rows = db.execute(
        """
        SELECT a.id, a.paragraph_id, s.name, p.position, a.run_id, a.attempt_number, v.outcome,
            v.reason, v.detail, p.text, coalesce(a.cleaned, a.answer)
        FROM verdicts v
        JOIN attempts a ON a.id = v.attempt_id
        JOIN paragraphs p ON p.id = a.paragraph_id
        JOIN sources s ON s.id = p.source_id
        WHERE v.attempt_id IN (  -- the reason in force is the rules', or a person's
            SELECT id FROM attempts WHERE recipe_id IS :recipe AND reason = :reason
            UNION SELECT attempt_id FROM reviews
        ) AND v.recipe_id IS :recipe AND v.reason = :reason AND v.outcome != 'accepted'
          AND (:run IS NULL OR v.run_id = :run)
        ORDER BY a.id DESC LIMIT :show
        """,
        {"recipe": rid, "reason": reason, "run": run_id, "show": show},
    )
    return ReasonExamples(
        recipe.name if recipe else None, reason, found[reason], [Example(*row) for row in rows]
    )


def format_examples(data: ReasonExamples, width: int = 100) -> str:
    shown = len(data.examples)
    lines = [
        f"{data.reason}: {data.total:,} answer{'s' * (data.total != 1)} under recipe "
        f"{data.recipe!r}; the latest {shown}:"
    ]
    for row in data.examples:
        lines += [
            "",
            f"── attempt {row.attempt_id} · {row.source} ¶{row.position} · answer "
            f"{row.attempt_number} of run #{row.run_id} · {row.outcome}: {row.detail}",
            *_block("original", row.original, width),
            *_block("answer", row.answer or "(none)", width),
        ]
    return "\n".join(lines)


def _block(label: str, text: str, width: int) -> list[str]:
    lines = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width - 11) or [""]
    return [f"{label + ':':<10} {lines[0]}", *(" " * 11 + line for line in lines[1:])]
