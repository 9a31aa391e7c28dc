"""Recipes: the job remembers how it asks, refuses to mix ways of asking, and compares them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import db_snapshot as snapshot
from tests.conftest import ingest_paragraphs, paragraph_rows, reworded, statuses, words
from tests.conftest import run_against as run
from tests.fakeserver import Reply

PARAGRAPHS = [words(10, f"p{i}_") for i in range(4)]


def fresh_words(body: dict, call: int) -> Reply:
    """The paragraph's words in another order each time: accepted, never a duplicate."""
    user = body["messages"][1]["content"]  # the paragraph, even when feedback follows it
    return Reply(reworded(" ".join(user.split()[-10:]), call))


@pytest.fixture
def job(cli, tmp_path) -> Path:
    return ingest_paragraphs(cli, tmp_path, PARAGRAPHS)


def recipe_of(body: dict) -> tuple:
    """What a request says of the recipe that built it."""
    return (
        body["model"],
        body["messages"][0]["content"],
        body["messages"][1]["content"].split(":")[0],
        body.get("max_tokens"),
    )


# --- a plain run continues the recipe -----------------------------------------------------------


def test_a_plain_run_keeps_every_option_of_the_first(cli, fake, job, db_path):
    fake.models = ("small", "big")
    options = [
        "--model", "big", "--system-prompt", "Rewrite plainly.", "--user-template",
        "Rewrite: {text}", "--temperature", "0.3", "--max-tokens", "77",
        "--retry-temperature", "0.5:0.6", "--feedback", "--max-attempts", "3",
    ]  # fmt: skip
    fake.enqueue("no", reworded(PARAGRAPHS[0], 1))
    assert run(cli, fake, *options, "--limit", "1").exit_code == 0
    first = list(fake.requests)
    fake.requests.clear()
    fake.enqueue("no")  # a rejection in the second run: retry temperature and feedback show
    fake.responder = fresh_words
    result = run(cli, fake)
    assert result.exit_code == 0, result.stderr
    assert len(fake.requests) == 4
    for body in first + fake.requests:
        assert recipe_of(body) == ("big", "Rewrite plainly.", "Rewrite", 77)
    assert [b["temperature"] for b in fake.requests if "seed" not in b] == [0.3] * 3
    retry = next(b for b in fake.requests if "seed" in b)
    assert 0.5 <= retry["temperature"] <= 0.6
    assert retry["messages"][-1]["content"].startswith("Your previous answer was rejected")
    # Passing the same values again is fine.
    assert run(cli, fake, *options).stdout.startswith("Nothing to do")


def test_a_changed_option_is_refused_before_anything_is_sent(cli, fake, job, db_path):
    assert run(cli, fake, "--limit", "1").exit_code == 0
    before, sent = snapshot(db_path), len(fake.requests)
    result = run(cli, fake, "--temperature", "0.5")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: recipe 'default' asks with temperature 0.9, not 0.5; to try another way of "
        "asking, name it: --recipe NAME\n"
    )
    result = run(cli, fake, "--system-prompt", "Be brief.", "--max-tokens", "0", "--feedback")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "Error: recipe 'default' asks with the system prompt 'You are an expert novelist. "
    )
    assert (
        ", not 'Be brief.', and max_tokens room for the longest acceptable answer, not no cap, "
        "and feedback off, not on; to try another way of asking, name it: --recipe NAME\n"
    ) in result.stderr
    assert len(fake.requests) == sent
    assert snapshot(db_path) == before


def test_a_model_the_server_does_not_list_is_never_swapped(cli, fake, job, db_path):
    fake.models = ("qwen-7b",)
    assert run(cli, fake, "--limit", "1").exit_code == 0
    fake.models = ("llama-8b", "phi-3")
    before = snapshot(db_path)
    result = run(cli, fake)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: recipe 'default' asks model 'qwen-7b', which {fake.base_url} does not list "
        "(it has: llama-8b, phi-3): load 'qwen-7b' there, or ask another model under a new "
        "recipe: --recipe NAME --model llama-8b\n"
    )
    assert len(fake.requests) == 1
    assert snapshot(db_path) == before
    result = run(cli, fake, "--recipe", "llama", "--model", "llama-8b")
    assert result.exit_code == 0, result.stderr
    assert {b["model"] for b in fake.requests[1:]} == {"llama-8b"}


