"""The word diff browse renders: marks the changed words, escapes everything, loses nothing."""

from __future__ import annotations

import html
import re

import pytest

from workbench.review.worddiff import tokens, word_diff


def text_of(fragment: str) -> str:
    """The text a browser shows for a fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"</?(del|ins)>", "", fragment))


def test_marks_dropped_words_in_the_original_and_added_ones_in_the_answer():
    left, right = word_diff("The cat sat on the mat.", "A cat was sitting on the mat!")
    assert left == "<del>The</del> cat <del>sat</del> on the mat<del>.</del>"
    assert right == "<ins>A</ins> cat <ins>was sitting</ins> on the mat<ins>!</ins>"


def test_identical_texts_have_no_marks():
    text = "Nothing changed here, not one word."
    assert word_diff(text, text) == (text, text)


def test_words_keep_their_apostrophes_and_hyphens():
    assert tokens("Don’t stop a well-known clock.")[1] == [
        ("Don’t", " "),
        ("stop", " "),
        ("a", " "),
        ("well-known", " "),
        ("clock", ""),
        (".", ""),
    ]
    left, right = word_diff("It's well-known.", "It's well-loved.")
    assert left == "It's <del>well-known</del>."
    assert right == "It's <ins>well-loved</ins>."


def test_all_text_is_escaped():
    left, right = word_diff("<b>bold</b> & plain", "<i>bold</i> & plain")
    assert "<b>" not in left and "<i>" not in right
    assert "&lt;" in left and "&amp;" in right
    assert text_of(left) == "<b>bold</b> & plain"
    assert text_of(right) == "<i>bold</i> & plain"


@pytest.mark.parametrize(
    ("original", "answer"),
    [
        ("  Leading space and\n\ntwo paragraphs. ", "Leading space, one paragraph."),
        ("One.\nTwo lines.", "One.\n\nTwo\tlines !"),
        ("", "Everything is new."),
        ("Everything goes.", ""),
        ("—dashes—and “quotes”…", "dashes and quotes"),
    ],
)
def test_both_sides_read_exactly_as_written(original, answer):
    left, right = word_diff(original, answer)
    assert text_of(left) == original
    assert text_of(right) == answer


def test_marks_hug_the_words_and_leave_the_space_after_them_outside():
    _, right = word_diff("one two", "one new words two")
    assert right == "one <ins>new words</ins> two"


@pytest.mark.parametrize(
    "original",
    [" ".join(f"word{i}" for i in range(200)), " ".join(["the clock struck and it was"] * 300)],
)
def test_a_long_looping_answer_is_quick(original):
    import time

    answer = " ".join(["the clock struck and"] * 500)  # what a small model does at max_tokens
    start = time.perf_counter()
    left, right = word_diff(original, answer)
    assert time.perf_counter() - start < 0.5  # exact matching took 6 s on the second
    assert (text_of(left), text_of(right)) == (original, answer)
