-- The workbench database: the single definition of its schema.
--
-- A new database is created by running this file as it stands. Databases made by an older
-- workbench are brought up to it by the named steps in workbench/store/migrations/; a test
-- proves that both roads end at the same schema. The file is marked as ours with
-- PRAGMA application_id (see workbench/store/database.py) and its schema version is
-- PRAGMA user_version.
--
-- The job in tables:
--   sources --< sections --< paragraphs --< attempts >-- runs
--                                           |    |
--                               recipes ----'    '---- rules (the version that gave the verdict)
-- A recipe is one way of asking (model, prompts, sampling); the rules are how every answer is
-- judged, shared by all recipes, one row per version. Every attempt belongs to one recipe, and
-- each paragraph has its own status under each recipe, derived from the verdicts of its attempts
-- (view paragraph_status) through counts that triggers keep (table progress). A person may
-- accept, reject or repair an answer by hand (table reviews); the verdict in force is theirs
-- where they gave one, else the rules' (view verdicts), and the counts count it.
-- Times are UTC ISO-8601 text ("2026-11-25T19:04:05.123Z").

-- One row per book file ingested (.txt, .md or .epub).
CREATE TABLE sources (
    id                INTEGER PRIMARY KEY,
    path              TEXT NOT NULL UNIQUE,  -- absolute path of the file; ingesting it again updates this row
    name              TEXT NOT NULL,         -- file name: the default `source` label of exported pairs
    encoding          TEXT NOT NULL,         -- encoding the file was decoded with (--encoding; utf-8 for an EPUB)
    sha256            TEXT NOT NULL,         -- hash of the file's bytes at the last ingest
    min_words         INTEGER NOT NULL,      -- --min-words of the last ingest
    paragraph_count   INTEGER NOT NULL,      -- paragraphs found in the file at the last ingest
    first_ingested_at TEXT NOT NULL,
    last_ingested_at  TEXT NOT NULL,
    -- Added by migration m003 (hence last). The reader the file got, by its extension: txt
    -- (plain text, and any file not named .md or .epub), md (Markdown) or epub.
    format            TEXT NOT NULL DEFAULT 'txt' CHECK (format IN ('txt', 'md', 'epub')),
    -- Project Gutenberg licence paragraphs (outside its START/END lines) left out at the last
    -- ingest; 0 with --keep-boilerplate.
    boilerplate       INTEGER NOT NULL DEFAULT 0
);

-- One row per heading of a source (CHAPTER V., BOOK II, a Markdown `#` line, an EPUB <h2> or
-- table-of-contents title): the section of the paragraphs that follow it. Headings are never
-- paragraphs. Rows are matched by position when a file is ingested again, so a heading renamed
-- or moved updates its row and no paragraph is lost.
CREATE TABLE sections (
    id        INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id),
    position  INTEGER NOT NULL,  -- 1-based place among the source's headings
    title     TEXT NOT NULL,     -- the heading as written, its title line joined: "CHAPTER I. THE PERIOD"
    level     INTEGER NOT NULL,  -- 1 outermost (BOOK, PART, `#`, <h1>); CHAPTER and LETTER are 2
    UNIQUE (source_id, position)
);

-- One row per paragraph of a source. Its identity is (source, hash of its words, occurrence), so
-- ingesting a file again adds only paragraphs it has not seen: a grown file adds its new ones,
-- and a paragraph whose spacing or line breaks alone changed is updated in place.
CREATE TABLE paragraphs (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id),
    position    INTEGER NOT NULL,  -- 1-based place in the source at its last ingest: export order
    -- sha256 of the text's words joined by single spaces (" ".join(text.split())), so spacing
    -- and line breaks are not part of a paragraph's identity (migration m004 rehashed older rows)
    sha256      TEXT NOT NULL,
    occurrence  INTEGER NOT NULL DEFAULT 1,  -- n-th paragraph with this identity in the source
    -- the author's paragraph (the export's target): stripped, runs of spaces made one unless
    -- --keep-spacing, line breaks kept only in verse (or with --keep-line-breaks)
    text        TEXT NOT NULL,
    word_count  INTEGER NOT NULL,  -- len(text.split()), the notebook's measure
    -- 1: under the --min-words of its ingest, never sent. Whether it is pending, succeeded or
    -- skipped depends on the recipe: see the view paragraph_status.
    filtered    INTEGER NOT NULL DEFAULT 0 CHECK (filtered IN (0, 1)),
    -- The heading above it; NULL before a source's first heading, and for a paragraph kept for
    -- its attempts after it left the file. Added by migration m003 (hence last).
    section_id  INTEGER REFERENCES sections(id),
    UNIQUE (source_id, sha256, occurrence)
);
CREATE INDEX paragraphs_in_order ON paragraphs (filtered, source_id, position);
CREATE INDEX paragraphs_by_section ON paragraphs (section_id);

