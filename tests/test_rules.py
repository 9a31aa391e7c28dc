"""The rules and cleaners for what small and reasoning models really send."""

from __future__ import annotations

import json

import pytest
from sqlite_utils import Database

from tests.conftest import LAMP, LAMP_PARAPHRASE, ingest_paragraphs
from tests.conftest import run_against as run
from tests.fakeserver import Reply
from workbench.judge.cleaners import CLEANERS, clean
from workbench.judge.measures import similarity
from workbench.judge.rules import NOTEBOOK_ENABLED, RULES
from workbench.judge.settings import Rules
from workbench.judge.verdict import validate

ORIGINAL = LAMP
GOOD = LAMP_PARAPHRASE


DEFAULT = Rules()


def reason(text: str, original: str = ORIGINAL, rules: Rules = DEFAULT) -> str | None:
    rejection = validate(original, clean(original, text, rules), "stop", rules)
    return rejection.reason if rejection else None


def test_a_real_paraphrase_passes_every_rule():
    assert reason(GOOD) is None
    assert similarity(ORIGINAL, GOOD) < 0.7


@pytest.mark.parametrize(
    "text",
    [
        ORIGINAL,
        ORIGINAL.replace("dusk", "sunset"),
        ORIGINAL.upper().replace(",", ";"),  # case and punctuation do not hide a copy
    ],
)
def test_too_similar_catches_near_copies(text):
    assert reason(text) == "too_similar"


def test_similarity_threshold_is_configurable():
    light = ORIGINAL.replace("dusk", "sunset").replace("little", "small")
    assert reason(light) == "too_similar"
    assert reason(light, rules=Rules(similarity=0.99)) is None
    assert reason(light, rules=Rules().without("too_similar")) is None


@pytest.mark.parametrize(
    "lead_in",
    [
        "Here is the paraphrased text:",
        "Here's a refined version of the passage:",
        "Sure! ",
        "Certainly, here it is:",
        "Rewritten version:",
        "Revised paragraph:",
    ],
)
def test_preamble(lead_in):
    assert reason(f"{lead_in} {GOOD}") == "preamble"


@pytest.mark.parametrize(
    "note",
    [
        "\nNote: I kept the original meaning.",
        " I made the following changes to improve the flow of the text.",
        " In this paraphrase, the imagery is richer.",
        "\n(Changes: replaced 'dusk' with 'nightfall'.)",
        " This version keeps the tone of the original text.",
    ],
)
def test_commentary(note):
    assert reason(GOOD + note) == "commentary"


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with rewriting this passage",
        "I cannot paraphrase this text because it may be protected by copyright law",
        "As an AI language model, I do not write fiction, but here is a short summary",
    ],
)
def test_refusal(text):
    padding = " of the lamplighter, his ladder, his brass pole and the harbour wind."
    assert reason(text + padding) == "refusal"


def test_patterns_the_author_wrote_do_not_count():
    """First-person prose is not commentary, a character's apology is not a refusal."""
    original = (
        "I made the bread that morning, as I had every morning since the war, and I'm sorry "
        "to say I cannot remember a single loaf of it now, though the text of the recipe stays."
    )
    answer = (
        "I made the bread that day as on every day since the war, and I'm sorry to admit I "
        "cannot recall one loaf of it, although the text of the recipe remains with me still."
    )
    assert validate(original, answer, "stop", Rules().without("too_similar")) is None


def test_the_notebooks_verdicts_come_first():
    # Rejected by the notebook already: reported with the notebook's reason.
    assert reason(f"Here is the paraphrased text:\n\n{GOOD}") == "multiple_paragraphs"
    assert reason("Sure! Short.") == "too_short"


def test_strip_quotes_cleans_wrapping_quotes_only():
    assert clean(ORIGINAL, f'"{GOOD}"') == GOOD
    assert clean(ORIGINAL, f"“{GOOD}”") == GOOD
    assert clean(ORIGINAL, f"‘{GOOD}’") == GOOD
    # dialogue inside: the quotes belong to the text
    dialogue = '"Stay," he said. "The lamps are lit."'
    assert clean(ORIGINAL, dialogue) == dialogue
    # the original is wrapped in the same quotes: so may the paraphrase be
    quoted = "“Not yet,” she said, and the wind from the harbour agreed with her entirely."
    assert clean(quoted, "“Not yet, she said”") == "“Not yet, she said”"


def test_strip_think_removes_reasoning_blocks():
    assert clean(ORIGINAL, f"<think>\nThe user wants a paraphrase.\n</think>\n\n{GOOD}") == GOOD
    assert clean(ORIGINAL, f"The user wants…</think>{GOOD}") == GOOD  # opening tag dropped
    assert clean(ORIGINAL, "<think>I keep thinking and never finish") == ""
    assert reason("<think>I keep thinking and never finish") == "empty"


def test_cleaners_can_be_switched_off():
    rules = Rules().without("strip_quotes")
    assert clean(ORIGINAL, f'"{GOOD}"', rules) == f'"{GOOD}"'


