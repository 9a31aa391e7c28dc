"""Check labelled rows against the books they point at.

    python benchmarks/check_labelled.py tests/data/free-pride.jsonl ... [--corpus DIR]

Every row must resolve: paragraph `index` of `workbench.ingest.read_source(DIR/source)` has
the row's `sha256`. Hand-written rows (with `style` or `kind`) must also be one paragraph
within 0.85..1.4 of the original's word count. Prints one line per problem; exits 1 if any.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.ingest import read_source

LOW, HIGH = 0.85, 1.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    args = parser.parse_args()
    books: dict[str, list] = {}
    problems = rows = 0
    for path in args.files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            row, where = json.loads(line), f"{path.name}:{n}"
            rows += 1
            if row["source"] not in books:
                source = read_source(args.corpus / row["source"], encoding="utf-8")
                books[row["source"]] = source.paragraphs
            paragraphs = books[row["source"]]
            if not 0 <= row["index"] < len(paragraphs):
                print(f"{where}: index {row['index']} out of range")
                problems += 1
                continue
            original = paragraphs[row["index"]]
            if original.sha256 != row["sha256"]:
                print(f"{where}: ¶{row['index']} does not match its sha256")
                problems += 1
            if "style" in row or "kind" in row:
                ratio = len(row["answer"].split()) / original.word_count
                if not LOW <= ratio <= HIGH or "\n" in row["answer"]:
                    print(f"{where}: ¶{row['index']} length ratio {ratio:.2f} or a line break")
                    problems += 1
    print(f"{rows} rows, {problems} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
