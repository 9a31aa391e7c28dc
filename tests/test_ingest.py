"""Ingest: the notebook's paragraph splitting, re-ingesting, and refusing bad input cleanly."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import assert_one_line_error, paragraph_rows, reworded, words
from tests.epubs import AES, ENCRYPTION_XML, add_file, drop_file, make_epub, mark_entry
from workbench.ingest.text import split_paragraphs

# --- helpers ------------------------------------------------------------------------------------


def paragraphs(db_path: Path) -> list[dict]:
    return paragraph_rows(db_path)


def texts(db_path: Path) -> list[str]:
    return [p["text"] for p in paragraphs(db_path)]


def db_files(db_path: Path) -> dict[str, bytes]:
    """The database and its -wal/-shm companions, byte for byte, once every connection is closed."""
    gc.collect()  # close connections the in-process CLI left open, so SQLite checkpoints
    return {
        p.name: p.read_bytes()
        for p in sorted(db_path.parent.glob(db_path.name + "*"))
        if p.is_file()
    }


def ingest_ok(cli, *args):
    result = cli("ingest", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


A = words(12, "alpha")
B = words(12, "beta")
C = words(12, "gamma")
D = words(12, "delta")


# --- splitting, the notebook's way --------------------------------------------------------------


def test_split_on_blank_lines_and_strip():
    assert split_paragraphs("  one two  \n\n three four \n\n\tfive\t\n") == [
        "one two",
        "three four",
        "five",
    ]


def test_split_keeps_single_paragraph_whole():
    assert split_paragraphs("just one paragraph") == ["just one paragraph"]


@pytest.mark.parametrize(
    "text",
    [
        "first para\n\nsecond para\n",  # LF
        "first para\r\n\r\nsecond para\r\n",  # CRLF
        "first para\r\rsecond para\r",  # lone CR (old Mac)
        "first para\n \t \nsecond para",  # a line of only whitespace is blank
        "first para\n\n\n\n\nsecond para",  # several blank lines in a row
        "first para\n  \n\n \n\t\nsecond para",  # several blank lines, some with whitespace
        "\n\n  \nfirst para\n\nsecond para\n\n\n  \n",  # blank lines at both ends
        "\ufefffirst para\n\nsecond para",  # a BOM
        "\ufefffirst para\r\n \r\nsecond para\r\n",  # BOM, CRLF and a whitespace line
    ],
)
def test_split_line_endings_and_blank_lines(text):
    assert split_paragraphs(text) == ["first para", "second para"]


def test_hard_wrapped_lines_are_joined_with_single_spaces():
    text = "The first line\n  goes on here   \nand ends.\n\nAnother\r\nparagraph."
    assert split_paragraphs(text) == [
        "The first line goes on here and ends.",
        "Another paragraph.",
    ]


def test_keep_line_breaks_keeps_them():
    text = "The first line\ngoes on here\nand ends.\n\nAnother\r\nparagraph."
    assert split_paragraphs(text, keep_line_breaks=True) == [
        "The first line\ngoes on here\nand ends.",
        "Another\nparagraph.",
    ]


# --- the CLI: what is stored and what is printed ------------------------------------------------


def test_summary_line(cli, book, db_path):
    result = ingest_ok(cli, book)
    assert result.stdout == (
        "book.txt: 4 paragraphs (1 under 10 words); added 4 (3 to paraphrase, 1 filtered), "
        "0 already known\n"
    )


def test_notebook_split_and_filter(cli, tmp_path, db_path):
    nine = words(9, "nine")  # len(p.split()) < 10: filtered
    ten = words(10, "ten")  # 10 words: kept
    source = write(tmp_path / "s.txt", f"  {ten}  \n\n{nine}\n\n\t{A}\n")
    ingest_ok(cli, source)
    rows = paragraphs(db_path)
    assert [(r["position"], r["text"], r["word_count"], r["status"]) for r in rows] == [
        (1, ten, 10, "pending"),
        (2, nine, 9, "filtered"),
        (3, A, 12, "pending"),
    ]
    source_row = next(Database(db_path)["sources"].rows)
    assert source_row["path"] == str(source.resolve())
    assert source_row["name"] == "s.txt"
    assert source_row["encoding"] == "utf-8"
    assert source_row["min_words"] == 10
    assert source_row["paragraph_count"] == 3


def test_bom_is_not_part_of_the_first_paragraph(cli, tmp_path, db_path):
    source = tmp_path / "bom.txt"
    source.write_bytes(b"\xef\xbb\xbf" + f"{A}\r\n\r\n{B}\r\n".encode())
    ingest_ok(cli, source)
    assert texts(db_path) == [A, B]
    assert paragraphs(db_path)[0]["word_count"] == 12


def test_crlf_lone_cr_and_whitespace_lines_through_the_cli(cli, tmp_path, db_path):
    source = tmp_path / "mixed.txt"
    source.write_bytes(f"{A}\r\n\r\n{B}\r\r{C}\n \t \n\n\n{D}\r\n".encode())
    result = ingest_ok(cli, source)
    assert texts(db_path) == [A, B, C, D]
    assert all("\r" not in t for t in texts(db_path))
    assert result.stdout.startswith("mixed.txt: 4 paragraphs ")


def test_hard_wrapped_lines_through_the_cli(cli, tmp_path, db_path):
    first, second = words(9, "wrapped"), words(3, "end")  # a line as long as the file's longest
    source = write(tmp_path / "wrapped.txt", f"{first}\r\n{second}\n\n{C}\n")
    ingest_ok(cli, source)
    assert texts(db_path) == [f"{first} {second}", C]


def test_keep_line_breaks_through_the_cli(cli, tmp_path, db_path):
    first, second = words(9, "wrapped"), words(3, "end")
    source = write(tmp_path / "wrapped.txt", f"{first}\r\n  {second}\n\n{C}\n")
    ingest_ok(cli, source, "--keep-line-breaks")
    assert texts(db_path) == [f"{first}\n{second}", C]
    assert paragraphs(db_path)[0]["word_count"] == 12
    # with --keep-spacing too, the lines are kept exactly as they were, indentation included
    source = write(tmp_path / "wrapped2.txt", f"{first}\r\n  {second}\n")
    ingest_ok(cli, source, "--keep-line-breaks", "--keep-spacing")
    assert texts(db_path)[-1] == f"{first}\n  {second}"


def test_min_words_filters_counts_and_never_sends(cli, fake, tmp_path, db_path):
    two, three, four = "one two", "one two three", "one two three four"
    source = write(tmp_path / "short.txt", f"{two}\n\n{three}\n\n{four}\n")
    result = ingest_ok(cli, source, "--min-words", "3")
    assert result.stdout == (
        "short.txt: 3 paragraphs (1 under 3 words); added 3 (2 to paraphrase, 1 filtered), "
        "0 already known\n"
    )
    assert [(r["text"], r["status"]) for r in paragraphs(db_path)] == [
        (two, "filtered"),
        (three, "pending"),
        (four, "pending"),
    ]
    assert Database(db_path).table("sources").get(1)["min_words"] == 3

    run = cli("run", "--base-url", fake.base_url, "--concurrency", "1", "-q", "--backoff", "0")
    assert run.exit_code == 0, run.stderr
    sent = [body["messages"][-1]["content"] for body in fake.requests]
    assert sent == [three, four]
    assert [r["status"] for r in paragraphs(db_path)] == ["filtered", "succeeded", "succeeded"]


def test_min_words_zero_keeps_everything(cli, tmp_path, db_path):
    source = write(tmp_path / "s.txt", "one\n\none two\n")
    ingest_ok(cli, source, "--min-words", "0")
    assert [r["status"] for r in paragraphs(db_path)] == ["pending", "pending"]


def test_folder_ingests_every_txt_and_md_sorted_by_name(cli, tmp_path, db_path):
    folder = tmp_path / "book"
    folder.mkdir()
    write(folder / "b.txt", f"{B}\n")
    write(folder / "a.txt", f"{A}\n\n{C}\n")
    write(folder / "c.md", f"{D}\n")
    write(folder / "notes", f"{D}\n")
    write(folder / "a.txt.bak", f"{D}\n")
    (folder / "sub").mkdir()
    write(folder / "sub" / "z.txt", f"{D}\n")  # not recursive
    (folder / "dir.txt").mkdir()  # a folder named *.txt is not a file
    result = ingest_ok(cli, folder)
    assert result.stdout.splitlines() == [
        "a.txt: 2 paragraphs (0 under 10 words); added 2 (2 to paraphrase, 0 filtered), "
        "0 already known",
        "b.txt: 1 paragraphs (0 under 10 words); added 1 (1 to paraphrase, 0 filtered), "
        "0 already known",
        "c.md: 1 paragraphs (0 under 10 words); added 1 (1 to paraphrase, 0 filtered), "
        "0 already known",
    ]
    db = Database(db_path)
    assert [(s["id"], s["name"]) for s in db["sources"].rows_where(order_by="id")] == [
        (1, "a.txt"),
        (2, "b.txt"),
        (3, "c.md"),
    ]
    assert texts(db_path) == [A, C, B, D]


def test_files_and_folders_together_are_ingested_once(cli, tmp_path, db_path):
    folder = tmp_path / "book"
    folder.mkdir()
    a = write(folder / "a.txt", f"{A}\n")
    write(folder / "b.txt", f"{B}\n")
    result = ingest_ok(cli, a, folder)
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["a.txt", "b.txt"]
    assert texts(db_path) == [A, B]


def test_reingest_is_idempotent(cli, book, db_path):
    ingest_ok(cli, book)
    db = Database(db_path)
    before_sources = [(s["id"], s["path"], s["sha256"]) for s in db["sources"].rows]
    before = paragraphs(db_path)
    result = ingest_ok(cli, book)
    assert result.stdout == (
        "book.txt: 4 paragraphs (1 under 10 words); added 0 (0 to paraphrase, 0 filtered), "
        "4 already known\n"
    )
    assert paragraphs(db_path) == before
    assert [(s["id"], s["path"], s["sha256"]) for s in db["sources"].rows] == before_sources
    assert db["paragraphs"].count == 4
    assert db["sources"].count == 1


def test_grown_file_adds_only_its_new_paragraphs(cli, tmp_path, db_path):
    source = write(tmp_path / "growing.txt", f"{A}\n\n{B}\n")
    ingest_ok(cli, source)
    before = {r["text"]: r["id"] for r in paragraphs(db_path)}
    write(source, f"{A}\n\n{B}\n\n{C}\n\n{D}\n")
    result = ingest_ok(cli, source)
    assert result.stdout == (
        "growing.txt: 4 paragraphs (0 under 10 words); added 2 (2 to paraphrase, 0 filtered), "
        "2 already known\n"
    )
    rows = paragraphs(db_path)
    assert [r["text"] for r in rows] == [A, B, C, D]
    assert [r["position"] for r in rows] == [1, 2, 3, 4]
    assert {r["text"]: r["id"] for r in rows if r["text"] in before} == before
    assert Database(db_path).table("sources").get(1)["paragraph_count"] == 4


def test_paragraph_inserted_in_the_middle_moves_the_others(cli, tmp_path, db_path):
    source = write(tmp_path / "growing.txt", f"{A}\n\n{B}\n")
    ingest_ok(cli, source)
    ids = {r["text"]: r["id"] for r in paragraphs(db_path)}
    write(source, f"{C}\n\n{A}\n\n{D}\n\n{B}\n")
    ingest_ok(cli, source)
    rows = paragraphs(db_path)
    assert [(r["text"], r["position"]) for r in rows] == [(C, 1), (A, 2), (D, 3), (B, 4)]
    assert {r["text"]: r["id"] for r in rows if r["text"] in ids} == ids


def test_repeated_identical_paragraphs_are_all_kept(cli, tmp_path, db_path):
    source = write(tmp_path / "chorus.txt", f"{A}\n\n{B}\n\n{A}\n")
    result = ingest_ok(cli, source)
    assert "added 3 (3 to paraphrase, 0 filtered)" in result.stdout
    rows = paragraphs(db_path)
    assert [(r["text"], r["occurrence"], r["position"]) for r in rows] == [
        (A, 1, 1),
        (B, 1, 2),
        (A, 2, 3),
    ]
    assert "added 0 " in ingest_ok(cli, source).stdout
    write(source, f"{A}\n\n{B}\n\n{A}\n\n{A}\n")
    assert "added 1 (1 to paraphrase, 0 filtered), 3 already known" in ingest_ok(cli, source).stdout
    assert [r["occurrence"] for r in paragraphs(db_path)] == [1, 1, 2, 3]


def test_reingest_with_other_min_words_resorts_never_sent_paragraphs(cli, tmp_path, db_path):
    five, twelve = words(5, "five"), words(12, "twelve")
    source = write(tmp_path / "s.txt", f"{five}\n\n{twelve}\n")
    ingest_ok(cli, source)
    assert [r["status"] for r in paragraphs(db_path)] == ["filtered", "pending"]

    result = ingest_ok(cli, source, "--min-words", "3")
    assert result.stdout == (
        "s.txt: 2 paragraphs (0 under 3 words); added 0 (0 to paraphrase, 0 filtered), "
        "2 already known; 1 re-sorted by --min-words\n"
    )
    assert [r["status"] for r in paragraphs(db_path)] == ["pending", "pending"]

    result = ingest_ok(cli, source, "--min-words", "20")
    assert result.stdout.endswith("; 2 re-sorted by --min-words\n")
    assert [r["status"] for r in paragraphs(db_path)] == ["filtered", "filtered"]
    assert Database(db_path).table("sources").get(1)["min_words"] == 20


def test_min_words_does_not_resort_paragraphs_already_sent(cli, fake, tmp_path, db_path):
    from tests.fakeserver import Reply

    sent, succeeded, unsent = words(12, "sent"), words(12, "done"), words(12, "unsent")
    source = write(tmp_path / "s.txt", f"{succeeded}\n\n{sent}\n\n{unsent}\n")
    ingest_ok(cli, source)
    # The first paragraph succeeds; the second gets a 400, which stops the run with it pending.
    fake.enqueue(reworded(succeeded), Reply.error(400, "bad request"))
    run = cli("run", "--base-url", fake.base_url, "--concurrency", "1", "-q", "--backoff", "0")
    assert run.exit_code == 4, run.stderr
    assert [r["status"] for r in paragraphs(db_path)] == ["succeeded", "pending", "pending"]

    result = ingest_ok(cli, source, "--min-words", "50")
    assert result.stdout.endswith("; 1 re-sorted by --min-words\n")
    assert [r["status"] for r in paragraphs(db_path)] == ["succeeded", "pending", "filtered"]


def test_latin_1_with_encoding_option(cli, tmp_path, db_path):
    text = "Café, déjà vu: a naïve façade with crème brûlée for the señor’s garçon."
    text = text.replace("’", "'")  # not in latin-1
    source = write(tmp_path / "latin.txt", f"{text}\n\n{A}\n", encoding="latin-1")
    assert "é".encode("latin-1") in source.read_bytes()
    ingest_ok(cli, source, "--encoding", "latin-1")
    assert texts(db_path) == [text, A]
    assert Database(db_path).table("sources").get(1)["encoding"] == "latin-1"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "UTF16"])
def test_utf_16_is_not_taken_for_binary(cli, tmp_path, db_path, encoding):
    source = write(tmp_path / "wide.txt", f"{A}\n\n{B}\n", encoding=encoding)
    assert b"\x00" in source.read_bytes()
    ingest_ok(cli, source, "--encoding", encoding)
    assert texts(db_path) == [A, B]


@pytest.mark.parametrize("encoding", ["utf-32", "utf_16"])
def test_wide_encodings_are_not_taken_for_binary(cli, tmp_path, db_path, encoding):
    source = write(tmp_path / "wide.txt", f"{A}\n\n{B}\n", encoding=encoding)
    result = cli("ingest", source, "--encoding", encoding)
    assert result.exit_code == 0, result.stderr
    assert texts(db_path) == [A, B]


def test_a_nul_byte_anywhere_makes_a_binary_file(cli, tmp_path, db_path):
    path = tmp_path / "late-nul.txt"
    path.write_bytes((f"{A}\n\n" * 6000).encode() + b"binary\x00tail\n")
    assert path.stat().st_size > 65536
    result = cli("ingest", path)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path.resolve()} looks like a binary file, not text\n"


# --- bad input: one line on stderr, exit 1, the database untouched -----------------------------


def _missing(d: Path):
    path = d / "nope.txt"
    return [path], f"{path} does not exist"


def _folder_without_books(d: Path):
    folder = d / "empty-folder"
    folder.mkdir()
    write(folder / "notes.rtf", f"{A}\n")
    return [folder], f"{folder} has no .txt, .md or .epub files"


def _binary(d: Path):
    path = d / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + A.encode())
    return [path], f"{path.resolve()} looks like a binary file, not text"


def _not_utf8(d: Path):
    path = d / "cp1252.txt"
    path.write_bytes(f"Caf\u00e9 {A}\n".encode("cp1252"))
    return [path], (
        f"{path.resolve()} is not valid utf-8 (byte 0xe9 at offset 3); "
        "pass its encoding, e.g. --encoding cp1252"
    )


def _empty(d: Path):
    path = d / "empty.txt"
    path.write_bytes(b"")
    return [path], f"{path.resolve()} is empty: it has no paragraphs"


def _whitespace_only(d: Path):
    path = d / "blank.txt"
    path.write_bytes(b"\xef\xbb\xbf  \r\n\t\n\n   \n")
    return [path], f"{path.resolve()} is empty: it has no paragraphs"


def _bad_among_good(d: Path):
    first, last = write(d / "a.txt", f"{A}\n"), write(d / "c.txt", f"{C}\n")
    bad = d / "b.txt"
    bad.write_bytes(b"text\x00with a NUL")
    return [first, bad, last], f"{bad.resolve()} looks like a binary file, not text"


def _bad_in_a_folder(d: Path):
    folder = d / "chapters"
    folder.mkdir()
    write(folder / "1.txt", f"{A}\n")
    write(folder / "3.txt", f"{C}\n")
    bad = folder / "2.txt"
    bad.write_bytes(b"")
    return [folder], f"{bad.resolve()} is empty: it has no paragraphs"


def _unknown_encoding(d: Path):
    return [write(d / "ok.txt", f"{A}\n")], "unknown encoding 'klingon'", "--encoding", "klingon"


def _unknown_encoding_for_an_epub(d: Path):
    return [_epub(d)], "unknown encoding 'klingon'", "--encoding", "klingon"


def _not_a_text_encoding(d: Path):
    return [_epub(d)], "'rot13' is not a text encoding", "--encoding", "rot13"


def _negative_min_words(d: Path):
    return [write(d / "ok.txt", f"{A}\n")], "--min-words must be 0 or more", "--min-words", "-1"


def _epub(d: Path, name: str = "book.epub") -> Path:
    return make_epub(d / name, [("One", f"<h1>One</h1><p>{A}</p>"), ("Two", f"<p>{B}</p>")])


def _epub_not_a_zip(d: Path):
    path = write(d / "book.epub", f"{A}\n")
    return [path], f"{path.resolve()} is not a valid EPUB (not a zip archive)"


def _epub_truncated(d: Path):
    path = _epub(d)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return [path], f"{path.resolve()} is not a valid EPUB (not a zip archive)"


def _epub_without_container(d: Path):
    path = drop_file(_epub(d), "META-INF/container.xml")
    return [path], f"{path.resolve()} is not a valid EPUB (it has no META-INF/container.xml)"


def _epub_without_package(d: Path):
    path = drop_file(_epub(d), "EPUB/content.opf")
    return [path], (
        f"{path.resolve()} is not a valid EPUB (its package document EPUB/content.opf is missing)"
    )


def _epub_malformed_package(d: Path):
    path = drop_file(_epub(d), "EPUB/content.opf")
    add_file(path, "EPUB/content.opf", '<package xmlns="http://www.idpf.org/2007/opf"/>')
    return [path], (
        f"{path.resolve()} is not a valid EPUB (its package document EPUB/content.opf is malformed)"
    )


def _epub_missing_chapter(d: Path):
    path = drop_file(_epub(d), "EPUB/text/ch2.xhtml")
    return [path], (
        f"{path.resolve()} is not a valid EPUB "
        "(There is no item named 'EPUB/text/ch2.xhtml' in the archive)"
    )


def _epub_encrypted(d: Path):
    path = add_file(
        _epub(d),
        "META-INF/encryption.xml",
        ENCRYPTION_XML.format(algorithm=AES, uri="EPUB/text/ch1.xhtml"),
    )
    return [path], (
        f"{path.resolve()} is protected by DRM (META-INF/encryption.xml encrypts "
        "EPUB/text/ch1.xhtml); workbench cannot read it"
    )


def _epub_password_protected(d: Path):
    path = mark_entry(_epub(d), "EPUB/text/ch1.xhtml", flags=0x1)
    return [path], (
        f"{path.resolve()} is protected (its entry EPUB/text/ch1.xhtml is password-encrypted); "
        "workbench cannot read it"
    )


def _epub_deflate64(d: Path):
    path = mark_entry(_epub(d), "META-INF/container.xml", method=9)  # Deflate64
    return [path], (
        f"{path.resolve()} is not a valid EPUB (META-INF/container.xml uses a compression "
        "Python cannot read)"
    )


def _epub_adobe_drm(d: Path):
    path = add_file(_epub(d), "META-INF/rights.xml", "<rights/>")
    return [path], (
        f"{path.resolve()} is protected by DRM (Adobe ADEPT: META-INF/rights.xml); "
        "workbench cannot read it"
    )


def _epub_apple_drm(d: Path):
    path = add_file(_epub(d), "META-INF/sinf.xml", "<sinf/>")
    return [path], (
        f"{path.resolve()} is protected by DRM (Apple FairPlay: META-INF/sinf.xml); "
        "workbench cannot read it"
    )


def _epub_empty(d: Path):
    path = make_epub(d / "empty.epub", [("One", "<h1>One</h1>"), ("Two", "<div> </div>")])
    return [path], f"{path.resolve()} is empty: it has no paragraphs"


def _epub_bad_in_a_folder(d: Path):
    folder = d / "shelf"
    folder.mkdir()
    write(folder / "a.txt", f"{A}\n")
    write(folder / "c.md", f"{C}\n")
    bad = add_file(_epub(folder, "b.epub"), "META-INF/rights.xml", "<rights/>")
    return [folder], (
        f"{bad.resolve()} is protected by DRM (Adobe ADEPT: META-INF/rights.xml); "
        "workbench cannot read it"
    )


BAD_INPUTS = {
    "missing path": _missing,
    "folder with no books": _folder_without_books,
    "binary file": _binary,
    "not utf-8": _not_utf8,
    "empty file": _empty,
    "whitespace-only file": _whitespace_only,
    "bad file among good ones": _bad_among_good,
    "bad file in a folder": _bad_in_a_folder,
    "unknown encoding": _unknown_encoding,
    "unknown encoding, EPUB only": _unknown_encoding_for_an_epub,
    "not a text encoding": _not_a_text_encoding,
    "negative --min-words": _negative_min_words,
    "EPUB that is not a zip": _epub_not_a_zip,
    "EPUB cut short": _epub_truncated,
    "EPUB without container.xml": _epub_without_container,
    "EPUB without its package document": _epub_without_package,
    "EPUB with a malformed package document": _epub_malformed_package,
    "EPUB missing a chapter": _epub_missing_chapter,
    "EPUB with encrypted chapters": _epub_encrypted,
    "EPUB with a password-encrypted entry": _epub_password_protected,
    "EPUB with a compression zipfile cannot read": _epub_deflate64,
    "EPUB with Adobe DRM": _epub_adobe_drm,
    "EPUB with Apple DRM": _epub_apple_drm,
    "EPUB with no paragraphs": _epub_empty,
    "bad EPUB in a folder": _epub_bad_in_a_folder,
}


def _bad_input(make, tmp_path: Path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    paths, message, *options = make(inputs)
    return [*paths, *options], message


@pytest.mark.parametrize("make", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_into_an_existing_db_changes_nothing(cli, book, db_path, tmp_path, make):
    ingest_ok(cli, book)
    before = db_files(db_path)
    assert db_path.name in before
    args, message = _bad_input(make, tmp_path)
    assert_one_line_error(cli("ingest", *args), message)
    assert db_files(db_path) == before


@pytest.mark.parametrize("make", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_into_no_db_stores_nothing(cli, db_path, tmp_path, make):
    args, message = _bad_input(make, tmp_path)
    assert_one_line_error(cli("ingest", *args), message)
    assert not db_path.exists()  # every file is read and checked before the database is opened


def test_paragraphs_edited_out_are_forgotten_unless_sent(cli, fake, tmp_path, db_path):
    C = words(12, "gamma")
    source = write(tmp_path / "book.txt", f"{A}\n\n{B}\n\n{C}\n")
    assert cli("ingest", source).exit_code == 0
    assert cli("run", "--base-url", fake.base_url, "-q", "--limit", "1").exit_code == 0  # A sent
    write(source, f"{C}\n")
    result = cli("ingest", source)
    assert (
        "; 1 no longer paragraphs of the file, removed" in result.stdout
    )  # B; A has attempts and stays
    assert sorted(texts(db_path)) == sorted([A, C])


def test_not_utf8_message_says_so_and_suggests_encoding(cli, tmp_path):
    args, _ = _bad_input(_not_utf8, tmp_path)
    result = cli("ingest", *args)
    assert "is not valid utf-8" in result.stderr
    assert "--encoding" in result.stderr
