-- A database made by workbench 0.1 (commit 4b24dbc, before sections and spacing), dumped with
-- sqlite3's iterdump: `workbench ingest chapters.txt prose.txt`, then `workbench run --limit 5
-- --concurrency 1` against tests/fakeserver.py. Its sources' paths are rewritten by the tests.
BEGIN TRANSACTION;
CREATE TABLE "_sqlite_migrations" (
   "id" INTEGER PRIMARY KEY,
   "migration_set" TEXT,
   "name" TEXT,
   "applied_at" TEXT
);
INSERT INTO "_sqlite_migrations" VALUES(1,'workbench','m001_attempts_cleaned','2026-11-26T07:26:34.551Z');
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
INSERT INTO "attempts" VALUES(1,3,1,1,'2026-11-26T07:26:35.160Z','2026-11-26T07:26:35.162Z',1.49131499983923276886e-03,'{"model": "fake-model", "messages": [{"role": "system", "content": "You are an expert novelist. Paraphrase the given text in your own words, refining the prose and making it a bit richer. Don''t write additional story or meaning, keep the original meaning and form. The response should contain only one paragraph. Keep a similar length in your output to the original, not more than 50% difference, and shouldn''t be shorter than the original text."}, {"role": "user", "content": "The miller''s boy sang while he worked, always the same verse, and the carters on the road above learned it without meaning to.  It went like this:"}], "temperature": 0.9, "max_tokens": 119}',200,'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 1795677995, "model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "this: like went It to. meaning without it learned above road the on carters the and verse, same the always worked, he while sang boy miller''s The"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 91, "completion_tokens": 27, "total_tokens": 118}}','this: like went It to. meaning without it learned above road the on carters the and verse, same the always worked, he while sang boy miller''s The','stop',91,27,'accepted',NULL,NULL,'this: like went It to. meaning without it learned above road the on carters the and verse, same the always worked, he while sang boy miller''s The');
INSERT INTO "attempts" VALUES(2,4,1,1,'2026-11-26T07:26:35.162Z','2026-11-26T07:26:35.163Z',0.000929688000042006,'{"model": "fake-model", "messages": [{"role": "system", "content": "You are an expert novelist. Paraphrase the given text in your own words, refining the prose and making it a bit richer. Don''t write additional story or meaning, keep the original meaning and form. The response should contain only one paragraph. Keep a similar length in your output to the original, not more than 50% difference, and shouldn''t be shorter than the original text."}, {"role": "user", "content": "The wheel goes round, the wheel goes round, And grinds the corn to flour; The water falls, the water falls, And tells the passing hour."}], "temperature": 0.9, "max_tokens": 112}',200,'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 1795677995, "model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hour. passing the tells And falls, water the falls, water The flour; to corn the grinds And round, goes wheel the round, goes wheel The"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 89, "completion_tokens": 25, "total_tokens": 114}}','hour. passing the tells And falls, water the falls, water The flour; to corn the grinds And round, goes wheel the round, goes wheel The','stop',89,25,'accepted',NULL,NULL,'hour. passing the tells And falls, water the falls, water The flour; to corn the grinds And round, goes wheel the round, goes wheel The');
INSERT INTO "attempts" VALUES(3,5,1,1,'2026-11-26T07:26:35.163Z','2026-11-26T07:26:35.168Z',4.85425400006533891428e-03,'{"model": "fake-model", "messages": [{"role": "system", "content": "You are an expert novelist. Paraphrase the given text in your own words, refining the prose and making it a bit richer. Don''t write additional story or meaning, keep the original meaning and form. The response should contain only one paragraph. Keep a similar length in your output to the original, not more than 50% difference, and shouldn''t be shorter than the original text."}, {"role": "user", "content": "Nobody knew who had made it up.  The boy said his mother had, and his mother said the wheel had, and the wheel said nothing at all."}], "temperature": 0.9, "max_tokens": 119}',200,'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 1795677995, "model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "all. at nothing said wheel the and had, wheel the said mother his and had, mother his said boy The up. it made had who knew Nobody"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 91, "completion_tokens": 27, "total_tokens": 118}}','all. at nothing said wheel the and had, wheel the said mother his and had, mother his said boy The up. it made had who knew Nobody','stop',91,27,'accepted',NULL,NULL,'all. at nothing said wheel the and had, wheel the said mother his and had, mother his said boy The up. it made had who knew Nobody');
INSERT INTO "attempts" VALUES(4,8,1,1,'2026-11-26T07:26:35.169Z','2026-11-26T07:26:35.169Z',8.18390999938856111839e-04,'{"model": "fake-model", "messages": [{"role": "system", "content": "You are an expert novelist. Paraphrase the given text in your own words, refining the prose and making it a bit richer. Don''t write additional story or meaning, keep the original meaning and form. The response should contain only one paragraph. Keep a similar length in your output to the original, not more than 50% difference, and shouldn''t be shorter than the original text."}, {"role": "user", "content": "In the wet spring of that year the river rose over the weir and into the lower rooms of the mill, and the boy stopped singing."}], "temperature": 0.9, "max_tokens": 116}',200,'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 1795677995, "model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "singing. stopped boy the and mill, the of rooms lower the into and weir the over rose river the year that of spring wet the In"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 90, "completion_tokens": 26, "total_tokens": 116}}','singing. stopped boy the and mill, the of rooms lower the into and weir the over rose river the year that of spring wet the In','stop',90,26,'accepted',NULL,NULL,'singing. stopped boy the and mill, the of rooms lower the into and weir the over rose river the year that of spring wet the In');
INSERT INTO "attempts" VALUES(5,9,1,1,'2026-11-26T07:26:35.170Z','2026-11-26T07:26:35.170Z',6.44211000007999246008e-04,'{"model": "fake-model", "messages": [{"role": "system", "content": "You are an expert novelist. Paraphrase the given text in your own words, refining the prose and making it a bit richer. Don''t write additional story or meaning, keep the original meaning and form. The response should contain only one paragraph. Keep a similar length in your output to the original, not more than 50% difference, and shouldn''t be shorter than the original text."}, {"role": "user", "content": "The mill stood at the bottom of the lane.  Nobody had worked it for years, and the wheel had rusted into a single piece with its axle. Children dared one another to touch it after dark."}], "temperature": 0.9, "max_tokens": 148}',200,'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 1795677995, "model": "fake-model", "choices": [{"index": 0, "message": {"role": "assistant", "content": "dark. after it touch to another one dared Children axle. its with piece single a into rusted had wheel the and years, for it worked had Nobody lane. the of bottom the at stood mill The"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 100, "completion_tokens": 36, "total_tokens": 136}}','dark. after it touch to another one dared Children axle. its with piece single a into rusted had wheel the and years, for it worked had Nobody lane. the of bottom the at stood mill The','stop',100,36,'accepted',NULL,NULL,'dark. after it touch to another one dared Children axle. its with piece single a into rusted had wheel the and years, for it worked had Nobody lane. the of bottom the at stood mill The');
CREATE TABLE paragraphs (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id),
    position    INTEGER NOT NULL,  -- 1-based place in the source at its last ingest: export order
    sha256      TEXT NOT NULL,     -- hash of `text`
    occurrence  INTEGER NOT NULL DEFAULT 1,  -- n-th paragraph with this exact text in the source
    text        TEXT NOT NULL,     -- the author's paragraph, stripped (the export's target)
    word_count  INTEGER NOT NULL,  -- len(text.split()), the notebook's measure
    -- filtered: under --min-words, never sent; pending: still to work;
    -- succeeded: has an accepted attempt; skipped: used up --max-attempts without one.
    status      TEXT NOT NULL CHECK (status IN ('filtered', 'pending', 'succeeded', 'skipped')),
    skip_reason TEXT,              -- reason code of the last rejection, when skipped
    UNIQUE (source_id, sha256, occurrence)
);
INSERT INTO "paragraphs" VALUES(1,1,1,'d0ed1fd816333f29aabbca20f2a33087bb8f87c3785f4215402429274a4c314e',1,'CHAPTER I.',2,'filtered',NULL);
INSERT INTO "paragraphs" VALUES(2,1,2,'ae4ddf9c8d4ce2d68f75170fb8ebb5260ec9cc40f806692da694c2256a6b4df5',1,'THE WHEEL',2,'filtered',NULL);
INSERT INTO "paragraphs" VALUES(3,1,3,'a3ca482c94172105762090b7028ab6518aff34e303c05278958b9cc76dc7e3dc',1,'The miller''s boy sang while he worked, always the same verse, and the carters on the road above learned it without meaning to.  It went like this:',27,'succeeded',NULL);
INSERT INTO "paragraphs" VALUES(4,1,4,'bebb87f9f718d2b004df6c1336d58d323e22662a327bfe05f3f8cc3b5a2c23f0',1,'The wheel goes round, the wheel goes round, And grinds the corn to flour; The water falls, the water falls, And tells the passing hour.',25,'succeeded',NULL);
INSERT INTO "paragraphs" VALUES(5,1,5,'25bbdf697dfb6be301aefd1491ae148a8b0f1bf896dfaec78f6a114db2fdf416',1,'Nobody knew who had made it up.  The boy said his mother had, and his mother said the wheel had, and the wheel said nothing at all.',27,'succeeded',NULL);
INSERT INTO "paragraphs" VALUES(6,1,6,'adeb063bf61cbdfa95d193e3e2e3c1d192dd0e7463667cb2d7b30a3b60e72b1a',1,'CHAPTER II.',2,'filtered',NULL);
INSERT INTO "paragraphs" VALUES(7,1,7,'be4691ebdc298c7e471dba4ab486582bf90cda73506e5f82d66ea8c2b34e677c',1,'THE FLOOD',2,'filtered',NULL);
INSERT INTO "paragraphs" VALUES(8,1,8,'2b7553ee56f123547219f74ebcbf7b0bfc9f236badae9d9f29eee39435f7e5d9',1,'In the wet spring of that year the river rose over the weir and into the lower rooms of the mill, and the boy stopped singing.',26,'succeeded',NULL);
INSERT INTO "paragraphs" VALUES(9,2,1,'f04877a689d5427cc0d95e9036d24cdaf3f914ff2cf4a320d2ee3ff527a1fa8a',1,'The mill stood at the bottom of the lane.  Nobody had worked it for years, and the wheel had rusted into a single piece with its axle. Children dared one another to touch it after dark.',36,'succeeded',NULL);
INSERT INTO "paragraphs" VALUES(10,2,2,'790022cac4941a2ff3f223794ae0fd94cbaa393231bc69cc8b1a77a8fae30156',1,'Martha went down to it on the first warm evening of April.  She carried a lantern she did not need and a key she had found in her grandfather''s desk, wrapped in a page torn from an almanac.',38,'pending',NULL);
INSERT INTO "paragraphs" VALUES(11,2,3,'3eaca123958c0c5a9731a9a8b1ca40fb5e333950e7a8df63b7dc2b3874573019',1,'The key did not fit the door.  It fitted, after some searching, a small iron box bolted to the inside of the wheel-house, and the box held nothing but a second key and a note: "Not yet."',37,'pending',NULL);
INSERT INTO "paragraphs" VALUES(12,2,4,'a028d97ad0aebb3799d8f064c37e21584425fe2f2befc0a11c54105cffcac2e0',1,'She laughed aloud.  The sound went up into the rafters and came back to her changed.',16,'pending',NULL);
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
INSERT INTO "runs" VALUES(1,'2026-11-26T07:26:35.152Z','2026-11-26T07:26:35.171Z','completed','http://127.0.0.1:42529/v1','fake-model','{"base_url": "http://127.0.0.1:42529/v1", "model": null, "system_prompt": "You are an expert novelist. Paraphrase the given text in your own words, refining the prose and making it a bit richer. Don''t write additional story or meaning, keep the original meaning and form. The response should contain only one paragraph. Keep a similar length in your output to the original, not more than 50% difference, and shouldn''t be shorter than the original text.", "temperature": 0.9, "max_tokens": null, "max_attempts": 5, "concurrency": 1, "limit": 5, "timeout": 300.0, "retries": 8, "backoff": 1.0, "rules": {"banned_phrases": ["###", "Paraphrased Text", "Alternate Refinement", "Extended Alternate Refinement", "[Note:", "### Question:"], "min_ratio": 0.8, "max_ratio": 2.0, "similarity": 0.9, "disabled": []}, "retry_temperature": null, "feedback": false}',NULL,15853,'vm');
CREATE TABLE sources (
    id                INTEGER PRIMARY KEY,
    path              TEXT NOT NULL UNIQUE,  -- absolute path of the file; ingesting it again updates this row
    name              TEXT NOT NULL,         -- file name: the default `source` label of exported pairs
    encoding          TEXT NOT NULL,         -- encoding the file was decoded with (--encoding)
    sha256            TEXT NOT NULL,         -- hash of the file's bytes at the last ingest
    min_words         INTEGER NOT NULL,      -- --min-words of the last ingest
    paragraph_count   INTEGER NOT NULL,      -- paragraphs found in the file at the last ingest
    first_ingested_at TEXT NOT NULL,
    last_ingested_at  TEXT NOT NULL
);
INSERT INTO "sources" VALUES(1,'/tmp/v01/chapters.txt','chapters.txt','utf-8','bee9c6a76da77db0c5a818e5ffd9e0e928ee0ed518f1e2503000a3b0e792b86d',10,8,'2026-11-26T07:26:34.588Z','2026-11-26T07:26:34.588Z');
INSERT INTO "sources" VALUES(2,'/tmp/v01/prose.txt','prose.txt','utf-8','146b787ee9508806bdd66c12841953532ed8f8d568a551cfc0ffc3923c507899',10,4,'2026-11-26T07:26:34.590Z','2026-11-26T07:26:34.590Z');
CREATE INDEX paragraphs_by_status ON paragraphs (status, source_id, position);
CREATE INDEX attempts_by_run ON attempts (run_id);
CREATE INDEX attempts_by_outcome ON attempts (outcome, reason);
CREATE UNIQUE INDEX attempts_one_accepted ON attempts (paragraph_id) WHERE outcome = 'accepted';
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
CREATE UNIQUE INDEX "idx__sqlite_migrations_migration_set_name"
    ON "_sqlite_migrations" ("migration_set", "name");
COMMIT;
