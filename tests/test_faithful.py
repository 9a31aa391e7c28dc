"""Faithful pairs through the CLI: repetition, meaning_drift, facts_changed and the judge.

Each rule accepts a good paraphrase, rejects its defect, and says in its detail what it
measured; its measures are stored on the attempt, and requests it sends are kept in `checks`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import LAMP, LAMP_PARAPHRASE, ingest_paragraphs, paragraph_rows, statuses
from tests.conftest import run_against as run
from tests.fakeserver import FakeServer, Reply
from workbench.judge import wordllama as meaning

ORIGINAL = LAMP
GOOD = LAMP_PARAPHRASE
ELSEWHERE = (
    "Stock markets fell sharply on Tuesday as investors weighed fresh data on inflation, "
    "wages and the central bank's next decision about interest rates."
)
LOOP = (
    "The lamplighter climbed the ladder and lit the lamp. The lamplighter climbed the ladder "
    "and lit the lamp. The lamplighter climbed the ladder and lit the lamp again tonight."
)
NUMBERS = (
    "In the hall Curdie counted eleven goblins, and three more came in by the far door "
    "before the king rose from his great stone chair to speak to them all."
)


@pytest.fixture
def one(cli, tmp_path) -> Path:
    return ingest_paragraphs(cli, tmp_path, [ORIGINAL])


def attempts(db_path: Path) -> list[dict]:
    return list(Database(db_path).query("SELECT * FROM attempts ORDER BY id"))


def test_a_faithful_paraphrase_passes_and_its_measures_are_kept(cli, fake, one, db_path):
    fake.enqueue(GOOD)
    assert run(cli, fake).exit_code == 0
    (row,) = attempts(db_path)
    assert (row["outcome"], row["reason"]) == ("accepted", None)
    assert row["meaning"] > 0.75 and row["similarity"] < 0.7 and row["repetition"] == 0
    assert row["length_ratio"] == pytest.approx(len(GOOD.split()) / len(ORIGINAL.split()), 1e-3)
    assert row["judge"] is None  # the judge is off by default


def test_meaning_drift_rejects_an_answer_about_something_else(cli, fake, one, db_path):
    fake.enqueue(ELSEWHERE, GOOD)
    assert run(cli, fake).exit_code == 0
    rejected, accepted = attempts(db_path)
    assert rejected["reason"] == "meaning_drift"
    assert rejected["detail"] == (
        f"says something else: meaning similarity {rejected['meaning']:.2f} < 0.74 (MiniLM)"
    )
    assert rejected["meaning"] < 0.3 < 0.75 < accepted["meaning"]
    # A lower threshold is a rules change: the stored answer is judged again, not measured.
    result = cli("rules", "--min-meaning", "-0.5")
    assert "meaning_drift        rule    on   min_meaning -0.5 · MiniLM" in result.stdout
    assert "1 now accepted" in result.stderr
    again = attempts(db_path)[0]
    assert (again["outcome"], again["meaning"]) == ("accepted", rejected["meaning"])


def test_repetition_rejects_an_answer_that_loops(cli, fake, one, db_path):
    fake.enqueue(LOOP, GOOD)
    assert run(cli, fake).exit_code == 0
    looped, _ = attempts(db_path)
    assert looped["reason"] == "repetition"
    assert looped["detail"].startswith("repeats itself: ")
    assert looped["detail"].endswith("of its 4-word sequences occur more than once (≥ 15%)")
    assert looped["repetition"] >= 0.15


def test_facts_changed_is_off_by_default_and_names_what_changed(cli, fake, tmp_path, db_path):
    source = tmp_path / "goblins.txt"
    source.write_text(NUMBERS + "\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    changed = NUMBERS.replace("eleven", "twelve").replace("Curdie", "Peter")
    fair = NUMBERS.replace("Curdie", "he").replace("great stone", "massive")
    fake.enqueue(changed)
    assert run(cli, fake, "--disable-rule", "too_similar").exit_code == 0
    assert attempts(db_path)[0]["outcome"] == "accepted"  # off: the number change gets through
    result = cli("rules", "--enable-rule", "facts_changed")
    assert "1 now rejected" in result.stderr
    (row,) = attempts(db_path)
    assert (row["reason"], row["detail"]) == (
        "facts_changed",
        "drops the number(s) eleven; adds the number(s) twelve; drops the name(s) Curdie; "
        "adds the name(s) Peter",
    )
    fake.enqueue(fair)  # "Curdie" becoming "he" is a fair paraphrase
    assert run(cli, fake).exit_code == 0
    assert attempts(db_path)[-1]["outcome"] == "accepted"


# --- the judge -------------------------------------------------------------------------------


@pytest.fixture
def judge_server():
    """A second server: a bigger model that only judges."""
    with FakeServer(models=("judge-13b",)) as server:
        yield server


def test_the_judge_asks_another_server_and_its_answers_are_kept(
    cli, fake, one, db_path, judge_server
):
    judge_server.enqueue("No, it adds something.", "Yes.")
    fake.enqueue(GOOD, GOOD.replace("small flame", "little flame"))
    result = run(
        cli, fake, "--judge", "--judge-model", "judge-13b", "--judge-base-url",
        judge_server.base_url,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    first, second = attempts(db_path)
    assert (first["outcome"], first["reason"], first["judge"]) == ("rejected", "judge", "no")
    assert first["detail"].startswith("the judge (judge-13b) answered 'no': Does the rewrite ")
    assert (second["outcome"], second["judge"]) == ("accepted", "yes")
    # Every judge request and raw answer is kept, linked to the attempt it judged.
    checks = list(Database(db_path).query("SELECT * FROM checks ORDER BY id"))
    assert [(c["attempt_id"], c["kind"], c["result"]) for c in checks] == [
        (first["id"], "judge", "no"),
        (second["id"], "judge", "yes"),
    ]
    asked = json.loads(checks[0]["request"])
    assert (asked["model"], asked["temperature"], asked["max_tokens"]) == ("judge-13b", 0, 8)
    content = asked["messages"][0]["content"]
    assert content.startswith(f"Original:\n{ORIGINAL}\n\nRewrite:\n{GOOD}\n\n")
    assert content.endswith("Does the rewrite say the same as the original, adding nothing and "
                            "leaving nothing out? Answer yes or no.")  # fmt: skip
    assert json.loads(checks[0]["response"])["choices"][0]["message"]["content"] == (
        "No, it adds something."
    )
    assert len(fake.requests) == 2 and len(judge_server.requests) == 2
    # Its tokens and latency count in the report.
    report = json.loads(cli("report", "--json").stdout)
    assert report["checks"]["judge"]["requests"] == 2
    assert report["checks"]["judge"]["completion_tokens"] == 4 + 1


def test_a_judge_that_does_not_say_yes_or_no_is_retried(cli, fake, one, db_path):
    # The run's own server judges (no --judge-base-url), with the recipe's model.
    fake.enqueue(GOOD, "Maybe, it depends", "YES!")
    assert run(cli, fake, "--judge").exit_code == 0
    (row,) = attempts(db_path)
    assert (row["outcome"], row["judge"]) == ("accepted", "yes")
    checks = list(Database(db_path).query("SELECT error, result FROM checks ORDER BY id"))
    assert checks == [
        {"error": "bad_judgment", "result": None},
        {"error": None, "result": "yes"},
    ]
    assert fake.requests[1]["model"] == "fake-model"  # the recipe's model judges by default
    assert fake.requests[1]["messages"][0]["content"].startswith("Original:\n")


def test_a_judge_that_keeps_failing_stops_the_run_and_keeps_the_answer(cli, fake, one, db_path):
    fake.enqueue(GOOD, *["I cannot say."] * 3)
    result = run(cli, fake, "--judge", "--retries", "2")
    assert result.exit_code == 5
    assert result.stderr.startswith("Error: the server kept failing, last: bad_judgment: ")
    (row,) = attempts(db_path)
    assert (row["outcome"], row["reason"], row["answer"]) == ("failed", "judge_bad_judgment", GOOD)
    assert Database(db_path)["checks"].count == 3
    assert statuses(db_path)[ORIGINAL] == "pending"


def test_a_judge_model_the_server_does_not_list_is_refused_before_anything(
    cli, fake, one, db_path, judge_server
):
    result = run(cli, fake, "--judge", "--judge-model", "gpt-9", "--judge-base-url",
                 judge_server.base_url)  # fmt: skip
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: the job's rules ask --judge-model 'gpt-9', which {judge_server.base_url} does "
        "not list (it has: judge-13b); load it there, or change the rules: "
        "workbench rules --judge-model NAME\n"
    )
    assert fake.requests == [] and judge_server.requests == []


def test_turning_the_judge_on_later_judges_the_stored_pairs_at_the_next_run(
    cli, fake, one, db_path, judge_server
):
    fake.enqueue(GOOD)
    assert run(cli, fake).exit_code == 0
    result = cli("rules", "--judge", "--judge-model", "judge-13b")
    assert result.exit_code == 0
    assert (
        "re-judged 1 answer under rules v2: 0 now accepted, 0 now rejected; 1 accepted until the "
        "next `workbench run` asks the server (judge or embeddings model)"
    ) in result.stderr
    assert judge_server.requests == []  # `rules` sends nothing
    judge_server.enqueue("no")
    fake.enqueue(GOOD.replace("small flame", "tiny flame"))
    judge_server.enqueue("yes")
    result = run(cli, fake, "--judge-base-url", judge_server.base_url)
    assert result.exit_code == 0, result.stderr
    stored, new = attempts(db_path)
    assert (stored["outcome"], stored["reason"], stored["judge"]) == ("rejected", "judge", "no")
    assert (new["outcome"], new["judge"]) == ("accepted", "yes")
    earlier = (
        Database(db_path).execute("SELECT attempt_id, outcome FROM earlier_verdicts").fetchall()
    )
    assert earlier == [(stored["id"], "accepted")]
    assert [r["status"] for r in paragraph_rows(db_path)] == ["succeeded"]


# --- meaning from a server's embeddings model ----------------------------------------------------


def test_meaning_from_an_embeddings_model(cli, fake, one, db_path):
    fake.models = ("fake-model", "nomic-embed")
    fake.enqueue(ELSEWHERE, GOOD)
    assert run(cli, fake, "--embeddings-model", "nomic-embed").exit_code == 0
    rejected, accepted = attempts(db_path)
    assert rejected["reason"] == "meaning_drift"
    assert rejected["detail"].endswith("(embeddings of nomic-embed)")
    assert accepted["outcome"] == "accepted"
    assert [r["model"] for r in fake.embedding_requests] == ["nomic-embed"] * 2
    assert fake.embedding_requests[0]["input"] == [ORIGINAL, ELSEWHERE]
    kinds = Database(db_path).execute("SELECT kind, result FROM checks ORDER BY id").fetchall()
    assert [kind for kind, _ in kinds] == ["embeddings"] * 2
    assert float(kinds[0][1]) == rejected["meaning"]
    # A new threshold reuses the measures: no request is sent.
    assert cli("rules", "--min-meaning", "0.1").exit_code == 0
    assert len(fake.embedding_requests) == 2
    # Back to WordLlama: measured again, offline.
    result = cli("rules", "--embeddings-model", "wordllama")
    assert "meaning_model minilm → wordllama" in result.stderr
    assert "embeddings_model nomic-embed → none, offline" in result.stderr
    assert attempts(db_path)[1]["meaning"] == pytest.approx(
        meaning.similarity(ORIGINAL, GOOD), abs=1e-4
    )
    assert len(fake.embedding_requests) == 2


def test_an_embeddings_failure_is_retried(cli, fake, one, db_path):
    fake.models = ("fake-model", "nomic-embed")
    fake.enqueue(GOOD)
    fake.enqueue_embeddings(Reply.error(503, "loading"), Reply(body="not json"))
    assert run(cli, fake, "--embeddings-model", "nomic-embed").exit_code == 0
    errors = Database(db_path).execute("SELECT error FROM checks ORDER BY id").fetchall()
    assert errors == [("http_503",), ("bad_json",), (None,)]
    assert attempts(db_path)[0]["outcome"] == "accepted"
