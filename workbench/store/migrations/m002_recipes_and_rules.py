"""Step m002: make the job remember how it asks (recipes) and how it judges (rules versions)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from sqlite_utils import Database

from workbench.store.sql import sql_statements

# --- m002: recipes and rules ----------------------------------------------------------------
# What the workbench of schema 2 knew, frozen here: later versions change the live constants.
M002_RULE_CODES = (
    "strip_think", "strip_quotes", "truncated", "empty", "banned_phrase", "multiple_paragraphs",
    "too_short", "too_long", "refusal", "preamble", "commentary", "too_similar",
)  # fmt: skip


M002_DEFAULT_RULES: dict[str, Any] = {
    "banned_phrases": [
        "###", "Paraphrased Text", "Alternate Refinement", "Extended Alternate Refinement",
        "[Note:", "### Question:",
    ],
    "min_ratio": 0.8,
    "max_ratio": 2.0,
    "similarity": 0.9,
}  # fmt: skip


M002_NOTEBOOK_PROMPT = (
    "You are an expert novelist. Paraphrase the given text in your own words, refining the prose "
    "and making it a bit richer. Don't write additional story or meaning, keep the original "
    "meaning and form. The response should contain only one paragraph. Keep a similar length in "
    "your output to the original, not more than 50% difference, and shouldn't be shorter than "
    "the original text."
)


M002_TABLES = """
CREATE TABLE recipes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    model TEXT NOT NULL,
    system_prompt TEXT NOT NULL,
    user_template TEXT NOT NULL CHECK (instr(user_template, '{text}') > 0),
    temperature REAL NOT NULL CHECK (temperature BETWEEN 0 AND 2),
    max_tokens INTEGER CHECK (max_tokens >= 0),
    retry_temperature TEXT,
    feedback INTEGER NOT NULL CHECK (feedback IN (0, 1)),
    outputs INTEGER NOT NULL CHECK (outputs >= 1),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    created_at TEXT NOT NULL
);
CREATE TRIGGER recipes_ask_one_way BEFORE UPDATE OF
    name, model, system_prompt, user_template, temperature, max_tokens, retry_temperature, feedback
ON recipes
WHEN old.name IS NOT new.name OR old.model IS NOT new.model
    OR old.system_prompt IS NOT new.system_prompt OR old.user_template IS NOT new.user_template
    OR old.temperature IS NOT new.temperature OR old.max_tokens IS NOT new.max_tokens
    OR old.retry_temperature IS NOT new.retry_temperature OR old.feedback IS NOT new.feedback
BEGIN
    SELECT RAISE(ABORT, 'a recipe asks one way: make another recipe to ask another way');
END;
CREATE TABLE rules (
    id INTEGER PRIMARY KEY,
    settings TEXT NOT NULL CHECK (json_valid(settings)),
    created_at TEXT NOT NULL
);
CREATE TRIGGER rules_are_history BEFORE UPDATE ON rules
BEGIN
    SELECT RAISE(ABORT, 'rules versions are history: add a version instead of changing one');
