"""Judging: the job's rules in versions, the verdict on one answer, and judging again.

The rules are the job's, stored in the database and shared by every recipe, so that recipes are
judged alike. Each change adds a version, and every stored answer is then judged again under it,
without a request: a loosened rule turns rejected answers into accepted ones, a tightened one the
reverse. The verdict an answer had before is kept (earlier_verdicts, by a trigger), and the
measures stored with each answer spare the cost of measuring it twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby

from sqlite_utils import Database

from workbench.store.database import utc_now
from workbench.errors import WorkbenchError
from workbench.engine.recipes import stored_recipes
from workbench.judge.validate import (
    CLEANERS,
    CODES,
    NOTEBOOK_ENABLED,
    OFFLINE,
    Answer,
    Checker,
    Known,
    Measures,
    NeedsCheck,
    Rejection,
    Rules,
    check,
    check_codes,
    clean,
    measure,
)

NOTHING_KNOWN = Known()


@dataclass(frozen=True)
class Verdict:
    """What the rules say of one answer."""

    cleaned: str  # the answer after the cleaners: what was judged, what export writes
    measures: Measures
    rejection: Rejection | None  # None: accepted
    # Accepted for now: a rule needs what only a server can say ("judge", "embeddings"), and
    # this judgment had none; the next `run` asks it.
    awaiting: str | None = None

    @property
    def outcome(self) -> str:
        return "accepted" if self.rejection is None else "rejected"

    @property
    def reason(self) -> str | None:
        return self.rejection.reason if self.rejection else None

    @property
    def detail(self) -> str | None:
        return self.rejection.detail if self.rejection else None


def judge(
    original: str,
    answer: str | None,
    finish_reason: str | None,
    rules: Rules,
    *,
    accepted: Sequence[str] = (),
    known: Known = NOTHING_KNOWN,
    known_cleaned: str | None = None,
    checker: Checker = OFFLINE,
) -> Verdict:
    """Clean, measure and judge one answer.

    `accepted`: the answers already accepted for the paragraph under the same recipe. `known`:
    measures stored from an earlier judgment of the cleaned text `known_cleaned`, reused when
    the cleaners give the same text again. `checker` gives what the text alone cannot (meaning,
    the judge); when it has no server to ask, the answer is accepted for now (`awaiting`).
    """
    cleaned = clean(original, answer or "", rules)
    subject = Answer(
        original, cleaned, finish_reason, tuple(accepted),
        known if cleaned == known_cleaned else NOTHING_KNOWN, checker,
    )  # fmt: skip
    try:
        rejection = check(subject, rules)
    except NeedsCheck as e:
        return Verdict(cleaned, measure(subject, rules), None, awaiting=e.kind)
    return Verdict(cleaned, measure(subject, rules), rejection)


# --- the job's rules, in versions ----------------------------------------------------------


@dataclass(frozen=True)
class RulesVersion:
    id: int | None  # None before the job's first run stores them
    rules: Rules
    created_at: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"version": self.id, "created_at": self.created_at, **self.rules.to_json()}


def job_rules(db: Database) -> RulesVersion:
    """The rules in force: the latest version, or the defaults before any is stored."""
    versions = _versions(db, "ORDER BY id DESC LIMIT 1")
    return versions[0] if versions else RulesVersion(None, Rules())


def rules_versions(db: Database) -> list[RulesVersion]:
    return _versions(db, "ORDER BY id")


def _versions(db: Database, order: str) -> list[RulesVersion]:
    return [
        RulesVersion(version_id, Rules.from_json(json.loads(settings)), created_at)
        for version_id, settings, created_at in db.execute(
            f"SELECT id, settings, created_at FROM rules {order}"
        )
    ]


WORDLLAMA = "wordllama"  # --embeddings-model wordllama: meaning from WordLlama again
RECIPES_MODEL = "recipe"  # --judge-model recipe: the judge is the recipe's own model


@dataclass(frozen=True)
class RuleChanges:
    """What rule options ask of the job's rules (on `run` or `rules`); empty: keep them."""

    reset: bool = False  # back to the defaults first
    notebook: bool = False  # only the notebook's rules, no cleaners
    enable: frozenset[str] = frozenset()
    disable: frozenset[str] = frozenset()
    banned_phrases: tuple[str, ...] | None = None  # replace the list
    add_banned_phrases: tuple[str, ...] = ()
    min_ratio: float | None = None
    max_ratio: float | None = None
    similarity: float | None = None
    max_repetition: float | None = None
    min_meaning: float | None = None
    embeddings_model: str | None = None  # WORDLLAMA: back to WordLlama
    judge: bool | None = None  # the judge rule on or off
    judge_model: str | None = None  # RECIPES_MODEL: the recipe's own model

    def __post_init__(self) -> None:
        check_codes(self.enable | self.disable)
        both = self.enable & self.disable
        if both:
            raise WorkbenchError(f"both --enable-rule and --disable-rule {', '.join(sorted(both))}")

    @property
    def asks_nothing(self) -> bool:
        return self == RuleChanges()

    def apply(self, rules: Rules) -> Rules:
        if self.reset:
            rules = Rules()
        enabled = set(NOTEBOOK_ENABLED if self.notebook else rules.enabled)
        enabled = (enabled | self.enable) - self.disable
        phrases = list(
            self.banned_phrases if self.banned_phrases is not None else rules.banned_phrases
        )
        phrases += [p for p in self.add_banned_phrases if p not in phrases]
        if self.judge is not None:
            enabled = (enabled | {"judge"}) if self.judge else (enabled - {"judge"})
        numbers = {
            name: getattr(self, name)
            for name in ("min_ratio", "max_ratio", "similarity", "max_repetition", "min_meaning")
            if getattr(self, name) is not None
        }
        models = {}
        if self.embeddings_model is not None:
            wordllama = self.embeddings_model.lower() == WORDLLAMA
            models["embeddings_model"] = None if wordllama else self.embeddings_model
        if self.judge_model is not None:
            own = self.judge_model.lower() == RECIPES_MODEL
            models["judge_model"] = None if own else self.judge_model
        return replace(
            rules, enabled=frozenset(enabled), banned_phrases=tuple(phrases), **numbers, **models
        )


