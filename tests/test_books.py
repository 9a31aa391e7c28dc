"""Books in: Project Gutenberg text, EPUB and Markdown through `workbench ingest`.

Every sample is written here: licence lines, chapters, double spaces and verse in text; an EPUB
built with ebooklib; a Markdown file with front matter, headings and emphasis.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.epubs import ENCRYPTION_XML, FONT_OBFUSCATION, add_file, make_epub
from workbench.ingest.book import ReadOptions
from workbench.ingest.lines import is_verse, wrap_width
from workbench.ingest.markdown import read_markdown
from workbench.ingest.text import read_text

# --- helpers ------------------------------------------------------------------------------------


def ingest_ok(cli, *args) -> str:
    result = cli("ingest", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def rows(db_path: Path) -> list[tuple[str | None, str]]:
    """(section title, text) of every paragraph, in source order."""
    return [
        (r["title"], r["text"])
        for r in Database(db_path).query(
            "SELECT s.title, p.text FROM paragraphs p LEFT JOIN sections s ON s.id = p.section_id "
            "ORDER BY p.source_id, p.position"
        )
    ]


def sections(db_path: Path) -> list[tuple[int, str, int]]:
    return [
        (r["position"], r["title"], r["level"])
        for r in Database(db_path).query(
            "SELECT position, title, level FROM sections ORDER BY source_id, position"
        )
    ]


def snapshot(db_path: Path) -> dict[str, list[dict]]:
    db = Database(db_path)
    return {
        "paragraphs": list(db.query("SELECT * FROM paragraphs ORDER BY id")),
        "sections": list(db.query("SELECT * FROM sections ORDER BY id")),
    }


# --- a Project Gutenberg text -------------------------------------------------------------------

HEADER = """\
The Project Gutenberg eBook of The Lantern Keeper, by Ada Mere

This eBook is for the use of anyone anywhere in the United States and
most other parts of the world at no cost and with almost no restrictions
whatsoever.

Title: The Lantern Keeper

Author: Ada Mere

*** START OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***

Produced by the Workbench Test Team.

"""
BODY = """\
THE LANTERN KEEPER

CHAPTER I.

THE LIGHT ON THE HILL

Every night for forty years Tom Avery climbed the hill behind the
village with a can of oil and a box of matches.  He lit the lantern on
the post at the top, and then he walked down again in the dark.

Nobody had asked him to.  The lantern had been there before the
village, people said, and someone had always lit it.

      When the lantern burns on the hill,
      The boats come home and the wind is still;
      When the lantern fails and the hill is dark,
      The sea will have its mark.

CHAPTER II. THE STORM

The storm came in October, on a night when Tom was ill in bed with a
fever, and his granddaughter went up the hill in his place.

"""
FOOTER = """\
*** END OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***

Updating and distributing this eBook is governed by the Project
Gutenberg License, which you will find at the end of this file.