# --- new recipes ------------------------------------------------------------------------------


def test_a_new_recipe_works_the_same_paragraphs_again(cli, fake, job, db_path):
    assert run(cli, fake).exit_code == 0
    default_attempts = list(Database(db_path).query("SELECT * FROM attempts"))
    result = cli("run", "--base-url", fake.base_url, "--recipe", "cool", "--temperature", "0.2")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "new recipe 'cool' (from 'default' with temperature; the rest as 'default'):"
    assert "  temperature        0.2" in lines
    assert "  model              fake-model" in lines
    asked = [(b["temperature"], b["messages"][1]["content"]) for b in fake.requests]
    assert sorted(asked) == sorted([(0.9, p) for p in PARAGRAPHS] + [(0.2, p) for p in PARAGRAPHS])
    assert [temperature for temperature, _ in asked] == [0.9] * 4 + [0.2] * 4
    # Nothing of the first recipe changed; the new one is current.
    rows = list(Database(db_path).query("SELECT * FROM attempts WHERE recipe_id = 1"))
    assert rows == default_attempts
    assert set(statuses(db_path, "default").values()) == {"succeeded"}
    assert set(statuses(db_path).values()) == {"succeeded"}
    assert json.loads(cli("report", "--json").stdout)["recipe"] == "cool"
    listing = cli("recipes").stdout.splitlines()
    assert listing[1].startswith("  default ") and listing[2].startswith("* cool ")
    assert run(cli, fake, "--temperature", "0.2").stdout.startswith("Nothing to do")


def test_a_new_recipe_needs_a_name_that_is_not_all(cli, fake, job, db_path):
    before = snapshot(db_path)
    result = run(cli, fake, "--recipe", "a,b")
    assert result.exit_code == 1 and "a recipe name is letters" in result.stderr
    result = run(cli, fake, "--recipe", "all")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: --recipe 'all': a recipe name is letters, digits, '_', '-' and '.', and not 'all'\n"
    )
    assert fake.requests == [] and snapshot(db_path) == before


# --- budgets ----------------------------------------------------------------------------------


def test_raising_max_attempts_reopens_skipped_paragraphs(cli, fake, job, db_path):
    fake.responder = lambda body, call: Reply("no")
    assert run(cli, fake, "--max-attempts", "2").exit_code == 0
    assert set(statuses(db_path).values()) == {"skipped"}
    result = cli("run", "--base-url", fake.base_url, "--max-attempts", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "recipe 'default': max_attempts 2 → 5; paragraphs skipped 4 → 0, pending 0 → 4"
    )
    counts = (
        Database(db_path).execute("SELECT count(*) FROM attempts GROUP BY paragraph_id").fetchall()
    )
    assert counts == [(5,)] * 4  # the total per paragraph is the new budget
    assert set(statuses(db_path).values()) == {"skipped"}
    # Lowering it skips without a request.
    assert run(cli, fake, "--max-attempts", "1").stdout.startswith("Nothing to do")
    assert len(fake.requests) == 20


def test_outputs_two_gives_two_different_answers_and_two_lines(cli, fake, job, db_path):
    fake.responder = fresh_words
    assert run(cli, fake, "--outputs", "2").exit_code == 0
    assert len(fake.requests) == 8
    accepted = (
        Database(db_path)
        .execute(
            "SELECT paragraph_id, count(DISTINCT cleaned) FROM attempts WHERE outcome = 'accepted' "
            "GROUP BY paragraph_id"
        )
        .fetchall()
    )
    assert accepted == [(1, 2), (2, 2), (3, 2), (4, 2)]
    lines = cli("export", "-o", "-").stdout.splitlines()
    assert len(lines) == 8
    targets = [json.loads(line)["text"].split("\n<bot>: ")[1] for line in lines]
    assert targets == [p for p in PARAGRAPHS for _ in (1, 2)]  # source order, two each