END;
CREATE TABLE paragraphs_new (
    id INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    position INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    occurrence INTEGER NOT NULL DEFAULT 1,
    text TEXT NOT NULL,
    word_count INTEGER NOT NULL,
    filtered INTEGER NOT NULL DEFAULT 0 CHECK (filtered IN (0, 1)),
    UNIQUE (source_id, sha256, occurrence)
);
CREATE TABLE runs_new (
    id INTEGER PRIMARY KEY,
    recipe_id INTEGER NOT NULL REFERENCES recipes(id),
    rules_id INTEGER NOT NULL REFERENCES rules(id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    base_url TEXT NOT NULL,
    settings TEXT NOT NULL,
    message TEXT,
    pid INTEGER NOT NULL,
    hostname TEXT NOT NULL
);
CREATE TABLE attempts_new (
    id INTEGER PRIMARY KEY,
    paragraph_id INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id INTEGER NOT NULL REFERENCES recipes(id),
    run_id INTEGER NOT NULL REFERENCES runs(id),
    attempt_number INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    latency_s REAL NOT NULL,
    request TEXT NOT NULL,
    http_status INTEGER,
    response TEXT,
    answer TEXT,
    cleaned TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'failed')),
    reason TEXT,
    detail TEXT,
    rules_id INTEGER REFERENCES rules(id),
    length_ratio REAL,
    similarity REAL,
    UNIQUE (paragraph_id, recipe_id, attempt_number),
    CHECK ((outcome = 'failed') = (rules_id IS NULL))
);
"""


M002_AFTER = """
CREATE INDEX paragraphs_in_order ON paragraphs (filtered, source_id, position);
CREATE INDEX attempts_by_run ON attempts (run_id);
CREATE INDEX attempts_by_verdict ON attempts (recipe_id, outcome, reason);
CREATE INDEX attempts_by_rules ON attempts (rules_id);
CREATE TABLE earlier_verdicts (
    id INTEGER PRIMARY KEY,
    attempt_id INTEGER NOT NULL REFERENCES attempts(id),
    rules_id INTEGER NOT NULL REFERENCES rules(id),
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    reason TEXT,
    detail TEXT,
    replaced_by INTEGER REFERENCES rules(id)
);
CREATE INDEX earlier_verdicts_by_attempt ON earlier_verdicts (attempt_id);
CREATE TRIGGER attempts_keep_earlier_verdicts AFTER UPDATE OF outcome, reason, detail ON attempts
WHEN old.outcome != 'failed' AND (old.outcome IS NOT new.outcome OR old.reason IS NOT new.reason
    OR old.detail IS NOT new.detail)
BEGIN
    INSERT INTO earlier_verdicts (attempt_id, rules_id, outcome, reason, detail, replaced_by)
    VALUES (old.id, old.rules_id, old.outcome, old.reason, old.detail, new.rules_id);
END;
CREATE TABLE progress (
    paragraph_id        INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id           INTEGER NOT NULL REFERENCES recipes(id),
    attempts            INTEGER NOT NULL,
    accepted            INTEGER NOT NULL,
    rejected            INTEGER NOT NULL,
    last_attempt_number INTEGER NOT NULL,
    last_reason         TEXT,
    PRIMARY KEY (paragraph_id, recipe_id)
) WITHOUT ROWID;
CREATE INDEX progress_by_recipe ON progress (recipe_id, accepted, rejected, last_reason);

