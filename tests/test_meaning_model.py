"""The meaning model a job's rules name: MiniLM for new jobs, WordLlama kept by older ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import LAMP, assert_one_line_error, ingest_paragraphs
from workbench.judge import meaning, wordllama
from workbench.judge.settings import MIN_MEANING

DATA = Path(__file__).resolve().parent / "data"


def minilm_meaning(original: str, answer: str) -> float:
    return meaning.similarity("minilm", original, answer)


def stored(db: Path) -> list[tuple]:
    """Every attempt's verdict, in order (columns every schema has)."""
    return (
        Database(db)
        .execute("SELECT id, outcome, reason, detail FROM attempts ORDER BY id")
        .fetchall()
    )


def pairs(db: Path) -> list[tuple[int, str, str, float | None]]:
    return (
        Database(db)
        .execute(
            "SELECT a.id, p.text, a.cleaned, a.meaning FROM attempts a "
            "JOIN paragraphs p ON p.id = a.paragraph_id WHERE a.outcome != 'failed' ORDER BY a.id"
        )
        .fetchall()
    )


def test_a_new_job_judges_meaning_with_minilm(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, [LAMP])
    rules = json.loads(cli("rules", "--json").stdout)
    assert (rules["meaning_model"], rules["min_meaning"]) == ("minilm", 0.74)
    assert "min_meaning 0.74 · MiniLM" in cli("rules").stdout


def test_a_job_made_before_minilm_keeps_wordllama_until_its_rules_change(cli, tmp_path):
    db = tmp_path / "old.db"
    shutil.copyfile(DATA / "job-schema-v2.sqlite", db)  # made by the workbench of schema 2
    before = stored(db)
    rules = json.loads(cli("rules", "--json", "--db", db).stdout)  # migrates, judges nothing
    assert (rules["meaning_model"], rules["min_meaning"]) == ("wordllama", 0.75)
    assert stored(db) == before
    # Its own rules, changed: the meaning rule measures with the job's model, WordLlama.
    result = cli("rules", "--enable-rule", "meaning_drift", "--db", db)
    assert result.exit_code == 0, result.stderr
    measured = pairs(db)
    assert measured and all(m is not None for *_, m in measured)
    for _, original, answer, measure in measured:
        assert measure == pytest.approx(wordllama.similarity(original, answer), abs=1e-4)
    # Switched to MiniLM: every stored answer measured again, offline, nothing sent.
    result = cli("rules", "--meaning-model", "minilm", "--db", db)
    assert result.exit_code == 0, result.stderr
    assert "meaning_model wordllama → minilm; min_meaning 0.75 → 0.74" in result.stderr
    assert "re-judged" in result.stderr
    # (MiniLM measures the answers that reach meaning_drift: not those a rule before it rejects)
    reached = (
        Database(db)
        .execute("SELECT id FROM attempts WHERE outcome = 'accepted' OR reason = 'meaning_drift'")
        .fetchall()
    )
    remeasured = {id_: (o, a, m) for id_, o, a, m in pairs(db) if m is not None}
    assert {id_ for (id_,) in reached} == set(remeasured)
    for original, answer, measure in remeasured.values():
        assert measure == pytest.approx(minilm_meaning(original, answer), abs=1e-4)
    # And back: the old model's threshold comes back with it.
    result = cli("rules", "--meaning-model", "wordllama", "--db", db)
    assert "meaning_model minilm → wordllama; min_meaning 0.74 → 0.75" in result.stderr


def test_a_threshold_given_with_the_model_is_kept(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, [LAMP])
    result = cli("rules", "--meaning-model", "wordllama", "--min-meaning", "0.6", "--json")
    rules = json.loads(result.stdout)
    assert (rules["meaning_model"], rules["min_meaning"]) == ("wordllama", 0.6)


def test_a_meaning_model_that_is_not_one_is_one_line(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, [LAMP])
    result = cli("rules", "--meaning-model", "bert")
    assert_one_line_error(
        result, "--meaning-model 'bert' is not a meaning model; choose one of: minilm, wordllama"
    )


def test_minilm_keeps_a_free_paraphrase_that_wordllama_would_not(cli, fake, tmp_path, db_path):
    """The reason for the change, on one answer: a faithful rewrite in new words."""
    free = (
        "When evening came, the man who lit the lamps went up his ladder; a touch of his long "
        "brass rod to the wick, and he stood watching the tiny flame grow steady in the sea "
        "wind."
    )
    assert wordllama.similarity(LAMP, free) < MIN_MEANING["wordllama"]
    assert minilm_meaning(LAMP, free) >= MIN_MEANING["minilm"]
    ingest_paragraphs(cli, tmp_path, [LAMP])
    fake.enqueue(free)
    assert cli("run", "--base-url", fake.base_url, "-q").exit_code == 0
    assert [row[1:3] for row in stored(db_path)] == [("accepted", None)]


def test_the_measured_fidelity_is_said_only_of_rules_that_were_measured():
    from dataclasses import replace

    from workbench.judge.fidelity import measured
    from workbench.judge.settings import Rules

    held_out, in_sample = measured(Rules())
    assert held_out.held_out and not in_sample.held_out
    assert "held out" in held_out.describe() and "in-sample" in in_sample.describe()
    assert measured(replace(Rules(), meaning_model="wordllama", min_meaning=0.75))
    assert measured(replace(Rules(), min_meaning=0.7)) == ()  # no labelled set measured these
    assert measured(Rules().without("repetition")) == ()
