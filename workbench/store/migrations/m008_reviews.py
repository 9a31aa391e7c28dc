"""Step m008: verdicts given by hand (table reviews), and counts and pairs by verdict in force."""

from __future__ import annotations

from sqlite_utils import Database

from workbench.store.sql import sql_statements


def migrate(db: Database) -> None:
    """Verdicts given by hand: a `reviews` table (history: triggers refuse changes and
    deletions, and a review of a failed attempt), the view `verdicts` (each answer's verdict in
    force: the latest review's, else the rules'), the counting triggers on attempts counting
    verdicts in force and a new one on reviews, and the pairs view pairing answers by verdict in
    force, with the repaired text and who accepted it. No review exists yet, so the counts kept
    so far are already right."""
    for trigger in ("attempts_count_delete", "attempts_count_update"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DROP VIEW pairs")
    for statement in sql_statements(M009_SQL):
        db.execute(statement)


M009_SQL = """
CREATE TABLE reviews (
    id          INTEGER PRIMARY KEY,
    attempt_id  INTEGER NOT NULL REFERENCES attempts(id),
    verdict     TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
    -- The answer as the person edited it, exported instead of it; the answer itself is kept.
    -- NULL: the answer as it stands. Only an accepted answer is repaired.
    repaired    TEXT CHECK (repaired IS NULL OR (verdict = 'accepted' AND trim(repaired) != '')),
    note        TEXT,              -- why, in the person's words
    reviewer    TEXT NOT NULL CHECK (trim(reviewer) != ''),  -- who: --reviewer, or the OS user
    created_at  TEXT NOT NULL
);
CREATE INDEX reviews_by_attempt ON reviews (attempt_id, id);
CREATE TRIGGER reviews_are_history BEFORE UPDATE ON reviews
BEGIN
    SELECT RAISE(ABORT, 'reviews are history: review the answer again instead of changing one');
END;
CREATE TRIGGER reviews_are_kept BEFORE DELETE ON reviews
BEGIN
    SELECT RAISE(ABORT, 'reviews are history: a later review supersedes one, none is deleted');
END;
CREATE TRIGGER reviews_need_an_answer BEFORE INSERT ON reviews
WHEN coalesce((SELECT outcome FROM attempts WHERE id = new.attempt_id), 'failed') = 'failed'
BEGIN
    SELECT RAISE(ABORT, 'only an answer can be reviewed: the attempt failed or does not exist');
END;
CREATE VIEW verdicts AS
SELECT
    a.id                            AS attempt_id,
    a.paragraph_id                  AS paragraph_id,
    a.recipe_id                     AS recipe_id,
    a.run_id                        AS run_id,
    a.attempt_number                AS attempt_number,
    coalesce(h.verdict, a.outcome)  AS outcome,
    CASE h.verdict
        WHEN 'accepted' THEN NULL
        WHEN 'rejected' THEN CASE WHEN a.outcome = 'rejected' THEN a.reason ELSE 'reviewer' END
        ELSE a.reason
    END                             AS reason,
    CASE WHEN h.id IS NULL THEN a.detail
        ELSE h.verdict || ' by ' || h.reviewer || coalesce(': ' || h.note, '')
            || coalesce(' (the rules: ' || a.detail || ')', '')
    END                             AS detail,
    coalesce(h.repaired, a.cleaned) AS text,  -- what export writes: the repaired text if any
    a.outcome                       AS rules_outcome,
    a.reason                        AS rules_reason,
    h.id                            AS review_id,  -- NULL: no person reviewed it
    h.verdict                       AS hand_verdict,
    h.repaired                      AS repaired,
    h.note                          AS note,
    h.reviewer                      AS reviewer,
    h.created_at                    AS reviewed_at
FROM attempts a
LEFT JOIN reviews h ON h.id = (SELECT max(r.id) FROM reviews r WHERE r.attempt_id = a.id);
CREATE TRIGGER attempts_count_delete AFTER DELETE ON attempts
BEGIN
    UPDATE progress SET
        attempts = attempts - 1,
        accepted = accepted - (coalesce((SELECT r.verdict FROM reviews r
            WHERE r.attempt_id = old.id ORDER BY r.id DESC LIMIT 1), old.outcome) = 'accepted'),
        rejected = rejected - (coalesce((SELECT r.verdict FROM reviews r
            WHERE r.attempt_id = old.id ORDER BY r.id DESC LIMIT 1), old.outcome) = 'rejected'),
        last_attempt_number = coalesce((SELECT max(attempt_number) FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id), 0),
        last_reason = (SELECT v.reason FROM verdicts v
            WHERE v.paragraph_id = progress.paragraph_id AND v.recipe_id = progress.recipe_id
              AND v.outcome = 'rejected' ORDER BY v.attempt_number DESC LIMIT 1)
    WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    DELETE FROM progress WHERE attempts = 0
        AND paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    UPDATE tallies SET
        attempts = attempts - 1,
        prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
        completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
        latency_s = latency_s - old.latency_s
    WHERE recipe_id = old.recipe_id AND run_id = old.run_id
      AND (outcome, reason) = (
        SELECT coalesce(h.verdict, old.outcome), CASE h.verdict
            WHEN 'accepted' THEN ''
            WHEN 'rejected' THEN
                CASE WHEN old.outcome = 'rejected' THEN old.reason ELSE 'reviewer' END
            ELSE coalesce(old.reason, '') END
        FROM (SELECT (SELECT r.verdict FROM reviews r WHERE r.attempt_id = old.id
                      ORDER BY r.id DESC LIMIT 1) AS verdict) h);
    DELETE FROM tallies WHERE attempts = 0 AND recipe_id = old.recipe_id AND run_id = old.run_id;
END;
-- An update counts as the old row deleted and the new one inserted; re-judging is such an
-- update. A verdict given by hand stays in force whatever the rules now say; only the reason it
-- is counted under may move (the rule's, when the rules reject the answer too).
CREATE TRIGGER attempts_count_update
AFTER UPDATE OF paragraph_id, recipe_id, run_id, attempt_number, outcome, reason, latency_s,
    prompt_tokens, completion_tokens ON attempts
BEGIN
    UPDATE progress SET
        attempts = attempts - 1,
        accepted = accepted - (coalesce((SELECT r.verdict FROM reviews r
            WHERE r.attempt_id = old.id ORDER BY r.id DESC LIMIT 1), old.outcome) = 'accepted'),
        rejected = rejected - (coalesce((SELECT r.verdict FROM reviews r
            WHERE r.attempt_id = old.id ORDER BY r.id DESC LIMIT 1), old.outcome) = 'rejected')
    WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    INSERT INTO progress (
        paragraph_id, recipe_id, attempts, accepted, rejected, last_attempt_number, last_reason
    )
    SELECT new.paragraph_id, new.recipe_id, 1, v.outcome = 'accepted', v.outcome = 'rejected',
        new.attempt_number, NULL
    FROM verdicts v WHERE v.attempt_id = new.id
    ON CONFLICT (paragraph_id, recipe_id) DO UPDATE SET
        attempts = attempts + 1,
        accepted = accepted + excluded.accepted,
        rejected = rejected + excluded.rejected;
    UPDATE progress SET
        last_attempt_number = coalesce((SELECT max(attempt_number) FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id), 0),
        last_reason = (SELECT v.reason FROM verdicts v
            WHERE v.paragraph_id = progress.paragraph_id AND v.recipe_id = progress.recipe_id
              AND v.outcome = 'rejected' ORDER BY v.attempt_number DESC LIMIT 1)
    WHERE paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    UPDATE progress SET
        last_attempt_number = coalesce((SELECT max(attempt_number) FROM attempts a
            WHERE a.paragraph_id = progress.paragraph_id AND a.recipe_id = progress.recipe_id), 0),
        last_reason = (SELECT v.reason FROM verdicts v
            WHERE v.paragraph_id = progress.paragraph_id AND v.recipe_id = progress.recipe_id
              AND v.outcome = 'rejected' ORDER BY v.attempt_number DESC LIMIT 1)
    WHERE paragraph_id = new.paragraph_id AND recipe_id = new.recipe_id
      AND (new.paragraph_id, new.recipe_id) IS NOT (old.paragraph_id, old.recipe_id);
    DELETE FROM progress WHERE attempts = 0
        AND paragraph_id = old.paragraph_id AND recipe_id = old.recipe_id;
    UPDATE tallies SET
        attempts = attempts - 1,
        prompt_tokens = prompt_tokens - coalesce(old.prompt_tokens, 0),
        completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
        latency_s = latency_s - old.latency_s
    WHERE recipe_id = old.recipe_id AND run_id = old.run_id
      AND (outcome, reason) = (
        SELECT coalesce(h.verdict, old.outcome), CASE h.verdict
            WHEN 'accepted' THEN ''
            WHEN 'rejected' THEN
                CASE WHEN old.outcome = 'rejected' THEN old.reason ELSE 'reviewer' END
            ELSE coalesce(old.reason, '') END
        FROM (SELECT (SELECT r.verdict FROM reviews r WHERE r.attempt_id = old.id
                      ORDER BY r.id DESC LIMIT 1) AS verdict) h);
    INSERT INTO tallies
    SELECT new.recipe_id, new.run_id, v.outcome, coalesce(v.reason, ''), 1,
        coalesce(new.prompt_tokens, 0), coalesce(new.completion_tokens, 0), new.latency_s
    FROM verdicts v WHERE v.attempt_id = new.id
    ON CONFLICT (recipe_id, run_id, outcome, reason) DO UPDATE SET
        attempts = attempts + 1,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        latency_s = latency_s + excluded.latency_s;
    DELETE FROM tallies WHERE attempts = 0 AND recipe_id = old.recipe_id AND run_id = old.run_id;
END;
-- A review moves its answer from the counts of its verdict in force before (the previous
-- review's, or the rules') to those of its verdict now.
CREATE TRIGGER reviews_count AFTER INSERT ON reviews
BEGIN
    UPDATE progress SET
        accepted = (SELECT count(*) FROM verdicts v WHERE v.paragraph_id = progress.paragraph_id
            AND v.recipe_id = progress.recipe_id AND v.outcome = 'accepted'),
        rejected = (SELECT count(*) FROM verdicts v WHERE v.paragraph_id = progress.paragraph_id
            AND v.recipe_id = progress.recipe_id AND v.outcome = 'rejected'),
        last_reason = (SELECT v.reason FROM verdicts v
            WHERE v.paragraph_id = progress.paragraph_id AND v.recipe_id = progress.recipe_id
              AND v.outcome = 'rejected' ORDER BY v.attempt_number DESC LIMIT 1)
    WHERE (paragraph_id, recipe_id) =
        (SELECT paragraph_id, recipe_id FROM attempts WHERE id = new.attempt_id);
    UPDATE tallies SET
        attempts = attempts - 1,
        prompt_tokens = prompt_tokens
            - (SELECT coalesce(prompt_tokens, 0) FROM attempts WHERE id = new.attempt_id),
        completion_tokens = completion_tokens
            - (SELECT coalesce(completion_tokens, 0) FROM attempts WHERE id = new.attempt_id),
        latency_s = latency_s - (SELECT latency_s FROM attempts WHERE id = new.attempt_id)
    WHERE (recipe_id, run_id, outcome, reason) = (
        SELECT a.recipe_id, a.run_id, coalesce(b.verdict, a.outcome), CASE b.verdict
            WHEN 'accepted' THEN ''
            WHEN 'rejected' THEN CASE WHEN a.outcome = 'rejected' THEN a.reason ELSE 'reviewer' END
            ELSE coalesce(a.reason, '') END
        FROM attempts a
        LEFT JOIN reviews b ON b.id = (SELECT max(r.id) FROM reviews r
            WHERE r.attempt_id = a.id AND r.id != new.id)
        WHERE a.id = new.attempt_id);
    INSERT INTO tallies
    SELECT v.recipe_id, v.run_id, v.outcome, coalesce(v.reason, ''), 1,
        coalesce(a.prompt_tokens, 0), coalesce(a.completion_tokens, 0), a.latency_s
    FROM verdicts v JOIN attempts a ON a.id = v.attempt_id
    WHERE v.attempt_id = new.attempt_id
    ON CONFLICT (recipe_id, run_id, outcome, reason) DO UPDATE SET
        attempts = attempts + 1,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        latency_s = latency_s + excluded.latency_s;
    DELETE FROM tallies WHERE attempts = 0 AND (recipe_id, run_id) =
        (SELECT recipe_id, run_id FROM attempts WHERE id = new.attempt_id);
END;
CREATE VIEW pairs AS
SELECT
    p.id             AS paragraph_id,
    s.name           AS source,
    p.position       AS position,
    r.name           AS recipe,
    a.text           AS paraphrase,  -- the prompt of the pair
    p.text           AS original,    -- the target of the pair
    a.attempt_id     AS attempt_id,
    a.run_id         AS run_id,
    a.recipe_id      AS recipe_id,
    a.attempt_number AS attempt_number,
    p.source_id      AS source_id,
    p.section_id     AS section_id,   -- NULL before the source's first heading
    c.title          AS section,      -- the heading above the paragraph: "CHAPTER I. THE PERIOD"
    p.word_count     AS word_count,   -- of the original
    a.reviewer       AS reviewer      -- the person who accepted it; NULL: the rules did
FROM (
    -- only the columns used: attempts rows also carry every request and response body
    SELECT attempt_id, paragraph_id, recipe_id, run_id, attempt_number, text,
        CASE WHEN hand_verdict = 'accepted' THEN reviewer END AS reviewer,
        row_number() OVER (  -- those a person accepted first, then in the order asked
            PARTITION BY paragraph_id, recipe_id
            ORDER BY hand_verdict IS NOT 'accepted', attempt_number
        ) AS nth
    FROM verdicts WHERE outcome = 'accepted'
) a
JOIN paragraphs p ON p.id = a.paragraph_id
JOIN sources s ON s.id = p.source_id
JOIN recipes r ON r.id = a.recipe_id
LEFT JOIN sections c ON c.id = p.section_id
WHERE a.nth <= r.outputs
ORDER BY s.id, p.position, p.id, r.id, a.attempt_number;
"""