-- One row per way of asking. What a recipe asks never changes once stored (a trigger refuses
-- it): another way of asking is another recipe, so the answers of one recipe were all asked the
-- same way. Its budgets (outputs, max_attempts) may change.
CREATE TABLE recipes (
    id                INTEGER PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,      -- `default`, or what --recipe NAME said
    model             TEXT NOT NULL,             -- the model's name as the server lists it
    system_prompt     TEXT NOT NULL,
    user_template     TEXT NOT NULL CHECK (instr(user_template, '{text}') > 0),  -- {text}: the paragraph
    temperature       REAL NOT NULL CHECK (temperature BETWEEN 0 AND 2),
    max_tokens        INTEGER CHECK (max_tokens >= 0),  -- NULL: room for the longest acceptable answer; 0: no cap
    retry_temperature TEXT,                      -- "LOW:HIGH": after a rejection, a temperature from this range and a new seed
    feedback          INTEGER NOT NULL CHECK (feedback IN (0, 1)),  -- after a rejection, tell the model why
    outputs           INTEGER NOT NULL CHECK (outputs >= 1),       -- accepted answers wanted per paragraph
    max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),  -- validated answers allowed per wanted output
    created_at        TEXT NOT NULL
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

-- The job's rules, one row per version: the latest is in force. Versions are history: a change
-- adds a row, and every stored answer is judged again under it (workbench/judge/rejudge.py).
CREATE TABLE rules (
    id         INTEGER PRIMARY KEY,  -- the version: 1, 2, …
    settings   TEXT NOT NULL CHECK (json_valid(settings)),  -- Rules.to_json(): enabled rules, phrases, limits
    created_at TEXT NOT NULL
);
CREATE TRIGGER rules_are_history BEFORE UPDATE ON rules
BEGIN
    SELECT RAISE(ABORT, 'rules versions are history: add a version instead of changing one');
END;

-- One row per `workbench run` invocation.
CREATE TABLE runs (
    id         INTEGER PRIMARY KEY,
    recipe_id  INTEGER NOT NULL REFERENCES recipes(id),  -- the recipe it worked
    rules_id   INTEGER NOT NULL REFERENCES rules(id),    -- the rules it judged with
    started_at TEXT NOT NULL,
    ended_at   TEXT,              -- NULL while running, or when the process was killed
    -- running; completed (no work left or --limit reached); interrupted (Ctrl-C, or the process
    -- died: found 'running' with its pid gone); failed (the server refused or kept failing).
    status     TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    base_url   TEXT NOT NULL,
    settings   TEXT NOT NULL,     -- JSON of the run's own options (concurrency, limit, …); never the API key
    message    TEXT,              -- why it failed or stopped
    pid        INTEGER NOT NULL,  -- process that ran it: tells a live run from a killed one
    hostname   TEXT NOT NULL,
    -- Added by migration m009 (hence last). When the run last said it was alive (every 15 s): a
    -- run on another host whose heartbeat is older than a claim's lease is taken for dead.
    heartbeat_at TEXT
);

-- The servers a run sent its requests to (--base-url, each with its own concurrency), in the
-- order given. `runs.base_url` is the first; each attempt names the one that answered it.
CREATE TABLE run_servers (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    position    INTEGER NOT NULL,  -- 1, 2, … as given
    base_url    TEXT NOT NULL,
    concurrency INTEGER NOT NULL CHECK (concurrency >= 1),  -- requests in flight at once there
    PRIMARY KEY (run_id, position)
) WITHOUT ROWID;

