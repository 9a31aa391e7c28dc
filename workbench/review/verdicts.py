"""Verdicts by hand: the one writer of `reviews`, for `workbench review` and browse's controls.

A person accepts an answer, rejects one, or accepts it repaired (the answer edited by hand; the
answer itself is kept). Each verdict is a row of `reviews`, never changed or deleted: a later
one supersedes it. The verdict in force is the latest review's, else the rules' (the view
`verdicts`); the triggers in schema.sql move the counts (`progress`, `tallies`), so a paragraph
with a hand-accepted answer succeeds and one whose answer a person rejected is pending again.

Every review is one write transaction that takes the write lock as it begins, so it waits its
turn beside a running `workbench run` rather than failing.
"""

from __future__ import annotations

import getpass
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlite_utils import Database

from workbench.engine.recipes import named_recipe
from workbench.errors import SettingError, WorkbenchError
from workbench.judge.rejudge import group_statuses
from workbench.judge.rules import RULES
from workbench.store.states import REJECTED_BY_HAND, Outcome, Status
from workbench.store.times import utc_now
from workbench.store.transactions import transaction

# The measures a selection can hold in a range: the attempts columns the rules store.
MEASURES = ("length_ratio", "similarity", "repetition", "meaning")
SHOWN_IDS = 8  # an error lists this many ids, and says how many more


def default_reviewer() -> str:
    """Who reviews when nobody says: the OS user."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no password entry (some containers)
        return "unknown"


@dataclass(frozen=True)
class Decision:
    """What a person decided of the answers reviewed."""

    verdict: Outcome  # accepted or rejected
    reviewer: str
    repaired: str | None = None  # the answer as edited by hand (accepted only)
    note: str | None = None

    def __post_init__(self) -> None:
        # A text box adds what a person did not mean: surrounding blanks, an empty note.
        if self.repaired is not None:
            object.__setattr__(self, "repaired", self.repaired.strip())
        if self.note is not None:
            object.__setattr__(self, "note", self.note.strip() or None)
        if self.verdict not in (Outcome.ACCEPTED, Outcome.REJECTED):
            raise SettingError("{verdict} must be accepted or rejected", value=self.verdict)
        if not self.reviewer.strip():
            raise SettingError("{reviewer} is empty")
        if self.repaired is not None:
            if self.verdict != Outcome.ACCEPTED:
                raise SettingError(
                    "{text} repairs an answer to accept it: a rejected answer is not exported, "
                    "so there is nothing to repair"
                )
            if not self.repaired.strip():
                raise SettingError("{text} is empty: reject the answer instead")


@dataclass(frozen=True)
class Selection:
    """Answers chosen in bulk; None means "any"."""

    verdict: str | None = None  # in force: accepted or rejected
    reason: str | None = None  # the rules', or the reason in force
    recipe: str | None = None
    run: int | None = None
    measure: str | None = None
    low: float | None = None  # the measure at least this
    high: float | None = None  # and at most this
    include_reviewed: bool = False  # also answers a person already decided otherwise

    def check(self) -> None:
        """SettingError for a selection that cannot mean what was meant; nothing is read."""
        if self.measure is None and (self.low is not None or self.high is not None):
            raise SettingError("{min} and {max} bound a {measure}: name it")
        chosen = (self.verdict, self.reason, self.recipe, self.run, self.measure)
        if all(value is None for value in chosen):
            raise SettingError(
                "name the answers to review: attempt ids, or a selection ({verdict}, {reason}, "
                "{recipe}, {run}, {measure})"
            )
        if self.verdict is not None and self.verdict not in (Outcome.ACCEPTED, Outcome.REJECTED):
            raise SettingError("{verdict} {value!r} must be accepted or rejected",
                               value=self.verdict)  # fmt: skip
        if self.reason is not None and self.reason not in (*RULES, REJECTED_BY_HAND):
            raise SettingError(
                "{reason} {value!r} is not a rule's reason; they are: {codes}",
                value=self.reason,
                codes=", ".join((*RULES, REJECTED_BY_HAND)),
            )
        if self.measure is None:
            return
        if self.measure not in MEASURES:
            raise SettingError(
                "{measure} {value!r} is not a measure; they are: {measures}",
                value=self.measure,
                measures=", ".join(MEASURES),
            )
        if self.low is None and self.high is None:
            raise SettingError("{measure} needs a range: {min}, {max} or both")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise SettingError("{min} {low:g} is more than {max} {high:g}", low=self.low,
                               high=self.high)  # fmt: skip


def chosen(ids: Sequence[int], selection: Selection) -> Sequence[int] | Selection:
    """What a command names: attempt ids, or else a selection; not both."""
    if ids and selection != Selection(include_reviewed=selection.include_reviewed):
        raise SettingError(
            "give attempt ids or a selection ({verdict}, {reason}, {recipe}, {run}, {measure}), "
            "not both"
        )
    return ids or selection


def verdict_of(accept: bool, reject: bool) -> Outcome:
    """The verdict of a command's --accept or --reject: exactly one of them."""
    if accept == reject:
        raise SettingError("give {accept} or {reject}" + (", not both" if accept else ""))
    return Outcome.ACCEPTED if accept else Outcome.REJECTED


