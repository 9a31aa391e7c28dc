"""Judging again: bringing every stored verdict up to the rules in force, with no request sent.

When the rules change, a version is added (versions.py) and every stored answer is judged again
under it: a loosened rule turns rejected answers into accepted ones, a tightened one the
reverse. The verdict an answer had before is kept (earlier_verdicts, by a trigger), and the
measures stored with each answer spare the cost of measuring it twice. Paragraphs' statuses
follow by themselves: they are derived from the counts the triggers keep. A verdict a person
gave by hand (table reviews) stays in force: the rules' verdict is still brought up to date
beside it, so that where they disagree shows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import groupby

from sqlite_utils import Database

from workbench.judge import meaning
from workbench.judge.answer import OFFLINE, Known, NeedsCheck, OfflineChecker
from workbench.judge.settings import Rules
from workbench.judge.verdict import judge
from workbench.judge.versions import job_rules, rules_versions, save_rules
from workbench.store.attempts import VerdictRow, restamp_verdicts, update_cleaned, update_verdicts
from workbench.store.states import Outcome, Status


@dataclass
class Rejudged:
    """What judging the stored answers again moved."""

    version: int  # the rules version they were judged under
    answers: int = 0  # answers judged again
    now_accepted: int = 0
    now_rejected: int = 0
    # (paragraph, recipe) pairs whose status moved
    succeeded: int = 0
    reopened: int = 0  # now pending again
    skipped: int = 0
    awaiting: int = 0  # accepted until the next run asks the judge or the embeddings model
    held: int = 0  # answers the rules now judge against the verdict a person gave, which stands
    seconds: float = 0.0

    def describe(self) -> str:
        moved = [
            f"{count:,} paragraph{'s' * (count != 1)} {what}"
            for count, what in (
                (self.succeeded, "succeeded"),
                (self.reopened, "pending again"),
                (self.skipped, "skipped"),
            )
            if count
        ]
        return (
            f"re-judged {self.answers:,} answer{'s' * (self.answers != 1)} under rules "
            f"v{self.version}: "
            f"{self.now_accepted:,} now accepted, {self.now_rejected:,} now rejected"
            + (f"; {', '.join(moved)}" if moved else "")
            + (
                f"; {self.awaiting:,} accepted until the next `workbench run` asks the server "
                "(judge or embeddings model)"
                if self.awaiting
                else ""
            )
            + (
                f"; {self.held:,} reviewed by hand kept {'its' if self.held == 1 else 'their'} "
                "verdict (the rules now say otherwise)"
                if self.held
                else ""
            )
        )


@dataclass
class RulesSettled:
    """The rules a command works with, after storing a change and judging again."""

    version: int
    rules: Rules
    changes: list[str] = field(default_factory=list)  # empty: the rules did not change
    rejudged: Rejudged | None = None  # None: no stored answer needed it

    def describe(self) -> list[str]:
        lines = []
        if self.changes:
            lines.append(f"rules changed (v{self.version}): {'; '.join(self.changes)}")
        if self.rejudged is not None:
            lines.append(self.rejudged.describe())
        return lines


def settle_rules(db: Database, wanted: Rules) -> RulesSettled:
    """Make `wanted` the job's rules (adding a version if they differ) and bring every stored
    verdict up to them. Call inside the transaction that uses them."""
    current = job_rules(db)
    changes: list[str] = []
    version = current.id
    if version is None or wanted != current.rules:
        if version is not None:
            changes = wanted.changes_from(current.rules)
        version = save_rules(db, wanted)
    return RulesSettled(version, wanted, changes, rejudge(db, version, wanted))


def prepare_settling(db: Database, wanted: Rules) -> None:
    """Load, before the transaction that calls settle_rules, the meaning model that judging
    again will need: only when there is something to judge again."""
    current = job_rules(db)
    stale = current.id is not None and (
        wanted != current.rules
        or db.execute(_ANY_STALE_SQL, {"version": current.id}).fetchone() is not None
    )
    if stale:
        OFFLINE.prepare(wanted)


_ANY_STALE_SQL = """
SELECT 1 FROM attempts
WHERE outcome != 'failed' AND (rules_id < :version OR rules_id > :version OR similarity IS NULL)
LIMIT 1
"""


_STALE_SQL = """
SELECT a.id, a.paragraph_id, a.recipe_id, a.answer, a.cleaned, a.finish_reason, a.outcome,
    a.reason, a.detail, a.rules_id, a.length_ratio, a.similarity, a.repetition, a.meaning,
    a.judge, p.text, v.hand_verdict, v.text