Section 1.  General Terms of Use and Redistributing Project Gutenberg
electronic works.
"""
P1 = (
    "Every night for forty years Tom Avery climbed the hill behind the village with a can of "
    "oil and a box of matches. He lit the lantern on the post at the top, and then he walked "
    "down again in the dark."
)
P2 = (
    "Nobody had asked him to. The lantern had been there before the village, people said, "
    "and someone had always lit it."
)
VERSE = (
    "When the lantern burns on the hill,\n"
    "The boats come home and the wind is still;\n"
    "When the lantern fails and the hill is dark,\n"
    "The sea will have its mark."
)
P3 = (
    "The storm came in October, on a night when Tom was ill in bed with a fever, and his "
    "granddaughter went up the hill in his place."
)
CH1, CH2 = "CHAPTER I. THE LIGHT ON THE HILL", "CHAPTER II. THE STORM"


@pytest.fixture
def gutenberg(tmp_path: Path) -> Path:
    path = tmp_path / "lantern.txt"
    path.write_bytes((HEADER + BODY + FOOTER).replace("\n", "\r\n").encode("utf-8"))
    return path


def test_gutenberg_text(cli, gutenberg, db_path):
    assert ingest_ok(cli, gutenberg) == (
        "lantern.txt: 5 paragraphs (1 under 10 words, 1 verse) in 2 sections; "
        "9 boilerplate paragraphs left out; added 5 (4 to paraphrase, 1 filtered), "
        "0 already known\n"
    )
    # No licence, no heading, no double space; the verse keeps its lines, the prose is joined.
    assert rows(db_path) == [
        (None, "THE LANTERN KEEPER"),
        (CH1, P1),
        (CH1, P2),
        (CH1, VERSE),
        (CH2, P3),
    ]
    assert sections(db_path) == [(1, CH1, 2), (2, CH2, 2)]
    source = Database(db_path).table("sources").get(1)
    assert (source["format"], source["boilerplate"], source["paragraph_count"]) == ("txt", 9, 5)


def test_gutenberg_text_ingested_again_changes_nothing(cli, gutenberg, db_path):
    ingest_ok(cli, gutenberg)
    before = snapshot(db_path)
    assert ingest_ok(cli, gutenberg).endswith(
        "; added 0 (0 to paraphrase, 0 filtered), 5 already known\n"
    )
    assert snapshot(db_path) == before


def test_keep_boilerplate_keeps_the_licence(cli, gutenberg, db_path):
    assert ingest_ok(cli, gutenberg, "--keep-boilerplate") == (
        "lantern.txt: 14 paragraphs (4 under 10 words, 1 verse) in 2 sections; "
        "added 14 (10 to paraphrase, 4 filtered), 0 already known\n"
    )
    texts = [text for _, text in rows(db_path)]
    assert texts[:2] == [
        "The Project Gutenberg eBook of The Lantern Keeper, by Ada Mere",
        "This eBook is for the use of anyone anywhere in the United States and most other "
        "parts of the world at no cost and with almost no restrictions whatsoever.",
    ]
    assert texts[4] == "*** START OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***"
    assert texts[6:11] == ["THE LANTERN KEEPER", P1, P2, VERSE, P3]
    assert texts[-1] == (
        "Section 1. General Terms of Use and Redistributing Project Gutenberg electronic works."
    )
    # Dropping the option later forgets the licence paragraphs that were never sent.
    assert ingest_ok(cli, gutenberg).endswith(
        "; added 0 (0 to paraphrase, 0 filtered), 5 already known; "
        "9 no longer paragraphs of the file, removed\n"
    )
    assert [text for _, text in rows(db_path)] == ["THE LANTERN KEEPER", P1, P2, VERSE, P3]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("*** START OF THIS PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***",
         "*** END OF THIS PROJECT GUTENBERG EBOOK THE LANTERN KEEPER ***"),
        ("***START OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER***",
         "***END OF THE PROJECT GUTENBERG EBOOK THE LANTERN KEEPER***"),
        ("*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*",
         "End of Project Gutenberg's The Lantern Keeper, by Ada Mere"),
    ],
)  # fmt: skip
def test_older_gutenberg_markers(cli, tmp_path, db_path, start, end):
    path = tmp_path / "old.txt"
    path.write_text(f"Licence words here.\n\n{start}\n\n{BODY}{end}\n\nMore licence.\n")
    assert ingest_ok(cli, path).startswith(
        "old.txt: 5 paragraphs (1 under 10 words, 1 verse) in 2 sections; "
        "4 boilerplate paragraphs left out; "
    )


def test_a_text_without_markers_is_all_kept(cli, tmp_path, db_path):
    path = tmp_path / "plain.txt"
    path.write_text(BODY, encoding="utf-8")
    assert ingest_ok(cli, path) == (
        "plain.txt: 5 paragraphs (1 under 10 words, 1 verse) in 2 sections; "
        "added 5 (4 to paraphrase, 1 filtered), 0 already known\n"
    )


# --- spacing ------------------------------------------------------------------------------------


def test_keep_spacing_keeps_double_spaces_and_switching_updates_in_place(cli, gutenberg, db_path):
    ingest_ok(cli, gutenberg, "--keep-spacing")
    texts = [text for _, text in rows(db_path)]
    assert texts[1] == P1.replace("matches. He", "matches.  He")
    assert texts[2] == P2.replace("to. The", "to.  The")
    db = Database(db_path)
    ids = [r["id"] for r in db.query("SELECT id FROM paragraphs ORDER BY position")]
    words = [
        r["word_count"] for r in db.query("SELECT word_count FROM paragraphs ORDER BY position")
    ]

    # Without the option the same paragraphs are found again and re-spaced, never re-added.
    assert ingest_ok(cli, gutenberg).endswith(
        "; added 0 (0 to paraphrase, 0 filtered), 5 already known; 2 re-spaced\n"
    )
    assert [text for _, text in rows(db_path)] == ["THE LANTERN KEEPER", P1, P2, VERSE, P3]
    assert [r["id"] for r in db.query("SELECT id FROM paragraphs ORDER BY position")] == ids
    assert [
        r["word_count"] for r in db.query("SELECT word_count FROM paragraphs ORDER BY position")
    ] == words


def test_every_run_of_spaces_and_tabs_becomes_one(cli, tmp_path, db_path):
    path = tmp_path / "spaces.txt"
    path.write_text("One  two\tthree \t four   five six seven eight nine ten.\u00a0Eleven.\n")
    ingest_ok(cli, path)
    assert rows(db_path) == [
        (None, "One two three four five six seven eight nine ten.\u00a0Eleven.")
    ]


# --- verse --------------------------------------------------------------------------------------


def test_verse_rule_measures_lines_against_the_wrap_width():
    prose = [
        "The storm came in October, on a night when Tom was ill in bed with a",
        "fever, and his granddaughter went up the hill in his place, and the",
        "lantern burned.",
    ]
    verse = ["When the lantern burns on the hill,", "The boats come home and the wind is still;"]
    width = wrap_width(prose + verse)
    assert width == 68
    assert not is_verse(prose, width)
    assert is_verse(verse, width)
    assert is_verse(["Your affectionate brother,", "R. Walton"], width)  # a letter's closing
    assert not is_verse(verse, 30)  # no telling verse from prose in a text this narrow


def test_a_letter_keeps_its_address_and_closing_lines():
    text = (
        "Letter 4\n\n"
        "To Mrs. Saville, England.\n\n"
        "You will rejoice to hear that no disaster has accompanied the commencement of an\n"
        "enterprise which you have regarded with such evil forebodings, dear sister.\n\n"
        "Your affectionate brother,\n"
        "        R. Walton\n"
    )
    book = read_text(text, ReadOptions())
    assert [s.title for s in book.sections] == ["Letter 4"]
    assert [p.text for p in book.paragraphs] == [
        "To Mrs. Saville, England.",
        "You will rejoice to hear that no disaster has accompanied the commencement of an "
        "enterprise which you have regarded with such evil forebodings, dear sister.",
        "Your affectionate brother,\nR. Walton",
    ]


# --- headings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "title", "level"),
    [
        ("CHAPTER V.", "CHAPTER V.", 2),
        ("Chapter 5", "Chapter 5", 2),
        ("CHAPTER I. THE FIRST", "CHAPTER I. THE FIRST", 2),
        ("CHAPTER XII—THE STORM", "CHAPTER XII—THE STORM", 2),
        ("CHAPTER I.\nDown the Rabbit-Hole", "CHAPTER I. Down the Rabbit-Hole", 2),
        ("CHAPTER 1. Loomings.", "CHAPTER 1. Loomings.", 2),
        ("BOOK II", "BOOK II", 1),
        ("BOOK THE FIRST—RECALLED TO LIFE", "BOOK THE FIRST—RECALLED TO LIFE", 1),
        ("Letter 4", "Letter 4", 2),
        ("PART ONE", "PART ONE", 1),
        ("Part Twenty-One", "Part Twenty-One", 1),
        ("STAVE III.", "STAVE III.", 2),
        ("PREFACE", "PREFACE", 2),
        ("IV.", "IV.", 2),
    ],
)
def test_headings(lines, title, level):
    book = read_text(f"{lines}\n\nThe words of the chapter itself.\n", ReadOptions())
    assert [(s.title, s.level) for s in book.sections] == [(title, level)]
    assert [(p.text, p.section) for p in book.paragraphs] == [
        ("The words of the chapter itself.", 0)
    ]


@pytest.mark.parametrize(
    "prose",
    [
        "Chapter 5 of the report was missing, she said.",
        "Book I bought yesterday.",
        "Part of the wall had fallen.",
        "Letter from home",
        "chapter 5",
        "CHAPTER I. The boy ran down the lane, and the dog ran after him, barking at every gate",
        "Chapter 3 was the one she liked best, because the hero in it finally did\n"
        "something brave, though it cost him dearly.",
    ],
)
def test_prose_is_not_taken_for_a_heading(prose):
    book = read_text(f"{prose}\n", ReadOptions())
    assert book.sections == []
    assert [p.text for p in book.paragraphs] == [" ".join(prose.split())]


def test_a_title_on_the_next_line_joins_its_heading_only_in_capitals():
    book = read_text("CHAPTER I\n\nTHE PERIOD\n\nCHAPTER II\n\nIt was late.\n", ReadOptions())
    assert [s.title for s in book.sections] == ["CHAPTER I. THE PERIOD", "CHAPTER II"]
    assert [(p.text, p.section) for p in book.paragraphs] == [("It was late.", 1)]


def test_heading_renamed_or_added_updates_sections_and_keeps_paragraphs(cli, tmp_path, db_path):
    path = tmp_path / "book.txt"
    path.write_text(BODY, encoding="utf-8")
    ingest_ok(cli, path)
    ids = {r["text"]: r["id"] for r in Database(db_path)["paragraphs"].rows}
    edited = BODY.replace("CHAPTER II. THE STORM", "CHAPTER III. THE STORM").replace(
        "      When the lantern", "CHAPTER II.\n\n      When the lantern", 1
    )
    path.write_text(edited, encoding="utf-8")
    assert ingest_ok(cli, path).endswith(
        "in 3 sections; added 0 (0 to paraphrase, 0 filtered), 5 already known\n"
    )
    assert sections(db_path) == [
        (1, CH1, 2),
        (2, "CHAPTER II.", 2),
        (3, "CHAPTER III. THE STORM", 2),
    ]
    assert rows(db_path) == [
        (None, "THE LANTERN KEEPER"),
        (CH1, P1),
        (CH1, P2),
        ("CHAPTER II.", VERSE),
        ("CHAPTER III. THE STORM", P3),
    ]
    assert {r["text"]: r["id"] for r in Database(db_path)["paragraphs"].rows} == ids

    path.write_text(BODY.replace("CHAPTER II. THE STORM\n\n", ""), encoding="utf-8")
    assert ingest_ok(cli, path).endswith(
        " in 1 sections; added 0 (0 to paraphrase, 0 filtered), 5 already known\n"
    )
    assert sections(db_path) == [(1, CH1, 2)]
    assert rows(db_path)[-1] == (CH1, P3)


def test_the_sample_story_has_two_chapters(cli, db_path):
    sample = Path(__file__).resolve().parent.parent / "samples" / "the-clockmakers-daughter.txt"
    assert ingest_ok(cli, sample) == (
        "the-clockmakers-daughter.txt: 40 paragraphs (6 under 10 words) in 2 sections; "
        "added 40 (34 to paraphrase, 6 filtered), 0 already known\n"
    )
    assert sections(db_path) == [(1, "CHAPTER I", 2), (2, "CHAPTER II", 2)]


# --- EPUB ---------------------------------------------------------------------------------------

E1 = (
    "The harbour was full of boats that had no business being there, and the harbour master "
    "said so to anyone who would listen."
)
E2 = "Nobody listened. The boats stayed, and by the end of the week there were more of them."
E3 = "When the fog lifted on the Monday the whole town came down to the quay to count them."
POEM = (
    "The boats came in by night,\nThe boats came in by day,\nAnd not a soul could say\n"
    "Why any boat would stay."
)
CHAPTERS = [
    (
        "One",
        "<h1>Chapter One</h1><p>The harbour was full of boats that had  no business\n"
        "being there, and the <i>harbour master</i> said so to anyone who would listen.</p>",
    ),
    ("The Fog", f"<p>{E3}</p>"),
    (
        "Two",
        f"<h2>Chapter Two<br/>The Visitors</h2><p>{E2}</p>"
        "<div class='poem'><span>The boats came in by night,</span><br/>"
        "<span>The boats came in by day,</span><br/>\n  And not a soul could say<br/>"
        "Why any boat would stay.</div>",
    ),
]


def test_epub_chapters_in_spine_order(cli, tmp_path, db_path):
    book = make_epub(tmp_path / "harbour.epub", CHAPTERS, spine=[0, 2, 1])
    assert ingest_ok(cli, book) == (
        "harbour.epub: 4 paragraphs (0 under 10 words, 1 verse) in 3 sections; "
        "added 4 (4 to paraphrase, 0 filtered), 0 already known\n"
    )
    # The nav document is not read; a document with no heading gets its table-of-contents title.
    assert rows(db_path) == [
        ("Chapter One", E1),  # HTML markup is not text: <i> leaves its words, not its tags
        ("Chapter Two. The Visitors", E2),
        ("Chapter Two. The Visitors", POEM),
        ("The Fog", E3),
    ]
    assert sections(db_path) == [
        (1, "Chapter One", 1),
        (2, "Chapter Two. The Visitors", 2),
        (3, "The Fog", 1),
    ]
    assert Database(db_path).table("sources").get(1)["format"] == "epub"
    before = snapshot(db_path)
    assert ingest_ok(cli, book).endswith(
        "; added 0 (0 to paraphrase, 0 filtered), 4 already known\n"
    )
    assert snapshot(db_path) == before


def test_epub_hgroup_is_one_heading(cli, tmp_path, db_path):
    chapter = f"<section><hgroup><h2>I</h2><p>The Harbour Master</p></hgroup><p>{E1}</p></section>"
    ingest_ok(cli, make_epub(tmp_path / "se.epub", [("I", chapter)]))
    assert sections(db_path) == [(1, "I. The Harbour Master", 2)]
    assert rows(db_path) == [("I. The Harbour Master", E1)]


def test_epub_gutenberg_boilerplate_is_left_out(cli, tmp_path, db_path):
    header = (
        "<section class='pg-boilerplate pgheader' id='pg-header'>"
        "<h2>The Project Gutenberg eBook of The Harbour</h2>"
        "<p>This ebook is for the use of anyone anywhere in the United States and most other "
        "parts of the world at no cost.</p>"
        "<div>*** START OF THE PROJECT GUTENBERG EBOOK THE HARBOUR ***</div></section>"
    )
    footer = (
        "<p>*** END OF THE PROJECT GUTENBERG EBOOK THE HARBOUR ***</p>"
        "<p>Updating and distributing this eBook is governed by the Project Gutenberg License.</p>"
    )
    chapters = [
        ("One", header + f"<h1>Chapter One</h1><p>{E1}</p>"),
        ("Two", f"<p>{E2}</p>" + footer),
    ]
    book = make_epub(tmp_path / "pg.epub", chapters)
    assert ingest_ok(cli, book) == (
        "pg.epub: 2 paragraphs (0 under 10 words) in 2 sections; 5 boilerplate paragraphs left "
        "out; added 2 (2 to paraphrase, 0 filtered), 0 already known\n"
    )
    assert rows(db_path) == [("Chapter One", E1), ("Two", E2)]


def test_epub_with_obfuscated_fonts_is_not_drm(cli, tmp_path, db_path):
    book = make_epub(tmp_path / "fonts.epub", CHAPTERS)
    add_file(
        book,
        "META-INF/encryption.xml",
        ENCRYPTION_XML.format(algorithm=FONT_OBFUSCATION, uri="EPUB/fonts/serif.otf"),
    )
    assert ingest_ok(cli, book).startswith("fonts.epub: 4 paragraphs ")


# --- Markdown -----------------------------------------------------------------------------------

MARKDOWN = """\
---
title: The Orchard
author: Somebody
---

