"""Check labelled rows before committing them: each resolves, and hand-written ones keep the length.

    python benchmarks/check_labelled.py tests/data/free-goblin.jsonl tests/data/drifts-goblin.jsonl
        [--novel PATH] [--min-ratio 0.85] [--max-ratio 1.4]

Every row's paragraph is looked up as measure_rules.py looks it up (same split of the file,
0-based `index`, `sha256` checked). Rows we wrote (with `style` or `kind`) must have between
--min-ratio and --max-ratio of the original's words, and one row per paragraph per file.
Prints a count per label, style and kind; exits 1 on any problem.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure_rules import novel_path, read_jsonl, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--novel")
    parser.add_argument("--min-ratio", type=float, default=0.85)
    parser.add_argument("--max-ratio", type=float, default=1.4)
    args = parser.parse_args()
    paragraphs = sources(novel_path(args.novel))
    problems = []
    for path in args.files:
        seen: Counter[tuple[str, int]] = Counter()
        counts: Counter[str] = Counter()
        written = False
        for n, row in enumerate(read_jsonl(path), start=1):
            where = f"{path.name}:{n} ¶{row['index']}"
            found = paragraphs.get(row["source"])
            if found is None or not 0 <= row["index"] < len(found):
                problems.append(f"{where}: no such paragraph in {row['source']}")
                continue
            paragraph = found[row["index"]]
            if paragraph.sha256 != row["sha256"]:
                problems.append(f"{where}: sha256 does not match")
                continue
            written = written or "style" in row or "kind" in row
            ratio = len(row["answer"].split()) / paragraph.word_count
            if ("style" in row or "kind" in row) and not args.min_ratio <= ratio <= args.max_ratio:
                problems.append(f"{where}: {ratio:.2f} of the original's words")
            seen[(row["source"], row["index"])] += 1
            counts[row.get("label", "good")] += 1
            for key in ("style", "kind"):
                if key in row:
                    counts[f"{key} {row[key]}"] += 1
        if written:
            problems += [f"{path.name}: ¶{i} has {c} rows" for (_, i), c in seen.items() if c > 1]
        print(f"{path.name}: {sum(seen.values())} rows, {len(seen)} paragraphs")
        for name, count in sorted(counts.items()):
            print(f"  {name}: {count}")
    for problem in problems:
        print(problem, file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