FROM attempts a JOIN paragraphs p ON p.id = a.paragraph_id JOIN verdicts v ON v.attempt_id = a.id
WHERE a.outcome != 'failed' AND EXISTS (
    SELECT 1 FROM attempts b
    WHERE b.paragraph_id = a.paragraph_id AND b.recipe_id = a.recipe_id AND b.outcome != 'failed'
      AND (b.rules_id != :version OR b.similarity IS NULL)
)
ORDER BY a.paragraph_id, a.recipe_id, a.attempt_number
"""


@dataclass(frozen=True)
class Stored:
    """A validated attempt as judging again reads it."""

    id: int
    paragraph_id: int
    recipe_id: int
    answer: str | None
    cleaned: str | None
    finish_reason: str | None
    outcome: str
    reason: str | None
    detail: str | None
    rules_id: int | None
    length_ratio: float | None
    similarity: float | None
    repetition: float | None
    meaning: float | None
    judge: str | None
    original: str
    hand: str | None  # the verdict a person gave it, in force whatever the rules say
    text: str | None  # the text in force: the repaired one where a person repaired it

    def verdict(self, rules_id: int) -> VerdictRow:
        """Its stored verdict, as if given by `rules_id`."""
        return VerdictRow(
            Outcome(self.outcome), self.reason, self.detail, self.length_ratio, self.similarity,
            self.repetition, self.meaning, self.judge, rules_id,
        )  # fmt: skip

    def known(self, measured_by: Rules | None, rules: Rules) -> Known:
        """What of its measures still holds under `rules`: meaning only from the same source,
        the judge's verdict only from the same judge."""
        same = measured_by is not None
        same_meaning = (
            measured_by is not None
            and measured_by.embeddings_model == rules.embeddings_model
            and measured_by.meaning_model == rules.meaning_model
        )
        return Known(
            similarity=self.similarity,
            repetition=self.repetition,
            meaning=self.meaning if same_meaning else None,
            judge=self.judge
            if same and measured_by.judge_model == rules.judge_model  # type: ignore[union-attr]
            else None,
        )


def rejudge(db: Database, version: int, rules: Rules) -> Rejudged | None:
    """Judge again every stored answer that another rules version judged (or that was never
    measured), with the answers of the same paragraph and recipe in order, as a run met them.

    Nothing is sent: an answer that needs the judge or an embeddings model the stored measures
    cannot stand for is accepted for now, and the next `run` asks (Rejudged.awaiting). Meaning
    the stored measures cannot stand for (another model's) is measured in one batch.
    Returns None when every verdict is already this version's.
    """
    start = time.perf_counter()
    versions = {v.id: v.rules for v in rules_versions(db) if v.id is not None}
    rows = [Stored(*row) for row in db.execute(_STALE_SQL, {"version": version}).fetchall()]
    if not rows:
        return None
    checker = BatchedMeaning()
    summary, updates, recleaned = _judge_all(rows, rules, version, versions, checker)
    while checker.wanted:  # a pass found what to measure: measure it in a batch, judge again
        checker.measure(rules)  # (a verdict that moved may bring another answer to the rule)
        summary, updates, recleaned = _judge_all(rows, rules, version, versions, checker)
    groups = sorted({(row.paragraph_id, row.recipe_id) for row in rows})
    before = group_statuses(db, groups)
    update_verdicts(db, updates)
    update_cleaned(db, recleaned)
    restamp_verdicts(db, version)  # the rest keep their verdict, now this version's
    for key, now in group_statuses(db, groups).items():
        if before[key] != now:
            summary.succeeded += now == Status.SUCCEEDED
            summary.reopened += now == Status.PENDING
            summary.skipped += now == Status.SKIPPED
    summary.seconds = time.perf_counter() - start
    return summary