def test_a_repeated_answer_is_a_duplicate(cli, fake, job, db_path):
    first = reworded(PARAGRAPHS[0], 1)
    near = first.rsplit(" ", 1)[0] + " p0_x"  # one word of ten changed
    fake.enqueue(first, f"  {first.replace(' ', '   ')} ", near, reworded(PARAGRAPHS[0], 2))
    assert run(cli, fake, "--outputs", "2", "--limit", "1").exit_code == 0
    rows = (
        Database(db_path)
        .execute("SELECT outcome, reason, detail FROM attempts ORDER BY attempt_number")
        .fetchall()
    )
    assert rows == [
        ("accepted", None, None),
        ("rejected", "duplicate", "the same text as accepted answer 1 of this paragraph"),
        (
            "rejected",
            "duplicate",
            "a near copy of accepted answer 1 of this paragraph (similarity 0.90 ≥ 0.9)",
        ),
        ("accepted", None, None),
    ]


def test_raising_outputs_asks_succeeded_paragraphs_for_more(cli, fake, job, db_path):
    fake.responder = fresh_words
    assert run(cli, fake).exit_code == 0
    result = cli("run", "--base-url", fake.base_url, "--outputs", "2", "--limit", "2")
    assert result.exit_code == 0
    assert "recipe 'default': outputs 1 → 2; paragraphs succeeded 4 → 0, pending 0 → 4" in (
        result.stderr
    )
    assert len(fake.requests) == 6
    assert [r["status"] for r in paragraph_rows(db_path)] == [
        "succeeded", "succeeded", "pending", "pending"
    ]  # fmt: skip
    assert len(cli("export", "-o", "-").stdout.splitlines()) == 6


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--outputs", "0"], "--outputs must be at least 1"),
        (["--max-attempts", "0"], "--max-attempts must be at least 1"),
        (["--temperature", "2.5"], "--temperature 2.5: must be between 0 and 2"),
        (["--temperature", "-1"], "--temperature -1: must be between 0 and 2"),
        (
            ["--user-template", "Rewrite this"],
            "--user-template 'Rewrite this' has no {text}: put {text} where the paragraph goes",
        ),
        (
            ["--retry-temperature", "0.5:3"],
            "--retry-temperature must be LOW:HIGH with 0 <= LOW <= HIGH <= 2",
        ),
        (["--system-prompt", " "], "--system-prompt is empty"),
    ],
)
def test_bad_recipe_options_are_one_line(cli, fake, job, db_path, args, message):
    for recipe in ([], ["--recipe", "other"]):  # on a new job and on a new recipe
        before, sent = snapshot(db_path), len(fake.requests)
        result = run(cli, fake, *recipe, *args)
        assert result.exit_code == 1
        assert result.stderr == f"Error: {message}\n"
        assert len(fake.requests) == sent and snapshot(db_path) == before
        assert run(cli, fake, "--limit", "1").exit_code == 0


@pytest.mark.parametrize("command", ["report", "export", "recipes"])
def test_an_unknown_recipe_is_one_line(cli, fake, job, db_path, command):
    assert run(cli, fake, "--limit", "1").exit_code == 0
    before = snapshot(db_path)
    args = ["nope"] if command == "recipes" else ["--recipe", "nope"]
    result = cli(command, *args)
    assert result.exit_code == 1
    assert result.stderr == "Error: no recipe 'nope' in this job; it has: default\n"
    assert snapshot(db_path) == before
    assert not Path("output.jsonl").exists()


