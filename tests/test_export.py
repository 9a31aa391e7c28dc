"""Export: the notebook's JSONL byte for byte, in source order, written atomically."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import run_against, words
from tests.fakeserver import Reply, rotate_words
from workbench.dataset.export import export
from workbench.dataset.formats import Example, pair_line
from workbench.dataset.options import ExportOptions
from workbench.store.database import open_db

ORIGINAL_1 = "She said “hello” to the café owner, who smiled back at her warmly."
ORIGINAL_2 = "The rain fell all night on the old town,\nand by morning the streets were rivers."
PARAPHRASE_1 = 'The café owner heard her say "hello" and answered with a warm smile.'
PARAPHRASE_2 = (
    "All night long the rain came down on the old town;\nby dawn its streets ran like rivers."
)

# Written by hand: json.dumps' default separators, raw UTF-8, \n and \" escaped.
EXPECTED = (
    r'{"text": "<human>: Rephrase the following text in the style of the original author: '
    r"The café owner heard her say \"hello\" and answered with a warm smile.\n"
    r'<bot>: She said “hello” to the café owner, who smiled back at her warmly.", '
    r'"metadata": {"source": "two.txt"}}'
    "\n"
    r'{"text": "<human>: Rephrase the following text in the style of the original author: '
    r"All night long the rain came down on the old town;\nby dawn its streets ran like rivers.\n"
    r'<bot>: The rain fell all night on the old town,\nand by morning the streets were rivers.", '
    r'"metadata": {"source": "two.txt"}}'
    "\n"
).encode()


def run(cli, fake, *options):
    result = run_against(cli, fake, "--concurrency", "1", *options)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def two(cli, fake, tmp_path):
    """A 2-paragraph source, the second hard-wrapped, paraphrased with scripted answers."""
    source = tmp_path / "two.txt"
    source.write_text(f"{ORIGINAL_1}\n\n{ORIGINAL_2}\n\nToo short to send.\n", encoding="utf-8")
    assert cli("ingest", source, "--keep-line-breaks").exit_code == 0
    fake.enqueue(PARAPHRASE_1, PARAPHRASE_2)
    run(cli, fake)
    return source


def files_in(folder: Path) -> set[str]:
    """The files in a folder, leaving out the database and its -wal/-shm companions."""
    return {p.name for p in folder.iterdir() if not p.name.startswith("test.db")}


# --- the line format ----------------------------------------------------------------------------


def test_pair_line_is_the_notebooks():
    assert pair_line("para", "orig", author="Anne", source="s.txt") == (
        '{"text": "<human>: Rephrase the following text in the style of Anne: para\\n<bot>: orig", '
        '"metadata": {"source": "s.txt"}}'
    )


def test_pair_line_keeps_non_ascii_raw_and_escapes_what_json_must():
    line = pair_line('“é” "q" \\ tab\t', "a\nb", author="Zoë", source="ß.txt")
    assert line == (
        '{"text": "<human>: Rephrase the following text in the style of Zoë: '
        '“é” \\"q\\" \\\\ tab\\t\\n<bot>: a\\nb", "metadata": {"source": "ß.txt"}}'
    )
    assert json.loads(line)["text"].endswith("<bot>: a\nb")


# --- the CLI ------------------------------------------------------------------------------------


def test_export_matches_the_hand_written_file(cli, two, tmp_path):
    result = cli("export")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Wrote 2 pairs to output.jsonl\n"
    data = (tmp_path / "output.jsonl").read_bytes()
    assert data == EXPECTED
    assert "café".encode() in data and b"\\u" not in data


def test_author_source_label_and_stdout(cli, two, tmp_path):
    result = cli("export", "--author", "Jane Austen", "--source-label", "pride", "-o", "-")
    assert result.exit_code == 0, result.stderr
    expected = (
        EXPECTED.decode("utf-8")
        .replace("the original author:", "Jane Austen:")
        .replace('"source": "two.txt"', '"source": "pride"')
    )
    assert result.stdout == expected
    assert result.stderr.splitlines()[0] == "Wrote 2 pairs"  # then the statistics
    assert not (tmp_path / "output.jsonl").exists()
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["metadata"] for line in lines] == [{"source": "pride"}] * 2
    assert lines[0]["text"].startswith(
        "<human>: Rephrase the following text in the style of Jane Austen: "
    )


def test_output_option_replaces_an_existing_file_atomically(cli, two, tmp_path):
    out = tmp_path / "pairs.jsonl"
    out.write_text("old content that is longer than the new one " * 100, encoding="utf-8")
    before = files_in(tmp_path)
    result = cli("export", "--output", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Wrote 2 pairs to {out}\n"
    assert out.read_bytes() == EXPECTED
    assert files_in(tmp_path) == before  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_source_order_not_completion_order(cli, fake, tmp_path):
    folder = tmp_path / "book"
    folder.mkdir()
    a1, a2 = words(6, "aone"), words(6, "atwo")
    b1, b2, b3 = words(12, "bone"), words(12, "btwo"), words(12, "bthree")
    (folder / "a.txt").write_text(f"{a1}\n\n{a2}\n", encoding="utf-8")
    (folder / "b.txt").write_text(f"Chapter One.\n\n{b1}\n\n{b2}\n\n{b3}\n", encoding="utf-8")
    # First only b.txt is long enough: b1 and b2 succeed, b3 is skipped.
    assert cli("ingest", folder).exit_code == 0
    fake.enqueue(Reply(), Reply(), "too short")
    run(cli, fake, "--max-attempts", "1")
    # Then a.txt's paragraphs are re-sorted to pending; a1 succeeds, a2 stays pending.
    assert cli("ingest", folder, "--min-words", "5").exit_code == 0
    run(cli, fake, "--limit", "1")
    completed = [body["messages"][-1]["content"] for body in fake.requests]
    assert completed == [b1, b2, b3, a1]

    result = cli("export", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "".join(
        pair_line(rotate_words(original), original, author="the original author", source=name)
        + "\n"
        for name, original in [("a.txt", a1), ("b.txt", b1), ("b.txt", b2)]
    )
    assert result.stderr.splitlines()[0] == "Wrote 3 pairs"


def test_export_with_nothing_succeeded_writes_an_empty_file(cli, book, tmp_path):
    assert cli("ingest", book).exit_code == 0
    (tmp_path / "output.jsonl").write_text("stale\n", encoding="utf-8")
    result = cli("export")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Wrote 0 pairs to output.jsonl\n"
    assert (tmp_path / "output.jsonl").read_bytes() == b""
    stdout = cli("export", "-o", "-")
    assert stdout.exit_code == 0
    assert stdout.stdout == ""
    assert stdout.stderr.splitlines()[0] == "Wrote 0 pairs"


def test_output_into_a_missing_folder(cli, book, tmp_path):
    assert cli("ingest", book).exit_code == 0
    before = files_in(tmp_path)
    result = cli("export", "-o", "missing/out.jsonl")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "Error: cannot write missing/out.jsonl: No such file or directory\n"
    assert files_in(tmp_path) == before


def test_output_that_is_a_folder_is_a_dataset_folder(cli, book, tmp_path):
    assert cli("ingest", book).exit_code == 0
    (tmp_path / "out").mkdir()
    result = cli("export", "-o", "out")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Wrote 0 pairs to out/train.jsonl, and the card out/README.md\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["README.md", "train.jsonl"]


def test_a_split_file_that_is_a_folder(cli, book, tmp_path):
    assert cli("ingest", book).exit_code == 0
    (tmp_path / "out.train.jsonl").mkdir()
    result = cli("export", "-o", "out.jsonl", "--split", "0.5")
    assert result.exit_code == 1
    assert result.stderr == "Error: --output out.train.jsonl is a folder; give a file name\n"
    assert files_in(tmp_path) == {"book.txt", "out.train.jsonl"}


def test_a_failed_export_keeps_the_previous_file_and_no_temporary(
    cli, book, tmp_path, db_path, monkeypatch
):
    assert cli("ingest", book).exit_code == 0
    out = tmp_path / "output.jsonl"
    out.write_bytes(b"previous export\n")
    before = files_in(tmp_path)

    def failing_write(plan, checked, options, result, writers):
        example = Example("p", "o", source="s", section=None, paragraph_id=1, recipe="r")
        wording = checked.wordings.wording((0, 0))
        writers[0](checked.format.build(example, wording))  # a first line, then it fails
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("workbench.dataset.export._write", failing_write)
    db = open_db(db_path)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(db, ExportOptions(output=str(out)))
    assert out.read_bytes() == b"previous export\n"
    assert files_in(tmp_path) == before


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("command", [["export", "-o", "-"], ["report"]])
def test_a_full_disk_is_one_line(two, db_path, command):
    """Writing stdout to a full device: one line and exit 1, for export and report alike."""
    with Path("/dev/full").open("w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "workbench", *command, "--db", str(db_path)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr == "Error: cannot write the output: No space left on device\n"


def test_a_pipe_as_output_is_written_not_replaced(cli, two, tmp_path):
    pipe = tmp_path / "pairs.jsonl"
    os.mkfifo(pipe)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()), daemon=True)
    reader.start()
    result = cli("export", "-o", pipe)
    reader.join(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert received == [EXPECTED]
    assert stat.S_ISFIFO(pipe.stat().st_mode)  # still the pipe: no file renamed over it
    assert files_in(tmp_path) == {"two.txt", "pairs.jsonl"}  # and no temporary left