class BatchedMeaning(OfflineChecker):
    """Meaning for judging again: what is known is given, what is not is noted (`wanted`) and
    the answer left accepted for now, until `measure` embeds every wanted pair in one batch."""

    def __init__(self) -> None:
        self.known: dict[tuple[str, str], float] = {}
        self.wanted: dict[tuple[str, str], None] = {}  # in order, without repeats

    def meaning(self, original: str, answer: str, rules: Rules) -> float:
        if rules.embeddings_model:
            raise NeedsCheck("embeddings")
        found = self.known.get((original, answer))
        if found is None:
            self.wanted[original, answer] = None
            raise NeedsCheck("meaning")
        return found

    def measure(self, rules: Rules) -> None:
        pairs = list(self.wanted)
        scores = meaning.similarities(rules.meaning_model, pairs)
        self.known.update(zip(pairs, (round(s, 4) for s in scores), strict=True))
        self.wanted.clear()


def _judge_all(
    rows: list[Stored],
    rules: Rules,
    version: int,
    versions: dict[int, Rules],
    checker: BatchedMeaning,
) -> tuple[Rejudged, list[tuple[int, VerdictRow]], list[tuple[int, str]]]:
    """Every row judged under `rules`: what moved, the verdicts to store, the texts recleaned."""
    summary = Rejudged(version, answers=len(rows))
    updates: list[tuple[int, VerdictRow]] = []
    recleaned: list[tuple[int, str]] = []
    for _, group in groupby(rows, key=lambda row: (row.paragraph_id, row.recipe_id)):
        accepted: list[str] = []
        for row in group:
            measured_by = versions.get(row.rules_id) if row.rules_id is not None else None
            verdict = judge(
                row.original, row.answer, row.finish_reason, rules, accepted=accepted,
                known=row.known(measured_by, rules), known_cleaned=row.cleaned,
                checker=checker,
            )  # fmt: skip
            summary.awaiting += verdict.awaiting is not None
            # The answers accepted so far (what `duplicate` compares with) are those in force.
            if row.hand == Outcome.ACCEPTED:
                accepted.append(row.text or verdict.cleaned)
            elif row.hand is None and verdict.rejection is None:
                accepted.append(verdict.cleaned)
            if verdict.outcome != row.outcome:
                if row.hand is not None:  # in force either way: say where they now disagree
                    summary.held += verdict.outcome != row.hand
                else:
                    summary.now_accepted += verdict.outcome == Outcome.ACCEPTED
                    summary.now_rejected += verdict.outcome == Outcome.REJECTED
            new = verdict.row(version)
            if new != row.verdict(version):
                updates.append((row.id, new))
            if verdict.cleaned != row.cleaned:  # rare: a cleaner switched (re-indexes the text)
                recleaned.append((row.id, verdict.cleaned))
    return summary, updates, recleaned


def group_statuses(db: Database, groups: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The status of these (paragraph, recipe) pairs, as the view paragraph_status derives it."""
    db.execute("CREATE TEMP TABLE IF NOT EXISTS rejudged (paragraph_id, recipe_id)")
    db.execute("DELETE FROM temp.rejudged")
    db.conn.executemany("INSERT INTO temp.rejudged VALUES (?, ?)", groups)
    found = {
        (paragraph_id, recipe_id): status
        for paragraph_id, recipe_id, status in db.execute(
            "SELECT k.paragraph_id, k.recipe_id, coalesce(s.status, 'pending') "
            "FROM temp.rejudged k LEFT JOIN progress_status s "
            "ON s.paragraph_id = k.paragraph_id AND s.recipe_id = k.recipe_id"
        )
    }
    db.execute("DELETE FROM temp.rejudged")
    return found
