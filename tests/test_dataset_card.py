"""A dataset folder ready to publish: `export -o DIR/` writes the split files and README.md, a card
whose front matter the Hub and `datasets` read and whose body says how the data was made; varied
instructions; real token counts; and every bad option refused in one line, nothing written."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from sqlite_utils import Database

from tests.conftest import db_snapshot
from tests.test_datasets import BOOK, ORIGINALS, SHOP, jsonl, responder
from tests.test_splits import make_job, paragraphs
from workbench.dataset.frontmatter import front_matter, quoted
from workbench.dataset.hub import licenses
from workbench.judge.fidelity import measured
from workbench.judge.settings import Rules

DATASETS_MISSING = (
    "Hugging Face `datasets` is not installed: it brings pyarrow and pandas (~380 MB), so it is "
    "not in the test extra; `make hub` to run this"
)


@pytest.fixture
def job(cli, fake, tmp_path, db_path):
    """The clocks book, two accepted answers a paragraph; one answer rejected as too short."""
    book = tmp_path / "clocks.txt"
    book.write_text(BOOK, encoding="utf-8")
    assert cli("ingest", book, "--keep-line-breaks", "--keep-spacing").exit_code == 0
    fake.responder = responder
    fake.enqueue("Too short.")
    result = cli(
        "run", "--base-url", fake.base_url, "-q", "--backoff", "0", "--concurrency", "1",
        "--outputs", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return db_path


def export(cli, *options):
    result = cli("export", *options)
    assert result.exit_code == 0, result.stderr
    return result


def card_of(folder: Path) -> tuple[dict, str]:
    """The card's front matter (read by PyYAML, as the Hub's own parser would) and its body."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    match = re.fullmatch(r"---\n(.*?\n)---\n(.*)", text, re.DOTALL)
    assert match, text[:200]
    return yaml.safe_load(match.group(1)), match.group(2)


# --- the folder and its card -------------------------------------------------------------------


def test_a_dataset_folder_and_its_card(cli, job, tmp_path):
    result = export(
        cli, "-f", "messages", "-o", "data/", "--split", "0.5", "--license", "CC-BY-4.0",
        "--language", "en", "--language", "FR",
    )  # fmt: skip
    folder = tmp_path / "data"
    train, val = jsonl(folder / "train.jsonl"), jsonl(folder / "validation.jsonl")
    assert result.stdout == (
        f"Wrote {len(train)} pairs to data/train.jsonl and {len(val)} to data/validation.jsonl, "
        "and the card data/README.md\n"
    )
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "train.jsonl",
        "validation.jsonl",
    ]
    meta, body = card_of(folder)
    assert meta["configs"] == [
        {
            "config_name": "default",
            "data_files": [
                {"split": "train", "path": "train.jsonl"},
                {"split": "validation", "path": "validation.jsonl"},
            ],
        }
    ]
    for split in meta["configs"][0]["data_files"]:  # the files named exist, with records
        assert jsonl(folder / split["path"])
    assert meta["license"] == "cc-by-4.0"  # as the Hub spells it
    assert meta["language"] == ["en", "fr"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["task_categories"] == ["text-generation"]
    assert meta["pretty_name"] == "Pairs from clocks.txt"

    # The body: sources, recipe, rules and their measured fidelity, counts, the command.
    book_hash = hashlib.sha256((tmp_path / "clocks.txt").read_bytes()).hexdigest()
    assert f"| clocks.txt | txt | 7 | `{book_hash}` |" in body
    assert "| model | `fake-model` |" in body and "| temperature | 0.9 |" in body
    assert "You are an expert novelist. Paraphrase the given text" in body
    assert "Rules v1 (since " in body and "min_ratio 0.8" in body and "min_meaning 0.74" in body
    for figure in measured(Rules()):  # whatever the figures are today, the card quotes them
        assert f"precision {figure.precision:.2f}" in body and figure.data in body
    assert "| rejected by the rules | 1 |" in body and "| `too_short` | 1 |" in body
    assert "| accepted | 12 |" in body and "| paragraphs in the sources | 7 |" in body
    assert "| reviewed by hand | none (every verdict is the rules')" in body
    assert "This export: 12 pairs from 12 accepted answers." in body
    assert f"| train | `train.jsonl` | {len(train)} | {len(train) // 2} |" in body
    assert (
        "3 of the 5 distinct paragraphs written (the 6 written less repeats: a paragraph's "
        "copies go together) are in train, round(0.5 × 5) rounded half up"
    ) in body
    assert (
        "$ workbench export --db test.db -o data/ --format messages --split 0.5 --license "
        "CC-BY-4.0 --language en --language FR\n"
    ) in body
    assert "<" not in body.replace("&lt;", "")  # no raw HTML from any text


def test_the_card_is_the_same_when_nothing_changed(cli, job, tmp_path):
    export(cli, "-f", "alpaca", "-o", "data/", "--split", "0.5")
    first = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()}
    export(cli, "-f", "alpaca", "-o", "data", "--split", "0.5")  # the folder, without its /
    assert {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir()} == first


