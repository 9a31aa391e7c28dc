"""Exact, stable splits: round(F × N) paragraphs (or sections) in train, the seed choosing which,
and when the job grows only the few nearest the cut change sides. Jobs are made by the real CLI
against the fake server; sides are read back from the files written."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import Cli, words
from tests.fakeserver import FakeServer
from workbench.dataset.split import Units, split_key, train_count


def paragraphs(count: int, stem: str = "p") -> list[str]:
    """`count` distinct paragraphs of 21 words."""
    return [f"Paragraph {stem}{i} " + words(20, f"{stem}{i}w") for i in range(count)]


def make_job(folder: Path, texts: list[str], name: str = "book.txt") -> Path:
    """Ingest `texts` as one source into folder/job.db and have every paragraph answered."""
    source = folder / name
    source.write_text("\n\n".join(texts) + "\n", encoding="utf-8")
    db = folder / "job.db"
    cli = Cli()
    assert cli("ingest", source, "--db", db).exit_code == 0
    with FakeServer() as fake:
        result = cli(
            "run", "--base-url", fake.base_url, "-q", "--backoff", "0", "--concurrency", "8",
            "--db", db,
        )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return db


@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> dict[int, Path]:
    """Jobs of 12, 100 and 1,001 paragraphs, every one with an accepted answer."""
    made = {}
    for count in (12, 100, 1001):
        made[count] = make_job(tmp_path_factory.mktemp(f"job{count}"), paragraphs(count))
    return made


def sides(cli, db: Path, out: Path, *options: str) -> tuple[list[str], list[str]]:
    """The originals in train and in validation of a dataset folder export."""
    result = cli("export", "--db", db, "-f", "text", "-o", f"{out}/", *options)
    assert result.exit_code == 0, result.stderr
    train = out / "train.jsonl"
    val = out / "validation.jsonl"
    return (
        [json.loads(line)["text"] for line in train.read_text(encoding="utf-8").splitlines()],
        [json.loads(line)["text"] for line in val.read_text(encoding="utf-8").splitlines()],
    )


@pytest.mark.parametrize("count", [12, 100, 1001])
@pytest.mark.parametrize("share", [0.75, 0.9, 0.5, 0.333])
def test_exactly_round_f_times_n_paragraphs_in_train(cli, jobs, tmp_path, count, share):
    train, val = sides(cli, jobs[count], tmp_path / "out", "--split", str(share))
    expected = int(share * count + 0.5)  # half up
    assert (len(train), len(val)) == (expected, count - expected)
    assert sorted(train + val) == sorted(paragraphs(count))


def test_three_quarters_of_twelve_is_nine_and_three(cli, jobs, tmp_path):
    result = cli(
        "export", "--db", jobs[12], "-f", "messages", "-o", "data.jsonl", "--split", "0.75"
    )
    assert result.stdout == "Wrote 9 pairs to data.train.jsonl and 3 to data.val.jsonl\n"
    assert "  (--split 0.75 --seed 0: 9 of 12 paragraphs in data.train.jsonl)" in (
        result.stderr.splitlines()
    )


def test_the_seed_chooses_which_and_the_same_seed_the_same(cli, jobs, tmp_path):
    db = jobs[100]
    first = sides(cli, db, tmp_path / "a", "--split", "0.8", "--seed", "1")
    again = sides(cli, db, tmp_path / "b", "--split", "0.8", "--seed", "1")
    other = sides(cli, db, tmp_path / "c", "--split", "0.8", "--seed", "2")
    assert first == again
    assert len(other[0]) == len(first[0]) == 80 and set(other[0]) != set(first[0])
    # Train is the 80 first in the order of their seeded keys (identity: the hash of the words).
    with Database(db) as database:
        identity = dict(database.execute("SELECT text, sha256 FROM paragraphs").fetchall())
    order = sorted(identity.values(), key=lambda i: (split_key(1, i), i))
    assert {identity[t] for t in first[0]} == set(order[:80])


def test_splits_of_one_seed_are_nested(cli, jobs, tmp_path):
    smaller, _ = sides(cli, jobs[1001], tmp_path / "a", "--split", "0.6")
    larger, _ = sides(cli, jobs[1001], tmp_path / "b", "--split", "0.8")
    assert (len(smaller), len(larger)) == (601, 801)
    assert set(smaller) < set(larger)


def test_when_the_job_grows_at_most_the_added_count_moves_and_only_at_the_cut(tmp_path):
    """What the docs promise: M new paragraphs move at most M old ones, all the same way, and
    they are those whose keys are nearest the cut."""
    cli, old = Cli(), paragraphs(100)
    db = make_job(tmp_path, old)
    before_train, before_val = sides(cli, db, tmp_path / "v1", "--split", "0.7")
    added = paragraphs(7, stem="new")
    (tmp_path / "more.txt").write_text("\n\n".join(added) + "\n", encoding="utf-8")
    assert cli("ingest", tmp_path / "more.txt", "--db", db).exit_code == 0
    with FakeServer() as fake:
        ran = cli("run", "--base-url", fake.base_url, "-q", "--backoff", "0", "--db", db)
    assert ran.exit_code == 0, ran.stderr
    after_train, after_val = sides(cli, db, tmp_path / "v2", "--split", "0.7")
    assert len(after_train) == round(0.7 * 107)  # 74.9: exact again
    to_val = set(before_train) & set(after_val)
    to_train = set(before_val) & set(after_train)
    assert len(to_val) + len(to_train) <= len(added)
    assert not (to_val and to_train)  # one direction only
    with Database(db) as database:
        identity = dict(database.execute("SELECT text, sha256 FROM paragraphs").fetchall())

    def key(text):
        return (split_key(0, identity[text]), identity[text])

    # The movers are the last of the old train in the seeded order, or the first of old val.
    if to_val:
        assert sorted(to_val, key=key) == sorted(before_train, key=key)[-len(to_val) :]
    if to_train:
        assert sorted(to_train, key=key) == sorted(before_val, key=key)[: len(to_train)]
    # Everything else stayed.
    assert set(before_train) - to_val <= set(after_train)
    assert set(before_val) - to_train <= set(after_val)


@pytest.mark.parametrize("trial", range(200))
def test_the_bound_on_movers_holds_for_any_growth(trial):
    """The same promise on the cut itself, for random jobs, shares and changes (adding and
    removing units): at most as many units change sides as were added or removed."""
    rng = random.Random(trial)
    share = rng.choice([0.1, 0.25, 0.5, 0.7, 0.75, 0.9, 0.95, 0.333])
    seed = rng.randrange(5)
    before = {f"u{i}" for i in range(rng.randrange(1, 300))}
    removed = set(rng.sample(sorted(before), rng.randrange(0, min(20, len(before)))))
    after = (before - removed) | {f"n{i}" for i in range(rng.randrange(0, 20))}
    changed = len(removed) + len(after - before)

    def train(units):
        table = Units(seed)
        for unit in units:
            table.add(unit)
        cut = table.cut(share)
        table.close()
        assert cut.train == train_count(share, len(units))
        return {u for u in units if cut.side(split_key(seed, u), u) == 0}

    old, new = train(before), train(after)
    kept = before & after
    moved = (old & kept) ^ (new & kept)
    assert len(moved) <= changed
    assert not ((old & kept) - new and (new & kept) - old)  # one direction only


def test_round_half_up_on_the_share_as_written():
    assert [train_count(0.25, 10), train_count(0.15, 10), train_count(0.75, 12)] == [3, 2, 9]
    assert [train_count(0.5, 5), train_count(0.999, 1), train_count(0.001, 1)] == [3, 1, 0]


def test_split_by_section_keeps_whole_chapters_on_one_side(cli, tmp_path):
    texts = []
    for chapter in range(1, 9):
        texts.append(f"CHAPTER {chapter}.")
        texts.extend(paragraphs(3, stem=f"c{chapter}x"))
    db = make_job(tmp_path, texts)
    result = cli(
        "export", "--db", db, "-f", "alpaca", "-o", "data/", "--split", "0.75",
        "--split-by", "section",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "  (--split 0.75 --split-by section --seed 0: 6 of 8 sections in data/train.jsonl)" in (
        result.stderr.splitlines()
    )

    def chapters(name):
        lines = (tmp_path / "data" / name).read_text(encoding="utf-8").splitlines()
        found: dict[str, int] = {}
        for record in map(json.loads, lines):
            found[record["metadata"]["section"]] = found.get(record["metadata"]["section"], 0) + 1
        return found

    train, val = chapters("train.jsonl"), chapters("validation.jsonl")
    assert len(train) == 6 and len(val) == 2 and not set(train) & set(val)
    assert set(train.values()) == set(val.values()) == {3}  # each chapter whole
    card = (tmp_path / "data" / "README.md").read_text(encoding="utf-8")
    assert "The split is exact and by section: 6 of the 8 sections written" in card


def test_both_passes_read_one_snapshot_while_a_run_writes(cli, tmp_path, monkeypatch):
    """An answer accepted between the two passes (by a run in another process) is in neither:
    the counts of the first pass hold for the second."""
    import sqlite3

    import workbench.dataset.export as export_module

    db = make_job(tmp_path, paragraphs(10))
    (tmp_path / "more.txt").write_text(paragraphs(1, stem="late")[0] + "\n", encoding="utf-8")
    assert cli("ingest", tmp_path / "more.txt", "--db", db).exit_code == 0
    real_cut = export_module._cut

    def cut_then_a_run_writes(*args):
        found = real_cut(*args)
        with sqlite3.connect(db) as other:  # another writer, as a concurrent `run` is
            other.execute(
                "INSERT INTO attempts (paragraph_id, recipe_id, run_id, attempt_number, "
                "started_at, finished_at, latency_s, request, answer, cleaned, outcome, rules_id) "
                "SELECT max(id), 1, 1, 1, 't', 't', 0.1, '{}', 'A late answer.', "
                "'A late answer.', 'accepted', 1 FROM paragraphs"
            )
        return found

    monkeypatch.setattr(export_module, "_cut", cut_then_a_run_writes)
    train, val = sides(cli, db, tmp_path / "out", "--split", "0.7")
    assert (len(train), len(val)) == (7, 3)
    monkeypatch.undo()
    train, val = sides(cli, db, tmp_path / "again", "--split", "0.7")  # now it is there
    assert len(train) + len(val) == 11 and len(train) == 8


def test_the_split_counts_what_is_written_after_the_limit(cli, jobs, tmp_path):
    train, val = sides(cli, jobs[100], tmp_path / "a", "--split", "0.5", "--limit", "30")
    assert (len(train), len(val)) == (15, 15)
    assert sorted(train + val) == sorted(paragraphs(100)[:30])  # the first 30 in source order
