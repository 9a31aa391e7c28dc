"""Precision and recall of the small-model rules on hand-labelled real answers.

    python benchmarks/measure_rules.py [tests/data/smollm2-answers.jsonl]

The set: 68 answers SmolLM2-135M gave to the notebook's request for the paragraphs of
samples/the-clockmakers-daughter.txt (benchmarks/collect_answers.py, 2 tries each), each
labelled by hand with its defects: copy, preamble, commentary, refusal, invented (content not
in the original), loop. A rule is measured against the defect it is named for, alone (not
behind the other rules), on the cleaned answer. False alarms are also counted on the author's
own paragraphs given as answers to another paragraph: real prose that no rule should call a
copy, a lead-in, commentary or a refusal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.validate import RULES, Answer, Rules, clean  # noqa: E402

DATA = ROOT / "tests" / "data" / "smollm2-answers.jsonl"
SAMPLE = ROOT / "samples" / "the-clockmakers-daughter.txt"
TARGETS = {"too_similar": "copy", "preamble": "preamble", "commentary": "commentary",
           "refusal": "refusal"}  # fmt: skip


def load(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fires(rule: str, original: str, text: str, finish_reason: str | None = "stop") -> bool:
    answer = Answer(original, clean(original, text or ""), finish_reason)
    return RULES[rule](answer, Rules()) is not None


def measure(rows: list[dict]) -> dict[str, dict[str, float | int | None]]:
    prose = [p for p in SAMPLE.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 10]
    results = {}
    for rule, defect in TARGETS.items():
        fired = [fires(rule, r["original"], r["answer"], r["finish_reason"]) for r in rows]
        has = [defect in r["defects"] for r in rows]
        hits = sum(f and h for f, h in zip(fired, has, strict=True))
        false_alarms = sum(
            fires(rule, prose[i], prose[(i + 1) % len(prose)]) for i in range(len(prose))
        )
        results[rule] = {
            "labelled": sum(has),
            "fired": sum(fired),
            "precision": hits / sum(fired) if any(fired) else None,
            "recall": hits / sum(has) if any(has) else None,
            "prose_false_alarms": false_alarms,
            "prose": len(prose),
        }
    return results


def main() -> None:
    rows = load(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
    print(f"{len(rows)} labelled answers")
    print(
        "| rule | answers with the defect | rejected | precision | recall | false alarms on prose |"
    )
    print("|---|---|---|---|---|---|")
    for rule, m in measure(rows).items():
        p = "n/a" if m["precision"] is None else f"{m['precision']:.2f}"
        r = "n/a" if m["recall"] is None else f"{m['recall']:.2f}"
        print(f"| `{rule}` | {m['labelled']} | {m['fired']} | {p} | {r} "
              f"| {m['prose_false_alarms']} of {m['prose']} |")  # fmt: skip


if __name__ == "__main__":
    main()