# Part One

## The Orchard

The apple trees were *old* when Grandmother was young, and she was
_old_ now.  Nobody could say who had planted them, or why in rows.

> A letter came in the spring, addressed to nobody in particular, and
> nobody opened it for a week.

Apples in the morning,<two spaces>
pears at night,\\
plums for the wedding
and the table laid white.

* * *

```
print("not prose")
```

Chapter two
-----------

The last paragraph says **goodbye** in a voice too quiet to hear, and then it ends.
""".replace("<two spaces>", "  ")  # a hard line break; the next line ends in the other kind, `\\`


def test_markdown(cli, tmp_path, db_path):
    path = tmp_path / "orchard.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    assert ingest_ok(cli, path) == (
        "orchard.md: 4 paragraphs (0 under 10 words, 1 verse) in 3 sections; "
        "added 4 (4 to paraphrase, 0 filtered), 0 already known\n"
    )
    assert rows(db_path) == [
        (
            "The Orchard",
            "The apple trees were *old* when Grandmother was young, and she was _old_ now. "
            "Nobody could say who had planted them, or why in rows.",
        ),
        (
            "The Orchard",
            "A letter came in the spring, addressed to nobody in particular, and nobody opened "
            "it for a week.",
        ),
        (
            "The Orchard",
            "Apples in the morning,\npears at night,\nplums for the wedding\n"
            "and the table laid white.",
        ),
        (
            "Chapter two",
            "The last paragraph says **goodbye** in a voice too quiet to hear, and then it ends.",
        ),
    ]
    assert sections(db_path) == [(1, "Part One", 1), (2, "The Orchard", 2), (3, "Chapter two", 2)]
    assert Database(db_path).table("sources").get(1)["format"] == "md"
    before = snapshot(db_path)
    assert ingest_ok(cli, path).endswith(
        "; added 0 (0 to paraphrase, 0 filtered), 4 already known\n"
    )
    assert snapshot(db_path) == before


# --- a folder of all three ----------------------------------------------------------------------


def test_a_folder_takes_txt_md_and_epub_in_name_order(cli, tmp_path, db_path):
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "b-orchard.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "a-lantern.txt").write_text(HEADER + BODY + FOOTER, encoding="utf-8")
    make_epub(folder / "c-harbour.epub", CHAPTERS)
    (folder / "notes.rtf").write_text("{\\rtf1 not a book}", encoding="utf-8")
    (folder / "._c-harbour.epub").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    expected = [
        "a-lantern.txt: 5 paragraphs (1 under 10 words, 1 verse) in 2 sections; "
        "9 boilerplate paragraphs left out; added 5 (4 to paraphrase, 1 filtered), 0 already known",
        "b-orchard.md: 4 paragraphs (0 under 10 words, 1 verse) in 3 sections; "
        "added 4 (4 to paraphrase, 0 filtered), 0 already known",
        "c-harbour.epub: 4 paragraphs (0 under 10 words, 1 verse) in 3 sections; "
        "added 4 (4 to paraphrase, 0 filtered), 0 already known",
    ]
    assert ingest_ok(cli, folder).splitlines() == expected
    db = Database(db_path)
    assert [(s["name"], s["format"]) for s in db["sources"].rows_where(order_by="id")] == [
        ("a-lantern.txt", "txt"),
        ("b-orchard.md", "md"),
        ("c-harbour.epub", "epub"),
    ]
    assert db["paragraphs"].count == 13
    before = snapshot(db_path)
    again = ingest_ok(cli, folder).splitlines()
    assert [line.rsplit("; added", 1)[1] for line in again] == [
        " 0 (0 to paraphrase, 0 filtered), 5 already known",
        " 0 (0 to paraphrase, 0 filtered), 4 already known",
        " 0 (0 to paraphrase, 0 filtered), 4 already known",
    ]
    assert snapshot(db_path) == before


def test_markdown_hard_breaks_inside_prose():
    text = (
        "The letter ended there, and below it, in a hand she did not know, somebody had\n"
        "written one more line before folding the paper twice and sealing it:\\\n"
        "Come home before the river rises.\n"
    )
    book = read_markdown(text, ReadOptions())
    assert [(p.text, p.verse) for p in book.paragraphs] == [
        (
            "The letter ended there, and below it, in a hand she did not know, somebody had "
            "written one more line before folding the paper twice and sealing it:\n"
            "Come home before the river rises.",
            True,
        )
    ]


@pytest.mark.parametrize(
    ("text", "paragraphs"),
    [
        ("---\ntitle:\n  - The Orchard\n...\nThe text.\n", ["The text."]),
        ("---\n\nOne scene.\n\n---\n\nAnother.\n", ["One scene.", "Another."]),
        ("---\ntitle: X\n\nnot: front matter\n---\n", ["title: X"]),
    ],
)  # fmt: skip
def test_markdown_front_matter_is_only_yaml_at_the_very_top(text, paragraphs):
    assert [p.text for p in read_markdown(text, ReadOptions()).paragraphs] == paragraphs