-- One row per request sent, committed the moment it finishes: the audit trail.
CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY,
    paragraph_id      INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id         INTEGER NOT NULL REFERENCES recipes(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    attempt_number    INTEGER NOT NULL,  -- 1, 2, … per paragraph and recipe across runs, failed attempts included
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    latency_s         REAL NOT NULL,     -- seconds from sending the request to the end of the answer
    request           TEXT NOT NULL,     -- the JSON body POSTed to /chat/completions (the key is a header, never stored)
    http_status       INTEGER,           -- NULL when no response came (connection error, timeout)
    response          TEXT,              -- the response body exactly as received (UTF-8 decoded)
    answer            TEXT,              -- choices[0].message.content.strip()
    -- `answer` after the cleaners (<think> blocks, wrapping quotes removed): what was judged and
    -- what export writes. NULL on failed attempts.
    cleaned           TEXT,
    finish_reason     TEXT,              -- "stop", "length", …
    prompt_tokens     INTEGER,           -- usage.prompt_tokens, when the server reports it
    completion_tokens INTEGER,           -- usage.completion_tokens, when the server reports it
    -- The verdict under the rules in force. accepted: passed every rule; rejected: the answer
    -- broke a rule (uses up one of the recipe's attempts); failed: no usable answer (transport
    -- error, HTTP error, unexpected body), never judged. Earlier verdicts: earlier_verdicts.
    outcome           TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'failed')),
    reason            TEXT,              -- rule code when rejected (too_short, …), error kind when failed (timeout, http_503, …)
    detail            TEXT,              -- what matched, or the error message
    rules_id          INTEGER REFERENCES rules(id),  -- the rules version that gave the verdict; NULL when failed
    -- What the rules measured, kept so that judging again needs no recomputation and answers can
    -- be sorted by how close they came to a limit. NULL when failed, or not measured yet (an
    -- answer stored before measures were: judging it again fills them in).
    length_ratio      REAL,              -- answer words / original words (too_short, too_long)
    similarity        REAL,              -- word-sequence similarity to the original, 0 to 1 (too_similar)
    -- Added by migration m006 (hence last): the other measures, and the judge's verdict.
    repetition        REAL,              -- share of its 4-word sequences that recur, 0 to 1 (repetition)
    meaning           REAL,              -- meaning similarity to the original, -1 to 1 (meaning_drift)
    judge             TEXT CHECK (judge IN ('yes', 'no')),  -- what the judge answered, when asked
    -- Added by migration m009: the base URL of the server that answered (a run may have several),
    -- or `batch #N` for an answer read from batch results; NULL before m009 (the run's base_url).
    server            TEXT,
    UNIQUE (paragraph_id, recipe_id, attempt_number),
    CHECK ((outcome = 'failed') = (rules_id IS NULL))
);
CREATE INDEX attempts_by_run ON attempts (run_id);
CREATE INDEX attempts_by_verdict ON attempts (recipe_id, outcome, reason);
CREATE INDEX attempts_by_rules ON attempts (rules_id);
-- Accepted answers a rule may still have to ask a server about (the judge, an embeddings model):
-- where a run looks for them.
CREATE INDEX attempts_awaiting ON attempts (recipe_id, paragraph_id)
WHERE outcome = 'accepted' AND (judge IS NULL OR meaning IS NULL);

-- The verdicts an attempt had before a rules change replaced them: nothing is lost.
CREATE TABLE earlier_verdicts (
    id          INTEGER PRIMARY KEY,
    attempt_id  INTEGER NOT NULL REFERENCES attempts(id),
    rules_id    INTEGER NOT NULL REFERENCES rules(id),  -- the version that gave this verdict
    outcome     TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected')),
    reason      TEXT,
    detail      TEXT,
    replaced_by INTEGER REFERENCES rules(id)  -- the version whose verdict replaced it (NULL: an edit by hand)
);
CREATE INDEX earlier_verdicts_by_attempt ON earlier_verdicts (attempt_id);
-- Whoever changes a verdict (workbench, sqlite-utils, Datasette), the one it replaces is kept.
CREATE TRIGGER attempts_keep_earlier_verdicts AFTER UPDATE OF outcome, reason, detail ON attempts
WHEN old.outcome != 'failed' AND (old.outcome IS NOT new.outcome OR old.reason IS NOT new.reason
    OR old.detail IS NOT new.detail)
BEGIN
    INSERT INTO earlier_verdicts (attempt_id, rules_id, outcome, reason, detail, replaced_by)
    VALUES (old.id, old.rules_id, old.outcome, old.reason, old.detail, new.rules_id);
END;

-- One row per verdict a person gave an answer by hand (`workbench review`, or the controls of
-- `workbench browse`): accepted, possibly as a repaired text, or rejected. They are history: a
-- later review of the same answer supersedes an earlier one, and none is changed or deleted
-- (triggers refuse it). Only an answer can be reviewed, not a failed attempt.
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