def save_rules(db: Database, rules: Rules) -> int:
    """Add a version; it is in force from now on."""
    return int(
        db["rules"]
        .insert(
            {"settings": json.dumps(rules.to_json(), ensure_ascii=False), "created_at": utc_now()}
        )
        .last_pk
    )


def format_rules(version: RulesVersion) -> str:
    """The job's rules for people: each rule and cleaner, on or off, with its setting."""
    rules = version.rules
    settings = {
        "banned_phrase": ", ".join(map(repr, rules.banned_phrases)) or "(none)",
        "too_short": f"min_ratio {rules.min_ratio:g}",
        "too_long": f"max_ratio {rules.max_ratio:g}",
        "too_similar": f"similarity {rules.similarity:g}",
        "repetition": f"max_repetition {rules.max_repetition:g}",
        "meaning_drift": f"min_meaning {rules.min_meaning:g} · "
        + (f"embeddings of {rules.embeddings_model}" if rules.embeddings_model else "WordLlama"),
        "judge": f"judge_model {rules.judge_model or 'the recipe’s model'}",
    }
    head = (
        f"Rules v{version.id} (since {version.created_at[:19].replace('T', ' ')}), "
        "shared by every recipe"
        if version.id is not None and version.created_at
        else "Rules: the defaults (the first run stores them)"
    )
    lines = [head]
    for code in CODES:
        kind = "cleaner" if code in CLEANERS else "rule"
        state = "on " if rules.on(code) else "off"
        lines.append(f"  {code:<20} {kind:<7} {state}  {settings.get(code, '')}".rstrip())
    return "\n".join(lines)


# --- judging again ---------------------------------------------------------------------------


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


