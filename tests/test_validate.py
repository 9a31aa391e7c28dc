"""Validation: the notebook's rules exactly, their order, their settings, and the CLI options."""

from __future__ import annotations

import json

import pytest
from sqlite_utils import Database

from tests.conftest import words
from workbench.judge.rules import NOTEBOOK_ENABLED, RULES, Rejection
from workbench.judge.settings import DEFAULT_BANNED_PHRASES, Rules
from workbench.judge.verdict import validate as validate_with_all_rules

TEN = words(10, "in")  # an original of 10 words: accept 8..20 answer words


# The notebook's rules alone: answers made of other words would be meaning_drift otherwise.
NOTEBOOK = Rules(enabled=NOTEBOOK_ENABLED)


def validate(original: str, text: str, finish_reason: str | None = None, rules: Rules = NOTEBOOK):
    return validate_with_all_rules(original, text, finish_reason, rules)


def reason(original: str, text: str, finish_reason: str | None = None, rules: Rules = NOTEBOOK):
    rejection = validate(original, text, finish_reason, rules)
    return None if rejection is None else rejection.reason


# --- the rules, their order and their defaults ------------------------------------------------


def test_rules_are_tried_in_the_documented_order():
    assert list(RULES) == [
        "truncated",
        "empty",
        "banned_phrase",
        "multiple_paragraphs",
        "too_short",
        "too_long",
        "refusal",
        "preamble",
        "commentary",
        "too_similar",
        "repetition",
        "meaning_drift",
        "facts_changed",
        "duplicate",
        "judge",
    ]


def test_default_rules_are_the_notebooks():
    assert DEFAULT_BANNED_PHRASES == (
        "###",
        "Paraphrased Text",
        "Alternate Refinement",
        "Extended Alternate Refinement",
        "[Note:",
        "### Question:",
    )
    assert Rules() == Rules(banned_phrases=DEFAULT_BANNED_PHRASES, min_ratio=0.8, max_ratio=2.0)


def test_a_good_answer_is_accepted():
    assert validate(TEN, words(10, "out")) is None
    assert validate(TEN, words(10, "out"), "stop") is None


# --- truncated and empty ------------------------------------------------------------------------


def test_truncated_when_finish_reason_is_length():
    assert validate(TEN, words(10, "out"), "length") == Rejection(
        "truncated", "the server cut the answer off at max_tokens (finish_reason: length)"
    )


@pytest.mark.parametrize("finish_reason", [None, "stop", "eos"])
def test_only_length_and_content_filter_mean_truncated(finish_reason):
    assert validate(TEN, words(10, "out"), finish_reason) is None


def test_a_filtered_answer_is_not_a_paraphrase():
    """A provider's content filter stopped (or blanked) it: whatever is left is not the model's
    paraphrase, so it is rejected however well it reads."""
    assert validate(TEN, words(10, "out"), "content_filter") == Rejection(
        "truncated",
        "the server's content filter stopped the answer (finish_reason: content_filter)",
    )


def test_empty_answer():
    assert validate(TEN, "") == Rejection("empty", "the answer is empty")


# --- banned phrases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "matched"),
    [
        ("###", "###"),
        ("Paraphrased Text", "Paraphrased Text"),
        ("Alternate Refinement", "Alternate Refinement"),
        # It contains "Alternate Refinement", which comes first in the list.
        ("Extended Alternate Refinement", "Alternate Refinement"),
        ("[Note:", "[Note:"),
        # It contains "###", which comes first in the list.
        ("### Question:", "###"),
    ],
)
def test_each_banned_phrase_rejects_as_a_substring(phrase, matched):
    text = f"{words(5, 'a')}{phrase}{words(5, 'b')}"  # glued to its neighbours: a substring
    assert validate(TEN, text) == Rejection("banned_phrase", f"contains {matched!r}")


@pytest.mark.parametrize(
    "text",
    [
        "paraphrased text",
        "PARAPHRASED TEXT",
        "alternate refinement",
        "[note:",
        "[NOTE:",
        "## two hashes",
        "Paraphrased  Text",  # two spaces: not the phrase
        "[Note",
    ],
)
def test_banned_phrases_are_case_sensitive_and_exact(text):
    assert validate(TEN, f"{words(8, 'w')} {text}") is None


def test_banned_phrases_are_configurable():
    rules = Rules(banned_phrases=("forbidden",), enabled=NOTEBOOK_ENABLED)
    assert validate(TEN, f"{words(9, 'w')} forbidden", rules=rules) == Rejection(
        "banned_phrase", "contains 'forbidden'"
    )
    # The notebook's list is replaced, not extended.
    assert validate(TEN, f"{words(9, 'w')} ###", rules=rules) is None
    assert (
        validate(
            TEN, f"{words(9, 'w')} ###", rules=Rules(banned_phrases=(), enabled=NOTEBOOK_ENABLED)
        )
        is None
    )


# --- multiple paragraphs ------------------------------------------------------------------------