def test_a_server_that_is_down_changes_nothing(cli, fake, job, db_path):
    assert run(cli, fake, "--max-attempts", "1", "--limit", "1").exit_code == 0
    before = snapshot(db_path)
    for args in (
        ["--max-attempts", "4"],
        ["--min-ratio", "0.3"],
        ["--recipe", "new", "--temperature", "0.1"],
    ):
        result = cli("run", "--base-url", "http://127.0.0.1:9/v1", "-q", *args)
        assert result.exit_code == 3, result.stderr
        assert result.stderr.startswith("Error: cannot reach http://127.0.0.1:9/v1")
        assert snapshot(db_path) == before


def test_a_locked_database_is_one_line(cli, fake, job, db_path, monkeypatch):
    import workbench.store.database

    monkeypatch.setattr(workbench.store.database, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db_path)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for args in (["ingest", job], ["run", "--base-url", fake.base_url, "-q"]):
            result = cli(*args)
            assert result.exit_code == 1
            assert result.stderr.startswith("Error: the database is locked: another process ")
            assert result.stderr.count("\n") == 1
    finally:
        holder.rollback()
        holder.close()
    assert fake.requests == []


# --- listing, comparing, exporting ------------------------------------------------------------


def test_recipes_lists_and_shows(cli, fake, job, db_path):
    assert cli("recipes").stdout == "No recipes yet: `workbench run` makes the first, `default`.\n"
    fake.enqueue("no")
    assert run(cli, fake).exit_code == 0
    assert run(cli, fake, "--recipe", "short", "--system-prompt", "Be brief.").exit_code == 0
    lines = cli("recipes").stdout.splitlines()
    assert lines[0].split() == [
        "recipe", "model", "prompt", "succ.", "skip.", "pend.", "accept", "tok/acc"
    ]  # fmt: skip
    assert lines[1].startswith("  default  fake-model  You are an expert novelist. Par…")
    assert lines[1].split()[-5:] == ["4", "0", "0", "80%", "10.2"]  # 41 tokens for 4 answers
    assert lines[2].split() == ["*", "short", "fake-model", "Be", "brief.", "4", "0", "0",
                                "100%", "10"]  # fmt: skip
    data = json.loads(cli("recipes", "--json").stdout)
    assert [(r["name"], r["current"], r["paragraphs"]) for r in data] == [
        ("default", False, {"pending": 0, "succeeded": 4, "skipped": 0}),
        ("short", True, {"pending": 0, "succeeded": 4, "skipped": 0}),
    ]
    assert data[0]["attempts"] == {"accepted": 4, "rejected": 1, "failed": 0}
    assert data[1]["settings"]["system_prompt"] == "Be brief."
    shown = cli("recipes", "short").stdout.splitlines()
    assert shown[0] == "recipe 'short'"
    assert "  system prompt      'Be brief.'" in shown
    assert json.loads(cli("recipes", "short", "--json").stdout)["temperature"] == 0.9


def test_report_compare_and_per_recipe(cli, fake, job, db_path):
    fake.enqueue("no", "no")
    fake.responder = fresh_words
    assert run(cli, fake, "--concurrency", "1").exit_code == 0
    assert run(cli, fake, "--recipe", "b", "--temperature", "0.1", "--limit", "2").exit_code == 0
    data = json.loads(cli("report", "--compare", "--json").stdout)
    assert data["paragraphs"] == 2  # b has finished two
    a, b = data["recipes"]
    assert (a["name"], a["accept_rate"], a["accepted_first_try"], a["attempts_per_accepted"]) == (
        "default", 0.5, 0.5, 2.0
    )  # fmt: skip
    assert a["rejection_reasons"] == {"too_short": 2}
    assert (b["name"], b["accept_rate"], b["accepted_first_try"], b["rejection_reasons"]) == (
        "b", 1.0, 1.0, {}
    )  # fmt: skip
    text = cli("report", "--compare", "default", "b").stdout.splitlines()
    assert text[0] == "Over the 2 paragraphs every recipe compared has finished:"
    assert text[3].split() == ["succeeded", "2", "2"]
    assert text[4].split() == ["accept", "rate", "50%", "100%"]
    one = cli("report", "--compare", "b")
    assert one.exit_code == 1 and one.stderr.startswith("Error: --compare needs two recipes")
    default = json.loads(cli("report", "--json", "--recipe", "default").stdout)
    assert default["attempts"]["rejected"] == 2 and default["paragraphs"]["succeeded"] == 4
    assert json.loads(cli("report", "--json").stdout)["paragraphs"]["pending"] == 2


