"""An old database migrated ends where a new one built from schema.sql starts."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import paragraph_rows
from workbench.ingest.sources import identity_hash
from workbench.store.database import APPLICATION_ID, open_db
from workbench.store.migrations import MIGRATIONS

V1 = Path(__file__).parent / "data" / "schema-v1.sql"


def make_v1(path: Path) -> None:
    """A database as the first release made it: schema-v1.sql, no migrations applied."""
    conn = sqlite3.connect(path)
    conn.executescript(V1.read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.executescript(
        """
        INSERT INTO sources VALUES (1, '/b.txt', 'b.txt', 'utf-8', 'h', 10, 2, 't', 't');
        INSERT INTO paragraphs VALUES (1, 1, 1, 'h1', 1, 'the original text', 3, 'succeeded', NULL);
        INSERT INTO runs VALUES (1, 't', 't', 'completed', 'u', 'm', '{}', NULL, 1, 'h');
        INSERT INTO attempts (id, paragraph_id, run_id, attempt_number, started_at, finished_at,
            latency_s, request, outcome, answer)
        VALUES (1, 1, 1, 1, 't', 't', 1.0, '{}', 'accepted', 'a paraphrase here');
        """
    )
    conn.commit()
    conn.close()


def normalised(sql: str | None) -> str:
    """SQL without comments, quotes around names, or layout: what it means, not how it reads."""
    sql = re.sub(r"--[^\n]*", "", sql or "").replace('"', "")
    sql = re.sub(r"\s+", " ", sql)
    return re.sub(r"\s*([(),;=])\s*", r"\1", sql).strip()


def shape(db: Database) -> dict:
    """Everything about the schema that matters: columns, indexes, views and their columns, and
    the SQL of every table, view, index and trigger (constraints and trigger bodies included)."""
    result = {}
    for name, kind, sql in db.execute(
        "SELECT name, type, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall():
        if kind in ("table", "view"):
            columns = [tuple(row) for row in db.execute(f"PRAGMA table_xinfo('{name}')")]
        elif kind == "index":
            columns = [tuple(row) for row in db.execute(f"PRAGMA index_xinfo('{name}')")]
        else:
            columns = []
        result[name] = (kind, columns, normalised(sql))
    return result


def test_every_step_has_a_docstring_and_runs_in_order():
    names = [m.name for m in MIGRATIONS._migrations]
    assert names == sorted(names)
    assert all(m.fn.__doc__ for m in MIGRATIONS._migrations)


def test_old_database_migrated_equals_fresh_one(tmp_path):
    old, fresh = tmp_path / "old.db", tmp_path / "fresh.db"
    make_v1(old)
    with open_db(old) as migrated, open_db(fresh, create=True) as new:
        assert shape(migrated) == shape(new)
        assert migrated.execute("PRAGMA user_version").fetchone() == (
            1 + len(MIGRATIONS._migrations),
        )
        assert new.execute("PRAGMA user_version").fetchone() == (1 + len(MIGRATIONS._migrations),)
        assert [m.name for m in MIGRATIONS.applied(migrated)] == [
            m.name for m in MIGRATIONS.applied(new)
        ]


def test_migrated_data_still_exports(tmp_path, cli):
    old = tmp_path / "old.db"
    make_v1(old)
    result = cli("export", "--db", old, "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert "a paraphrase here\\n<bot>: the original text" in result.stdout


# --- a job made by the workbench of schema 2 ------------------------------------------------
# tests/data/job-schema-v2.sqlite was made by workbench at commit 4b24dbc (schema 2) through its
# CLI and the fake server: 17 paragraphs of our sample story (5 filtered); run 1 with
# --system-prompt "Rewrite this in plain words." --limit 3; run 2 with the default prompt,
# --max-attempts 2 --min-ratio 0.7 --limit 4 and one HTTP 503; run 3 with --max-attempts 2
# --temperature 0.5 --limit 3 (two paragraphs skipped); run 4 like run 3, killed with SIGKILL
# after its first attempt.
V2_JOB = Path(__file__).parent / "data" / "job-schema-v2.sqlite"


@pytest.fixture
def v2_job(tmp_path: Path) -> Path:
    path = tmp_path / "job.db"
    shutil.copy(V2_JOB, path)
    conn = sqlite3.connect(path)
    # As if on the machine that made it: its killed run is then known to be dead.
    conn.execute("UPDATE runs SET hostname = ?", [socket.gethostname()])
    conn.commit()
    conn.close()
    return path


# --- a database made by workbench 0.1, before sections and one-space paragraphs ----------------

V0_1 = Path(__file__).parent / "data" / "v0.1"


def make_v0_1(folder: Path) -> Path:
    """The database workbench 0.1 made of tests/data/v0.1/*.txt (see ingested.sql), with the
    two files copied beside it and its sources pointing at the copies."""
    path = folder / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript((V0_1 / "ingested.sql").read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    for name in ("chapters.txt", "prose.txt"):
        copy = folder / name
        copy.write_bytes((V0_1 / name).read_bytes())
        conn.execute("UPDATE sources SET path = ? WHERE name = ?", [str(copy.resolve()), name])
    conn.commit()
    conn.close()
    return path


def table(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return [tuple(row) for row in conn.execute(sql)]
    finally:
        conn.close()


def test_a_schema_2_job_keeps_every_row_and_its_meaning(v2_job, tmp_path):
    old_paragraphs = table(v2_job, "SELECT id, text, status FROM paragraphs ORDER BY id")
    old_attempts = table(
        v2_job,
        "SELECT id, paragraph_id, run_id, attempt_number, request, response, answer, cleaned, "
        "outcome, reason, detail FROM attempts ORDER BY id",
    )
    old_runs = table(v2_job, "SELECT id, status, settings, pid FROM runs ORDER BY id")
    with open_db(v2_job) as db, open_db(tmp_path / "fresh.db", create=True) as fresh:
        assert shape(db) == shape(fresh)
        # Each distinct way of asking became a recipe, in the order first used, with the
        # budget of its latest run.
        recipes = db.execute(
            "SELECT id, name, model, system_prompt, user_template, temperature, max_tokens, "
            "retry_temperature, feedback, outputs, max_attempts FROM recipes ORDER BY id"
        ).fetchall()
        notebook = json.loads(old_runs[1][2])["system_prompt"]
        assert recipes == [
            (1, "default", "fake-model", "Rewrite this in plain words.", "{text}", 0.9, None,
             None, 0, 1, 5),
            (2, "default-2", "fake-model", notebook, "{text}", 0.9, None, None, 0, 1, 2),
            (3, "default-3", "fake-model", notebook, "{text}", 0.5, None, None, 0, 1, 2),
        ]  # fmt: skip
        assert db.execute("SELECT id, recipe_id, rules_id FROM runs ORDER BY id").fetchall() == [
            (1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 3, 3)
        ]  # fmt: skip
        # One rules version per change: run 2 loosened min_ratio, run 3 went back.
        rules = [json.loads(s) for (s,) in db.execute("SELECT settings FROM rules ORDER BY id")]
        assert [r["min_ratio"] for r in rules] == [0.8, 0.7, 0.8]
        assert rules[0] == rules[2] == {
            "enabled": ["strip_think", "strip_quotes", "truncated", "empty", "banned_phrase",
                        "multiple_paragraphs", "too_short", "too_long", "refusal", "preamble",
                        "commentary", "too_similar", "duplicate"],
            "banned_phrases": ["###", "Paraphrased Text", "Alternate Refinement",
                               "Extended Alternate Refinement", "[Note:", "### Question:"],
            "min_ratio": 0.8, "max_ratio": 2.0, "similarity": 0.9,
        }  # fmt: skip
        # Every attempt kept as it was, tied to its run's recipe and rules.
        assert (
            db.execute(
                "SELECT id, paragraph_id, run_id, attempt_number, request, response, answer, "
                "cleaned, outcome, reason, detail FROM attempts ORDER BY id"
            ).fetchall()
            == old_attempts
        )
        assert db.execute(
            "SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id "
            "WHERE a.recipe_id != r.recipe_id "
            "OR a.rules_id IS NOT (CASE WHEN a.outcome = 'failed' THEN NULL ELSE r.rules_id END)"
        ).fetchone() == (0,)
        assert db.execute("SELECT id, status, settings, pid FROM runs ORDER BY id").fetchall() == (
            old_runs
        )
        # What each paragraph earned carries over, under the recipe it was worked with.
        derived = dict(
            db.execute(
                """
                SELECT p.id, CASE WHEN p.filtered THEN 'filtered' ELSE coalesce(
                    (SELECT s.status FROM paragraph_status s
                     WHERE s.paragraph_id = p.id AND s.recipe_id = (
                         SELECT a.recipe_id FROM attempts a WHERE a.paragraph_id = p.id
                         ORDER BY a.id DESC LIMIT 1)),
                    'pending') END
                FROM paragraphs p
                """
            ).fetchall()
        )
        assert derived == {pid: status for pid, _, status in old_paragraphs}
        assert {status for _, _, status in old_paragraphs} == {
            "filtered", "pending", "succeeded", "skipped"
        }  # fmt: skip
        assert db.execute("SELECT id, text FROM paragraphs ORDER BY id").fetchall() == [
            (pid, text) for pid, text, _ in old_paragraphs
        ]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_migrated_job_goes_on(v2_job, cli, fake):
    db = str(v2_job)
    assert cli("export", "--db", db, "--recipe", "all", "-o", "-").stdout.count("\n") == 9
    result = cli("run", "--db", db, "--base-url", fake.base_url)
    assert result.exit_code == 0, result.stderr
    # Every answer is measured and judged again under the job's rules (the last run's); the
    # one that only the loosened min_ratio of run 2 accepted is now rejected.
    assert (
        "re-judged 14 answers under rules v3: 0 now accepted, 1 now rejected; 1 paragraph skipped"
        in result.stderr
    )
    with Database(v2_job) as migrated:
        assert migrated.execute(
            "SELECT attempt_id, rules_id, outcome, replaced_by FROM earlier_verdicts"
        ).fetchall() == [(9, 2, "accepted", 3)]
    assert result.stdout.startswith("Run #5 completed (recipe 'default-3', fake-model)")
    # The current recipe (the last run's) works what it has not finished, asking its way.
    assert {b["temperature"] for b in fake.requests} == {0.5}
    assert len(fake.requests) == 8  # 12 eligible: 2 succeeded and 2 skipped under default-3
    report = json.loads(cli("report", "--db", db, "--json").stdout)
    assert report["recipe"] == "default-3"
    assert report["paragraphs"]["succeeded"] == 10
    assert [r["name"] for r in report["recipes"]] == ["default", "default-2", "default-3"]


def test_v0_1_database_migrated_equals_fresh_one(tmp_path):
    old = make_v0_1(tmp_path)
    with open_db(old) as migrated, open_db(tmp_path / "fresh.db", create=True) as new:
        assert shape(migrated) == shape(new)


def test_migration_respaces_and_rehashes_paragraphs_in_place(tmp_path):
    old = make_v0_1(tmp_path)
    before = table(
        old, "SELECT id, source_id, position, word_count, status FROM paragraphs ORDER BY id"
    )
    attempts = table(old, "SELECT id, request, response, answer, outcome FROM attempts ORDER BY id")
    assert any("  " in text for (text,) in table(old, "SELECT text FROM paragraphs"))
    open_db(old).close()
    after = sorted(
        (r["id"], r["source_id"], r["position"], r["word_count"], r["status"])
        for r in paragraph_rows(old)
    )
    assert after == before
    assert (
        table(old, "SELECT id, request, response, answer, outcome FROM attempts ORDER BY id")
        == attempts
    )
    assert len(attempts) == 5
    for text, sha256, section_id in table(old, "SELECT text, sha256, section_id FROM paragraphs"):
        assert "  " not in text
        assert sha256 == identity_hash(text)
        assert section_id is None
    assert table(old, "SELECT text FROM paragraphs WHERE id = 12") == [
        ("She laughed aloud. The sound went up into the rafters and came back to her changed.",)
    ]
    assert table(old, "SELECT name, format, boilerplate FROM sources ORDER BY id") == [
        ("chapters.txt", "txt", 0),
        ("prose.txt", "txt", 0),
    ]


def test_texts_that_differed_only_in_spacing_become_two_occurrences(tmp_path):
    old = tmp_path / "old.db"
    make_v1(old)
    conn = sqlite3.connect(old)
    conn.execute(
        "INSERT INTO paragraphs VALUES (2, 1, 2, 'h2', 1, 'the  original text', 3, 'pending', NULL)"
    )
    conn.commit()
    conn.close()
    open_db(old).close()
    assert table(old, "SELECT id, text, occurrence FROM paragraphs ORDER BY id") == [
        (1, "the original text", 1),
        (2, "the original text", 2),
    ]


def test_ingesting_again_after_the_upgrade_keeps_every_sent_paragraph(tmp_path, cli):
    old = make_v0_1(tmp_path)
    prose = cli("ingest", tmp_path / "prose.txt", "--db", old)
    assert prose.exit_code == 0, prose.stderr
    # Double spaces were made single by the migration: the same file adds and removes nothing.
    assert prose.stdout == (
        "prose.txt: 4 paragraphs (0 under 10 words); added 0 (0 to paraphrase, 0 filtered), "
        "4 already known\n"
    )
    ids = table(old, "SELECT id FROM paragraphs ORDER BY id")

    chapters = cli("ingest", tmp_path / "chapters.txt", "--db", old)
    assert chapters.exit_code == 0, chapters.stderr
    # The headings, stored as paragraphs by 0.1 and never sent, become sections; the verse,
    # sent and accepted, keeps its id and attempt and gets its line breaks back.
    assert chapters.stdout == (
        "chapters.txt: 4 paragraphs (0 under 10 words, 1 verse) in 2 sections; added 0 "
        "(0 to paraphrase, 0 filtered), 4 already known; 1 re-spaced; "
        "4 no longer paragraphs of the file, removed\n"
    )
    assert table(old, "SELECT id FROM paragraphs ORDER BY id") == [
        row for row in ids if row[0] not in (1, 2, 6, 7)
    ]
    assert table(
        old,
        "SELECT p.id, s.title, ps.status, p.text FROM paragraphs p "
        "JOIN sections s ON s.id = p.section_id "
        "JOIN paragraph_status ps ON ps.paragraph_id = p.id WHERE p.id = 4",
    ) == [
        (
            4,
            "CHAPTER I. THE WHEEL",
            "succeeded",
            "The wheel goes round, the wheel goes round,\nAnd grinds the corn to flour;\n"
            "The water falls, the water falls,\nAnd tells the passing hour.",
        )
    ]
    assert table(old, "SELECT count(*) FROM attempts") == [(5,)]
    again = cli("ingest", tmp_path / "chapters.txt", tmp_path / "prose.txt", "--db", old)
    assert [line.split("; added ")[1] for line in again.stdout.splitlines()] == [
        "0 (0 to paraphrase, 0 filtered), 4 already known",
        "0 (0 to paraphrase, 0 filtered), 4 already known",
    ]
    exported = cli("export", "--db", old, "-o", "-")
    assert exported.exit_code == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 5
    assert "  " not in exported.stdout
