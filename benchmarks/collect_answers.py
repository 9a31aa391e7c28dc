"""Collect real answers from the embedded model, to label by hand for tests/data/.

    python benchmarks/collect_answers.py SOURCE.txt OUT.jsonl [--tries 3]

Each eligible paragraph of SOURCE is sent --tries times with the notebook's request (through
the same client `run` uses) and every answer is written as one JSON line:
{"original", "answer", "finish_reason"}, plus an empty "label" to fill in by hand.
Use only text we wrote (samples/): answers quote their source.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.client import Server
from workbench.embedded import embedded_server
from workbench.ingest import read_source
from workbench.recipes import Recipe
from workbench.validate import DEFAULT_MAX_RATIO


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    paragraphs = [
        p for p in read_source(args.source, encoding="utf-8").paragraphs if p.word_count >= 10
    ]
    with embedded_server(parallel=args.parallel) as embedded:
        server = Server(embedded.base_url)

        def ask(paragraph) -> dict:
            session = server.session()
            recipe = Recipe(model=embedded.model)
            body = recipe.request_body(
                paragraph.text, paragraph.word_count, max_ratio=DEFAULT_MAX_RATIO
            )
            completion = server.complete(session, body)
            return {
                "original": paragraph.text,
                "answer": completion.answer,
                "finish_reason": completion.finish_reason,
                "label": "",
            }

        jobs = [p for p in paragraphs for _ in range(args.tries)]
        with ThreadPoolExecutor(args.parallel) as pool, args.out.open("w", encoding="utf-8") as out:
            for n, row in enumerate(pool.map(ask, jobs), 1):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                print(f"{n}/{len(jobs)}", file=sys.stderr, end="\r")


if __name__ == "__main__":
    main()