def test_export_a_recipe_or_all(cli, fake, job, db_path):
    fake.responder = fresh_words
    assert run(cli, fake).exit_code == 0
    assert run(cli, fake, "--recipe", "b", "--temperature", "0.1", "--limit", "1").exit_code == 0
    assert len(cli("export", "-o", "-").stdout.splitlines()) == 1  # the current: b
    assert len(cli("export", "-o", "-", "--recipe", "default").stdout.splitlines()) == 4
    both = cli("export", "-o", "-", "--recipe", "all").stdout.splitlines()
    assert [json.loads(line)["text"].split("<bot>: ")[1] for line in both] == [
        PARAGRAPHS[0], PARAGRAPHS[0], *PARAGRAPHS[1:]
    ]  # fmt: skip


def test_a_recipe_asks_one_way_whoever_writes(cli, fake, job, db_path):
    assert run(cli, fake, "--limit", "1").exit_code == 0
    db = Database(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="a recipe asks one way"):
        db.execute("UPDATE recipes SET temperature = 0.1")
    db.execute("UPDATE recipes SET max_attempts = 2")  # budgets may change


def test_a_database_on_a_full_disk_is_one_line(cli, fake, job, db_path, monkeypatch):
    import workbench.store.database

    tune = workbench.store.database._tune

    def tune_then_fill(db):  # the file may not grow past the size it has when opened
        tune(db)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(workbench.store.database, "_tune", tune_then_fill)
    fake.responder = fresh_words
    result = run(cli, fake)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot write the database: database or disk is full")
    assert result.stderr.count("\n") == 1


def test_the_status_rule_is_the_same_in_python_and_in_sql(tmp_path):
    """Recipe.status (the running engine's) and the view progress_status (SQL readers') are
    the one rule written twice: every count of verdicts under every budget agrees."""
    from itertools import product

    from workbench.engine.recipes import Recipe, save_recipe, stored_recipes
    from workbench.store.database import open_db
    from workbench.store.times import utc_now

    db = open_db(tmp_path / "status.db", create=True)
    db.table("sources").insert(
        {"id": 1, "path": "/book.txt", "name": "book.txt", "encoding": "utf-8", "sha256": "0",
         "min_words": 10, "paragraph_count": 0, "first_ingested_at": utc_now(),
         "last_ingested_at": utc_now()}
    )  # fmt: skip
    counts = list(product(range(5), range(8)))  # (accepted, rejected)
    for n, _ in enumerate(counts, start=1):
        db.table("paragraphs").insert(
            {"id": n, "source_id": 1, "position": n, "sha256": str(n), "text": "x", "word_count": 1}
        )
    for outputs, max_attempts in product(range(1, 4), range(1, 4)):
        name = f"r{outputs}{max_attempts}"
        save_recipe(db, Recipe(name, model="m", outputs=outputs, max_attempts=max_attempts))
    recipes = stored_recipes(db)
    db.table("progress").insert_all(
        {"paragraph_id": n, "recipe_id": r.id, "attempts": a + j, "accepted": a, "rejected": j,
         "last_attempt_number": a + j, "last_reason": None}
        for r in recipes for n, (a, j) in enumerate(counts, start=1)
    )  # fmt: skip
    in_sql = {
        (paragraph, recipe): status
        for paragraph, recipe, status in db.execute(
            "SELECT paragraph_id, recipe_id, status FROM progress_status"
        )
    }
    for recipe in recipes:
        for n, (accepted, rejected) in enumerate(counts, start=1):
            assert in_sql[n, recipe.id] == recipe.status(accepted, rejected), (recipe, accepted)
    db.close()
