"""Datasets out: every export format and shaping option through the CLI, on a real run against
the fake server. Each format's file is loaded the way its trainer does (JSON lines, or a CSV
with a header) and checked against an exact schema; every text is compared with the database's,
so no quote, newline, tab or non-ASCII character is altered."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import db_snapshot as snapshot
from tests.conftest import reworded, run_against
from tests.fakeserver import Reply
from workbench.dataset.split import split_key

# A book with a paragraph before its first heading, two chapters, verse, a tab, quotes of both
# kinds, a backslash, non-ASCII, a short paragraph (filtered) and a repeated one (--dedupe).
BEFORE = "Before the story begins, a word about the town and its clock tower above the square."
SHOP = "She said “hello” to the café owner, who smiled back at her warmly that morning."
RAIN = "The rain fell all night on the old town,\nand by morning the streets were rivers."
LEDGER = 'Zoë wrote "quoted" words\tand a tab, then a backslash \\ and a star ★ in the ledger.'
LONG = (
    "The ledger ran to three hundred pages, every one of them ruled by hand in brown ink, and "
    "Zoë had filled all but the last nine with the names of clocks and the people who owned them."
)
BOOK = (
    f"{BEFORE}\n\nCHAPTER I. THE SHOP\n\n{SHOP}\n\n{RAIN}\n\nToo short to send.\n\n"
    f"CHAPTER II. THE LEDGER\n\n{LEDGER}\n\n{SHOP}\n\n{LONG}\n"
)
# Two answers for each paragraph, tricky in their own ways: a line separator (U+2028), a tab,
# curly and straight quotes, a backslash, an emoji.
PARAPHRASES = {
    BEFORE: (
        "A few words first, about the little town\u2028and the clock tower over its square.",
        "To begin, a few words about the small town and the clock tower over its square.",
    ),
    SHOP: (
        'The café owner heard her say "hello" and answered with a smile, warm that morning.',
        "That morning she greeted the café’s owner with a “hello”, and he smiled warmly back.",
    ),
    RAIN: (
        "All night long the rain came down on the old town;\nby dawn its streets ran like rivers.",
        "Rain poured on the old town the whole night through,\nso its streets were rivers by day.",
    ),
    LEDGER: (
        "In the ledger Zoë put a star ★, a tab\tand “quoted” words, then a backslash \\ too.",
        'A backslash \\, a star ★ and "quoted" words\twith a tab: Zoë wrote them in the ledger.',
    ),
    LONG: (
        "Three hundred pages made up the ledger, each ruled by hand in brown ink; Zoë had filled "
        "all but nine of them with clocks and the names of those who owned them. 🎉",
        "Every one of the ledger's three hundred pages was ruled by hand in brown ink, and only "
        "the last nine were still empty of the clocks and owners Zoë had listed.",
    ),
}
ORIGINALS = [BEFORE, SHOP, RAIN, LEDGER, SHOP, LONG]  # the export's paragraphs, in order
SECTIONS = [None, "CHAPTER I. THE SHOP", "CHAPTER I. THE SHOP", "CHAPTER II. THE LEDGER",
            "CHAPTER II. THE LEDGER", "CHAPTER II. THE LEDGER"]  # fmt: skip
METADATA_KEYS = ["source", "section", "paragraph_id", "recipe"]


KNOWN = {" ".join(original.split()): answers for original, answers in PARAPHRASES.items()}


def responder(body, call):
    """The scripted answers of a paragraph (however ingest spaced it); another paragraph's
    words backwards, marked by the call, so its answers differ from each other."""
    text = body["messages"][-1]["content"]
    if " ".join(text.split()) in KNOWN:
        return Reply(KNOWN[" ".join(text.split())][(call - 1) % 2])
    return Reply(reworded(text, call))


def run(cli, fake, *options):
    fake.responder = responder
    result = run_against(cli, fake, "--concurrency", "1", *options)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.fixture
def book(tmp_path) -> Path:
    path = tmp_path / "clocks.txt"
    path.write_text(BOOK, encoding="utf-8")
    return path


@pytest.fixture
def job(cli, fake, book, db_path):
    """Every paragraph with two accepted answers (run --outputs 2), line breaks and tabs kept."""
    assert cli("ingest", book, "--keep-line-breaks", "--keep-spacing").exit_code == 0
    result = run(cli, fake, "--outputs", "2")
    assert "6 succeeded, 0 skipped of 6 paragraphs" in result.stdout
    return db_path


def stored_pairs(db_path: Path) -> list[tuple[int, str, str]]:
    """(paragraph id, paraphrase, original) of every pair, as the database holds them."""
    with Database(db_path) as db:
        return [
            tuple(row) for row in db.execute("SELECT paragraph_id, paraphrase, original FROM pairs")
        ]


def export(cli, *options: str):
    result = cli("export", *options)
    assert result.exit_code == 0, result.stderr
    return result


def jsonl(path: Path | str, *, notebook: bool = False) -> list[dict]:
    """A JSONL file read as trainers read it: UTF-8, one JSON object a line, split on \\n.
    Only the notebook's format (its bytes unchanged) leaves U+2028 and U+0085 raw, which
    str.splitlines() would take for line ends."""
    data = Path(path).read_bytes()
    text = data.decode("utf-8")
    assert text == "" or text.endswith("\n")
    assert "\r" not in text
    if not notebook:
        assert len(text.splitlines()) == text.count("\n")
    records = [json.loads(line) for line in text.split("\n")[:-1]]
    assert all(isinstance(r, dict) for r in records)
    return records


def check_metadata(metadata: dict, *, paragraph_id: int, source: str = "clocks.txt") -> None:
    assert list(metadata) == METADATA_KEYS
    assert metadata["source"] == source
    assert metadata["paragraph_id"] == paragraph_id
    assert metadata["recipe"] == "default"


def section_of(db_path: Path, paragraph_id: int) -> str | None:
    with Database(db_path) as db:
        return db.execute(
            "SELECT s.title FROM paragraphs p LEFT JOIN sections s ON s.id = p.section_id "
            "WHERE p.id = ?",
            [paragraph_id],
        ).fetchone()[0]


INSTRUCTION = "Rephrase the following text in the style of the original author."
SYSTEM = "You rewrite text in the style of the original author."


# --- each format: exact schema, texts as stored ------------------------------------------------


def test_messages(cli, job):
    export(cli, "--format", "messages", "-o", "m.jsonl")
    records = jsonl("m.jsonl")
    pairs = stored_pairs(job)
    assert len(records) == len(pairs) == 12
    for record, (_, paraphrase, original) in zip(records, pairs, strict=True):
        assert record == {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"{INSTRUCTION}\n\n{paraphrase}"},
                {"role": "assistant", "content": original},
            ]
        }


def test_prompt_completion(cli, job):
    export(cli, "--format", "prompt-completion", "-o", "pc.jsonl")
    records = jsonl("pc.jsonl")
    pairs = stored_pairs(job)
    assert len(records) == 12
    for record, (paragraph_id, paraphrase, original) in zip(records, pairs, strict=True):
        assert list(record) == ["prompt", "completion", "metadata"]
        assert record["prompt"] == f"{INSTRUCTION}\n\n{paraphrase}\n\n"
        assert record["completion"] == original
        check_metadata(record["metadata"], paragraph_id=paragraph_id)
        assert record["metadata"]["section"] == section_of(job, paragraph_id)


def test_alpaca(cli, job):
    export(cli, "--format", "alpaca", "-o", "a.jsonl")
    records = jsonl("a.jsonl")
    for record, (paragraph_id, paraphrase, original) in zip(
        records, stored_pairs(job), strict=True
    ):
        assert list(record) == ["instruction", "input", "output", "system", "metadata"]
        assert record["instruction"] == INSTRUCTION
        assert record["input"] == paraphrase
        assert record["output"] == original
        assert record["system"] == SYSTEM
        check_metadata(record["metadata"], paragraph_id=paragraph_id)


def test_sharegpt(cli, job):
    export(cli, "--format", "sharegpt", "-o", "s.jsonl")
    records = jsonl("s.jsonl")
    for record, (paragraph_id, paraphrase, original) in zip(
        records, stored_pairs(job), strict=True
    ):
        assert list(record) == ["conversations", "metadata"]
        assert record["conversations"] == [
            {"from": "system", "value": SYSTEM},
            {"from": "human", "value": f"{INSTRUCTION}\n\n{paraphrase}"},
            {"from": "gpt", "value": original},
        ]
        check_metadata(record["metadata"], paragraph_id=paragraph_id)


def test_text_is_each_original_once(cli, job):
    result = export(cli, "--format", "text", "-o", "t.jsonl")
    assert result.stdout == "Wrote 6 paragraphs to t.jsonl\n"
    records = jsonl("t.jsonl")
    assert [list(r) for r in records] == [["text", "metadata"]] * 6
    assert [r["text"] for r in records] == ORIGINALS
    assert [r["metadata"]["section"] for r in records] == SECTIONS
    ids = [pid for pid, _, _ in stored_pairs(job)]
    assert [r["metadata"]["paragraph_id"] for r in records] == list(dict.fromkeys(ids))


def test_dpo_pairs_each_answer_with_the_next(cli, job):
    result = export(cli, "--format", "dpo", "-o", "d.jsonl")
    assert result.stdout == "Wrote 12 preference pairs to d.jsonl\n"
    records = jsonl("d.jsonl")
    pairs = stored_pairs(job)
    assert len(records) == 12
    for i, (record, (paragraph_id, paraphrase, original)) in enumerate(
        zip(records, pairs, strict=True)
    ):
        other = pairs[i + 1 if i % 2 == 0 else i - 1]  # the paragraph's other answer
        assert other[0] == paragraph_id
        assert list(record) == ["prompt", "chosen", "rejected", "metadata"]
        assert record["prompt"] == f"{INSTRUCTION}\n\n{paraphrase}\n\n"
        assert record["chosen"] == original
        assert record["rejected"] == other[1] != paraphrase
        check_metadata(record["metadata"], paragraph_id=paragraph_id)


def test_csv_round_trips_in_a_spreadsheet_reader(cli, job):
    export(cli, "--format", "csv")  # the default name takes the format's extension
    data = Path("output.csv").read_bytes()
    assert data.startswith(
        b"source,section,paragraph_id,recipe,paraphrase,original,paraphrase_words,"
        b"original_words\r\n"
    )
    with Path("output.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    pairs = stored_pairs(job)
    assert len(rows) == len(pairs) == 12
    for row, (paragraph_id, paraphrase, original) in zip(rows, pairs, strict=True):
        assert row == {
            "source": "clocks.txt",
            "section": section_of(job, paragraph_id) or "",
            "paragraph_id": str(paragraph_id),
            "recipe": "default",
            "paraphrase": paraphrase,
            "original": original,
            "paraphrase_words": str(len(paraphrase.split())),
            "original_words": str(len(original.split())),
        }


def test_the_texts_are_the_databases_to_the_character(cli, job):
    """Tabs, newlines, both kinds of quotes, a backslash, non-ASCII and a line separator
    survive every format unchanged."""
    pairs = stored_pairs(job)
    originals = {original for _, _, original in pairs}
    paraphrases = {paraphrase for _, paraphrase, _ in pairs}
    assert {"\t", "\n", "\\", '"', "“", "★"} <= set("".join(originals))
    assert {"\t", "\n", "\\", '"', "“", "★", "🎉", "\u2028"} <= set("".join(paraphrases))
    export(cli, "--format", "alpaca", "-o", "a.jsonl")
    records = jsonl("a.jsonl")
    assert {r["output"] for r in records} == originals
    assert {r["input"] for r in records} == paraphrases
    raw = Path("a.jsonl").read_text(encoding="utf-8")
    assert "café" in raw and "\\u00e9" not in raw  # UTF-8 as is
    assert "\\u2028" in raw and "\u2028" not in raw  # escaped: one record a line for any reader


def test_a_heading_free_paragraph_has_a_null_section(cli, job):
    export(cli, "--format", "prompt-completion", "-o", "pc.jsonl")
    sections = [r["metadata"]["section"] for r in jsonl("pc.jsonl")]
    assert sections == [s for s in SECTIONS for _ in range(2)]


def test_notebook_is_the_default_and_unchanged(cli, job):
    export(cli)
    export(cli, "--format", "notebook", "-o", "nb.jsonl")
    assert Path("output.jsonl").read_bytes() == Path("nb.jsonl").read_bytes()
    # Shaped, its lines are the same bytes.
    export(cli, "--limit", "3", "-o", "three.jsonl")
    lines = Path("nb.jsonl").read_bytes().splitlines(keepends=True)
    assert Path("three.jsonl").read_bytes() == b"".join(lines[:3])
    export(cli, "--split", "0.5", "-o", "nb.jsonl")
    halves = Path("nb.train.jsonl").read_bytes() + Path("nb.val.jsonl").read_bytes()
    assert sorted(halves.splitlines()) == sorted(b"".join(lines).splitlines())
    records = jsonl("nb.jsonl", notebook=True)
    assert [list(r) for r in records] == [["text", "metadata"]] * 12
    for record, (_, paraphrase, original) in zip(records, stored_pairs(job), strict=True):
        assert record == {
            "text": "<human>: Rephrase the following text in the style of the original author: "
            f"{paraphrase}\n<bot>: {original}",
            "metadata": {"source": "clocks.txt"},
        }


def test_stdout(cli, job):
    result = export(cli, "--format", "messages", "-o", "-")
    assert len(result.stdout.splitlines()) == 12
    assert result.stderr.splitlines()[0] == "Wrote 12 pairs"
    assert not Path("output.jsonl").exists()


# --- wording and direction ---------------------------------------------------------------------


def test_author_instruction_and_system(cli, job):
    export(
        cli, "--format", "messages", "-o", "m.jsonl", "--author", "Jane Austen",
        "--instruction", "Write this as {author} would:", "--system", "You are {author}.",
    )  # fmt: skip
    first = jsonl("m.jsonl")[0]["messages"]
    paraphrase = stored_pairs(job)[0][1]
    assert first[:2] == [
        {"role": "system", "content": "You are Jane Austen."},
        {"role": "user", "content": f"Write this as Jane Austen would:\n\n{paraphrase}"},
    ]
    export(cli, "--format", "sharegpt", "-o", "s.jsonl", "--author", "Jane Austen")
    assert jsonl("s.jsonl")[0]["conversations"][0] == {
        "from": "system",
        "value": "You rewrite text in the style of Jane Austen.",
    }


def test_no_system_and_no_instruction(cli, job):
    export(cli, "--format", "messages", "-o", "m.jsonl", "--system", "", "--instruction", "")
    paraphrase, original = stored_pairs(job)[0][1:]
    assert jsonl("m.jsonl")[0] == {
        "messages": [
            {"role": "user", "content": paraphrase},
            {"role": "assistant", "content": original},
        ]
    }
    export(cli, "--format", "alpaca", "-o", "a.jsonl", "--system", "")
    assert list(jsonl("a.jsonl")[0]) == ["instruction", "input", "output", "metadata"]
    export(cli, "--format", "prompt-completion", "-o", "pc.jsonl", "--instruction", "")
    assert jsonl("pc.jsonl")[0]["prompt"] == f"{paraphrase}\n\n"


def test_original_to_paraphrase_swaps_prompt_and_answer(cli, job):
    pairs = stored_pairs(job)
    export(cli, "--format", "messages", "-o", "m.jsonl", "--direction", "original-to-paraphrase")
    for record, (_, paraphrase, original) in zip(jsonl("m.jsonl"), pairs, strict=True):
        assert record["messages"] == [
            {
                "role": "system",
                "content": "You paraphrase text in your own words, keeping its meaning.",
            },
            {
                "role": "user",
                "content": f"Paraphrase the following text in your own words.\n\n{original}",
            },
            {"role": "assistant", "content": paraphrase},
        ]
    for fmt, prompt_key, answer_key in (
        ("prompt-completion", "prompt", "completion"),
        ("alpaca", "input", "output"),
    ):
        export(cli, "-f", fmt, "-o", "x.jsonl", "--direction", "original-to-paraphrase")
        records = jsonl("x.jsonl")
        assert [r[answer_key] for r in records] == [p for _, p, _ in pairs]
        prompts = [r[prompt_key] for r in records]
        assert all(o in p for p, (_, _, o) in zip(prompts, pairs, strict=True))
    export(cli, "-f", "sharegpt", "-o", "s.jsonl", "--direction", "original-to-paraphrase")
    assert [r["conversations"][2]["value"] for r in jsonl("s.jsonl")] == [p for _, p, _ in pairs]


# --- shaping ----------------------------------------------------------------------------------


def test_split_keeps_a_paragraphs_lines_together_by_a_seeded_hash(cli, job):
    export(cli, "-f", "sharegpt", "-o", "all.jsonl")
    whole = jsonl("all.jsonl")
    result = export(cli, "-f", "sharegpt", "-o", "data.jsonl", "--split", "0.5", "--seed", "7")
    assert not Path("data.jsonl").exists()
    train, val = jsonl("data.train.jsonl"), jsonl("data.val.jsonl")
    assert result.stdout == f"Wrote {len(train)} pairs to data.train.jsonl and {len(val)} to " \
        "data.val.jsonl\n"  # fmt: skip
    # Every record once, each file in source order, a paragraph's records on one side.
    assert sorted(map(json.dumps, train + val)) == sorted(map(json.dumps, whole))
    assert train == [r for r in whole if r in train] and val == [r for r in whole if r in val]
    ids = {"train": {r["metadata"]["paragraph_id"] for r in train},
           "val": {r["metadata"]["paragraph_id"] for r in val}}  # fmt: skip
    assert ids["train"] and ids["val"] and not ids["train"] & ids["val"]
    # The unit is the paragraph's identity (its words): the two copies of SHOP are one unit, so
    # 5 units, and round(0.5 × 5) = 3 (half up) go to train: those first in the order of their
    # seeded keys.
    with Database(job) as db:
        identity = dict(db.execute("SELECT id, sha256 FROM paragraphs").fetchall())
    units = sorted({identity[pid] for pid in ids["train"] | ids["val"]},
                   key=lambda i: (split_key(7, i), i))  # fmt: skip
    assert len(units) == 5
    assert {identity[pid] for pid in ids["train"]} == set(units[:3])
    assert {identity[pid] for pid in ids["val"]} == set(units[3:])
    shop = {r["metadata"]["paragraph_id"] for r in whole if r["conversations"][2]["value"] == SHOP}
    assert len(shop) == 2 and (shop <= ids["train"] or shop <= ids["val"])
    assert (
        "  (--split 0.5 --seed 7: 3 of 5 distinct paragraphs (a paragraph's copies go together) "
        "in data.train.jsonl)"
    ) in result.stderr.splitlines()
    # The same seed gives the same files; the default seed is 0.
    before = Path("data.train.jsonl").read_bytes()
    export(cli, "-f", "sharegpt", "-o", "data.jsonl", "--split", "0.5", "--seed", "7")
    assert Path("data.train.jsonl").read_bytes() == before
    export(cli, "-f", "sharegpt", "-o", "zero.jsonl", "--split", "0.5")
    export(cli, "-f", "sharegpt", "-o", "zero0.jsonl", "--split", "0.5", "--seed", "0")
    assert Path("zero.train.jsonl").read_bytes() == Path("zero0.train.jsonl").read_bytes()


def test_split_names_beside_the_output_and_for_csv(cli, job, tmp_path):
    (tmp_path / "out").mkdir()
    export(cli, "-f", "csv", "-o", "out/book.csv", "--split", "0.9")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "book.train.csv",
        "book.val.csv",
    ]
    export(cli, "-f", "text", "-o", "plain", "--split", "0.9")
    assert Path("plain.train.jsonl").exists() and Path("plain.val.jsonl").exists()
    export(cli, "-f", "csv", "--split", "0.9")
    assert Path("output.train.csv").exists()


def test_filters(cli, job):
    def paragraphs(*options):
        export(cli, "-f", "text", "-o", "t.jsonl", *options)
        return [r["text"] for r in jsonl("t.jsonl")]

    assert paragraphs("--section", "CHAPTER I. THE SHOP") == [SHOP, RAIN]
    assert paragraphs("--section", "chapter ii") == [LEDGER, SHOP, LONG]  # its label, any case
    assert paragraphs("--section", "Chapter I", "--section", "CHAPTER II.") == ORIGINALS[1:]
    assert paragraphs("--max-words", "16") == [BEFORE, SHOP, RAIN, SHOP]
    assert paragraphs("--min-words", "17") == [LEDGER, LONG]
    assert paragraphs("--min-words", "16", "--max-words", "16") == [BEFORE, RAIN]
    assert paragraphs("--source", "clocks.txt") == ORIGINALS
    assert paragraphs("--source", str(Path("clocks.txt").resolve())) == ORIGINALS
    assert paragraphs("--dedupe") == [BEFORE, SHOP, RAIN, LEDGER, LONG]
    assert paragraphs("--dedupe", "--section", "chapter ii") == [LEDGER, SHOP, LONG]
    assert paragraphs("--limit", "2") == [BEFORE, SHOP]


def test_source_filter_picks_one_book(cli, fake, job, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(LONG + " And more.\n", encoding="utf-8")
    assert cli("ingest", other).exit_code == 0
    run(cli, fake)
    export(cli, "-f", "alpaca", "-o", "a.jsonl", "--source", "other.txt")
    assert [r["output"] for r in jsonl("a.jsonl")] == [LONG + " And more."] * 2
    assert [r["metadata"]["source"] for r in jsonl("a.jsonl")] == ["other.txt"] * 2
    export(cli, "-f", "alpaca", "-o", "a.jsonl", "--source-label", "Zoë's clocks")
    assert {r["metadata"]["source"] for r in jsonl("a.jsonl")} == {"Zoë's clocks"}


def test_limit_counts_records(cli, job):
    export(cli, "-f", "messages", "-o", "m.jsonl", "--limit", "3")
    assert len(jsonl("m.jsonl")) == 3
    export(cli, "-f", "dpo", "-o", "d.jsonl", "--limit", "3", "--split", "0.5")
    assert len(jsonl("d.train.jsonl")) + len(jsonl("d.val.jsonl")) == 3


# --- the statistics -----------------------------------------------------------------------------


def test_statistics_on_stderr(cli, job):
    result = export(
        cli, "-f", "messages", "-o", "m.jsonl", "--dedupe", "--max-words", "17", "--limit", "5",
        "--system", "", "--instruction", "",
    )  # fmt: skip
    assert result.stdout == "Wrote 5 pairs to m.jsonl\n"
    # LEDGER and LONG are over 17 words, the second SHOP repeats the first, and the limit takes
    # the first five of the six answers of BEFORE, SHOP and RAIN: the first five pairs.
    pairs = stored_pairs(job)[:5]
    assert [original for _, _, original in pairs] == [BEFORE, BEFORE, SHOP, SHOP, RAIN]

    def measures(texts):  # min, median (the third of five), max
        return f"{min(texts):>8} {sorted(texts)[2]:>11} {max(texts):>8}"

    paraphrases = [paraphrase for _, paraphrase, _ in pairs]
    originals = [original for _, _, original in pairs]
    assert result.stderr.splitlines() == [
        "                  records  paragraphs",
        "  m.jsonl               5           3",
        "                      min      median      max",
        f"  prompt words   {measures([len(t.split()) for t in paraphrases])}",
        f"  prompt ≈tokens {measures([-(-len(t) // 4) for t in paraphrases])}",
        f"  target words   {measures([len(t.split()) for t in originals])}",
        f"  target ≈tokens {measures([-(-len(t) // 4) for t in originals])}",
        "  (≈tokens: characters / 4, an estimate; no tokenizer)",
        "Left out 7 of 12 accepted answers: 4 outside --min-words/--max-words, "
        "2 repeated originals (--dedupe), 1 past --limit",
    ]


def test_statistics_of_a_split_and_of_an_empty_side(cli, job):
    result = export(cli, "-f", "text", "-o", "t.jsonl", "--split", "0.999")
    words = sorted(len(t.split()) for t in ORIGINALS)
    tokens = sorted(-(-len(t) // 4) for t in ORIGINALS)
    assert result.stderr.splitlines() == [
        "                  records  paragraphs",
        "  t.train.jsonl         6           6",
        "  t.val.jsonl           0           0",
        "  (--split 0.999 --seed 0: 5 of 5 distinct paragraphs (a paragraph's copies go "
        "together) in t.train.jsonl)",
        "                      min      median      max",
        f"  target words   {words[0]:>8} {(words[2] + words[3]) / 2:>11g} {words[-1]:>8}",
        f"  target ≈tokens {tokens[0]:>8} {(tokens[2] + tokens[3]) / 2:>11g} {tokens[-1]:>8}",
        "  (≈tokens: characters / 4, an estimate; no tokenizer)",
        "Warning: t.val.jsonl is empty: --split 0.999 put all 6 paragraphs in t.train.jsonl",
    ]


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    from workbench.dataset.statistics import Histogram

    h = Histogram()
    for value in (3, 1, 10, 4):
        h.add(value)
    assert (h.min(), h.median(), h.max()) == (1, 3.5, 10)
    h.add(4)
    assert h.median() == 4


# --- preference pairs with too few answers --------------------------------------------------


def test_dpo_with_one_answer_a_paragraph_says_what_to_run(cli, fake, book):
    assert cli("ingest", book).exit_code == 0
    run(cli, fake, "--limit", "4")  # --outputs 1: one answer each
    result = export(cli, "--format", "dpo", "-o", "d.jsonl")
    assert result.stdout == "Wrote 0 preference pairs to d.jsonl\n"
    assert Path("d.jsonl").read_bytes() == b""
    assert result.stderr.splitlines()[-2:] == [
        "Left out 4 of 4 accepted answers: 4 alone in their paragraph (dpo needs two)",
        "4 paragraphs had one accepted answer, too few for a preference pair: "
        "`workbench run --outputs 2` asks for a second answer",
    ]
    # Named, the recipe is named in the command; after --outputs 2, what is written is written.
    named = export(cli, "--format", "dpo", "-o", "d.jsonl", "--recipe", "default")
    assert named.stderr.splitlines()[-1].endswith(
        "`workbench run --recipe default --outputs 2` asks for a second answer"
    )
    run(cli, fake, "--outputs", "2", "--limit", "1")
    result = export(cli, "--format", "dpo", "-o", "d.jsonl")
    assert result.stdout == "Wrote 2 preference pairs to d.jsonl\n"
    assert result.stderr.splitlines()[-1] == (
        "3 paragraphs had one accepted answer, too few for a preference pair: `workbench run` "
        "works the 3 pending"
    )
    # Skipped after one answer: more tries is what helps.
    fake.responder = lambda body, call: Reply("no")
    run_skipping = cli("run", "--base-url", fake.base_url, "-q", "--max-attempts", "1")
    assert run_skipping.exit_code == 0, run_skipping.stderr
    fake.responder = responder
    result = export(cli, "--format", "dpo", "-o", "d.jsonl")
    assert result.stderr.splitlines()[-1] == (
        "3 paragraphs had one accepted answer, too few for a preference pair: "
        "`workbench run --max-attempts 2` gives the 3 skipped more tries"
    )


def test_dpo_across_recipes(cli, fake, book):
    """With --recipe all, the answers of two recipes of one paragraph make preference pairs."""
    assert cli("ingest", book).exit_code == 0
    run(cli, fake, "--limit", "1")
    run(cli, fake, "--recipe", "warm", "--temperature", "1.2", "--limit", "1")
    export(cli, "--format", "dpo", "-o", "d.jsonl", "--recipe", "all")
    records = jsonl("d.jsonl")
    assert [r["metadata"]["recipe"] for r in records] == ["default", "warm"]
    assert records[0]["rejected"] == records[1]["prompt"].split("\n\n")[1]


# --- refusals: one line, nothing written, the database as it was -------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--format", "xml"], "--format xml is not a format; choose one of: notebook, messages, "
         "prompt-completion, alpaca, sharegpt, text, dpo, csv"),
        (["--direction", "sideways"], "--direction sideways is not a direction; choose "
         "paraphrase-to-original or original-to-paraphrase"),
        (["--split", "1.5"], "--split 1.5 must be between 0 and 1: the share of paragraphs in "
         "the train file, e.g. 0.9"),
        (["--split", "0"], "--split 0 must be between 0 and 1: the share of paragraphs in the "
         "train file, e.g. 0.9"),
        (["--split", "0.9", "-o", "-", "-f", "messages"], "--split writes two files, "
         "NAME.train.jsonl and NAME.val.jsonl: give -o NAME.jsonl or -o DIR/, not -o -"),
        (["--split", "0.9", "-o", "-", "-f", "csv"], "--split writes two files, NAME.train.csv "
         "and NAME.val.csv: give -o NAME.csv or -o DIR/, not -o -"),
        (["--seed", "3"], "--seed chooses the --split, and which of several --instruction or "
         "--system a paragraph gets: give one of those too"),
        (["--min-words", "50", "--max-words", "10"], "--min-words 50 is more than --max-words "
         "10: no paragraph could pass"),
        (["--min-words", "-1"], "--min-words must be 0 or more"),
        (["--limit", "0"], "--limit must be 1 or more"),
        (["--source", "nope.txt"], "no source 'nope.txt' in this job; it has: clocks.txt"),
        (["--section", "Chapter 9"], "no section 'Chapter 9' in this job; it has: CHAPTER I. "
         "THE SHOP, CHAPTER II. THE LEDGER"),
        (["--recipe", "nope"], "no recipe 'nope' in this job; it has: default"),
        (["-o", "missing/out.jsonl"], "cannot write missing/out.jsonl: No such file or "
         "directory"),
        (["-o", "missing/out.jsonl", "--split", "0.9"], "cannot write missing/out.train.jsonl: "
         "No such file or directory"),
        (["--direction", "original-to-paraphrase"], "--direction original-to-paraphrase does "
         "not apply to --format notebook: its prompt asks for the author's style"),
        (["-f", "text", "--direction", "original-to-paraphrase"], "--direction "
         "original-to-paraphrase does not apply to --format text: it holds the originals alone"),
        (["-f", "dpo", "--direction", "original-to-paraphrase"], "--direction "
         "original-to-paraphrase does not apply to --format dpo: its chosen answer is the "
         "original"),
        (["-f", "csv", "--direction", "original-to-paraphrase"], "--direction "
         "original-to-paraphrase does not apply to --format csv: it has a column for each text"),
        (["--instruction", "Write:"], "--instruction does not apply to --format notebook: its "
         "wording is the notebook's"),
        (["-f", "csv", "--instruction", ""], "--instruction does not apply to --format csv: it "
         "holds the texts alone"),
        (["-f", "dpo", "--system", "You write."], "--system does not apply to --format dpo: it "
         "has no system message (messages, sharegpt and alpaca have one)"),
        (["-f", "prompt-completion", "--system", ""], "--system does not apply to --format "
         "prompt-completion: it has no system message (messages, sharegpt and alpaca have one)"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_and_change_nothing(cli, job, tmp_path, options, message):
    def files():  # but the database's own -wal and -shm, there once it is opened
        return sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("test.db"))

    before_files = files()
    before_db = snapshot(job)
    result = cli("export", *options)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {message}\n"
    del result
    assert files() == before_files
    assert snapshot(job) == before_db


def test_a_section_in_a_job_without_headings(cli, fake, tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text(f"{LONG}\n", encoding="utf-8")
    assert cli("ingest", plain).exit_code == 0
    result = cli("export", "--section", "CHAPTER I")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no section 'CHAPTER I' in this job: its sources have no headings\n"
    )


def test_a_failed_split_export_keeps_the_previous_files(cli, job, tmp_path, monkeypatch):
    export(cli, "-f", "messages", "-o", "data.jsonl", "--split", "0.5")
    before = {p.name: p.read_bytes() for p in tmp_path.glob("data.*")}
    assert len(before) == 2

    def failing_write(plan, checked, options, result, writers):
        next(iter(plan))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("workbench.dataset.export._write", failing_write)
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli("export", "-f", "messages", "-o", "data.jsonl", "--split", "0.5")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("data.*")} == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- the datasets library, when installed ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["messages", "prompt-completion", "alpaca", "sharegpt", "text",
                                 "dpo", "csv"])  # fmt: skip
def test_the_datasets_library_loads_every_format(cli, job, tmp_path, monkeypatch, fmt):
    """Hugging Face `datasets` (what TRL, LLaMA-Factory and Axolotl load files with) reads each
    file, texts intact. Not in the test extra: it brings pyarrow and pandas (~380 MB, 22 s to
    install here), so these run where it is installed (`make hub`)."""
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    extension = "csv" if fmt == "csv" else "jsonl"
    export(cli, "-f", fmt, "-o", f"data.{extension}", "--split", "0.5")
    files = {"train": f"data.train.{extension}", "validation": f"data.val.{extension}"}
    if fmt == "csv":  # an empty section stays "", not NaN
        loaded = datasets.load_dataset("csv", data_files=files, keep_default_na=False)
    else:
        loaded = datasets.load_dataset("json", data_files=files)
    for split, path in files.items():
        if fmt == "csv":
            with Path(path).open(encoding="utf-8", newline="") as f:
                expected = list(csv.DictReader(f))
            rows = [{key: str(value) for key, value in row.items()} for row in loaded[split]]
        else:
            expected, rows = jsonl(path), list(loaded[split])
        assert rows == expected
    assert loaded["train"].num_rows + loaded["validation"].num_rows == (6 if fmt == "text" else 12)


def test_one_record_a_line_for_any_line_splitter(cli, job):
    export(cli, "-f", "sharegpt", "-o", "s.jsonl")
    text = Path("s.jsonl").read_text(encoding="utf-8")
    assert len(io.StringIO(text).readlines()) == len(text.splitlines()) == 12
