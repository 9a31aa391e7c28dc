"""`workbench review`: verdicts by hand decide what is a pair, what a run asks again and what
report counts; the rules keep judging beside them; bad input writes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import (
    LAMP,
    LAMP_PARAPHRASE,
    REVIEW_ANSWERS,
    REVIEW_PARAGRAPHS,
    assert_one_line_error,
    db_snapshot,
    ingest_paragraphs,
    reworded,
    run_against,
    statuses,
    words,
)
from tests.fakeserver import Reply

P1, SHORT, P3, P4 = REVIEW_PARAGRAPHS


@pytest.fixture
def job(review_db: Path, tmp_path: Path) -> Path:
    """A copy of the review database, ours to change: attempts 1 (too_short), 2 (accepted),
    3 (preamble), 4 (accepted), 5 and 6 (too_similar, their paragraph skipped)."""
    path = tmp_path / "job.db"
    shutil.copyfile(review_db, path)
    return path


def exported(cli, db: Path, *args: str) -> list[str]:
    """The paraphrases `export` writes (the prompts of the pairs), in order."""
    result = cli("export", "--db", db, "-o", "-", "-f", "alpaca", "--instruction", "", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line)["input"] for line in result.stdout.splitlines()]


def reviewed(cli, db: Path, *args: object):
    result = cli("review", "--db", db, "--reviewer", "alice", *args)
    assert result.exit_code == 0, result.stderr
    return result


def recounted(db: Path) -> tuple[tuple[list, list], tuple[list, list]]:
    """The counts the triggers keep, and the same counted from the view `verdicts` now."""
    conn = sqlite3.connect(db)
    try:
        kept = (
            conn.execute(
                "SELECT paragraph_id, recipe_id, attempts, accepted, rejected, last_reason "
                "FROM progress ORDER BY 1, 2"
            ).fetchall(),
            conn.execute(
                "SELECT recipe_id, run_id, outcome, reason, attempts FROM tallies "
                "ORDER BY 1, 2, 3, 4"
            ).fetchall(),
        )
        truth = (
            conn.execute(
                """
                SELECT paragraph_id, recipe_id, count(*), sum(outcome = 'accepted'),
                    sum(outcome = 'rejected'), (SELECT w.reason FROM verdicts w
                        WHERE w.paragraph_id = v.paragraph_id AND w.recipe_id = v.recipe_id
                        AND w.outcome = 'rejected' ORDER BY w.attempt_number DESC LIMIT 1)
                FROM verdicts v GROUP BY 1, 2 ORDER BY 1, 2
                """
            ).fetchall(),
            conn.execute(
                "SELECT recipe_id, run_id, outcome, coalesce(reason, ''), count(*) FROM verdicts "
                "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
            ).fetchall(),
        )
    finally:
        conn.close()
    return kept, truth


def assert_counts_true(db: Path) -> None:
    kept, truth = recounted(db)
    assert kept == truth


# --- they decide ----------------------------------------------------------------------------


def test_a_rejected_answer_accepted_by_hand_is_exported(cli, job):
    assert exported(cli, job) == [REVIEW_ANSWERS[P1][1], REVIEW_ANSWERS[P3][1]]
    result = reviewed(cli, job, "5", "--accept", "--note", "a faithful copy is what I want here")
    assert result.stdout.splitlines() == [
        "Accepted 1 answer by hand as alice: 1 was rejected before.",
        "The rules say otherwise of 1 (too_similar 1): the verdict by hand is in force.",
        "Paragraphs: 1 now succeeded.",
    ]
    assert exported(cli, job) == [REVIEW_ANSWERS[P1][1], REVIEW_ANSWERS[P3][1], P4]
    assert statuses(job)[P4] == "succeeded"
    # The rules' verdict stays beside it: the disagreement shows.
    with Database(job) as db:
        assert db.execute(
            "SELECT outcome, reason, rules_outcome, rules_reason, hand_verdict, reviewer, note "
            "FROM verdicts WHERE attempt_id = 5"
        ).fetchone() == (
            "accepted", None, "rejected", "too_similar", "accepted", "alice",
            "a faithful copy is what I want here",
        )  # fmt: skip
    assert_counts_true(job)


def test_an_accepted_answer_rejected_by_hand_is_not_exported_and_the_next_run_asks_again(
    cli, fake, tmp_path
):
    better = (
        "At dusk the lamplighter climbed up, lit the wick with his brass pole, and saw the "
        "flame hold against the harbour wind."
    )
    answers = {LAMP: [LAMP_PARAPHRASE, better], words(14, "b"): [reworded(words(14, "b"))]}
    fake.responder = lambda body, call: Reply(answers[body["messages"][-1]["content"]][call - 1])
    ingest_paragraphs(cli, tmp_path, [LAMP, words(14, "b")])
    assert run_against(cli, fake).exit_code == 0
    db = tmp_path / "test.db"
    assert exported(cli, db) == [LAMP_PARAPHRASE, reworded(words(14, "b"))]

    with Database(db) as database:
        (lamp_answer,) = database.execute(
            "SELECT a.id FROM attempts a JOIN paragraphs p ON p.id = a.paragraph_id "
            "WHERE p.text = ?",
            [LAMP],
        ).fetchone()
    result = reviewed(cli, db, lamp_answer, "--reject", "--note", "drops the harbour wind")
    assert result.stdout.splitlines() == [
        "Rejected 1 answer by hand as alice: 1 was accepted before.",
        "The rules say otherwise of 1 (passed every rule 1): the verdict by hand is in force.",
        "Paragraphs: 1 pending again (the next `workbench run` asks them again).",
    ]
    assert exported(cli, db) == [reworded(words(14, "b"))]
    assert statuses(db)[LAMP] == "pending"

    asked = len(fake.requests)
    assert run_against(cli, fake).exit_code == 0
    assert len(fake.requests) == asked + 1  # only the paragraph rejected by hand, asked again
    assert fake.requests[-1]["messages"][-1]["content"] == LAMP
    assert exported(cli, db) == [better, reworded(words(14, "b"))]
    assert statuses(db)[LAMP] == "succeeded"
    assert_counts_true(db)


def test_a_repaired_text_is_what_is_exported_and_the_answer_is_kept(cli, job):
    repaired = "She went up the stairs by night with a lamp and a bag of her father's tools."
    result = reviewed(cli, job, "3", "--accept", "--text", f"  {repaired}\n")
    assert result.stdout.splitlines()[0] == (
        "Accepted 1 answer by hand as alice, 1 repaired: 1 was rejected before."
    )
    # A person's acceptance comes first among a paragraph's answers (outputs is 1 here).
    assert exported(cli, job) == [REVIEW_ANSWERS[P1][1], repaired]
    with Database(job) as db:
        assert db.execute("SELECT cleaned FROM attempts WHERE id = 3").fetchone() == (
            REVIEW_ANSWERS[P3][0],
        )
        assert db.execute("SELECT verdict, repaired FROM reviews").fetchall() == [
            ("accepted", repaired)
        ]
    # The same text again is already in force: nothing written.
    again = reviewed(cli, job, "3", "--accept", "--text", repaired)
    assert again.stdout == "No answer reviewed.\nLeft alone: 1 already accepted by hand.\n"


def test_a_later_verdict_supersedes_an_earlier_one_and_both_are_kept(cli, job):
    reviewed(cli, job, "2", "--reject")
    reviewed(cli, job, "2", "--accept", "--note", "on second thoughts")
    with Database(job) as db:
        assert db.execute("SELECT verdict, note FROM reviews ORDER BY id").fetchall() == [
            ("rejected", None),
            ("accepted", "on second thoughts"),
        ]
        assert db.execute("SELECT outcome FROM verdicts WHERE attempt_id = 2").fetchone() == (
            "accepted",
        )
    assert exported(cli, job) == [REVIEW_ANSWERS[P1][1], REVIEW_ANSWERS[P3][1]]
    assert_counts_true(job)


def test_reviews_are_history_whoever_writes(job):
    conn = sqlite3.connect(job)
    conn.execute(
        "INSERT INTO reviews (attempt_id, verdict, reviewer, created_at) "
        "VALUES (1, 'accepted', 'sqlite3', 't')"
    )
    conn.commit()
    for sql, message in (
        ("UPDATE reviews SET verdict = 'rejected'", "reviews are history"),
        ("DELETE FROM reviews", "reviews are history"),
        (
            "INSERT INTO reviews (attempt_id, verdict, reviewer, created_at) "
            "VALUES (99, 'accepted', 'x', 't')",
            "only an answer can be reviewed",
        ),
        (
            "INSERT INTO reviews (attempt_id, verdict, repaired, reviewer, created_at) "
            "VALUES (1, 'rejected', 'text', 'x', 't')",
            "CHECK constraint failed",
        ),
    ):
        with pytest.raises(sqlite3.DatabaseError, match=message):
            conn.execute(sql)
    conn.close()
    # A review written by any program moves the counts as `workbench review` does.
    assert_counts_true(job)
    assert statuses(job)[P1] == "succeeded"


def test_a_rule_change_keeps_the_persons_verdicts(cli, job):
    reviewed(cli, job, "5", "--accept")  # the rules reject it: a near copy
    reviewed(cli, job, "4", "--accept")  # the rules accept it too
    reviewed(cli, job, "2", "--reject")  # the rules accept it
    before = exported(cli, job)
    # Tightened so that every answer is too short for the rules: 4 (16 words of 16) and 2 too.
    result = cli("rules", "--db", job, "--min-ratio", "1.1")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[1] == (
        "re-judged 6 answers under rules v3: 0 now accepted, 0 now rejected; 1 reviewed by "
        "hand kept its verdict (the rules now say otherwise)"
    )
    assert exported(cli, job) == before == [REVIEW_ANSWERS[P3][1], P4]
    with Database(job) as db:
        assert db.execute(
            "SELECT attempt_id, outcome, reason, rules_outcome, rules_reason FROM verdicts "
            "WHERE attempt_id IN (2, 4, 5) ORDER BY 1"
        ).fetchall() == [
            (2, "rejected", "too_short", "rejected", "too_short"),  # the rules agree now
            (4, "accepted", None, "rejected", "too_short"),
            (5, "accepted", None, "rejected", "too_short"),
        ]
    assert_counts_true(job)
    report = json.loads(cli("report", "--db", job, "--json").stdout)
    assert report["rejection_reasons"] == {"too_short": 4}


def test_report_counts_answers_reviewed_agreeing_and_overruling_by_rule(cli, job):
    reviewed(cli, job, "5", "6", "--accept")  # overrules too_similar twice
    reviewed(cli, job, "1", "--reject")  # agrees with too_short
    reviewed(cli, job, "2", "--reject", "--note", "stiff")  # overrules the rules' acceptance
    reviewed(cli, job, "4", "--accept", "--text", "By night she climbed the stairs with a lamp.")
    report = json.loads(cli("report", "--db", job, "--json").stdout)
    assert report["reviews"] == {
        "reviewed": 5, "accepted": 3, "rejected": 2, "repaired": 1, "agreed": 2, "overruled": 3,
        "by_rule": [
            {"rule": None, "reviewed": 2, "agreed": 1, "overruled": 1},
            {"rule": "too_similar", "reviewed": 2, "agreed": 0, "overruled": 2},
            {"rule": "too_short", "reviewed": 1, "agreed": 1, "overruled": 0},
        ],
    }  # fmt: skip
    assert report["attempts"] == {"total": 6, "accepted": 3, "rejected": 3, "failed": 0}
    assert report["rejection_reasons"] == {"preamble": 1, "reviewer": 1, "too_short": 1}
    text = cli("report", "--db", job).stdout
    assert (
        "Reviewed          5  by hand: accepted 3 · rejected 2 (1 repaired); agreed with the "
        "rules 2 · overruled them 3\n"
        "  (passed every rule)         2  agreed 1 · overruled 1\n"
        "  too_similar                 2  agreed 0 · overruled 2\n"
        "  too_short                   1  agreed 1 · overruled 0\n"
    ) in text
    # `report --reason reviewer`: the answers a person rejected that the rules accepted.
    shown = cli("report", "--db", job, "--reason", "reviewer").stdout
    assert "rejected by alice: stiff" in shown and REVIEW_ANSWERS[P1][1] in shown
    assert_counts_true(job)


def test_export_reviewed_only_writes_the_pairs_a_person_accepted(cli, job):
    reviewed(cli, job, "4", "--accept")
    reviewed(cli, job, "6", "--accept")
    assert exported(cli, job, "--reviewed-only") == [REVIEW_ANSWERS[P3][1], P4]
    with Database(job) as db:
        assert [r["reviewer"] for r in db.query("SELECT reviewer FROM pairs")] == [
            None, "alice", "alice"
        ]  # fmt: skip


# --- the run engine sees verdicts in force ----------------------------------------------------


def test_a_run_counts_a_hand_accepted_answer_and_compares_new_answers_with_its_repair(
    cli, fake, tmp_path
):
    ingest_paragraphs(cli, tmp_path, [LAMP])
    fake.enqueue("Lamp.")  # too short
    assert run_against(cli, fake, "--max-attempts", "1", "--concurrency", "1").exit_code == 0
    db = tmp_path / "test.db"
    assert statuses(db)[LAMP] == "skipped"
    reviewed(cli, db, "1", "--accept", "--text", LAMP_PARAPHRASE)
    assert statuses(db)[LAMP] == "succeeded"
    # A second output wanted: the run asks once more, and the repair counts as the first
    # answer, so the same text again is a duplicate.
    fake.enqueue(LAMP_PARAPHRASE, reworded(LAMP))
    more = ("--outputs", "2", "--max-attempts", "2", "--concurrency", "1")
    assert run_against(cli, fake, *more).exit_code == 0
    with Database(db) as database:
        assert database.execute(
            "SELECT attempt_number, outcome, reason FROM verdicts ORDER BY attempt_number"
        ).fetchall() == [(1, "accepted", None), (2, "rejected", "duplicate"), (3, "accepted", None)]
    assert exported(cli, db) == [LAMP_PARAPHRASE, reworded(LAMP)]


# --- in bulk ------------------------------------------------------------------------------------


def test_bulk_review_by_reason_says_what_it_changed_and_left_alone(cli, job):
    reviewed(cli, job, "6", "--reject", "--note", "a copy")
    dry = reviewed(cli, job, "--accept", "--reason", "too_similar", "--dry-run")
    assert dry.stdout.splitlines() == [
        "Would accept 1 answer by hand as alice: 1 was rejected before.",
        "The rules say otherwise of 1 (too_similar 1): the verdict by hand is in force.",
        "Paragraphs: 1 now succeeded.",
        "Left alone: 1 decided otherwise by hand (--include-reviewed reviews them again).",
    ]
    with Database(job) as db:
        assert db.execute("SELECT count(*) FROM reviews").fetchone() == (1,)
    done = reviewed(cli, job, "--accept", "--reason", "too_similar", "--json")
    data = json.loads(done.stdout)
    assert (data["attempts"], data["kept"], data["overruled"], data["succeeded"]) == (
        [5], 1, {"too_similar": 1}, 1
    )  # fmt: skip
    again = reviewed(cli, job, "--accept", "--reason", "too_similar", "--include-reviewed")
    assert (
        again.stdout.splitlines()[0] == "Accepted 1 answer by hand as alice: 1 was rejected before."
    )
    assert again.stdout.splitlines()[-1] == "Left alone: 1 already accepted by hand."
    assert_counts_true(job)


def test_bulk_review_by_measure_recipe_run_and_verdict(cli, job):
    # Accepted answers with a length ratio of at least 0.9: answer 4 (1.0), not 2 (0.833).
    result = reviewed(
        cli, job, "--reject", "--verdict", "accepted", "--measure", "length_ratio", "--min", "0.9",
        "--recipe", "default", "--run", "1",
    )  # fmt: skip
    assert (
        result.stdout.splitlines()[0]
        == "Rejected 1 answer by hand as alice: 1 was accepted before."
    )
    with Database(job) as db:
        assert db.execute("SELECT attempt_id FROM reviews").fetchall() == [(4,)]
    nothing = reviewed(cli, job, "--accept", "--measure", "meaning", "--max", "-0.5")
    assert nothing.stdout == "No answer reviewed.\n"


# --- bad input: one line, nothing written ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["99", "--accept"], "no attempt 99 in this job"),
        (["1", "98", "99", "--accept"], "no attempts 98, 99 in this job"),
        (["2", "--reject", "--text", "better"],
         "--text repairs an answer to accept it: a rejected answer is not exported, so there "
         "is nothing to repair"),
        (["2", "--accept", "--text", "   "], "--text is empty: reject the answer instead"),
        (["2", "4", "--accept", "--text", "one text"],
         "--text repairs one answer: give one attempt id, not 2"),
        (["2"], "give --accept or --reject"),
        (["2", "--accept", "--reject"], "give --accept or --reject, not both"),
        (["--accept"],
         "name the answers to review: attempt ids, or a selection (--verdict, --reason, "
         "--recipe, --run, --measure)"),
        (["2", "--accept", "--reason", "too_short"],
         "give attempt ids or a selection (--verdict, --reason, --recipe, --run, --measure), "
         "not both"),
        (["--accept", "--reason", "too_shrot"], None),
        (["--accept", "--measure", "meaning"], "--measure needs a range: --min, --max or both"),
        (["--accept", "--min", "0.5"], "--min and --max bound a --measure: name it"),
        (["--accept", "--measure", "length", "--min", "1"], None),
        (["--accept", "--measure", "meaning", "--min", "0.9", "--max", "0.1"],
         "--min 0.9 is more than --max 0.1"),
        (["--accept", "--verdict", "failed"], "--verdict 'failed' must be accepted or rejected"),
        (["--accept", "--recipe", "nope"], "no recipe 'nope' in this job; it has: default"),
        (["--accept", "--run", "7"], "no run #7 in this job"),
        (["2", "--accept", "--reviewer", " "], "--reviewer is empty"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(cli, job, args, message):
    before = db_snapshot(job)
    result = cli("review", "--db", job, *args)
    if message is None:
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    else:
        assert_one_line_error(result, message)
    assert db_snapshot(job) == before


def test_a_failed_attempt_cannot_be_reviewed(cli, fake, tmp_path):
    ingest_paragraphs(cli, tmp_path, [LAMP])
    fake.enqueue(Reply.error(400, "bad request"))
    assert run_against(cli, fake).exit_code != 0
    db = tmp_path / "test.db"
    before = db_snapshot(db)
    result = cli("review", "1", "--accept", "--db", db)
    assert_one_line_error(
        result,
        "attempt 1 failed: no answer to review (see each one's reason with `workbench browse`, "
        "attempts/ID)",
    )
    assert db_snapshot(db) == before
