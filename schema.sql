-- The workbench database: the single definition of its schema.
--
-- A new database is created by running this file as it stands. Databases made by an older
-- workbench are brought up to it by the named steps in workbench/migrations.py; a test proves
-- that both roads end at the same schema. The file is marked as ours with
-- PRAGMA application_id (see workbench/db.py) and its schema version is PRAGMA user_version.
--
-- The pipeline in tables: sources --< paragraphs --< attempts >-- runs; sources --< sections --< paragraphs.
-- Times are UTC ISO-8601 text ("2026-11-25T19:04:05.123Z").
--
-- Variants (several accepted outputs per paragraph, e.g. the same text run with another prompt
-- or model) are meant to arrive by migration: a `variants` table (prompt, model, settings), a
-- `variant_id` on attempts, and the per-paragraph status moving to (paragraph, variant). That is
-- why the accepted answer lives on its attempt, not on the paragraph.

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
    -- filtered: under --min-words, never sent; pending: still to work;
    -- succeeded: has an accepted attempt; skipped: used up --max-attempts without one.
    status      TEXT NOT NULL CHECK (status IN ('filtered', 'pending', 'succeeded', 'skipped')),
    skip_reason TEXT,              -- reason code of the last rejection, when skipped
    -- The heading above it; NULL before a source's first heading, and for a paragraph kept for
    -- its attempts after it left the file. Added by migration m003 (hence last).
    section_id  INTEGER REFERENCES sections(id),
    UNIQUE (source_id, sha256, occurrence)
);
CREATE INDEX paragraphs_by_status ON paragraphs (status, source_id, position);
CREATE INDEX paragraphs_by_section ON paragraphs (section_id);

-- One row per `workbench run` invocation.
CREATE TABLE runs (
    id         INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    ended_at   TEXT,              -- NULL while running, or when the process was killed
    -- running; completed (no work left or --limit reached); interrupted (Ctrl-C, or the process
    -- died: found 'running' with its pid gone); failed (the server refused or kept failing).
    status     TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    base_url   TEXT NOT NULL,
    model      TEXT NOT NULL,
    settings   TEXT NOT NULL,     -- JSON of every run option, validation rules included; never the API key
    message    TEXT,              -- why it failed or stopped
    pid        INTEGER NOT NULL,  -- process that ran it: tells a live run from a killed one
    hostname   TEXT NOT NULL
);

-- One row per request sent, committed the moment it finishes: the audit trail.
CREATE TABLE attempts (
    id                INTEGER PRIMARY KEY,
    paragraph_id      INTEGER NOT NULL REFERENCES paragraphs(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    attempt_number    INTEGER NOT NULL,  -- 1, 2, … per paragraph across runs, failed attempts included
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    latency_s         REAL NOT NULL,     -- seconds from sending the request to the end of the answer
    request           TEXT NOT NULL,     -- the JSON body POSTed to /chat/completions (the key is a header, never stored)
    http_status       INTEGER,           -- NULL when no response came (connection error, timeout)
    response          TEXT,              -- the response body exactly as received (UTF-8 decoded)
    answer            TEXT,              -- choices[0].message.content.strip()
    finish_reason     TEXT,              -- "stop", "length", …
    prompt_tokens     INTEGER,           -- usage.prompt_tokens, when the server reports it
    completion_tokens INTEGER,           -- usage.completion_tokens, when the server reports it
    -- accepted: passed validation; rejected: the answer failed a validation rule (uses up one of
    -- --max-attempts); failed: no usable answer (transport error, HTTP error, unexpected body).
    outcome           TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'failed')),
    reason            TEXT,              -- rule code when rejected (too_short, …), error kind when failed (timeout, http_503, …)
    detail            TEXT,              -- what matched, or the error message
    -- `answer` after the cleaners (<think> blocks, wrapping quotes removed): what was validated
    -- and what export writes. Added by migration m001 (hence last); NULL on failed attempts.
    cleaned           TEXT,
    UNIQUE (paragraph_id, attempt_number)
);
CREATE INDEX attempts_by_run ON attempts (run_id);
CREATE INDEX attempts_by_outcome ON attempts (outcome, reason);
-- One accepted answer per paragraph until variants arrive.
CREATE UNIQUE INDEX attempts_one_accepted ON attempts (paragraph_id) WHERE outcome = 'accepted';

-- The training pairs: one row per succeeded paragraph in source order. `export` writes these.
CREATE VIEW pairs AS
SELECT
    p.id         AS paragraph_id,
    s.name       AS source,
    p.position   AS position,
    a.cleaned    AS paraphrase,  -- the prompt of the pair
    p.text       AS original,    -- the target of the pair
    a.id         AS attempt_id,
    a.run_id     AS run_id
FROM paragraphs p
JOIN sources s ON s.id = p.source_id
JOIN attempts a ON a.paragraph_id = p.id AND a.outcome = 'accepted'
WHERE p.status = 'succeeded'
ORDER BY s.id, p.position, p.id;

-- Every paragraph with its attempt counts: what `report` and Datasette summarise.
CREATE VIEW paragraph_progress AS
SELECT
    p.id,
    s.name AS source,
    p.position,
    p.status,
    p.skip_reason,
    p.word_count,
    count(a.id)                                        AS attempts,
    coalesce(sum(a.outcome IN ('accepted', 'rejected')), 0) AS validated_attempts,
    coalesce(sum(a.outcome = 'failed'), 0)             AS failed_attempts,
    p.text
FROM paragraphs p
JOIN sources s ON s.id = p.source_id
LEFT JOIN attempts a ON a.paragraph_id = p.id
GROUP BY p.id;
