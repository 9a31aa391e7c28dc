"""Calibration: each rule with a threshold held against the answers a person reviewed.

The verdicts a person gave by hand are labelled data about this job. For every enabled rule that
cuts a measure at a threshold (length ratios, similarity, repetition, meaning), calibration
counts where the rule and the reviewer disagree, and finds the threshold that would agree best:

- a false rejection is an answer the reviewer accepted that the rule rejects;
- a false acceptance is an answer the reviewer rejected that the rule passes and no other rule
  rejects either: one another rule catches is not this rule's to catch.

Answers accepted as repaired are left out: the reviewer judged their repair, not the answer the
rules measured. The suggestion is the threshold, on a grid of 0.01, with the fewest
disagreements, and of those the nearest to the rule's threshold now: the smallest change that
agrees best. The rules are taken in their order, each with the trusted suggestions of those
before it, so two rules never both move to catch the same answers. A suggestion rests on the
reviewed answers the rule measured, and says so when they are too few to trust. `apply` makes
the trusted suggestions a new rules version, which judges every stored answer again (verdicts
by hand stay in force).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from workbench.engine.runs import close_dead_runs
from workbench.errors import SettingError
from workbench.judge import meaning
from workbench.judge.rejudge import RulesSettled, settle_rules
from workbench.judge.settings import MAX_RATIO_LIMIT, Rules
from workbench.judge.versions import job_rules
from workbench.review.defaults import DEFAULT_MIN_REVIEWED
from workbench.store.states import Outcome
from workbench.store.transactions import transaction

STEP = 0.01  # the grid suggestions are searched on


@dataclass(frozen=True)
class Reviewed:
    """An answer a person reviewed, as the rules measured it."""

    hand: str  # the person's verdict in force: accepted or rejected
    rules_outcome: str
    rules_reason: str | None
    measures: dict[str, float | None]
    words: int  # of the answer
    original_words: int


@dataclass(frozen=True)
class Threshold:
    """A rule that cuts a measure at a threshold, one of the rules' settings."""

    rule: str
    measure: str
    setting: str
    rejects: Callable[[Reviewed, float], bool]  # as the rule decides (rules.py)
    grid: Callable[[Rules, list[float]], tuple[float, float]]  # where a threshold may lie


def _ratio_range(rules: Rules, values: list[float]) -> tuple[float, float]:
    return rules.min_ratio, min(MAX_RATIO_LIMIT, max([rules.max_ratio, *values]) + STEP)


THRESHOLDS = (
    Threshold(
        "too_short", "length_ratio", "min_ratio",
        lambda a, t: a.words < int(t * a.original_words),
        lambda rules, values: (0.0, rules.max_ratio),
    ),
    Threshold(
        "too_long", "length_ratio", "max_ratio",
        lambda a, t: a.words > int(t * a.original_words),
        _ratio_range,
    ),
    Threshold(
        "too_similar", "similarity", "similarity",
        lambda a, t: _measure(a, "similarity") >= t,
        lambda rules, values: (STEP, 1.0),
    ),
    Threshold(
        "repetition", "repetition", "max_repetition",
        lambda a, t: _measure(a, "repetition") >= t,
        lambda rules, values: (STEP, 1.0),
    ),
    Threshold(
        "meaning_drift", "meaning", "min_meaning",
        lambda a, t: _measure(a, "meaning") < t,
        lambda rules, values: (-1.0, 1.0),
    ),
)  # fmt: skip


def _measure(answer: Reviewed, name: str) -> float:
    value = answer.measures[name]
    assert value is not None  # only answers the rule measured are held against it
    return value


@dataclass(frozen=True)
class RuleCalibration:
    """One rule held against the reviewed answers it measured."""

    rule: str
    measure: str
    setting: str  # the rules' setting that holds the threshold (min_ratio, …)
    threshold: float  # now
    false_rejections: int  # at the threshold now
    false_acceptances: int
    suggested: float | None  # the threshold that agrees best; None: no reviewed answer
    suggested_false_rejections: int
    suggested_false_acceptances: int
    reviewed: int  # the reviewed answers it rests on
    warning: str | None  # when they are too few to trust


