"""The job's rules: stored, versioned, and every stored answer judged again when they change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import db_snapshot as snapshot
from tests.conftest import ingest_paragraphs, paragraph_rows, reworded, statuses, words
from tests.conftest import run_against as run
from tests.fakeserver import Reply

ORIGINALS = [words(10, f"p{i}_") for i in range(3)]


@pytest.fixture
def job(cli, tmp_path) -> Path:
    return ingest_paragraphs(cli, tmp_path, ORIGINALS)


def user(body: dict) -> str:
    return body["messages"][-1]["content"]


def verdicts(db_path: Path) -> list[tuple]:
    return (
        Database(db_path)
        .execute(
            "SELECT paragraph_id, attempt_number, outcome, reason, rules_id FROM attempts "
            "ORDER BY paragraph_id, attempt_number"
        )
        .fetchall()
    )


def test_a_loosened_rule_turns_stored_rejections_into_pairs(cli, fake, job, db_path):
    # Every answer has 7 words: too short for 10-word paragraphs under min_ratio 0.8.
    fake.responder = lambda body, call: Reply(reworded(user(body), call, 7))
    assert run(cli, fake, "--max-attempts", "2").exit_code == 0
    assert set(statuses(db_path).values()) == {"skipped"}
    assert cli("export", "-o", "-").stdout == ""
    sent = len(fake.requests)

    result = cli("rules", "--min-ratio", "0.7")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "rules changed (v2): min_ratio 0.8 → 0.7",
        "re-judged 6 answers under rules v2: 6 now accepted, 0 now rejected; "
        "3 paragraphs succeeded",
    ]
    assert "too_short            rule    on   min_ratio 0.7" in result.stdout
    assert len(fake.requests) == sent  # nothing was sent
    assert set(statuses(db_path).values()) == {"succeeded"}
    # The first accepted answer of each paragraph is its pair (the recipe wants one).
    assert len(cli("export", "-o", "-").stdout.splitlines()) == 3
    assert {v[2:] for v in verdicts(db_path)} == {("accepted", None, 2)}
    # Nothing is lost: what each answer was judged before is still there.
    earlier = (
        Database(db_path)
        .execute(
            "SELECT rules_id, outcome, reason, detail, replaced_by FROM earlier_verdicts "
            "ORDER BY attempt_id"
        )
        .fetchall()
    )
    assert earlier == [(1, "rejected", "too_short", "7 words, fewer than 8 (0.8 × 10)", 2)] * 6


def test_a_tightened_rule_turns_pairs_into_rejections(cli, fake, job, db_path):
    fake.responder = lambda body, call: Reply(reworded(user(body), call, 9))
    assert run(cli, fake).exit_code == 0
    assert set(statuses(db_path).values()) == {"succeeded"}
    result = run(cli, fake, "--min-ratio", "1", "--max-attempts", "1")
    assert result.exit_code == 0
    assert result.stdout.startswith("Nothing to do")  # each has used up its one attempt
    assert set(statuses(db_path).values()) == {"skipped"}
    assert [r["skip_reason"] for r in paragraph_rows(db_path)] == ["too_short"] * 3
    assert cli("export", "-o", "-").stdout == ""
    # With attempts left, they are pending again and worked under the new rules.
    fake.responder = lambda body, call: Reply(reworded(user(body), call))
    assert run(cli, fake, "--max-attempts", "2").exit_code == 0
    assert set(statuses(db_path).values()) == {"succeeded"}
    assert [v[2] for v in verdicts(db_path)] == ["rejected", "accepted"] * 3


def test_a_plain_run_keeps_the_rules(cli, fake, job, db_path):
    fake.responder = lambda body, call: Reply(reworded(user(body), call, 7))
    assert run(cli, fake, "--min-ratio", "0.7", "--limit", "1").exit_code == 0
    assert run(cli, fake).exit_code == 0
    assert {v[2:] for v in verdicts(db_path)} == {("accepted", None, 1)}
    assert Database(db_path)["rules"].count == 1


def test_failed_attempts_are_never_judged_again(cli, fake, job, db_path):
    fake.enqueue(Reply.error(500, "boom"))
    assert run(cli, fake, "--limit", "1").exit_code == 0
    assert cli("rules", "--min-ratio", "0.5").exit_code == 0
    failed = (
        Database(db_path)
        .execute(
            "SELECT outcome, reason, detail, rules_id, cleaned FROM attempts "
            "WHERE outcome = 'failed'"
        )
        .fetchall()
    )
    assert failed == [("failed", "http_500", "boom", None, None)]


def test_rules_alone_prints_them_and_changes_nothing(cli, fake, job, db_path):
    result = cli("rules")
    assert result.stdout.splitlines()[0] == "Rules: the defaults (the first run stores them)"
    assert run(cli, fake, "--limit", "1").exit_code == 0
    before = snapshot(db_path)
    result = cli("rules")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Rules v1 (since ") and lines[0].endswith("shared by every recipe")
    assert lines[1:4] == [
        "  strip_think          cleaner on",
        "  strip_quotes         cleaner on",
        "  truncated            rule    on",
    ]
    data = json.loads(cli("rules", "--json").stdout)
    assert (data["version"], data["min_ratio"], data["similarity"]) == (1, 0.8, 0.9)
    assert "duplicate" in data["enabled"]
    assert snapshot(db_path) == before
    # The same value again is no change.
    result = cli("rules", "--min-ratio", "0.8")
    assert result.stderr == "rules unchanged (v1)\n"
    assert Database(db_path)["rules"].count == 1


def test_rules_switch_off_on_and_reset(cli, fake, job, db_path):
    assert run(cli, fake, "--limit", "1").exit_code == 0
    result = cli("rules", "--disable-rule", "commentary", "--banned-phrase", "Moreover")
    assert result.stderr.splitlines()[0] == (
        "rules changed (v2): banned 'Moreover'; commentary off"
    )
    data = json.loads(cli("rules", "--json").stdout)
    assert "commentary" not in data["enabled"] and data["banned_phrases"][-1] == "Moreover"
    result = cli("rules", "--enable-rule", "commentary")
    assert result.stderr.splitlines()[0] == "rules changed (v3): commentary on"
    result = cli("rules", "--reset")
    assert result.stderr.splitlines()[0] == "rules changed (v4): no longer banned 'Moreover'"
    result = cli("rules", "--notebook-rules")
    assert "strip_think off; strip_quotes off; refusal off" in result.stderr
    assert [row[0] for row in Database(db_path).execute("SELECT id FROM rules")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--disable-rule", "too_funny"], "unknown rule too_funny; the rules and cleaners are: "),
        (["--enable-rule", "x", "--disable-rule", "x"], "unknown rule x; "),
        (
            ["--enable-rule", "empty", "--disable-rule", "empty"],
            "both --enable-rule and --disable-rule empty",
        ),
        (["--min-ratio", "3"], "--min-ratio must be between 0 and --max-ratio"),
        (["--similarity", "0"], "--similarity must be above 0 and at most 1"),
        (["--max-ratio", "inf"], "--max-ratio must be at most 100"),
        (["--max-ratio", "nan"], "--max-ratio must be at most 100"),
        (["--banned-phrases-file", "missing.txt"], "missing.txt does not exist"),
    ],
)
def test_bad_rule_options_are_one_line(cli, fake, job, db_path, args, message):
    assert run(cli, fake, "--limit", "1").exit_code == 0
    before = snapshot(db_path)
    for command in (["rules"], ["run", "--base-url", fake.base_url, "-q"]):
        result = cli(*command, *args)
        assert result.exit_code == 1
        assert result.stderr.startswith(f"Error: {message}")
        assert result.stderr.count("\n") == 1
    assert snapshot(db_path) == before
    assert len(fake.requests) == 1


def test_counts_stay_true_whoever_writes(cli, fake, job, db_path):
    fake.responder = lambda body, call: Reply(reworded(user(body), call, 7))
    assert run(cli, fake, "--max-attempts", "1").exit_code == 0
    db = Database(db_path)
    # Another tool (sqlite-utils, Datasette) accepts an answer by hand: statuses follow.
    db.execute("UPDATE attempts SET outcome = 'accepted', reason = NULL WHERE paragraph_id = 1")
    db.conn.commit()
    assert [r["status"] for r in paragraph_rows(db_path)] == ["succeeded", "skipped", "skipped"]
    db.execute("DELETE FROM attempts WHERE paragraph_id = 2")
    db.conn.commit()
    assert [r["status"] for r in paragraph_rows(db_path)] == ["succeeded", "pending", "skipped"]
    assert db.execute("SELECT count(*) FROM earlier_verdicts").fetchone() == (1,)
    assert db.execute(
        "SELECT paragraph_id, attempts, accepted, rejected FROM progress ORDER BY 1"
    ).fetchall() == [(1, 1, 1, 0), (3, 1, 0, 1)]
