"""Step m009: runners side by side (claims with a lease), many servers, batch files."""

from __future__ import annotations

from sqlite_utils import Database

from workbench.store.sql import sql_statements


def migrate(db: Database) -> None:
    """Claims with a lease, so runs can work one database side by side; the server that
    answered each attempt and the servers of each run, with counts per server that triggers
    keep (filled here from the attempts stored so far, each under its run's one server); and
    the batch files written and the requests in them."""
    db.execute("ALTER TABLE runs ADD COLUMN heartbeat_at TEXT")
    db.execute("ALTER TABLE attempts ADD COLUMN server TEXT")
    for statement in sql_statements(M010_SQL):
        db.execute(statement)


M010_SQL = (
    """
CREATE TABLE run_servers (
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    position    INTEGER NOT NULL,
    base_url    TEXT NOT NULL,
    concurrency INTEGER NOT NULL CHECK (concurrency >= 1),
    PRIMARY KEY (run_id, position)
) WITHOUT ROWID;
INSERT INTO run_servers (run_id, position, base_url, concurrency)
SELECT id, 1, base_url, coalesce(json_extract(settings, '$.concurrency'), 1)
FROM runs WHERE json_valid(settings);
CREATE TABLE batches (
    id         INTEGER PRIMARY KEY,
    recipe_id  INTEGER NOT NULL REFERENCES recipes(id),
    rules_id   INTEGER NOT NULL REFERENCES rules(id),
    token      TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    files      TEXT NOT NULL CHECK (json_valid(files)),
    requests   INTEGER NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('written', 'read', 'cancelled')),
    ended_at   TEXT
);
CREATE TABLE batch_requests (
    custom_id      TEXT PRIMARY KEY,
    batch_id       INTEGER NOT NULL REFERENCES batches(id),
    paragraph_id   INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id      INTEGER NOT NULL REFERENCES recipes(id),
    attempt_number INTEGER NOT NULL,
    request        TEXT NOT NULL,
    attempt_id     INTEGER REFERENCES attempts(id)
) WITHOUT ROWID;
CREATE INDEX batch_requests_by_batch ON batch_requests (batch_id, paragraph_id);
CREATE TABLE claims (
    paragraph_id INTEGER NOT NULL REFERENCES paragraphs(id),
    recipe_id    INTEGER NOT NULL REFERENCES recipes(id),
    run_id       INTEGER REFERENCES runs(id),
    batch_id     INTEGER REFERENCES batches(id),
    claimed_at   TEXT NOT NULL,
    lease_until  TEXT,
    PRIMARY KEY (paragraph_id, recipe_id),
    CHECK ((run_id IS NULL) != (batch_id IS NULL)),
    CHECK ((lease_until IS NULL) = (run_id IS NULL))
) WITHOUT ROWID;
CREATE INDEX claims_by_run ON claims (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX claims_by_batch ON claims (batch_id) WHERE batch_id IS NOT NULL;
CREATE TABLE server_tallies (
    recipe_id         INTEGER NOT NULL REFERENCES recipes(id),
    run_id            INTEGER NOT NULL REFERENCES runs(id),
    server            TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    failed            INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s         REAL NOT NULL,
    PRIMARY KEY (recipe_id, run_id, server)
) WITHOUT ROWID;
INSERT INTO server_tallies
SELECT a.recipe_id, a.run_id, r.base_url, count(*), sum(a.outcome = 'failed'),
    coalesce(sum(a.completion_tokens), 0),
    sum(CASE WHEN a.outcome = 'failed' THEN 0 ELSE a.latency_s END)
FROM attempts a JOIN runs r ON r.id = a.run_id
GROUP BY a.recipe_id, a.run_id;
"""
    + (
        # The triggers are today's, as schema.sql has them.
        """
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
"""
    )
)