@dataclass(frozen=True)
class Calibration:
    """Every rule with a threshold, held against the answers a person reviewed."""

    rules_version: int | None
    reviewed: int  # answers with a verdict by hand (not repaired), all rules together
    min_reviewed: int
    rules: list[RuleCalibration]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def changes(self) -> dict[str, float]:
        """The settings the trusted suggestions would change: setting → threshold."""
        return {
            c.setting: c.suggested
            for c in self.rules
            if c.suggested is not None and c.suggested != c.threshold and c.warning is None
        }


_REVIEWED_SQL = """
SELECT v.hand_verdict, v.rules_outcome, v.rules_reason, a.length_ratio, a.similarity,
    a.repetition, a.meaning, a.cleaned, p.word_count, p.text
FROM verdicts v
JOIN attempts a ON a.id = v.attempt_id
JOIN paragraphs p ON p.id = a.paragraph_id
WHERE v.attempt_id IN (SELECT attempt_id FROM reviews)
  AND v.hand_verdict IS NOT NULL AND v.repaired IS NULL
"""


def reviewed_answers(db: Database, rules: Rules | None = None) -> list[Reviewed]:
    """The answers a person reviewed (their verdict in force, repairs left out), measured.

    With `rules` whose meaning model is offline, a reviewed answer that another rule rejected
    before meaning_drift (MiniLM measures only the answers that reach it) is measured now, in
    one batch: the reviewer's verdict on it says where meaning_drift should cut too.
    """
    rows = db.execute(_REVIEWED_SQL).fetchall()
    meanings = [row[6] for row in rows]
    if rules is not None and rules.on("meaning_drift") and not rules.embeddings_model:
        missing = [k for k, row in enumerate(rows) if row[6] is None and row[7]]
        scores = meaning.similarities(
            rules.meaning_model, [(rows[k][9], rows[k][7]) for k in missing]
        )
        for k, score in zip(missing, scores, strict=True):
            meanings[k] = round(score, 4)
    return [
        Reviewed(hand, outcome, reason,
                 {"length_ratio": ratio, "similarity": sim, "repetition": rep, "meaning": mean},
                 len((cleaned or "").split()), words)
        for (hand, outcome, reason, ratio, sim, rep, _, cleaned, words, _), mean
        in zip(rows, meanings, strict=True)
    ]  # fmt: skip


def calibrate(db: Database, min_reviewed: int = DEFAULT_MIN_REVIEWED) -> Calibration:
    """Hold every enabled rule with a threshold against the answers a person reviewed."""
    if min_reviewed < 1:
        raise SettingError("{min_reviewed} must be 1 or more")
    version = job_rules(db)
    rules = version.rules
    answers = reviewed_answers(db, rules)
    enabled = [threshold for threshold in THRESHOLDS if rules.on(threshold.rule)]
    now = {t.setting: float(getattr(rules, t.setting)) for t in enabled}
    chosen = dict(now)  # the thresholds so far, the trusted suggestions taken
    found = []
    for threshold in enabled:
        others = [(o, now[o.setting], chosen[o.setting]) for o in enabled if o is not threshold]
        result = _calibrate(threshold, rules, answers, others, min_reviewed)
        if result.suggested is not None and result.warning is None:
            chosen[threshold.setting] = result.suggested
        found.append(result)
    return Calibration(version.id, len(answers), min_reviewed, found)


def _caught_by_others(answer: Reviewed, others: list[tuple[Threshold, float]]) -> bool:
    """Whether another rule rejects the answer: one of the other threshold rules at its given
    threshold, or a rule with none (the rules' verdict stores the first that rejects it)."""
    reason = answer.rules_reason if answer.rules_outcome == Outcome.REJECTED else None
    if reason is not None and reason not in {t.rule for t in THRESHOLDS}:
        return True
    return any(
        answer.measures[other.measure] is not None and other.rejects(answer, at)
        for other, at in others
    )