def test_without_a_split_one_train_file(cli, job, tmp_path):
    export(cli, "-f", "csv", "-o", "sheet/")
    meta, body = card_of(tmp_path / "sheet")
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "train.csv"}]
    assert meta["license"] == "unknown" and meta["language"] == ["en"]
    assert "Licence: not given (`--license`)" in body
    assert sorted(p.name for p in (tmp_path / "sheet").iterdir()) == ["README.md", "train.csv"]


def test_files_of_an_earlier_export_are_named_not_removed(cli, job, tmp_path):
    export(cli, "-f", "messages", "-o", "data/", "--split", "0.5")
    result = export(cli, "-f", "csv", "-o", "data/")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "README.md", "train.csv", "train.jsonl", "validation.jsonl"
    ]  # fmt: skip
    assert result.stderr.splitlines()[-2:] == [
        f"Warning: data/{name} is left from an earlier export; the card does not name it, so "
        "`datasets` does not read it, but remove it before you publish the folder"
        for name in ("train.jsonl", "validation.jsonl")
    ]
    meta, _ = card_of(tmp_path / "data")
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "train.csv"}]


def test_reviewed_by_hand_comes_from_the_report(cli, job, tmp_path):
    """The card counts the verdicts given by hand, and how the rules sat with them."""
    accepted = (
        Database(job)
        .execute("SELECT id FROM attempts WHERE outcome = 'accepted' ORDER BY id LIMIT 2")
        .fetchall()
    )
    first, second = (attempt_id for (attempt_id,) in accepted)
    assert cli("review", first, "--reject", "--note", "a drift").exit_code == 0  # overrules
    assert cli("review", second, "--accept").exit_code == 0  # agrees
    export(cli, "-f", "messages", "-o", "data/")
    _, body = card_of(tmp_path / "data")
    assert (
        "| reviewed by hand | 2 answers (1 accepted, of which 0 repaired, 1 rejected); the "
        "rules agreed on 1 and were overruled on 1 |"
    ) in body


def test_rules_changed_by_hand_are_said_to_be_unmeasured(cli, job, tmp_path):
    assert cli("rules", "--similarity", "0.95").exit_code == 0
    export(cli, "-f", "messages", "-o", "data/")
    _, body = card_of(tmp_path / "data")
    assert "Rules v2 (since " in body and "similarity 0.95" in body
    assert "Not measured: these rules differ from the defaults" in body


def test_dpo_and_text_cards(cli, job, tmp_path):
    export(cli, "-f", "dpo", "-o", "prefs/", "--split", "0.5")
    _, body = card_of(tmp_path / "prefs")
    assert "Each record is a preference pair" in body and "| train | `train.jsonl` |" in body
    assert "| System message |" not in body  # dpo has no system message
    export(cli, "-f", "text", "-o", "plain/")
    _, body = card_of(tmp_path / "plain")
    assert "`text` records carry no instruction" in body
    assert "| target words |" in body and "| prompt words |" not in body


# --- the datasets library, when installed ------------------------------------------------------


