"""The facts check: numbers and proper names an answer drops or adds."""

from __future__ import annotations

import pytest

from workbench.judge.facts import FactsCheck, check_facts, numbers, proper_names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("There were a hundred and twelve.", {112: "a hundred and twelve"}),
        ("Bram was seventy-one years old.", {71: "seventy-one"}),
        ("It stood at nineteen minutes past four.", {19: "nineteen", 4: "four"}),
        ("on the thirty-first tooth", {31: "thirty-first"}),
        ("surrounded by two dozen clocks", {24: "two dozen"}),
        ("the river bent twice", {2: "twice"}),
        ("one hundred men and 1,000 horses", {100: "one hundred", 1000: "1,000"}),
        (
            "In 1920, at 4:20, 3.5 miles on the 9th",
            {1920: "1920", 4: "4", 20: "20", 3.5: "3.5", 9: "9th"},
        ),
        ("twenty four blackbirds", {24: "twenty four"}),
        # idioms, not counts
        ("one by one, at first, the second stool, once upon a time, no one", {}),
        ("half past four and a quarter", {4: "four"}),
    ],
)
def test_numbers(text, expected):
    assert numbers(text) == expected


def test_numbers_are_compared_by_value():
    assert not check_facts("It had not moved in eleven years.", "Still for 11 years.").changed
    result = check_facts("She counted a hundred and twelve stairs.", "She counted 121 stairs.")
    assert result.missing_numbers == ("a hundred and twelve",)
    assert result.added_numbers == ("121",)
    assert result.invented


def test_proper_names_skip_sentence_starts_titles_and_dialogue_openers():
    text = (
        "“They’re taking it down,” Mrs. Fenn said. “Alderman Pell has the letter already. "
        "Slowly the clock of Saint Aubert’s will go.” I said nothing. Then Léonie went home."
    )
    assert proper_names(text) == {"Fenn", "Pell", "Aubert", "Léonie"}


def test_gutenberg_italics_and_straight_quotes():
    text = '"_Never_ mind, Princess Irene," he said. "You mustn\'t kiss me to-night."'
    assert proper_names(text) == {"Irene"}


def test_a_word_the_text_also_writes_in_lower_case_is_not_a_name():
    text = "He sang About the hill. The clock was about to strike. Curdie laughed at Lootie."
    assert proper_names(text) == {"Lootie"}


def test_curdie_becoming_he_is_a_dropped_name_not_an_invention():
    original = "Curdie let go his hold of his companion, and rushed at Irene's side."
    answer = "He let go of his companion and rushed to Irene's side."
    result = check_facts(original, answer, known_names={"Curdie", "Irene"})
    assert result == FactsCheck(missing_names=("Curdie",))
    assert result.changed and not result.invented
    assert "He" not in result.added_names


def test_a_name_at_a_sentence_start_counts_when_known_or_used_elsewhere():
    original = "Curdie went on after her, flashing his torch about."
    answer = "Irene went on after her, flashing his torch about."
    assert not check_facts(original, answer).changed  # no evidence either word is a name
    result = check_facts(original, answer, known_names={"Curdie", "Irene"})
    assert result.missing_names == ("Curdie",) and result.added_names == ("Irene",)
    # used mid-sentence in the other text, it is a name in this one too
    result = check_facts("Curdie ran after her.", "Then ran Irene after her.")
    assert result == FactsCheck(added_names=("Irene",))


def test_an_added_name_is_an_invention():
    result = check_facts(
        "The queen stood in the midst of her enemies.",
        "As the day of King Arthur's final battle came, the queen stood among her enemies.",
    )
    assert result.added_names == ("Arthur",)
    assert result.invented
    assert result.detail() == "adds the name(s) Arthur"


def test_a_faithful_paraphrase_keeps_every_fact():
    original = (
        "On the ninth night the door at the bottom of the stairs creaked, and a lantern came "
        "up after hers, and it belonged to Bram Whitlock, the verger, who was seventy-one "
        "years old."
    )
    answer = (
        "On the ninth night the door at the foot of the stairs creaked and a second lantern "
        "followed hers up. It was carried by Bram Whitlock, the verger, a man of seventy-one."
    )
    result = check_facts(original, answer)
    assert not result.changed
    assert result.detail() == "keeps every number and name"


def test_possessives_are_the_same_name():
    assert not check_facts("Curdie's mother laughed.", "The mother of Curdie laughed.").changed


def test_zero_is_a_number_and_not_a_crash():
    found = check_facts("The gauge stood at zero feet.", "The gauge stood at five feet.")
    assert found.invented