CREATE TABLE tallies (
    recipe_id         INTEGER NOT NULL REFERENCES recipes(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    outcome           TEXT NOT NULL,
    reason            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s         REAL NOT NULL,
    PRIMARY KEY (recipe_id, run_id, outcome, reason)
) WITHOUT ROWID;
INSERT INTO progress
SELECT paragraph_id, recipe_id, count(*), sum(outcome = 'accepted'), sum(outcome = 'rejected'),
    max(attempt_number),
    (SELECT b.reason FROM attempts b
     WHERE b.paragraph_id = a.paragraph_id AND b.recipe_id = a.recipe_id AND b.outcome = 'rejected'
     ORDER BY b.attempt_number DESC LIMIT 1)
FROM attempts a GROUP BY paragraph_id, recipe_id;
INSERT INTO tallies
SELECT recipe_id, run_id, outcome, coalesce(reason, ''), count(*), coalesce(sum(prompt_tokens), 0),
    coalesce(sum(completion_tokens), 0), sum(latency_s)
FROM attempts GROUP BY recipe_id, run_id, outcome, coalesce(reason, '');
CREATE TRIGGER attempts_count_insert AFTER INSERT ON attempts
BEGIN
    INSERT INTO progress (
        paragraph_id, recipe_id, attempts, accepted, rejected, last_attempt_number, last_reason
    )
    VALUES (new.paragraph_id, new.recipe_id, 1, new.outcome = 'accepted', new.outcome = 'rejected',
            new.attempt_number, CASE WHEN new.outcome = 'rejected' THEN new.reason END)
    ON CONFLICT (paragraph_id, recipe_id) DO UPDATE SET
        attempts = attempts + 1,
        accepted = accepted + excluded.accepted,
        rejected = rejected + excluded.rejected,
        last_reason = CASE
            WHEN excluded.rejected AND excluded.last_attempt_number > last_attempt_number
            THEN excluded.last_reason ELSE last_reason END,
        last_attempt_number = max(last_attempt_number, excluded.last_attempt_number);
    INSERT INTO tallies
    VALUES (new.recipe_id, new.run_id, new.outcome, coalesce(new.reason, ''), 1,
            coalesce(new.prompt_tokens, 0), coalesce(new.completion_tokens, 0), new.latency_s)
    ON CONFLICT (recipe_id, run_id, outcome, reason) DO UPDATE SET
        attempts = attempts + 1,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        latency_s = latency_s + excluded.latency_s;
END;
CREATE TRIGGER attempts_count_delete AFTER DELETE ON attempts
BEGIN
    UPDATE progress SET
        attempts = attempts - 1,
        accepted = accepted - (old.outcome = 'accepted'),
        rejected = rejected - (old.outcome = 'rejected'),
        last_attempt_number = coalesce((SELECT max(attempt_number) FROM attempts
            WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id), 0),
        last_reason = (SELECT reason FROM attempts
            WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id
              AND outcome = 'rejected' ORDER BY attempt_number DESC LIMIT 1)
    WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    DELETE FROM progress WHERE attempts = 0
        AND paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    UPDATE tallies SET
        attempts = attempts - 1,
        prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
        completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
        latency_s = latency_s - old.latency_s
    WHERE recipe_id = old.recipe_id AND run_id = old.run_id AND outcome = old.outcome
      AND reason = coalesce(old.reason, '');
    DELETE FROM tallies WHERE attempts = 0 AND recipe_id = old.recipe_id AND run_id = old.run_id
      AND outcome = old.outcome AND reason = coalesce(old.reason, '');
END;
CREATE TRIGGER attempts_count_update
AFTER UPDATE OF paragraph_id, recipe_id, run_id, attempt_number, outcome, reason, latency_s,
    prompt_tokens, completion_tokens ON attempts
BEGIN
    UPDATE progress SET
        attempts = attempts - 1,
        accepted = accepted - (old.outcome = 'accepted'),
        rejected = rejected - (old.outcome = 'rejected')
    WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    INSERT INTO progress (
        paragraph_id, recipe_id, attempts, accepted, rejected, last_attempt_number, last_reason
    )
    VALUES (new.paragraph_id, new.recipe_id, 1, new.outcome = 'accepted', new.outcome = 'rejected',
            new.attempt_number, NULL)
    ON CONFLICT (paragraph_id, recipe_id) DO UPDATE SET
        attempts = attempts + 1,
        accepted = accepted + excluded.accepted,
        rejected = rejected + excluded.rejected;
    UPDATE progress SET
        last_attempt_number = coalesce((SELECT max(attempt_number) FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id), 0),
        last_reason = (SELECT reason FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id
              AND a.outcome = 'rejected' ORDER BY a.attempt_number DESC LIMIT 1)
    WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    UPDATE progress SET
        last_attempt_number = coalesce((SELECT max(attempt_number) FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id), 0),
        last_reason = (SELECT reason FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id
              AND a.outcome = 'rejected' ORDER BY a.attempt_number DESC LIMIT 1)
    WHERE paragraph_id = new.paragraph_id AND recipe_id = new.recipe_id
      AND (new.paragraph_id, new.recipe_id) IS NOT (old.paragraph_id, old.recipe_id);
    DELETE FROM progress WHERE attempts = 0
        AND paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    UPDATE tallies SET
        attempts = attempts - 1,
        prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
        completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
        latency_s = latency_s - old.latency_s
    WHERE recipe_id = old.recipe_id AND run_id = old.run_id AND outcome = old.outcome
      AND reason = coalesce(old.reason, '');
    INSERT INTO tallies
    VALUES (new.recipe_id, new.run_id, new.outcome, coalesce(new.reason, ''), 1,
            coalesce(new.prompt_tokens, 0), coalesce(new.completion_tokens, 0), new.latency_s)
    ON CONFLICT (recipe_id, run_id, outcome, reason) DO UPDATE SET
        attempts = attempts + 1,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        latency_s = latency_s + excluded.latency_s;
    DELETE FROM tallies WHERE attempts = 0 AND recipe_id = old.recipe_id AND run_id = old.run_id
      AND outcome = old.outcome AND reason = coalesce(old.reason, '');
END;

CREATE VIEW progress_status AS
SELECT
    g.paragraph_id,
    g.recipe_id,
    CASE
        WHEN g.accepted >= r.outputs THEN 'succeeded'
        WHEN g.accepted + g.rejected >= r.outputs * r.max_attempts THEN 'skipped'
        ELSE 'pending'
    END                                  AS status,
    g.accepted,
    g.rejected,
    g.attempts - g.accepted - g.rejected AS failed,
    g.last_reason
FROM progress g JOIN recipes r ON r.id = g.recipe_id;

CREATE VIEW paragraph_status AS
SELECT
    p.id                             AS paragraph_id,
    r.id                             AS recipe_id,
    r.name                           AS recipe,
    p.source_id                      AS source_id,
    s.name                           AS source,
    p.position                       AS position,
    coalesce((SELECT x.status FROM progress_status x
              WHERE x.paragraph_id = p.id AND x.recipe_id = r.id), 'pending') AS status,
    coalesce(g.accepted, 0)          AS accepted,
    coalesce(g.rejected, 0)          AS rejected,
    coalesce(g.attempts - g.accepted - g.rejected, 0) AS failed,
    g.last_reason                    AS last_reason,
    p.word_count                     AS word_count,
    p.text                           AS text
FROM paragraphs p
JOIN sources s ON s.id = p.source_id
CROSS JOIN recipes r
LEFT JOIN progress g ON g.paragraph_id = p.id AND g.recipe_id = r.id
WHERE p.filtered = 0;
CREATE VIEW pairs AS
SELECT
    p.id AS paragraph_id,
    s.name AS source,
    p.position AS position,
    r.name AS recipe,
    a.cleaned AS paraphrase,
    p.text AS original,
    a.id AS attempt_id,
    a.run_id AS run_id,
    a.recipe_id AS recipe_id,
    a.attempt_number AS attempt_number
FROM (
    SELECT *, row_number() OVER (
        PARTITION BY paragraph_id, recipe_id ORDER BY attempt_number
    ) AS nth
    FROM attempts WHERE outcome = 'accepted'
) a
JOIN paragraphs p ON p.id = a.paragraph_id
JOIN sources s ON s.id = p.source_id
JOIN recipes r ON r.id = a.recipe_id
WHERE a.nth <= r.outputs
ORDER BY s.id, p.position, p.id, r.id, a.attempt_number;
"""


def _m002_recipe(model: str, settings: dict[str, Any]) -> tuple[Any, ...]:
    """What a run of schema 2 asked, as the columns of its recipe (model .. feedback)."""
    retry = settings.get("retry_temperature")
    return (
        model,
        settings.get("system_prompt") or M002_NOTEBOOK_PROMPT,
        "{text}",  # schema 2 sent the paragraph alone
        float(settings.get("temperature", 0.9)),
        settings.get("max_tokens"),
        f"{retry[0]:g}:{retry[1]:g}" if retry else None,
        int(bool(settings.get("feedback", False))),
    )


def _m002_rules(settings: dict[str, Any]) -> str:
    """The rules a run of schema 2 judged with, in the stored form of Rules.to_json()."""
    rules = {**M002_DEFAULT_RULES, **(settings.get("rules") or {})}
    disabled = set(rules.get("disabled") or [])
    return json.dumps(
        {
            # `duplicate` arrives with this step; it only matters with --outputs, new too.
            "enabled": [code for code in M002_RULE_CODES if code not in disabled] + ["duplicate"],
            "banned_phrases": list(rules["banned_phrases"]),
            "min_ratio": rules["min_ratio"],
            "max_ratio": rules["max_ratio"],
            "similarity": rules["similarity"],
        },
        ensure_ascii=False,
    )


def migrate(db: Database) -> None:
    """Make the job remember how it asks and how it judges.

    Each distinct way of asking among the stored runs (their settings JSON) becomes a recipe,
    named `default`, `default-2`, … in the order they were first used, with the budget of its
    latest run; each attempt belongs to the recipe of its run. The rules each run judged with
    become versions, one per change, so the last run's rules are the job's rules and every
    verdict names the version that gave it. A paragraph's status is no longer stored: it is
    derived per recipe from the verdicts (`progress`, `paragraph_status`), so what a paragraph
    earned under the recipe it was worked with carries over. Nothing is deleted: the runs keep
    their settings JSON as it was.
    """
    for statement in sql_statements(M002_TABLES):
        db.execute(statement)
    recipes: dict[tuple[Any, ...], int] = {}
    last_rules, rules_id = None, 0
    run_rows = []
    for run in db.execute(
        "SELECT id, started_at, ended_at, status, base_url, model, settings, message, pid, "
        "hostname FROM runs ORDER BY id"
    ).fetchall():
        try:
            settings = json.loads(run[6])
        except ValueError:
            settings = {}
        settings = settings if isinstance(settings, dict) else {}
        asking = _m002_recipe(run[5], settings)
        if asking not in recipes:
            name = "default" if not recipes else f"default-{len(recipes) + 1}"
            recipes[asking] = int(
                db.execute(
                    "INSERT INTO recipes (name, model, system_prompt, user_template, "
                    "temperature, max_tokens, retry_temperature, feedback, outputs, "
                    "max_attempts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 5, ?)",
                    [name, *asking, run[1]],
                ).lastrowid
                or 0
            )
        # A recipe's budget is what its latest run allowed.
        db.execute(
            "UPDATE recipes SET max_attempts = ? WHERE id = ?",
            [max(1, int(settings.get("max_attempts", 5))), recipes[asking]],
        )
        rules = _m002_rules(settings)
        if rules != last_rules:
            rules_id = int(
                db.execute(
                    "INSERT INTO rules (settings, created_at) VALUES (?, ?)", [rules, run[1]]
                ).lastrowid
                or 0
            )
            last_rules = rules
        run_rows.append([run[0], recipes[asking], rules_id, *run[1:5], *run[6:]])
    db.conn.executemany(
        "INSERT INTO runs_new (id, recipe_id, rules_id, started_at, ended_at, status, base_url, "
        "settings, message, pid, hostname) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        run_rows,
    )
    db.execute(
        "INSERT INTO paragraphs_new SELECT id, source_id, position, sha256, occurrence, text, "
        "word_count, status = 'filtered' FROM paragraphs"
    )
    db.execute(
        """
        INSERT INTO attempts_new
        SELECT a.id, a.paragraph_id, r.recipe_id, a.run_id, a.attempt_number, a.started_at,
            a.finished_at, a.latency_s, a.request, a.http_status, a.response, a.answer, a.cleaned,
            a.finish_reason, a.prompt_tokens, a.completion_tokens, a.outcome, a.reason, a.detail,
            CASE WHEN a.outcome = 'failed' THEN NULL ELSE r.rules_id END, NULL, NULL
        FROM attempts a JOIN runs_new r ON r.id = a.run_id
        """
    )
    # The rebuild of SQLite's documentation ("Making Other Kinds Of Table Schema Changes"),
    # with foreign keys off (store/database.py does that around every step), checked at the end.
    for view in ("pairs", "paragraph_progress"):
        db.execute(f"DROP VIEW {view}")
    for table in ("attempts", "paragraphs", "runs"):
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for statement in sql_statements(M002_AFTER):
        db.execute(statement)
    broken = db.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise sqlite3.IntegrityError(f"m002 left broken references: {broken[:5]}")
