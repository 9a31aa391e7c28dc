"""How the verdicts given by hand agree with the rules': counted for `report`, by rule.

An answer a person reviewed either agrees with the rules (they accepted what the rules accept,
or rejected what they reject) or overrules them; counted by the rule that rejects it (None for
answers every rule passes), so a report shows which rules a reviewer keeps overruling. Read
from the reviews, which are few, never from a scan of the attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from workbench.store.states import Outcome


@dataclass(frozen=True)
class RuleReviews:
    """The reviewed answers one rule rejects (rule None: those the rules accept)."""

    rule: str | None
    reviewed: int
    agreed: int
    overruled: int


@dataclass(frozen=True)
class ReviewCounts:
    """Answers whose verdict in force a person gave, and how it sits with the rules'."""

    reviewed: int = 0
    accepted: int = 0  # by hand
    rejected: int = 0
    repaired: int = 0  # accepted as a repaired text
    agreed: int = 0  # the rules give the same verdict
    overruled: int = 0  # the rules give the other one: the person's is in force
    by_rule: list[RuleReviews] = field(default_factory=list)  # most reviewed first


def review_counts(db: Database, recipe_id: int | None, run_id: int | None = None) -> ReviewCounts:
    """The answers of a recipe (or of one run) reviewed by hand, agreeing and overruling."""
    rows = db.execute(
        """
        SELECT CASE WHEN v.rules_outcome = 'rejected' THEN v.rules_reason END, v.hand_verdict,
            v.rules_outcome, v.repaired IS NOT NULL, count(*)
        FROM verdicts v
        WHERE v.attempt_id IN (SELECT attempt_id FROM reviews)
          AND v.recipe_id IS :recipe AND (:run IS NULL OR v.run_id = :run)
        GROUP BY 1, 2, 3, 4
        """,
        {"recipe": recipe_id, "run": run_id},
    ).fetchall()
    counts = dict.fromkeys(("reviewed", "accepted", "rejected", "repaired", "agreed",
                            "overruled"), 0)  # fmt: skip
    rules: dict[str | None, list[int]] = {}
    for rule, hand, outcome, repaired, n in rows:
        agreed = hand == outcome
        counts["reviewed"] += n
        counts["accepted" if hand == Outcome.ACCEPTED else "rejected"] += n
        counts["repaired"] += n * repaired
        counts["agreed" if agreed else "overruled"] += n
        line = rules.setdefault(rule, [0, 0, 0])
        line[0] += n
        line[1 if agreed else 2] += n
    by_rule = [RuleReviews(rule, *numbers) for rule, numbers in rules.items()]
    by_rule.sort(key=lambda r: (-r.reviewed, r.rule or ""))
    return ReviewCounts(**counts, by_rule=by_rule)


def format_review_counts(counts: ReviewCounts) -> list[str]:
    """The report's lines on verdicts by hand; none when nobody reviewed an answer."""
    if not counts.reviewed:
        return []
    lines = [
        f"Reviewed    {counts.reviewed:>7,}  by hand: accepted {counts.accepted:,} · rejected "
        f"{counts.rejected:,}" + (f" ({counts.repaired:,} repaired)" if counts.repaired else "")
        + f"; agreed with the rules {counts.agreed:,} · overruled them {counts.overruled:,}"
    ]  # fmt: skip
    for line in counts.by_rule:
        lines.append(
            f"  {line.rule or '(passed every rule)':<22} {line.reviewed:>6,}  agreed "
            f"{line.agreed:,} · overruled {line.overruled:,}"
        )
    return lines