def test_a_blank_line_makes_multiple_paragraphs():
    assert validate(TEN, f"{words(5, 'a')}\n\n{words(5, 'b')}") == Rejection(
        "multiple_paragraphs", "2 paragraphs, expected 1"
    )
    assert validate(TEN, f"{words(4, 'a')}\n\n{words(3, 'b')}\n\n{words(3, 'c')}") == Rejection(
        "multiple_paragraphs", "3 paragraphs, expected 1"
    )


def test_multiple_paragraphs_is_the_notebooks_split_on_two_newlines():
    # len(answer.split('\n\n')) > 1: three newlines still split, a single newline does not.
    assert reason(TEN, f"{words(5, 'a')}\n\n\n{words(5, 'b')}") == "multiple_paragraphs"
    assert reason(TEN, f"{words(5, 'a')}\n{words(5, 'b')}") is None
    assert reason(TEN, f"{words(4, 'a')}\n{words(3, 'b')}\n{words(3, 'c')}") is None
    # A line of spaces between is not "\n\n": the notebook did not see it as a break.
    assert reason(TEN, f"{words(5, 'a')}\n \n{words(5, 'b')}") is None


# --- length -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_words", "output_words", "expected"),
    [
        # 10 input words: at least int(8.0) = 8, at most int(20.0) = 20
        (10, 7, "too_short"),
        (10, 8, None),
        (10, 20, None),
        (10, 21, "too_long"),
        # 7 input words: at least int(5.6) = 5, at most 14
        (7, 4, "too_short"),
        (7, 5, None),
        (7, 14, None),
        (7, 15, "too_long"),
        # 3 input words: at least int(2.4) = 2
        (3, 1, "too_short"),
        (3, 2, None),
        (3, 6, None),
        (3, 7, "too_long"),
        # 1 input word: at least int(0.8) = 0, at most 2
        (1, 1, None),
        (1, 2, None),
        (1, 3, "too_long"),
    ],
)
def test_length_boundaries_are_the_notebooks(input_words, output_words, expected):
    assert reason(words(input_words, "in"), words(output_words, "out")) == expected


def test_words_are_counted_with_split():
    # Any whitespace separates words, punctuation does not.
    assert reason(TEN, "a\tb\nc  d e f g h") is None  # 8 words
    assert reason(TEN, "a,b,c,d,e,f,g,h i j") == "too_short"  # 3 words


def test_length_details_say_what_was_counted():
    assert validate(TEN, words(7, "out")) == Rejection(
        "too_short", "7 words, fewer than 8 (0.8 × 10)"
    )
    assert validate(TEN, words(21, "out")) == Rejection(
        "too_long", "21 words, more than 20 (2 × 10)"
    )


def test_length_ratios_are_configurable():
    rules = Rules(min_ratio=0.5, max_ratio=1.0, enabled=NOTEBOOK_ENABLED)
    assert reason(TEN, words(5, "out"), rules=rules) is None
    assert validate(TEN, words(4, "out"), rules=rules) == Rejection(
        "too_short", "4 words, fewer than 5 (0.5 × 10)"
    )
    assert reason(TEN, words(10, "out"), rules=rules) is None
    assert validate(TEN, words(11, "out"), rules=rules) == Rejection(
        "too_long", "11 words, more than 10 (1 × 10)"
    )
    # int() truncates the configured bound too: 1.55 × 10 = 15.5 → 15
    assert (
        reason(TEN, words(15, "out"), rules=Rules(max_ratio=1.55, enabled=NOTEBOOK_ENABLED)) is None
    )
    assert (
        reason(TEN, words(16, "out"), rules=Rules(max_ratio=1.55, enabled=NOTEBOOK_ENABLED))
        == "too_long"
    )


# --- first match wins ---------------------------------------------------------------------------


def test_truncated_comes_before_everything():
    assert reason(TEN, "", "length") == "truncated"
    assert reason(TEN, "### a\n\nb", "length") == "truncated"


def test_empty_comes_before_too_short():
    assert reason(TEN, "") == "empty"


def test_banned_phrase_comes_before_multiple_paragraphs_and_length():
    assert reason(TEN, "### short\n\nanswer") == "banned_phrase"
    assert reason(TEN, words(30, "out") + " ###") == "banned_phrase"


def test_multiple_paragraphs_comes_before_length():
    assert reason(TEN, "short\n\nanswer") == "multiple_paragraphs"
    assert reason(TEN, words(15, "a") + "\n\n" + words(15, "b")) == "multiple_paragraphs"


def test_validate_returns_the_first_rule_that_matches():
    # Each answer breaks every rule from its own onwards, and only its own is reported.
    cases = {
        "truncated": ("[Note: x\n\ny", "length"),
        "empty": ("", None),
        "banned_phrase": ("[Note: x\n\ny", None),
        "multiple_paragraphs": ("x\n\ny", None),
        "too_short": ("x y", None),
        "too_long": (words(40, "out"), None),
    }
    for expected, (text, finish_reason) in cases.items():
        assert reason(TEN, text, finish_reason) == expected, expected