-- Every attempt with its verdict in force: the latest review's where a person gave one, else
-- the rules' (attempts.outcome, which judging again keeps up to date, so that a disagreement
-- stays visible). A hand rejection keeps the rule's reason when the rules rejected the answer
-- too, and is reason `reviewer` when they accepted it. What everything that counts, exports or
-- works answers reads; the triggers below keep `progress` and `tallies` counting it.
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

-- One row per request a rule sent about an answer: the judge's question, an embeddings model's
-- measure of meaning. Kept like attempts, failed ones included, linked to the attempt judged.
CREATE TABLE checks (
    id                INTEGER PRIMARY KEY,
    attempt_id        INTEGER NOT NULL REFERENCES attempts(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),  -- the run that sent it
    kind              TEXT NOT NULL CHECK (kind IN ('judge', 'embeddings')),
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    latency_s         REAL NOT NULL,
    request           TEXT NOT NULL,     -- the JSON body sent (the key is a header, never stored)
    http_status       INTEGER,           -- NULL when no response came
    response          TEXT,              -- the body exactly as received
    result            TEXT,              -- the judge's yes or no; the embeddings' similarity
    error             TEXT,              -- why there is no result: timeout, http_503, bad_judgment, …
    error_detail      TEXT,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER
);
CREATE INDEX checks_by_attempt ON checks (attempt_id);
CREATE INDEX checks_by_run ON checks (run_id, kind);

-- Batch files: the pending requests of a recipe written as OpenAI Batch API JSONL (`workbench
-- batch write`), for the OpenAI Batch API, `vllm run-batch` or Ray Data to answer, and read back
-- (`workbench batch read`). A batch reserves its paragraphs (claims) until it is read or
-- cancelled.
CREATE TABLE batches (
    id         INTEGER PRIMARY KEY,
    recipe_id  INTEGER NOT NULL REFERENCES recipes(id),
    rules_id   INTEGER NOT NULL REFERENCES rules(id),  -- the rules its max_tokens were sized by
    token      TEXT NOT NULL UNIQUE,  -- in each custom_id: tells this job's batches from others'
    created_at TEXT NOT NULL,
    files      TEXT NOT NULL CHECK (json_valid(files)),  -- the request files written, in order
    requests   INTEGER NOT NULL,      -- lines written
    -- written: awaiting its results (some may be read); read: every line read; cancelled: its
    -- paragraphs released, its results no longer taken
    status     TEXT NOT NULL CHECK (status IN ('written', 'read', 'cancelled')),
    ended_at   TEXT
);

-- One row per line of a batch file: what was asked, and the attempt its result became.
CREATE TABLE batch_requests (
    custom_id      TEXT PRIMARY KEY,  -- "wb-TOKEN-pPARAGRAPH-rRECIPE-aATTEMPT": ≤ 64 of [A-Za-z0-9_-]
    batch_id       INTEGER NOT NULL REFERENCES batches(id),
    paragraph_id   INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id      INTEGER NOT NULL REFERENCES recipes(id),
    attempt_number INTEGER NOT NULL,  -- the number it was written under (the attempt takes the next free one)
    request        TEXT NOT NULL,     -- the body as written: exactly what `run` would send
    attempt_id     INTEGER REFERENCES attempts(id)  -- NULL until its result is read: read twice, it adds nothing
) WITHOUT ROWID;
CREATE INDEX batch_requests_by_batch ON batch_requests (batch_id, paragraph_id);

