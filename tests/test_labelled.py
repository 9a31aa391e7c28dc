"""The small-model rules, measured on real answers labelled by hand (tests/data/)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "measure_rules", ROOT / "benchmarks" / "measure_rules.py"
)
measure_rules = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measure_rules)


def test_labelled_set_is_whole():
    rows = measure_rules.load()
    assert len(rows) == 68
    allowed = {"copy", "preamble", "commentary", "refusal", "invented", "loop"}
    assert all(set(row["defects"]) <= allowed and row["answer"] for row in rows)


def test_rules_reject_what_they_are_named_for_and_no_prose():
    results = measure_rules.measure(measure_rules.load())
    for rule, m in results.items():
        assert m["prose_false_alarms"] == 0, rule  # the author's own prose is never rejected
        if m["fired"]:
            assert m["precision"] >= 0.9, (rule, m)
    assert results["commentary"]["recall"] >= 0.8
    assert results["too_similar"]["fired"] >= 2 and results["preamble"]["fired"] >= 2
