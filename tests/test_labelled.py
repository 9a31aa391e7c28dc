"""The labelled sets (tests/data/) are well-formed, and the rules measured on them hold up.

The novel's answers store the paragraph's index and hash, not its text: the checks that need
the text run when the novel is present ($WORKBENCH_NOVEL, else /work/shared/corpus/…) and are
skipped otherwise; everything else runs on the sample story alone.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from workbench.judge import wordllama as meaning
from workbench.judge.measures import similarity
from workbench.judge.settings import DEFAULT_RULES, DEFAULT_SIMILARITY
from workbench.judge.verdict import validate

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "measure_rules", ROOT / "benchmarks" / "measure_rules.py"
)
assert spec is not None and spec.loader is not None
measure_rules = importlib.util.module_from_spec(spec)
sys.modules["measure_rules"] = measure_rules  # dataclasses look their module up while defined
spec.loader.exec_module(measure_rules)

DATA = ROOT / "tests" / "data"
NOVEL = measure_rules.novel_path()
SAMPLE = measure_rules.SAMPLE
needs_novel = pytest.mark.skipif(not NOVEL.is_file(), reason=f"the novel is not at {NOVEL}")


def rows(name: str) -> list[dict]:
    return measure_rules.read_jsonl(DATA / name)


@pytest.fixture(scope="module")
def items():
    return measure_rules.load(NOVEL if NOVEL.is_file() else None)


def test_the_novels_answers_are_well_formed():
    answers = rows("goblin-answers.jsonl")
    assert len(answers) >= 150
    keys = {"source", "index", "sha256", "answer", "finish_reason", "label", "also", "note"}
    for row in answers:
        assert set(row) == keys, row  # never the original's text
        assert row["source"] == measure_rules.NOVEL_NAME
        assert isinstance(row["index"], int) and len(row["sha256"]) == 64
        assert row["answer"] and row["finish_reason"] in ("stop", "length")
        assert row["label"] in measure_rules.LABELS
        assert set(row["also"]) <= set(measure_rules.DEFECTS) - {row["label"]}
        assert row["label"] == "good" or row["note"], row  # a bad answer says why
    assert len({row["index"] for row in answers}) >= 50  # spread over the book


def test_the_hand_written_paraphrases_are_well_formed():
    good = rows("good-paraphrases.jsonl")
    assert len(good) >= 60
    assert {"source", "index", "sha256", "style", "answer"} == set().union(*good)
    assert {row["style"] for row in good} == {"light", "free"}
    story = [row for row in good if row["source"] == SAMPLE.name]
    assert len(story) >= 20
    assert {row["style"] for row in story} == {"light", "free"}
    paragraphs = measure_rules.notebook_paragraphs(SAMPLE)
    for row in story:  # the sample story is always here: its hashes are always checked
        assert paragraphs[row["index"]].sha256 == row["sha256"]


@needs_novel
def test_hashes_match_the_novel():
    paragraphs = measure_rules.notebook_paragraphs(NOVEL)
    for row in rows("goblin-answers.jsonl") + rows("good-paraphrases.jsonl"):
        if row["source"] == measure_rules.NOVEL_NAME:
            paragraph = paragraphs[row["index"]]
            assert paragraph.sha256 == row["sha256"], row["index"]
            assert paragraph.word_count >= 10  # eligible: run would have sent it


def test_the_story_answers_are_whole():
    story = rows("smollm2-answers.jsonl")
    assert len(story) == 68
    allowed = {"copy", "preamble", "commentary", "refusal", "invented", "loop"}
    assert all(set(row["defects"]) <= allowed and row["answer"] for row in story)


def test_the_default_rules_keep_the_hand_written_paraphrases(items):
    good = [i for i in items if i.good]
    assert len(good) >= (86 if NOVEL.is_file() else 31)
    rejected = [
        r.reason
        for i in good
        if (r := validate(i.original, i.answer, "stop", DEFAULT_RULES)) is not None
    ]
    # Only meaning_drift may reject one, and rarely: a free rewrite of a short line.
    assert set(rejected) <= {"meaning_drift"}
    assert len(rejected) <= 0.03 * len(good)


def test_the_default_rules_reach_the_goal_on_the_labelled_set(items):
    ctx = measure_rules.context(items, [], NOVEL if NOVEL.is_file() else None)
    result = measure_rules.measure_set(items, measure_rules.DEFAULT, ctx)
    assert result.kept >= measure_rules.GOAL_KEPT
    assert result.precision >= measure_rules.GOAL_PRECISION


def test_too_similar_is_as_low_as_the_light_rewrites_allow(items):
    good = [i for i in items if i.good]
    highest = max(similarity(i.original, i.answer) for i in good)
    assert highest < DEFAULT_SIMILARITY  # no light rewrite is called a copy
    copies = [i for i in items if i.label == "copy"]
    assert any(similarity(i.original, i.answer) >= DEFAULT_SIMILARITY for i in copies)


def test_rules_reject_what_they_are_named_for_and_no_prose(items):
    novel = NOVEL if NOVEL.is_file() else None
    prose = measure_rules.prose_pairs(novel)
    ctx = measure_rules.Context()
    results = {
        code: measure_rules.measure_rule(code, items, prose, ctx)
        for code in ("preamble", "commentary", "too_similar", "repetition")
    }
    for code, r in results.items():
        assert r.prose_alarms == 0, code  # the author's own prose is never rejected
        assert r.good_rejected == 0, code
        if code != "repetition":  # a candidate; what it also catches is bad, but unlabelled
            assert r.precision is not None and r.precision >= 0.85, (code, r)
    assert results["commentary"].recall >= 0.8
    assert results["preamble"].rejected >= 2 and results["too_similar"].rejected >= 2


def test_meaning_similarity_keeps_every_good_paraphrase_and_catches_drift(items):
    scores = meaning.similarities([(i.original, i.answer) for i in items])
    good = [s for s, i in zip(scores, items, strict=True) if i.good]
    drift = [s for s, i in zip(scores, items, strict=True) if i.label == "meaning_drift"]
    kept = sum(s >= measure_rules.DEFAULT_MIN_MEANING for s in good) / len(good)
    assert kept >= 0.97
    caught = sum(s < measure_rules.DEFAULT_MIN_MEANING for s in drift) / len(drift)
    assert caught >= 0.75


def test_the_benchmark_runs_on_the_sample_story_alone():
    text = measure_rules.report(ROOT / "no-such-novel.txt")
    assert text.startswith("The novel is not at ")
    assert "goblin-answers" not in text.split("**Rule sets**")[0]
    assert "The highest multiple of 0.05 that keeps every good answer" in text