@dataclass
class Reviewed:
    """What a review wrote and left alone, for the lines the command prints and the page shows."""

    verdict: str
    reviewer: str
    dry_run: bool = False
    attempts: list[int] = field(default_factory=list)  # the answers given this verdict
    repaired: int = 0
    changed: int = 0  # their verdict in force was the other one before
    already: int = 0  # written, in force already (the rules', or another text): a confirmation
    # Of those written, the ones where the rules say otherwise, by the rules' reason ('' for
    # answers the rules accepted): a person overruled the rules there.
    overruled: dict[str, int] = field(default_factory=dict)
    agreed: int = 0  # written, and the rules say the same
    unchanged: int = 0  # left alone: a person had given this very verdict already
    kept: int = 0  # left alone: a person decided otherwise, and a selection leaves that
    succeeded: int = 0  # paragraphs (under a recipe) that now have the answers they want
    reopened: int = 0  # paragraphs pending again: the next run asks them again
    skipped: int = 0  # paragraphs whose attempts are used up

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> list[str]:
        """What changed and what was left alone, in a few lines for people."""
        verb = Outcome(self.verdict)
        other = Outcome.REJECTED if verb == Outcome.ACCEPTED else Outcome.ACCEPTED
        n = len(self.attempts)
        lines = []
        if n:
            done = f"Would {verb.value[:-2]}" if self.dry_run else verb.value.capitalize()
            before = [
                f"{count:,} {'was' if count == 1 else 'were'} {what}"
                for count, what in ((self.changed, f"{other} before"), (self.already,
                                    f"{verb} already"))
                if count
            ]  # fmt: skip
            lines.append(
                f"{done} {n:,} answer{'s' * (n != 1)} by hand as {self.reviewer}"
                + (f", {self.repaired:,} repaired" if self.repaired else "")
                + f": {', '.join(before)}."
            )
            overruled = sum(self.overruled.values())
            if overruled:
                reasons = ", ".join(
                    f"{reason or 'passed every rule'} {count:,}"
                    for reason, count in sorted(self.overruled.items(), key=lambda i: -i[1])
                )
                lines.append(
                    f"The rules say otherwise of {overruled:,} ({reasons}): the verdict by hand "
                    "is in force."
                )
            moved = [
                f"{count:,} {what}"
                for count, what in (
                    (self.succeeded, "now succeeded"),
                    (self.reopened, "pending again (the next `workbench run` asks them again)"),
                    (self.skipped, "skipped: their attempts are used up "
                     "(`workbench run --max-attempts N` gives them more)"),
                )
                if count
            ]  # fmt: skip
            if moved:
                lines.append("Paragraphs: " + "; ".join(moved) + ".")
        else:
            lines.append("No answer reviewed.")
        alone = [
            f"{count:,} {what}"
            for count, what in (
                (self.unchanged, f"already {verb} by hand"),
                (self.kept, "decided otherwise by hand (--include-reviewed reviews them again)"),
            )
            if count
        ]
        if alone:
            lines.append("Left alone: " + "; ".join(alone) + ".")
        return lines


@dataclass(frozen=True)
class _Target:
    """An answer to review, as it stands."""

    attempt_id: int
    paragraph_id: int
    recipe_id: int
    rules_outcome: str
    rules_reason: str | None
    cleaned: str | None
    outcome: str  # in force
    hand: str | None  # the latest review's verdict
    repaired: str | None  # the latest review's repaired text
    note: str | None  # the latest review's note


_TARGET_SQL = """
SELECT v.attempt_id, v.paragraph_id, v.recipe_id, v.rules_outcome, v.rules_reason, a.cleaned,
    v.outcome, v.hand_verdict, v.repaired, v.note
FROM verdicts v JOIN attempts a ON a.id = v.attempt_id
"""


