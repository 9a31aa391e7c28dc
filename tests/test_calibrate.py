"""`workbench calibrate`: the rules' thresholds held against the verdicts given by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import assert_one_line_error, db_snapshot


@pytest.fixture
def job(review_db: Path, tmp_path: Path) -> Path:
    """The review database (attempt 1: 3 words of 18, too short; 2: 15 of 18, accepted)."""
    path = tmp_path / "job.db"
    shutil.copyfile(review_db, path)
    return path


def calibration(cli, db: Path, *args: str) -> dict[str, dict]:
    result = cli("calibrate", "--db", db, "--json", *args)
    assert result.exit_code == 0, result.stderr
    return {rule["rule"]: rule for rule in json.loads(result.stdout)["rules"]}


def test_a_hand_accept_of_a_rejected_answer_is_a_false_rejection_with_a_threshold_to_keep_it(
    cli, job
):
    assert cli("review", "1", "--accept", "--db", job).exit_code == 0
    found = calibration(cli, job)
    assert list(found) == ["too_short", "too_long", "too_similar", "repetition", "meaning_drift"]
    too_short = found["too_short"]
    assert {key: too_short[key] for key in (
        "rule", "measure", "threshold", "false_rejections", "false_acceptances", "suggested",
        "reviewed",
    )} == {
        "rule": "too_short", "measure": "length_ratio", "threshold": 0.8,
        "false_rejections": 1, "false_acceptances": 0,
        # 3 words pass when int(t × 18) ≤ 3: below 4/18; the nearest such to 0.8 on the grid.
        "suggested": 0.22, "reviewed": 1,
    }  # fmt: skip
    assert too_short["suggested_false_rejections"] == 0
    assert too_short["warning"] == (
        "rests on 1 reviewed answer (1 accepted, 0 rejected): too few to trust (review 20 or "
        "more, 5 or more of each verdict)"
    )
    # The other rules pass it: nothing to change there.
    assert (found["too_long"]["false_rejections"], found["too_long"]["suggested"]) == (0, 2.0)


def test_a_hand_reject_of_an_accepted_answer_is_a_false_acceptance(cli, job):
    assert cli("review", "1", "--accept", "--db", job).exit_code == 0
    assert cli("review", "2", "--reject", "--db", job).exit_code == 0  # 15 words of 18
    too_short = calibration(cli, job)["too_short"]
    assert (too_short["false_rejections"], too_short["false_acceptances"]) == (1, 1)
    # No threshold keeps 1 and rejects 2 both ways round... both cost one disagreement: 0.22
    # keeps answer 1, 0.89 rejects answer 2 (int(0.89 × 18) = 16 > 15); 0.89 is the nearer.
    assert too_short["suggested"] == 0.89
    assert (too_short["suggested_false_rejections"], too_short["suggested_false_acceptances"]) == (
        1,
        0,
    )
    assert too_short["reviewed"] == 2


def test_rules_taken_in_order_never_both_move_to_catch_the_same_answers(cli, job):
    assert cli("review", "1", "--accept", "--db", job).exit_code == 0
    assert cli("review", "2", "--reject", "--db", job).exit_code == 0  # the rules accept it
    untrusted = calibration(cli, job)
    # Alone, too_long would catch answer 2 too, by a max_ratio under its 15/18 words.
    assert (untrusted["too_long"]["false_acceptances"], untrusted["too_long"]["suggested"]) == (
        1,
        0.83,
    )
    trusted = calibration(cli, job, "--min-reviewed", "1")
    # too_short comes first and catches it at 0.89: nothing is left for too_long to catch.
    assert trusted["too_short"]["suggested"] == 0.89
    assert trusted["too_long"]["false_acceptances"] == 1  # with the rules as they are
    assert trusted["too_long"]["suggested"] == 2.0  # with too_short's suggestion taken
    assert trusted["too_long"]["suggested_false_acceptances"] == 0


def test_a_repaired_answer_is_left_out(cli, job):
    assert cli("review", "1", "--accept", "--text", "The tower clock stopped eleven years ago "
               "and the town liked it that way.", "--db", job).exit_code == 0  # fmt: skip
    data = json.loads(cli("calibrate", "--db", job, "--json").stdout)
    assert data["reviewed"] == 0
    assert all(rule["reviewed"] == 0 and rule["suggested"] is None for rule in data["rules"])


def test_the_text_form(cli, job):
    assert cli("review", "1", "--accept", "--db", job).exit_code == 0
    lines = cli("calibrate", "--db", job).stdout.splitlines()
    assert lines[0] == "Rules v2 against the 1 answer reviewed by hand (repairs left out):"
    assert lines[2].split() == ["too_short", "length_ratio", "0.8", "1", "0", "0.22", "0", "0", "1"]
    assert (
        "Warning: too_short rests on 1 reviewed answer (1 accepted, 0 rejected): too few to "
        "trust (review 20 or more, 5 or more of each verdict)."
    ) in lines


def test_apply_makes_the_trusted_suggestions_a_new_rules_version_and_judges_again(cli, job):
    assert cli("review", "1", "--accept", "--db", job).exit_code == 0
    alone = cli("calibrate", "--db", job, "--apply", "--min-reviewed", "1")
    assert alone.exit_code == 0
    # One verdict only: with no answer rejected by hand, loosening looks free. Not trusted.
    assert alone.stderr == "rules unchanged (v2)\n"
    assert cli("review", "3", "--reject", "--db", job).exit_code == 0  # the preamble agrees
    untrusted = cli("calibrate", "--db", job, "--apply")
    assert untrusted.stderr == "rules unchanged (v2)\n"  # two reviewed answers are too few
    result = cli("calibrate", "--db", job, "--apply", "--min-reviewed", "2", "--json")
    assert result.exit_code == 0, result.stderr
    said = result.stderr.splitlines()
    assert said[0] == "rules changed (v3): min_ratio 0.8 → 0.22; min_meaning 0.74 → 0.41"
    # In force it was accepted already (by hand): no verdict in force moves.
    assert said[1] == "re-judged 6 answers under rules v3: 0 now accepted, 0 now rejected"
    with Database(job) as db:
        # The rules agree with the reviewer now: answer 1 passes them too.
        assert db.execute(
            "SELECT outcome, rules_outcome FROM verdicts WHERE attempt_id = 1"
        ).fetchone() == ("accepted", "accepted")
        settings = json.loads(
            db.execute("SELECT settings FROM rules ORDER BY id DESC").fetchone()[0]
        )
    assert settings["min_ratio"] == 0.22
    again = calibration(cli, job)["too_short"]
    assert (again["threshold"], again["false_rejections"], again["suggested"]) == (0.22, 0, 0.22)


def test_no_review_yet(cli, job):
    data = json.loads(cli("calibrate", "--db", job, "--json").stdout)
    assert data["reviewed"] == 0 and data["rules_version"] == 2
    assert [
        (r["false_rejections"], r["false_acceptances"], r["suggested"]) for r in data["rules"]
    ] == [(0, 0, None)] * 5


def test_bad_min_reviewed_is_one_line_and_writes_nothing(cli, job):
    before = db_snapshot(job)
    assert_one_line_error(
        cli("calibrate", "--db", job, "--apply", "--min-reviewed", "0"),
        "--min-reviewed must be 1 or more",
    )
    assert db_snapshot(job) == before