# --- the CLI options change what `workbench run` rejects ----------------------------------------


@pytest.fixture
def ten_words(cli, tmp_path):
    """One paragraph of exactly 10 words, ingested."""
    source = tmp_path / "ten.txt"
    source.write_text(TEN + "\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    return source


def run_and_get_reasons(cli, fake, db_path, *options, notebook: bool = True):
    """The verdicts of a run with these options, under the notebook's rules by default (the
    answers here are made of other words than the original's)."""
    result = cli(
        "run",
        "--base-url",
        fake.base_url,
        "--concurrency",
        "1",
        "--backoff",
        "0",
        "-q",
        *(["--notebook-rules"] if notebook else []),
        *options,
    )
    assert result.exit_code == 0, result.stderr
    db = Database(db_path)
    return [
        (row["outcome"], row["reason"], row["detail"])
        for row in db.query("SELECT outcome, reason, detail FROM attempts ORDER BY id")
    ]


def test_cli_banned_phrase_adds_to_the_notebooks_list(cli, fake, db_path, ten_words):
    fake.enqueue(
        f"{words(9, 'a')} ###",  # the notebook's list still applies
        f"{words(9, 'b')} forbidden",  # and so does the added phrase
        f"{words(9, 'c')} allowed",
    )
    reasons = run_and_get_reasons(
        cli, fake, db_path, "--banned-phrase", "forbidden", "--max-attempts", "3"
    )
    assert reasons == [
        ("rejected", "banned_phrase", "contains '###'"),
        ("rejected", "banned_phrase", "contains 'forbidden'"),
        ("accepted", None, None),
    ]


def test_cli_banned_phrase_can_be_given_several_times(cli, fake, db_path, ten_words):
    fake.enqueue(f"{words(9, 'a')} alpha", f"{words(9, 'b')} beta", f"{words(9, 'c')} gamma")
    reasons = run_and_get_reasons(
        cli,
        fake,
        db_path,
        "--banned-phrase",
        "alpha",
        "--banned-phrase",
        "beta",
        "--max-attempts",
        "3",
    )
    assert [r[:2] for r in reasons] == [
        ("rejected", "banned_phrase"),
        ("rejected", "banned_phrase"),
        ("accepted", None),
    ]


def test_cli_banned_phrases_file_replaces_the_list(cli, fake, db_path, ten_words, tmp_path):
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("forbidden\n\nAs an AI\n", encoding="utf-8")
    fake.enqueue(
        f"{words(9, 'a')} forbidden",
        f"As an AI {words(7, 'b')}",
        f"{words(9, 'c')} ###",  # "###" is no longer banned
    )
    reasons = run_and_get_reasons(
        cli, fake, db_path, "--banned-phrases-file", phrases, "--max-attempts", "3"
    )
    assert reasons == [
        ("rejected", "banned_phrase", "contains 'forbidden'"),
        ("rejected", "banned_phrase", "contains 'As an AI'"),
        ("accepted", None, None),
    ]
    rules = json.loads(Database(db_path).execute("SELECT settings FROM rules").fetchone()[0])
    assert rules["banned_phrases"] == ["forbidden", "As an AI"]


def test_cli_min_ratio(cli, fake, db_path, ten_words):
    fake.enqueue(words(4, "a"), words(5, "b"))  # the default 0.8 would reject 5 words
    reasons = run_and_get_reasons(cli, fake, db_path, "--min-ratio", "0.5")
    assert reasons == [
        ("rejected", "too_short", "4 words, fewer than 5 (0.5 × 10)"),
        ("accepted", None, None),
    ]


def test_cli_max_ratio(cli, fake, db_path, ten_words):
    fake.enqueue(words(11, "a"), words(10, "b"))  # the default 2.0 would accept 11 words
    reasons = run_and_get_reasons(cli, fake, db_path, "--max-ratio", "1")
    assert reasons == [
        ("rejected", "too_long", "11 words, more than 10 (1 × 10)"),
        ("accepted", None, None),
    ]


def test_cli_default_rules_are_the_notebooks(cli, fake, db_path, ten_words):
    # The original's own words in another order: a paraphrase to every rule but the length.
    shuffled = " ".join(reversed(TEN.split()))
    fake.enqueue(" ".join(shuffled.split()[:7]), f"{shuffled} {shuffled[:-2]} x", shuffled[:-4])
    # Whole answers: streamed, the second would be stopped at its 15th word, as a loop.
    reasons = run_and_get_reasons(cli, fake, db_path, "--no-stream", notebook=False)
    assert reasons == [
        ("rejected", "too_short", "7 words, fewer than 8 (0.8 × 10)"),
        ("rejected", "too_long", "21 words, more than 20 (2 × 10)"),
        ("accepted", None, None),
    ]
