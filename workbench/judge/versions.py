"""The job's rules in versions: the latest is in force, every earlier one is history.

The rules are the job's, stored in the database and shared by every recipe, so that recipes are
judged alike. Each change adds a version (a trigger refuses edits), and every stored answer is
then judged again under it (rejudge.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

from workbench.errors import DatabaseError, SettingError
from workbench.judge.cleaners import CLEANERS
from workbench.judge.meaning import NAMES
from workbench.judge.rules import CODES
from workbench.judge.settings import Rules
from workbench.store.times import utc_now


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
        RulesVersion(version_id, _stored_rules(version_id, settings), created_at)
        for version_id, settings, created_at in db.execute(
            f"SELECT id, settings, created_at FROM rules {order}"
        )
    ]


def _stored_rules(version: int, settings: str) -> Rules:
    try:
        return Rules.from_json(json.loads(settings))
    except SettingError as e:  # edited by hand outside workbench: say so, not which option
        raise DatabaseError(
            "the rules version {version} stored in the database cannot be used: {problem}",
            version=version,
            problem=e,
        ) from None


def save_rules(db: Database, rules: Rules) -> int:
    """Add a version; it is in force from now on."""
    cursor = db.execute(
        "INSERT INTO rules (settings, created_at) VALUES (?, ?)",
        [json.dumps(rules.to_json(), ensure_ascii=False), utc_now()],
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


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
        + (
            f"embeddings of {rules.embeddings_model}"
            if rules.embeddings_model
            else NAMES[rules.meaning_model]
        ),
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
