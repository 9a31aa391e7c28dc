"""Collect real answers from the embedded model, to label by hand for tests/data/.

    python benchmarks/collect_answers.py SOURCE.txt OUT.jsonl [--paragraphs 70] [--tries 3]
        [--first 29] [--last 1354] [--min-words 15] [--max-words 110]

Paragraphs are numbered as `workbench.ingest.read_source` returns them: `index` is the 0-based
position in that list (Paragraph.position - 1), every paragraph counted, short ones included,
and `sha256` is Paragraph.sha256 (of the paragraph text as split and joined by read_source).
Of the eligible ones (at least 10 words, as `run` sends them) between --first and --last and
within --min-words..--max-words, --paragraphs are picked evenly spread, and each is sent
--tries times with the notebook's request (RunSettings().request_body: the default system
prompt, temperature and max_tokens cap) through the client `run` uses.

Every answer is one JSON line: {"source", "index", "sha256", "answer", "finish_reason",
"label": "", "note": ""}; fill in label and note by hand. The paragraph's text is never
written: the measuring scripts read it back from SOURCE by index and check the hash, so a book
we may not redistribute is never committed.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.engine.recipes import Recipe
from workbench.ingest.sources import Paragraph, read_source
from workbench.judge.settings import DEFAULT_MAX_RATIO
from workbench.llm.client import Server
from workbench.llm.embedded import embedded_server

MIN_WORDS = 10  # what run sends


def pick(
    paragraphs: list[Paragraph], count: int, first: int, last: int, least: int, most: int
) -> list[tuple[int, Paragraph]]:
    """`count` (index, paragraph) pairs evenly spread over the eligible ones in range."""
    pool = [
        (i, p)
        for i, p in enumerate(paragraphs)
        if first <= i <= last
        and max(MIN_WORDS, least) <= p.word_count <= most
        and not p.text.startswith("[Illustration")
    ]
    if count >= len(pool):
        return pool
    step = len(pool) / count
    return [pool[int(k * step)] for k in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--paragraphs", type=int, default=70)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--first", type=int, default=0, help="first index to pick from")
    parser.add_argument("--last", type=int, default=10**9, help="last index to pick from")
    parser.add_argument("--min-words", type=int, default=15)
    parser.add_argument("--max-words", type=int, default=110)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    source = read_source(args.source, encoding="utf-8")
    chosen = pick(
        source.paragraphs, args.paragraphs, args.first, args.last, args.min_words, args.max_words
    )
    with embedded_server(parallel=args.parallel) as embedded:
        server = Server(embedded.base_url)

        def ask(job: tuple[int, Paragraph]) -> dict[str, Any]:
            index, paragraph = job
            recipe = Recipe(model=embedded.model)
            body = recipe.request_body(
                paragraph.text, paragraph.word_count, max_ratio=DEFAULT_MAX_RATIO
            )
            completion = server.complete(server.session(), body)
            return {
                "source": args.source.name,
                "index": index,
                "sha256": paragraph.sha256,
                "answer": completion.answer,
                "finish_reason": completion.finish_reason,
                "label": "",
                "note": "",
            }

        jobs = [job for job in chosen for _ in range(args.tries)]
        with ThreadPoolExecutor(args.parallel) as pool, args.out.open("w", encoding="utf-8") as out:
            for n, row in enumerate(pool.map(ask, jobs), 1):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
                print(f"{n}/{len(jobs)}", file=sys.stderr, end="\r")


if __name__ == "__main__":
    main()
