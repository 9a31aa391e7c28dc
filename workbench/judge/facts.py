"""Facts kept: the numbers and proper names of the original an answer drops, and those it adds.

A number is a run of digits ("1920", "4:20" is 4 and 20) or of number words ("a hundred and
twelve", "seventy-one", "the ninth", "two dozen", "twice"), compared by value, so "eleven" in the
original and "11" in the answer are the same fact. Words that are more often idiom than count
are left out: one, once, first, second, half, quarter ("one by one", "at first", "a second").

A proper name is a capitalised word that is not at the start of a sentence or of a line of
dialogue (after . ! ? : or an opening quote), minus titles and forms of address (Mr, Princess,
Majesty, Mother…), common sentence openers, "I", words in capitals and words the same text
also writes in lower case; a possessive 's is dropped. A capitalised word at a sentence start
is only taken for a name when it is used as one elsewhere: mid-sentence in either text, or in
`known_names` (say, every name of the book, from `proper_names(book_text)`), because "Slowly"
opening a sentence is not a name.

A name the answer leaves out is often fair ("Curdie" becomes "he"), so `FactsCheck` keeps the
four differences apart and lets the caller decide which to reject.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

# --- numbers ----------------------------------------------------------------------------------

UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
ORDINALS = {
    "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
    "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
    "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
    "twentieth": 20, "thirtieth": 30, "fortieth": 40, "fiftieth": 50, "sixtieth": 60,
    "seventieth": 70, "eightieth": 80, "ninetieth": 90, "hundredth": 100, "thousandth": 1000,
}  # fmt: skip
TIMES = {"twice": 2, "thrice": 3}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
DOZEN = 12
# "one", "first" and "second" count only inside a longer number ("one hundred", "thirty-first").
COMPOUND_ONLY = {"one": 1, "first": 1, "second": 2}

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)


def _value(word: str) -> int | None:
    """The value of one number word, or None."""
    for table in (UNITS, TENS, ORDINALS, TIMES, SCALES, COMPOUND_ONLY):
        if word in table:
            return table[word]
    return DOZEN if word == "dozen" else None


def numbers(text: str) -> dict[int | float, str]:
    """Every number in the text: value → the words that said it first."""
    text = text.replace("_", " ")  # Gutenberg italics
    matches = list(_TOKEN.finditer(text))
    tokens = [(m.group(0), m.group(0).lower()) for m in matches]
    found: dict[int | float, str] = {}
    i = 0
    while i < len(tokens):
        digits = re.fullmatch(r"(\d+(?:[.,]\d+)*)(?:st|nd|rd|th)?", tokens[i][1])
        if digits:
            found.setdefault(_digits_value(digits.group(1)), tokens[i][0])
            i += 1
            continue
        value, end = _number_words(tokens, i)
        if value is None:
            i += 1
            continue
        found.setdefault(value, text[matches[i].start() : matches[end - 1].end()])
        i = end
    return found


def _digits_value(digits: str) -> int | float:
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits):
        return int(digits.replace(",", ""))
    try:
        number = float(digits.replace(",", "."))
    except ValueError:
        return int(re.sub(r"\D", "", digits))
    return int(number) if number.is_integer() else number


def _number_words(tokens: list[tuple[str, str]], start: int) -> tuple[int | None, int]:
    """Parse the number that starts at tokens[start]: (value, index after it) or (None, start).

    "a hundred and twelve" is 112, "seventy-one" 71, "two dozen" 24; "one", "first" and
    "second" count only inside a longer number, and "four five" is two numbers.
    """
    total = current = 0
    last = ""  # kind of the previous word: unit, tens, scale
    counts = False  # a word that counts on its own has been seen
    i = start
    while i < len(tokens):
        word = tokens[i][1]
        after = tokens[i + 1][1] if i + 1 < len(tokens) else ""
        multiplier = after in SCALES or after == "dozen"
        if word in ("a", "an") and i == start and multiplier:
            current, last = 1, "unit"
        elif word == "and" and last == "scale" and _value(after) is not None:
            pass  # "a hundred and twelve"
        elif word in UNITS or word in COMPOUND_ONLY:
            if last == "unit" or (word in COMPOUND_ONLY and last != "tens" and not multiplier):
                break  # "four five", or a lone "one"/"first"/"second": an idiom
            current += UNITS[word] if word in UNITS else COMPOUND_ONLY[word]  # zero is 0
            counts = counts or word in UNITS or last == "tens"
            last = "unit"
            if word in ("first", "second"):
                i += 1
                break
        elif word in TENS:
            if last in ("unit", "tens"):
                break
            current, last, counts = current + TENS[word], "tens", True
        elif word in ORDINALS:
            if last == "unit" and word not in SCALES:
                break
            current, counts = current + ORDINALS[word], True
            i += 1
            break  # an ordinal ends the number
        elif word in SCALES:
            if word == "hundred":
                current = max(current, 1) * SCALES[word]
            else:
                total, current = total + max(current, 1) * SCALES[word], 0
            last, counts = "scale", True
        elif word == "dozen":
            current, last, counts = max(current, 1) * DOZEN, "scale", True
        elif word in TIMES and i == start:
            return TIMES[word], i + 1
        else:
            break
        i += 1
    if not counts:
        return None, start
    return total + current, i


# --- names ------------------------------------------------------------------------------------

# Capitalised mid-sentence without being a name: titles and forms of address, and "I".
TITLES = frozenset(
    """I I'm I've I'll I'd O Oh Ah Mr Mrs Ms Miss Dr Sir Madam Ma'am Lady Lord Saint St King
    Queen Prince Princess Majesty Highness Alderman Captain Master Mistress Mother Father Nurse
    Papa Mamma Mama Grandmother Grandfather Uncle Aunt Chancellor Doctor Illustration""".split()  # noqa: SIM905 (a word list reads best as words)
)
# Words that open sentences, lines of dialogue and verse: never taken for names.
OPENERS = frozenset(
    """The A An This That These Those It It's He She They We You His Her Their Our My Your Its
    What What's When Where Why How Who Which Whose No Yes Not Nor But And Or So Then There
    There's Here If In On At Of To For From With Without By As All One Do Don't Did Does Is
    Isn't Was Wasn't Has Have Had Shall Will Would Can Could Can't Must May Might Never Now Well
    Good Just Only Even Still Yet Once After Before While Although Though Because Since Until
    Let Please Thank Thanks Hello Goodbye Dear Some Any Every Each Both Either Neither Such
    Perhaps Maybe Indeed Also Whereas Upon Into Over Under Out Up Down Off Away""".split()  # noqa: SIM905
)
ABBREVIATIONS = frozenset({"Mr", "Mrs", "Ms", "Dr", "St", "Mt", "Jr", "Sr"})

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*", re.UNICODE)
_OPENING = "\"“‘'([«"
_POSSESSIVE = re.compile(r"['’]s$")


def _words(text: str) -> list[tuple[str, bool]]:
    """(word without a possessive 's, whether it opens a sentence) for each word of the text."""
    text = text.replace("_", "")  # Gutenberg italics
    result = []
    for match in _WORD.finditer(text):
        word = _POSSESSIVE.sub("", match.group(0))
        result.append((word, _opens_sentence(text, match.start())))
    return result


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    while before and (before[-1] in _OPENING or before.endswith(("--", "—", "–"))):
        before = before.rstrip(_OPENING + "—–-").rstrip()
        if before and before[-1] not in ".!?:":
            return True  # an opening quote or a dash: a line of dialogue or an aside begins
    if not before:
        return True
    if before[-1] in "”’\"')":  # a sentence that ended inside quotes
        before = before.rstrip("”’\"')").rstrip()
    if before and before[-1] in "!?:":
        return True
    if before.endswith("."):
        last = re.search(r"(\w+)\.$", before)
        return not (last and last.group(1) in ABBREVIATIONS)
    return False


def _is_name(word: str) -> bool:
    return (
        word[:1].isupper()
        and not (len(word) > 1 and word.isupper())
        and word not in TITLES
        and word not in OPENERS
    )


def proper_names(text: str) -> set[str]:
    """Capitalised words used mid-sentence, minus titles, openers and words the text also writes
    in lower case ("About" in a song, "Make" after a dash): the text's proper names."""
    words = _words(text)
    lower = {word for word, _ in words if word.islower()}
    return {
        word for word, opens in words if not opens and _is_name(word) and word.lower() not in lower
    }


# --- the check --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactsCheck:
    """What the answer did to the original's numbers and names (empty tuples: kept them all)."""

    missing_numbers: tuple[str, ...] = ()
    added_numbers: tuple[str, ...] = ()
    missing_names: tuple[str, ...] = ()
    added_names: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Any difference at all, names left out included."""
        return bool(self.missing_numbers or self.added_numbers or self.missing_names) or bool(
            self.added_names
        )

    @property
    def invented(self) -> bool:
        """A number dropped or added, or a name added: the differences a fair paraphrase does
        not make (unlike a name turned into "he")."""
        return bool(self.missing_numbers or self.added_numbers or self.added_names)

    def detail(self) -> str:
        """For people, e.g. "drops the number(s) eleven; adds the name(s) Paris"."""
        parts = []
        for label, items in (
            ("drops the number(s)", self.missing_numbers),
            ("adds the number(s)", self.added_numbers),
            ("drops the name(s)", self.missing_names),
            ("adds the name(s)", self.added_names),
        ):
            if items:
                parts.append(f"{label} {', '.join(items)}")
        return "; ".join(parts) or "keeps every number and name"


def check_facts(original: str, answer: str, known_names: Collection[str] = ()) -> FactsCheck:
    """The numbers and proper names of `original` missing from `answer`, and those it adds.

    `known_names`: names known from elsewhere (the whole book), so that one opening a sentence
    is still seen as a name.
    """
    source_numbers, answer_numbers = numbers(original), numbers(answer)
    source_words, answer_words = _words(original), _words(answer)
    names = proper_names(original) | proper_names(answer) | set(known_names)
    in_source = {word for word, _ in source_words}
    in_answer = {word for word, _ in answer_words}
    source_names = sorted({w for w, _ in source_words if w in names and _is_name(w)})
    answer_names = sorted({w for w, _ in answer_words if w in names and _is_name(w)})
    return FactsCheck(
        missing_numbers=tuple(
            text for v, text in source_numbers.items() if v not in answer_numbers
        ),
        added_numbers=tuple(text for v, text in answer_numbers.items() if v not in source_numbers),
        missing_names=tuple(n for n in source_names if n not in in_answer),
        added_names=tuple(n for n in answer_names if n not in in_source),
    )
