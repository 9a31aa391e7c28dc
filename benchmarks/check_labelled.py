"""Check that labelled rows point at real paragraphs, and that hand-written answers keep length.

    python benchmarks/check_labelled.py tests/data/free-night-side.jsonl ... [--dir samples]
        [--notebook]

Every row's `source` is looked up in --dir (repeatable; default samples/ and
/work/shared/corpus/) and split with `workbench.ingest.read_source`, or, with --notebook, with
the frozen split measure_rules.py reads the older sets with (heading lines counted as
paragraphs). The paragraph at `index` must have the row's `sha256`. Rows with a `style` or a
`kind` (written by hand) must also be within 0.85..1.4 of the original's word count. Prints one
line per file and every problem; exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.ingest import Paragraph, read_source  # noqa: E402

LEAST, MOST = 0.85, 1.4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--dir", type=Path, action="append")
    parser.add_argument("--notebook", action="store_true", help="measure_rules.py's split")
    args = parser.parse_args()
    dirs = args.dir or [ROOT / "samples", Path("/work/shared/corpus")]
    if args.notebook:
        from measure_rules import notebook_paragraphs

        def split(path: Path) -> list[Paragraph]:
            return notebook_paragraphs(path)
    else:

        def split(path: Path) -> list[Paragraph]:
            return read_source(path, encoding="utf-8").paragraphs

    books: dict[str, list[Paragraph]] = {}
    problems = 0
    for file in args.files:
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line]
        labels: Counter[str] = Counter()
        for n, row in enumerate(rows, 1):
            name = row["source"]
            if name not in books:
                path = next((d / name for d in dirs if (d / name).is_file()), None)
                if path is None:
                    sys.exit(f"{file}:{n}: {name} not found in {', '.join(map(str, dirs))}")
                books[name] = split(path)
            paragraphs = books[name]
            labels[row.get("kind") or row.get("label") or row.get("style") or "?"] += 1
            index = row["index"]
            if not 0 <= index < len(paragraphs) or paragraphs[index].sha256 != row["sha256"]:
                print(f"{file}:{n}: {name} ¶{index} does not match its sha256")
                problems += 1
                continue
            if "style" in row or "kind" in row:
                ratio = len(row["answer"].split()) / paragraphs[index].word_count
                if not LEAST <= ratio <= MOST:
                    print(f"{file}:{n}: ¶{index} length ratio {ratio:.3f}")
                    problems += 1
        print(f"{file}: {len(rows)} rows, {dict(sorted(labels.items()))}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