-- Who works a paragraph under a recipe now: a run (with a lease its heartbeat extends), or a
-- batch whose results are awaited. A run claims paragraphs in one INSERT … ON CONFLICT DO UPDATE
-- … RETURNING inside BEGIN IMMEDIATE, taking over only claims whose lease has lapsed; it commits
-- an attempt only while it holds the claim, and deletes its claims as it finishes. So two runs
-- on one database never work the same paragraph and recipe at once.
CREATE TABLE claims (
    paragraph_id INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id    INTEGER NOT NULL REFERENCES recipes(id),
    run_id       INTEGER REFERENCES runs(id),     -- held by this run, or
    batch_id     INTEGER REFERENCES batches(id),  -- reserved by this batch until read or cancelled
    claimed_at   TEXT NOT NULL,
    lease_until  TEXT,  -- a run's claim lapses then unless its heartbeat extends it; NULL for a batch
    PRIMARY KEY (paragraph_id, recipe_id),
    CHECK ((run_id IS NULL) != (batch_id IS NULL)),
    CHECK ((lease_until IS NULL) = (run_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX claims_by_run ON claims (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX claims_by_batch ON claims (batch_id) WHERE batch_id IS NOT NULL;

-- Each paragraph's attempts under each recipe, counted: one row per (paragraph, recipe) that has
-- attempts, by verdict in force (a person's where they gave one, else the rules'). Kept by the
-- triggers on attempts and reviews below, so it holds whoever writes them (workbench,
-- sqlite-utils, Datasette, a migration); read it rather than counting attempts, whose rows
-- carry every request and response.
CREATE TABLE progress (
    paragraph_id        INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id           INTEGER NOT NULL REFERENCES recipes(id),
    attempts            INTEGER NOT NULL,  -- all of them, failed included
    accepted            INTEGER NOT NULL,
    rejected            INTEGER NOT NULL,
    last_attempt_number INTEGER NOT NULL,  -- the next attempt is numbered one more
    last_reason         TEXT,              -- the reason of the latest rejection: why a skipped paragraph is
    PRIMARY KEY (paragraph_id, recipe_id)
) WITHOUT ROWID;
CREATE INDEX progress_by_recipe ON progress (recipe_id, accepted, rejected, last_reason);

-- The attempts of each recipe and run, counted by outcome and reason in force (view verdicts),
-- with their tokens and latency: what `report` adds up, in a few rows however many attempts
-- there are. Kept by the same triggers as `progress`.
CREATE TABLE tallies (
    recipe_id         INTEGER NOT NULL REFERENCES recipes(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    outcome           TEXT NOT NULL,
    reason            TEXT NOT NULL,  -- '' when accepted
    attempts          INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s         REAL NOT NULL,  -- summed: divide by attempts for the mean
    PRIMARY KEY (recipe_id, run_id, outcome, reason)
) WITHOUT ROWID;

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

-- The attempts of each recipe and run per server that answered them, counted, with their tokens
-- and latency: `report`'s lines per server. Kept by the triggers below; an attempt stored before
-- m009 counts under its run's base_url.
CREATE TABLE server_tallies (
    recipe_id         INTEGER NOT NULL REFERENCES recipes(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    server            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    failed            INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s         REAL NOT NULL,  -- of the answers (not the failures), summed: divide by attempts - failed
    PRIMARY KEY (recipe_id, run_id, server)
) WITHOUT ROWID;
CREATE TRIGGER attempts_count_servers_insert AFTER INSERT ON attempts
BEGIN
    INSERT INTO server_tallies
    VALUES (new.recipe_id, new.run_id,
            coalesce(new.server, (SELECT base_url FROM runs WHERE id = new.run_id)), 1,
            new.outcome = 'failed', coalesce(new.completion_tokens, 0),
            CASE WHEN new.outcome = 'failed' THEN 0 ELSE new.latency_s END)
    ON CONFLICT (recipe_id, run_id, server) DO UPDATE SET
        attempts = attempts + 1,
        failed = failed + excluded.failed,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        latency_s = latency_s + excluded.latency_s;
END;
CREATE TRIGGER attempts_count_servers_delete AFTER DELETE ON attempts
BEGIN
    UPDATE server_tallies SET
        attempts = attempts - 1,
        failed = failed - (old.outcome = 'failed'),
        completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
        latency_s = latency_s - CASE WHEN old.outcome = 'failed' THEN 0 ELSE old.latency_s END
    WHERE recipe_id = old.recipe_id AND run_id = old.run_id
      AND server = coalesce(old.server, (SELECT base_url FROM runs WHERE id = old.run_id));
    DELETE FROM server_tallies
    WHERE attempts = 0 AND recipe_id = old.recipe_id AND run_id = old.run_id;
END;
CREATE TRIGGER attempts_count_servers_update
AFTER UPDATE OF recipe_id, run_id, server, outcome, latency_s, completion_tokens ON attempts
WHEN old.recipe_id IS NOT new.recipe_id OR old.run_id IS NOT new.run_id
    OR old.server IS NOT new.server OR (old.outcome = 'failed') IS NOT (new.outcome = 'failed')
    OR old.latency_s IS NOT new.latency_s OR old.completion_tokens IS NOT new.completion_tokens
BEGIN
    UPDATE server_tallies SET
        attempts = attempts - 1,
        failed = failed - (old.outcome = 'failed'),
        completion_tokens = completion_tokens - coalesce(old.completion_tokens, 0),
        latency_s = latency_s - CASE WHEN old.outcome = 'failed' THEN 0 ELSE old.latency_s END
    WHERE recipe_id = old.recipe_id AND run_id = old.run_id
      AND server = coalesce(old.server, (SELECT base_url FROM runs WHERE id = old.run_id));
    INSERT INTO server_tallies
    VALUES (new.recipe_id, new.run_id,
            coalesce(new.server, (SELECT base_url FROM runs WHERE id = new.run_id)), 1,
            new.outcome = 'failed', coalesce(new.completion_tokens, 0),
            CASE WHEN new.outcome = 'failed' THEN 0 ELSE new.latency_s END)
    ON CONFLICT (recipe_id, run_id, server) DO UPDATE SET
        attempts = attempts + 1,
        failed = failed + excluded.failed,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        latency_s = latency_s + excluded.latency_s;
    DELETE FROM server_tallies
    WHERE attempts = 0 AND recipe_id = old.recipe_id AND run_id = old.run_id;
END;

-- The status of each (paragraph, recipe) that has attempts: succeeded (has the accepted answers
-- the recipe wants), skipped (used up its attempts without them) or pending. The one place the
-- rule is written in SQL (Recipe.status in engine/recipes.py is its twin for the running engine,
-- and tests/test_recipes.py holds the two together); derived from the counts and the recipe's
-- budgets, so changing a budget moves paragraphs at once.
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

-- Every paragraph that is not filtered, under every recipe, with its status there (pending when
-- it has no attempts yet).
CREATE VIEW paragraph_status AS
SELECT
    p.id                             AS paragraph_id,
    r.id                             AS recipe_id,
    r.name                           AS recipe,
    p.source_id                      AS source_id,
    s.name                           AS source,
    p.position                       AS position,
    -- a lookup, not a join: SQLite would build the whole view to join it
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

-- The training pairs: each paragraph's accepted answers under each recipe, up to the recipe's
-- `outputs` (those a person accepted first), in source order, by verdict in force (view
-- verdicts): an answer a person accepted is a pair, one they rejected is not, and a repaired
-- answer is paired as repaired. `export`
-- writes these; the columns after attempt_number (added by migration m005) say where the
-- paragraph is in its book, for export's filters and metadata; `reviewer` (m008) who accepted
-- it by hand.
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

-- Full-text search over the paragraphs and the answers (what the rules judged): the tables
-- sqlite-utils' enable_fts() makes, which Datasette's search box uses. Kept in step by the
-- triggers below, which (unlike sqlite-utils' own) fire only when the text changes, so that
-- judging every answer again does not index them all again.
CREATE VIRTUAL TABLE "paragraphs_fts" USING FTS5 (
    "text",
    content="paragraphs"
);
CREATE TRIGGER paragraphs_fts_insert AFTER INSERT ON paragraphs
BEGIN
    INSERT INTO paragraphs_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER paragraphs_fts_delete AFTER DELETE ON paragraphs
BEGIN
    INSERT INTO paragraphs_fts (paragraphs_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER paragraphs_fts_update AFTER UPDATE OF text ON paragraphs
BEGIN
    INSERT INTO paragraphs_fts (paragraphs_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO paragraphs_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE VIRTUAL TABLE "attempts_fts" USING FTS5 (
    "cleaned",
    content="attempts"
);
CREATE TRIGGER attempts_fts_insert AFTER INSERT ON attempts
BEGIN
    INSERT INTO attempts_fts (rowid, cleaned) VALUES (new.id, new.cleaned);
END;
CREATE TRIGGER attempts_fts_delete AFTER DELETE ON attempts
BEGIN
    INSERT INTO attempts_fts (attempts_fts, rowid, cleaned) VALUES ('delete', old.id, old.cleaned);
END;
CREATE TRIGGER attempts_fts_update AFTER UPDATE OF cleaned ON attempts
BEGIN
    INSERT INTO attempts_fts (attempts_fts, rowid, cleaned) VALUES ('delete', old.id, old.cleaned);
    INSERT INTO attempts_fts (rowid, cleaned) VALUES (new.id, new.cleaned);
END;