_STALE_SQL = """
SELECT a.id, a.paragraph_id, a.recipe_id, a.answer, a.cleaned, a.finish_reason, a.outcome,
    a.reason, a.detail, a.rules_id, a.length_ratio, a.similarity, a.repetition, a.meaning,
    a.judge, p.text
FROM attempts a JOIN paragraphs p ON p.id = a.paragraph_id
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

    def known(self, measured_by: Rules | None, rules: Rules) -> Known:
        """What of its measures still holds under `rules`: meaning only from the same source,
        the judge's verdict only from the same judge."""
        same = measured_by is not None
        return Known(
            similarity=self.similarity,
            repetition=self.repetition,
            meaning=self.meaning
            if same and measured_by.embeddings_model == rules.embeddings_model  # type: ignore[union-attr]
            else None,
            judge=self.judge
            if same and measured_by.judge_model == rules.judge_model  # type: ignore[union-attr]
            else None,
        )


def rejudge(db: Database, version: int, rules: Rules) -> Rejudged | None:
    """Judge again every stored answer that another rules version judged (or that was never
    measured), with the answers of the same paragraph and recipe in order, as a run met them.

    Nothing is sent: an answer that needs the judge or an embeddings model the stored measures
    cannot stand for is accepted for now, and the next `run` asks (Rejudged.awaiting).
    Returns None when every verdict is already this version's.
    """
    start = time.perf_counter()
    recipes = {recipe.id: recipe for recipe in stored_recipes(db)}
    versions = {v.id: v.rules for v in rules_versions(db)}
    rows = [Stored(*row) for row in db.execute(_STALE_SQL, {"version": version}).fetchall()]
    if not rows:
        return None
    summary = Rejudged(version, answers=len(rows))
    updates, recleaned = [], []
    for _, grouped in groupby(rows, key=lambda row: (row.paragraph_id, row.recipe_id)):
        group = list(grouped)
        accepted: list[str] = []
        before = [0, 0]  # accepted, rejected
        after = [0, 0]
        for row in group:
            verdict = judge(
                row.original, row.answer, row.finish_reason, rules, accepted=accepted,
                known=row.known(versions.get(row.rules_id), rules), known_cleaned=row.cleaned,
            )  # fmt: skip
            before[row.outcome == "rejected"] += 1
            after[verdict.outcome == "rejected"] += 1
            summary.awaiting += verdict.awaiting is not None
            if verdict.rejection is None:
                accepted.append(verdict.cleaned)
            if verdict.outcome != row.outcome:
                summary.now_accepted += verdict.outcome == "accepted"
                summary.now_rejected += verdict.outcome == "rejected"
            m = verdict.measures
            new = (verdict.outcome, verdict.reason, verdict.detail, m.length_ratio,
                   m.similarity, m.repetition, m.meaning, m.judge)  # fmt: skip
            old = (row.outcome, row.reason, row.detail, row.length_ratio, row.similarity,
                   row.repetition, row.meaning, row.judge)  # fmt: skip
            if new != old:
                updates.append([*new, version, row.id])
            if verdict.cleaned != row.cleaned:  # rare: a cleaner switched (re-indexes the text)
                recleaned.append([verdict.cleaned, row.id])
        recipe = recipes[group[0].recipe_id]
        was, now = recipe.status(*before), recipe.status(*after)
        if was != now:
            summary.succeeded += now == "succeeded"
            summary.reopened += now == "pending"
            summary.skipped += now == "skipped"
    db.conn.executemany(
        "UPDATE attempts SET outcome = ?, reason = ?, detail = ?, length_ratio = ?, "
        "similarity = ?, repetition = ?, meaning = ?, judge = ?, rules_id = ? WHERE id = ?",
        updates,
    )
    db.conn.executemany("UPDATE attempts SET cleaned = ? WHERE id = ?", recleaned)
    # The rest keep their verdict, now this version's.
    db.execute(
        "UPDATE attempts SET rules_id = ? WHERE outcome != 'failed' AND rules_id != ?",
        [version, version],
    )
    summary.seconds = time.perf_counter() - start
    return summary