def test_load_dataset_reads_the_files_and_the_folder(cli, job, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets", reason=DATASETS_MISSING)
    export(cli, "-f", "messages", "-o", "data/", "--split", "0.75", "--license", "cc0-1.0")
    folder = tmp_path / "data"
    files = {"train": str(folder / "train.jsonl"), "validation": str(folder / "validation.jsonl")}
    by_files = datasets.load_dataset("json", data_files=files)
    by_folder = datasets.load_dataset(str(folder))  # reads the card's configs
    for loaded in (by_files, by_folder):
        assert sorted(loaded) == ["train", "validation"]
        for split, path in files.items():
            assert list(loaded[split]) == jsonl(path)
    assert by_folder["train"].num_rows + by_folder["validation"].num_rows == 12
    assert by_folder["validation"].num_rows == len(jsonl(files["validation"])) > 0


def test_load_dataset_reads_a_csv_folder(cli, job, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets", reason=DATASETS_MISSING)
    export(cli, "-f", "csv", "-o", "sheet/")
    loaded = datasets.load_dataset(str(tmp_path / "sheet"))
    assert list(loaded) == ["train"] and loaded["train"].num_rows == 12
    assert [row["original"] for row in loaded["train"]][::2] == ORIGINALS


# --- varied instructions -----------------------------------------------------------------------


def instructions_of(path: str) -> list[tuple[str, str, str]]:
    """(system, instruction, original) of each record of a messages file."""
    found = []
    for record in jsonl(path):
        system, user, assistant = record["messages"]
        instruction = user["content"].split("\n\n", 1)[0]
        found.append((system["content"], instruction, assistant["content"]))
    return found


WORDINGS = (
    "--author", "Zoë",
    "--instruction", "Rewrite this as {author} would.",
    "--instruction", "Make it sound like {author}.",
    "--instruction", "Give this {author}'s voice.",
    "--system", "You write like {author}.", "--system", "You are {author}.",
)  # fmt: skip
ASKED = ["Rewrite this as Zoë would.", "Make it sound like Zoë.", "Give this Zoë's voice."]


def test_each_instruction_and_system_is_used_and_re_exports_agree(cli, tmp_path):
    db = make_job(tmp_path, paragraphs(60))
    result = export(cli, "--db", db, "-f", "messages", *WORDINGS, "-o", "a.jsonl")
    records = instructions_of("a.jsonl")
    assert {i for _, i, _ in records} == set(ASKED)
    assert {s for s, _, _ in records} == {"You write like Zoë.", "You are Zoë."}
    counts = [sum(1 for _, i, _ in records if i == wanted) for wanted in ASKED]
    assert (
        f"  3 instructions, one a paragraph by --seed 0: {counts[0]} · {counts[1]} · {counts[2]} "
        "records"
    ) in result.stderr.splitlines()
    # Exported again, the same; another seed, another choice.
    export(cli, "--db", db, "-f", "messages", *WORDINGS, "-o", "b.jsonl")
    assert Path("a.jsonl").read_bytes() == Path("b.jsonl").read_bytes()
    export(cli, "--db", db, "-f", "messages", *WORDINGS, "-o", "c.jsonl", "--seed", "5")
    assert instructions_of("c.jsonl") != records
    # The card lists them, with their records.
    export(cli, "--db", db, "-f", "messages", *WORDINGS, "-o", "data/")
    _, body = card_of(tmp_path / "data")
    for wanted, count in zip(ASKED, counts, strict=True):
        assert f"| {wanted} | {count} |" in body
    assert "| System message | records |" in body and "| You are Zoë. |" in body


def test_a_paragraphs_records_and_copies_share_one_wording(cli, job):
    export(cli, "-f", "messages", *WORDINGS, "-o", "a.jsonl")
    by_original: dict[str, set] = {}
    for system, instruction, original in instructions_of("a.jsonl"):
        by_original.setdefault(original, set()).add((system, instruction))
    assert set(by_original) == set(ORIGINALS)  # SHOP's two copies are one key here
    assert all(len(chosen) == 1 for chosen in by_original.values())
    assert len(set.union(*by_original.values())) > 1


def test_instructions_from_a_file_one_a_line(cli, job, tmp_path):
    (tmp_path / "ask.txt").write_text(
        "Rewrite in the style of {author}.\n\n  Restyle this text.  \n", encoding="utf-8"
    )
    export(cli, "-f", "alpaca", "-o", "a.jsonl", "--instruction", "@ask.txt",
           "--instruction", "@@home: say it again.")  # fmt: skip
    used = {r["instruction"] for r in jsonl("a.jsonl")}
    assert used <= {
        "Rewrite in the style of the original author.",
        "Restyle this text.",
        "@home: say it again.",
    }
    assert len(used) >= 2


def test_a_paragraph_keeps_its_instruction_when_the_job_grows(cli, fake, job, tmp_path):
    options = ("-f", "sharegpt", "--instruction", "One.", "--instruction", "Two.")
    export(cli, *options, "-o", "v1.jsonl")
    more = tmp_path / "more.txt"
    more.write_text("A new paragraph about the clockmaker and his seven brass keys, told late.\n")
    assert cli("ingest", more).exit_code == 0
    fake.responder = responder
    assert cli("run", "--base-url", fake.base_url, "-q", "--backoff", "0").exit_code == 0
    export(cli, *options, "-o", "v2.jsonl")
    old, new = jsonl("v1.jsonl"), jsonl("v2.jsonl")
    assert new[: len(old)] == old and len(new) > len(old)


# --- token counts by a real tokenizer -----------------------------------------------------------


@pytest.fixture
def tokenizer_file(tmp_path) -> Path:
    """A real tokenizer.json, built here with the tokenizers library: whole words and
    punctuation runs (the Whitespace pre-tokenizer), each word in the job a token of its own.
    Like many models' files, it truncates and pads every text: counting must undo both."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]"], show_progress=False)
    tokenizer.train_from_iterator([BOOK], trainer)
    tokenizer.enable_truncation(max_length=8)
    tokenizer.enable_padding(length=64, pad_token="[UNK]")
    folder = tmp_path / "tiny-model"
    folder.mkdir()
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder / "tokenizer.json"


def pieces(text: str) -> int:
    """What the Whitespace pre-tokenizer splits a text into, counted independently."""
    return len(re.findall(r"\w+|[^\w\s]+", text))


def test_token_counts_with_a_real_tokenizer(cli, job, tmp_path, tokenizer_file):
    result = export(cli, "-f", "text", "-o", "t.jsonl", "--tokenizer", tokenizer_file)
    counts = sorted(pieces(t) for t in ORIGINALS)
    lines = result.stderr.splitlines()
    median = (counts[2] + counts[3]) / 2
    assert f"  target tokens  {counts[0]:>8} {median:>11g} {counts[-1]:>8}" in lines
    assert "  (≈tokens: characters / 4, an estimate; tokens: by tiny-model/tokenizer.json)" in lines
    # The model's folder does as well; the prompt is counted too, and the card shows totals.
    result = export(cli, "-f", "messages", "-o", "data/", "--tokenizer", tokenizer_file.parent)
    prompts = [
        pieces(f"{r['messages'][0]['content']}\n\n{r['messages'][1]['content']}")
        for r in jsonl(tmp_path / "data" / "train.jsonl")
    ]
    assert re.search(rf"^  prompt tokens +{min(prompts)} ", result.stderr, re.MULTILINE)
    _, body = card_of(tmp_path / "data")
    assert f"| prompt tokens | {min(prompts):,} |" in body and f"| {sum(prompts):,} |" in body
    assert "tokens: by `tiny-model/tokenizer.json`, special tokens left out" in body


# --- refusals: one line, nothing written -------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["-o", "d/", "--license", "cc-by"], "--license 'cc-by' is not a licence identifier the "
         "Hugging Face Hub knows; did you mean cc-by-2.0, cc-by-2.5, cc-by-3.0, cc-by-4.0, "
         "cc-by-sa-3.0, cc-by-sa-4.0? (the list: https://huggingface.co/docs/hub/"
         "repositories-licenses; 'other' for any other)"),
        (["-o", "out.jsonl", "--license", "mit"], "--license is for the dataset card, written "
         "with --output DIR/: give a folder"),
        (["-o", "d/", "--language", "English"], "--language 'English' is not a language code: "
         "give its ISO 639 code, e.g. en, fr, de"),
        (["--tokenizer", "nope/tokenizer.json"], "--tokenizer nope/tokenizer.json: no such file"),
        (["--tokenizer", "empty"], "--tokenizer empty is a folder without a tokenizer.json"),
        (["--tokenizer", "clocks.txt"], "--tokenizer clocks.txt is not a tokenizer the tokenizers "
         "library reads (expected value at line 1 column 1)"),
        (["-o", "clocks.txt/"], "--output clocks.txt/ names a folder, but clocks.txt is a file"),
        (["-o", "theirs/"], "--output theirs holds a README.md that workbench did not write: "
         "give another folder, or move it away"),
        (["-o", "missing/sub/"], "cannot make missing/sub: No such file or directory"),
        (["-f", "messages", "--instruction", "@nope.txt"], "--instruction @nope.txt: no such "
         "file"),
        (["-f", "messages", "--system", "@blank.txt"], "--system @blank.txt has no line of text"),
        (["--split", "0.5", "--split-by", "chapter"], "--split-by chapter is not a unit of the "
         "split; choose paragraph or section"),
        (["--split-by", "section"], "--split-by says what --split keeps whole: give --split too"),
        (["-f", "messages", "--seed", "2", "--instruction", "@one.txt"], "--seed chooses the "
         "--split, and which of several --instruction or --system a paragraph gets: give one of "
         "those too"),
    ],
)  # fmt: skip
def test_bad_options_are_one_line_and_write_nothing(cli, job, tmp_path, options, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "README.md").write_text("# My own notes\n", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("\n  \n", encoding="utf-8")
    (tmp_path / "one.txt").write_text("Only one.\n", encoding="utf-8")

    def files():
        return sorted(
            str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if "test.db" not in p.name
        )

    before_files, before_db = files(), db_snapshot(job)
    result = cli("export", *options)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {message}\n")
    del result
    assert files() == before_files
    assert db_snapshot(job) == before_db


def test_a_failed_export_leaves_no_new_folder(cli, job, tmp_path, monkeypatch):
    def failing_write(plan, checked, options, result, writers):
        next(iter(plan))
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("workbench.dataset.export._write", failing_write)
    with pytest.raises(RuntimeError, match="disk on fire"):
        cli("export", "-f", "messages", "-o", "fresh/", "--split", "0.5")
    assert not (tmp_path / "fresh").exists()


# --- the front matter's YAML, and the Hub's lists ------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["plain", "a: colon", "- dash", "{brace}", "# hash", "'single' \"double\"", "back\\slash",
     "line\nbreak\ttab\r", "\x00\x07\x1b\x7f\x85\x9f", "\u2028\u2029\ufeff\ufffe", "Zoë ★ 🎉",
     "yes", "null", "0.5", "~", "@at", "`tick`", "%percent", "*star", "&amp", "!bang", " lead"],
)  # fmt: skip
def test_quoted_strings_read_back_exactly(text):
    assert yaml.safe_load(quoted(text)) == text
    block = front_matter({"pretty_name": text, "tags": [text], "configs": [{"x": [{"y": text}]}]})
    assert yaml.safe_load(block.strip("-\n")) == {
        "pretty_name": text,
        "tags": [text],
        "configs": [{"x": [{"y": text}]}],
    }


def test_the_hubs_licence_list_ships_with_the_package():
    known = licenses()
    assert len(known) == len(set(known)) > 80
    assert {"apache-2.0", "mit", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "unknown", "other"} <= set(
        known
    )
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", name) for name in known)


def test_the_card_front_matter_names_shop_once(cli, job, tmp_path):
    """A smoke check that the body's numbers agree with the files: SHOP's two copies."""
    export(cli, "-f", "text", "-o", "plain/", "--dedupe")
    _, body = card_of(tmp_path / "plain")
    texts = [json.loads(line)["text"] for line in (tmp_path / "plain" / "train.jsonl").open()]
    assert texts.count(SHOP) == 1
    assert "| repeated originals (--dedupe) | 2 |" in body