def review(
    db: Database,
    answers: Sequence[int] | Selection,
    decision: Decision,
    *,
    dry_run: bool = False,
) -> Reviewed:
    """Give `answers` (attempt ids, or a selection) the verdict `decision` by hand, in one
    transaction; a dry run says what it would do and writes nothing.

    Ids name answers on purpose: each is reviewed, unless a person already gave it this very
    verdict. A selection leaves alone the answers a person already decided otherwise, unless it
    says `include_reviewed`. Raises WorkbenchError, having written nothing, for an unknown id,
    a failed attempt (no answer), or a repaired text given for more than one answer.
    """
    if isinstance(answers, Selection):
        answers.check()
    with transaction(db, keep=not dry_run):
        if isinstance(answers, Selection):
            targets = _selected(db, answers)
        else:
            targets = _named(db, answers, decision)
        result = Reviewed(decision.verdict, decision.reviewer, dry_run)
        groups = sorted({(t.paragraph_id, t.recipe_id) for t in targets})
        before = group_statuses(db, groups)
        rows = []
        now = utc_now()
        for target in targets:
            repaired = decision.repaired if decision.repaired != target.cleaned else None
            if (
                target.hand == decision.verdict
                and target.repaired == repaired
                and decision.note in (None, target.note)
            ):
                result.unchanged += 1
                continue
            if (
                isinstance(answers, Selection)
                and not answers.include_reviewed
                and target.hand not in (None, decision.verdict)
            ):
                result.kept += 1  # a selection does not overrule a person
                continue
            rows.append((target.attempt_id, decision.verdict, repaired, decision.note,
                         decision.reviewer, now))  # fmt: skip
            result.attempts.append(target.attempt_id)
            result.repaired += repaired is not None
            if target.outcome == decision.verdict:
                result.already += 1
            else:
                result.changed += 1
            if target.rules_outcome == decision.verdict:
                result.agreed += 1
            else:
                reason = target.rules_reason or ""
                result.overruled[reason] = result.overruled.get(reason, 0) + 1
        db.conn.executemany(
            "INSERT INTO reviews (attempt_id, verdict, repaired, note, reviewer, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        moved = Counter(
            now_status
            for key, now_status in group_statuses(db, groups).items()
            if now_status != before[key]
        )
        result.succeeded = moved[Status.SUCCEEDED]
        result.reopened = moved[Status.PENDING]
        result.skipped = moved[Status.SKIPPED]
    return result


def _named(db: Database, ids: Sequence[int], decision: Decision) -> list[_Target]:
    """The answers these attempt ids name, in the order given; WorkbenchError for an id that
    names none."""
    if not ids:
        raise WorkbenchError("name the answers to review: attempt ids, or a selection")
    if decision.repaired is not None and len(set(ids)) > 1:
        raise SettingError("{text} repairs one answer: give one attempt id, not {count}",
                           count=len(set(ids)))  # fmt: skip
    wanted = list(dict.fromkeys(ids))
    found: dict[int, _Target] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in db.execute(
            _TARGET_SQL + f"WHERE v.attempt_id IN ({', '.join('?' * len(chunk))})", chunk
        ):
            found[row[0]] = _Target(*row)
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise WorkbenchError(
            f"no attempt {_ids(unknown)} in this job"
            if len(unknown) == 1
            else f"no attempts {_ids(unknown)} in this job"
        )
    failed = [i for i in wanted if found[i].rules_outcome == Outcome.FAILED]
    if failed:
        raise WorkbenchError(
            f"attempt{'s' * (len(failed) > 1)} {_ids(failed)} failed: no answer to review "
            "(see each one's reason with `workbench browse`, attempts/ID)"
        )
    return [found[i] for i in wanted]


def _ids(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:SHOWN_IDS])
    return shown + (f" … ({len(ids):,} in all)" if len(ids) > SHOWN_IDS else "")


def _selected(db: Database, selection: Selection) -> list[_Target]:
    """The answers a selection holds, in the order they were asked."""
    conditions: list[str] = ["v.outcome != 'failed'"]
    params: list[Any] = []
    if selection.verdict is not None:
        conditions.append("v.outcome = ?")
        params.append(selection.verdict)
    if selection.reason is not None:
        conditions.append("(v.reason = ? OR (v.rules_outcome = 'rejected' AND v.rules_reason = ?))")
        params += [selection.reason, selection.reason]
    if selection.recipe is not None:
        conditions.append("v.recipe_id = ?")
        params.append(named_recipe(db, selection.recipe).id)
    if selection.run is not None:
        if not db.execute("SELECT 1 FROM runs WHERE id = ?", [selection.run]).fetchone():
            raise WorkbenchError(f"no run #{selection.run} in this job")
        conditions.append("v.run_id = ?")
        params.append(selection.run)
    if selection.measure is not None:  # checked: one of MEASURES
        if selection.low is not None:
            conditions.append(f"a.{selection.measure} >= ?")
            params.append(selection.low)
        if selection.high is not None:
            conditions.append(f"a.{selection.measure} <= ?")
            params.append(selection.high)
    sql = _TARGET_SQL + "WHERE " + " AND ".join(conditions) + " ORDER BY v.attempt_id"
    return [_Target(*row) for row in db.execute(sql, params)]
