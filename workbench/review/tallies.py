"""A recipe's (or a run's) attempts counted from `tallies`: by outcome and reason, tokens, latency.

Triggers keep `tallies` (schema.sql), so these numbers come from a few rows however many attempts
the job holds: the report and the recipe summaries both read them here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from workbench.store.states import Outcome


@dataclass(frozen=True)
class AttemptCounts:
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Tokens:
    prompt: int = 0
    completion: int = 0


@dataclass(frozen=True)
class Tally:
    """A recipe's (or a run's) attempts by outcome and reason, tokens and mean latency."""

    attempts: AttemptCounts = field(default_factory=AttemptCounts)
    rejection_reasons: dict[str, int] = field(default_factory=dict)  # most first
    failure_reasons: dict[str, int] = field(default_factory=dict)
    tokens: Tokens = field(default_factory=Tokens)  # of validated answers (not failed requests)
    mean_latency_s: float | None = None  # of validated answers


def by_count(found: dict[str, int]) -> dict[str, int]:
    """Most first, then by name."""
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))


def tally(db: Database, recipe_id: int | None, run_id: int | None = None) -> Tally:
    """A recipe's (or a run's) attempts by outcome and reason, tokens and mean latency."""
    rows = db.execute(
        "SELECT outcome, reason, attempts, prompt_tokens, completion_tokens, latency_s "
        "FROM tallies WHERE recipe_id IS ? AND (? IS NULL OR run_id = ?)",
        [recipe_id, run_id, run_id],
    ).fetchall()
    attempts = dict.fromkeys(Outcome, 0)
    reasons: dict[Outcome, dict[str, int]] = {Outcome.REJECTED: {}, Outcome.FAILED: {}}
    prompt = completion = validated = 0
    latency = 0.0
    for outcome, reason, n, prompt_tokens, completion_tokens, latency_s in rows:
        attempts[Outcome(outcome)] += n
        if outcome in reasons:
            found = reasons[Outcome(outcome)]
            found[reason] = found.get(reason, 0) + n
        if outcome != Outcome.FAILED:  # what a failed request costs is not the model's
            prompt, completion = prompt + prompt_tokens, completion + completion_tokens
            validated, latency = validated + n, latency + latency_s
    return Tally(
        AttemptCounts(
            sum(attempts.values()),
            attempts[Outcome.ACCEPTED],
            attempts[Outcome.REJECTED],
            attempts[Outcome.FAILED],
        ),
        by_count(reasons[Outcome.REJECTED]),
        by_count(reasons[Outcome.FAILED]),
        Tokens(prompt, completion),
        round(latency / validated, 3) if validated else None,
    )
