"""The one writer of `attempts` and `checks`: each request's record, and the verdicts on answers.

A run inserts an attempt when its request finishes, with the verdict the rules gave, and the
checks (requests a rule sent about it) beside it; judging again, and a run that settles an
answer a check was awaiting, update verdicts. The triggers in schema.sql keep the counts
(`progress`, `tallies`), the earlier verdicts and the search index in step with every write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import astuple, dataclass

from sqlite_utils import Database

from workbench.store.states import CheckKind, Outcome


@dataclass(frozen=True)
class VerdictRow:
    """A verdict as the attempts columns hold it; a failed attempt has none."""

    outcome: Outcome
    reason: str | None
    detail: str | None
    length_ratio: float | None
    similarity: float | None
    repetition: float | None
    meaning: float | None
    judge: str | None
    rules_id: int | None  # the rules version that gave it; None when failed


@dataclass(frozen=True)
class RequestRow:
    """What one request and its response were, as the attempts and checks columns hold them."""

    started_at: str
    finished_at: str
    latency_s: float
    request: str  # the JSON body sent (never the key, which is a header)
    http_status: int | None
    response: str | None  # the body as received


@dataclass(frozen=True)
class AttemptRow:
    """One finished attempt: where it belongs, what was sent and came back, and its verdict."""

    paragraph_id: int
    recipe_id: int
    run_id: int
    attempt_number: int | None  # None: the next free number of the paragraph and recipe
    sent: RequestRow
    answer: str | None
    cleaned: str | None  # the answer after the cleaners; None when failed
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    verdict: VerdictRow
    server: str | None = None  # the base URL that answered; `batch #N` for a batch's result


@dataclass(frozen=True)
class CheckRow:
    """One request a rule sent about an answer (the judge, an embeddings model)."""

    attempt_id: int
    run_id: int
    kind: CheckKind
    sent: RequestRow
    result: str | None
    error: str | None
    error_detail: str | None
    prompt_tokens: int | None
    completion_tokens: int | None


# The columns after the number, as AttemptRow holds them.
_ATTEMPT_COLUMNS = (
    "started_at", "finished_at", "latency_s", "request", "http_status", "response", "answer",
    "cleaned", "finish_reason", "prompt_tokens", "completion_tokens", "outcome", "reason",
    "detail", "length_ratio", "similarity", "repetition", "meaning", "judge", "rules_id",
    "server",
)  # fmt: skip
# The attempt number, when not given, is the next free one, read from the UNIQUE index in the
# same statement: numbers come from the database, so two writers never collide on them.
INSERT_ATTEMPT_SQL = f"""
INSERT INTO attempts (
    paragraph_id, recipe_id, run_id, attempt_number, {", ".join(_ATTEMPT_COLUMNS)}
)
VALUES (
    :paragraph_id, :recipe_id, :run_id,
    coalesce(:attempt_number, (SELECT coalesce(max(attempt_number), 0) + 1 FROM attempts
                               WHERE paragraph_id = :paragraph_id AND recipe_id = :recipe_id)),
    {", ".join(":" + column for column in _ATTEMPT_COLUMNS)}
)
"""
UPDATE_VERDICT_SQL = """
UPDATE attempts SET outcome = ?, reason = ?, detail = ?, length_ratio = ?, similarity = ?,
    repetition = ?, meaning = ?, judge = ?, rules_id = ?
WHERE id = ?
"""
INSERT_CHECK_SQL = """
INSERT INTO checks (
    attempt_id, run_id, kind, started_at, finished_at, latency_s, request, http_status, response,
    result, error, error_detail, prompt_tokens, completion_tokens
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def insert_attempt(db: Database, row: AttemptRow) -> int:
    """Store a finished attempt; returns its id."""
    values = [
        *astuple(row.sent), row.answer, row.cleaned, row.finish_reason, row.prompt_tokens,
        row.completion_tokens, *astuple(row.verdict), row.server,
    ]  # fmt: skip
    cursor = db.execute(
        INSERT_ATTEMPT_SQL,
        {
            "paragraph_id": row.paragraph_id, "recipe_id": row.recipe_id, "run_id": row.run_id,
            "attempt_number": row.attempt_number,
            **dict(zip(_ATTEMPT_COLUMNS, values, strict=True)),
        },
    )  # fmt: skip
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def update_verdicts(db: Database, verdicts: Iterable[tuple[int, VerdictRow]]) -> None:
    """Give attempts (by id) new verdicts; the ones replaced go to earlier_verdicts (trigger)."""
    db.conn.executemany(
        UPDATE_VERDICT_SQL, ([*astuple(verdict), attempt_id] for attempt_id, verdict in verdicts)
    )


def update_cleaned(db: Database, texts: Iterable[tuple[int, str]]) -> None:
    """Store answers cleaned anew (a cleaner switched): rare, as it re-indexes their text."""
    db.conn.executemany(
        "UPDATE attempts SET cleaned = ? WHERE id = ?", ((text, id_) for id_, text in texts)
    )


def insert_checks(db: Database, checks: Iterable[CheckRow]) -> None:
    db.conn.executemany(
        INSERT_CHECK_SQL,
        (
            [
                c.attempt_id, c.run_id, c.kind, *astuple(c.sent), c.result, c.error,
                c.error_detail, c.prompt_tokens, c.completion_tokens,
            ]
            for c in checks
        ),
    )  # fmt: skip


def restamp_verdicts(db: Database, rules_id: int) -> None:
    """Every verdict not given by `rules_id` is now its own: judged again, they did not change."""
    db.execute(
        "UPDATE attempts SET rules_id = ? WHERE outcome != 'failed' AND rules_id != ?",
        [rules_id, rules_id],
    )