def test_notebook_only_leaves_the_notebooks_rules():
    enabled = [code for code in RULES if code in NOTEBOOK_ENABLED]
    assert enabled == [
        "truncated",
        "empty",
        "banned_phrase",
        "multiple_paragraphs",
        "too_short",
        "too_long",
    ]
    assert not set(CLEANERS) & NOTEBOOK_ENABLED
    assert reason(ORIGINAL, rules=Rules(enabled=NOTEBOOK_ENABLED)) is None


def test_feedback_sentences_name_the_problem():
    rejection = validate("one two three four five six seven eight nine ten", "x\n\ny")
    assert rejection is not None
    assert rejection.feedback == (
        "Your previous answer was rejected because it had more than one paragraph."
    )
    assert all(rule.feedback for rule in RULES.values())


# --- through the CLI ----------------------------------------------------------------------------


@pytest.fixture
def one_paragraph(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, [ORIGINAL])


def test_raw_and_cleaned_answers_are_both_kept_and_cleaned_is_exported(
    cli, fake, one_paragraph, db_path
):
    fake.enqueue(f"<think>Let me rewrite it.</think>\n“{GOOD}”")
    assert run(cli, fake).exit_code == 0
    row = next(Database(db_path).query("SELECT answer, cleaned, outcome FROM attempts"))
    assert row == {
        "answer": f"<think>Let me rewrite it.</think>\n“{GOOD}”",
        "cleaned": GOOD,
        "outcome": "accepted",
    }
    line = json.loads(cli("export", "-o", "-").stdout)
    assert line["text"].endswith(f": {GOOD}\n<bot>: {ORIGINAL}")


def test_reasoning_content_and_null_content(cli, fake, one_paragraph, db_path):
    body = {
        "choices": [
            {
                "message": {"role": "assistant", "content": None, "reasoning_content": "Hmm…"},
                "finish_reason": "length",
            }
        ]
    }
    fake.enqueue(Reply(body=json.dumps(body)), GOOD)
    assert run(cli, fake).exit_code == 0
    rows = list(Database(db_path).query("SELECT outcome, reason, response FROM attempts"))
    assert [(r["outcome"], r["reason"]) for r in rows] == [
        ("rejected", "truncated"),
        ("accepted", None),
    ]
    assert "reasoning_content" in rows[0]["response"]  # the raw body, as received


def test_disable_rule_and_notebook_rules_options(cli, fake, one_paragraph, db_path):
    fake.responder = lambda body, call: Reply(ORIGINAL)  # a copy
    assert run(cli, fake, "--max-attempts", "1").exit_code == 0
    assert next(Database(db_path).query("SELECT reason FROM attempts"))["reason"] == "too_similar"
    # The notebook's rules accept a copy: the stored answer is judged again, nothing is sent.
    result = cli("run", "--base-url", fake.base_url, "--notebook-rules")
    assert result.exit_code == 0
    assert len(fake.requests) == 1
    assert next(Database(db_path).query("SELECT outcome FROM attempts"))["outcome"] == "accepted"
    assert (
        "re-judged 1 answer under rules v2: 1 now accepted, 0 now rejected; 1 paragraph succeeded"
        in result.stderr
    )


def test_unknown_rule_is_a_one_line_error(cli, fake, one_paragraph):
    result = run(cli, fake, "--disable-rule", "too_funny")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: unknown rule too_funny; the rules and cleaners are: ")
    assert fake.requests == []


@pytest.mark.parametrize(
    ("stream", "shown"),
    [("--no-stream", f"{GOOD}\n\n{GOOD}"), ("--stream", f"{GOOD}\n\nAs")],  # what it read
)
def test_feedback_tells_the_model_why(cli, fake, one_paragraph, stream, shown):
    fake.enqueue(f"{GOOD}\n\n{GOOD}", GOOD)
    assert run(cli, fake, "--feedback", stream).exit_code == 0
    first, second = fake.requests
    assert len(first["messages"]) == 2
    assert second["messages"][2:] == [
        {"role": "assistant", "content": shown},
        {
            "role": "user",
            "content": "Your previous answer was rejected because it had more than one "
            "paragraph. Paraphrase the text again.",
        },
    ]


def test_retry_temperature_varies_temperature_and_seed(cli, fake, one_paragraph, db_path):
    fake.enqueue("no", "no", "no", GOOD)
    assert run(cli, fake, "--retry-temperature", "0.5:0.7").exit_code == 0
    first, *retries = fake.requests
    assert first["temperature"] == 0.9 and "seed" not in first
    assert all(0.5 <= body["temperature"] <= 0.7 for body in retries)
    assert len({body["seed"] for body in retries}) == 3
    requests = [
        json.loads(r["request"]) for r in Database(db_path).query("SELECT request FROM attempts")
    ]
    assert [r.get("seed") for r in requests] == [None] + [b["seed"] for b in retries]


@pytest.mark.parametrize("value", ["0.9", "a:b", "1.0:0.5"])
def test_bad_retry_temperature(cli, fake, one_paragraph, value):
    result = run(cli, fake, "--retry-temperature", value)
    assert result.exit_code == 1
    assert "--retry-temperature" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
