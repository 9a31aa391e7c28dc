"""Sentences of a paragraph, as the meaning check compares them."""

from __future__ import annotations

import pytest

from workbench.judge.sentences import sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        # dialogue: the closing quote stays with its sentence; "said she" goes on the same one
        (
            "“Well, Jane?” said she. “Who has written?” Mr. Bennet asked.",
            ["“Well, Jane?” said she.", "“Who has written?”", "Mr. Bennet asked."],
        ),
        (
            "They walked to St. Aubert’s. Dr. Bell was out.",
            ["They walked to St. Aubert’s.", "Dr. Bell was out."],
        ),
        ("a line of verse\nand the next", ["a line of verse", "and the next"]),
        ("no full stop at all", ["no full stop at all"]),
        ("The clock read 4.19 in the morning.", ["The clock read 4.19 in the morning."]),
        ("   ", [""]),
    ],
)
def test_sentences(text, expected):
    assert sentences(text) == expected