def _calibrate(
    threshold: Threshold,
    rules: Rules,
    answers: list[Reviewed],
    others: list[tuple[Threshold, float, float]],  # (rule, threshold now, threshold chosen)
    min_reviewed: int,
) -> RuleCalibration:
    measured = [a for a in answers if a.measures[threshold.measure] is not None]
    now = float(getattr(rules, threshold.setting))
    # Answers another rule catches, with the others as they are, and as calibration moves them.
    as_now = [(other, at) for other, at, _ in others]
    as_chosen = [(other, at) for other, _, at in others]
    caught_now = [_caught_by_others(a, as_now) for a in measured]
    caught_then = [_caught_by_others(a, as_chosen) for a in measured]

    def disagreements(t: float, caught: list[bool]) -> tuple[int, int]:
        false_rejections = sum(
            a.hand == Outcome.ACCEPTED and threshold.rejects(a, t) for a in measured
        )
        false_acceptances = sum(
            a.hand == Outcome.REJECTED and not threshold.rejects(a, t) and not other
            for a, other in zip(measured, caught, strict=True)
        )
        return false_rejections, false_acceptances

    errors_now = disagreements(now, caught_now)
    suggested: float | None = None
    errors_then = (0, 0)
    if measured:
        values = [float(a.measures[threshold.measure] or 0) for a in measured]
        low, high = threshold.grid(rules, values)
        grid = {round(low + k * STEP, 2) for k in range(round((high - low) / STEP) + 1)}
        candidates = sorted(t for t in grid | {now} if low <= t <= high)
        scored = [(sum(disagreements(t, caught_then)), abs(t - now), t) for t in candidates]
        suggested = min(scored)[2]
        errors_then = disagreements(suggested, caught_then)
    warning = _warning(measured, min_reviewed)
    return RuleCalibration(
        threshold.rule, threshold.measure, threshold.setting, now, *errors_now, suggested,
        *errors_then, len(measured), warning,
    )  # fmt: skip


def _warning(measured: list[Reviewed], min_reviewed: int) -> str | None:
    """Why a suggestion is not to be trusted, if it is not: too few reviewed answers, or too few
    of either verdict (with no answer accepted by hand, tightening a rule looks free)."""
    each = max(1, min_reviewed // 4)
    accepted = sum(a.hand == Outcome.ACCEPTED for a in measured)
    rejected = len(measured) - accepted
    if len(measured) >= min_reviewed and min(accepted, rejected) >= each:
        return None
    return (
        f"rests on {len(measured):,} reviewed answer{'s' * (len(measured) != 1)} "
        f"({accepted:,} accepted, {rejected:,} rejected): too few to trust (review "
        f"{min_reviewed:,} or more, {each:,} or more of each verdict)"
    )


def apply(
    db: Database, min_reviewed: int = DEFAULT_MIN_REVIEWED
) -> tuple[Calibration, RulesSettled]:
    """Calibrate, and make the suggestions resting on enough reviewed answers the job's rules:
    a new rules version, every stored answer judged again (as `workbench rules` does)."""
    calibration = calibrate(db, min_reviewed)  # reads only; measures meaning before the lock
    with transaction(db):
        close_dead_runs(db)  # a live run judges with the rules it started with
        wanted = Rules.from_json({**job_rules(db).rules.to_json(), **calibration.changes()})
        settled = settle_rules(db, wanted)
    return calibration, settled


def format_calibration(data: Calibration) -> str:
    """The calibration as a table for people."""
    if not data.rules:
        return "No rule with a threshold is on: nothing to calibrate."
    lines = [
        f"Rules v{data.rules_version} against the {data.reviewed:,} answer"
        f"{'s' * (data.reviewed != 1)} reviewed by hand (repairs left out):",
        f"  {'rule':<14} {'measure':<13} {'now':>6} {'false rej.':>10} {'false acc.':>10}"
        f" {'suggested':>10} {'then rej.':>9} {'then acc.':>9} {'reviewed':>8}",
    ]
    for c in data.rules:
        suggested = "–" if c.suggested is None else f"{c.suggested:g}"
        lines.append(
            f"  {c.rule:<14} {c.measure:<13} {c.threshold:>6g} {c.false_rejections:>10,}"
            f" {c.false_acceptances:>10,} {suggested:>10} {c.suggested_false_rejections:>9,}"
            f" {c.suggested_false_acceptances:>9,} {c.reviewed:>8,}"
        )
    for c in data.rules:
        if c.warning:
            lines.append(f"Warning: {c.rule} {c.warning}.")
    changes = data.changes()
    if changes:
        lines.append(
            "`workbench calibrate --apply` sets "
            + ", ".join(f"{setting} {value:g}" for setting, value in changes.items())
            + " and judges every answer again."
        )
    return "\n".join(lines)
