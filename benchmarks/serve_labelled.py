"""Serve hand-labelled answers as an OpenAI-compatible model, to review a job whose truth is known.

    python benchmarks/serve_labelled.py [samples/night-side.txt]

A scripted server (tests/fakeserver.py) on 127.0.0.1 that answers each paragraph of the book
with the answers written for it by hand in tests/data/: asked first, a drift (drifts-*.jsonl:
the meaning changed, most of the words kept); asked again, a faithful paraphrase
(free-*.jsonl); a paragraph with neither, and any later request, gets the paragraph back (a
copy, which too_similar rejects). It behaves like a model of mixed quality whose every answer
is labelled, which is what docs/reviewing.md reviews and calibrates on. Prints its base URL
and serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeserver import FakeServer, Reply  # noqa: E402
from workbench.ingest.sources import read_source  # noqa: E402

DATA = ROOT / "tests" / "data"


def labelled_answers(book: Path) -> dict[str, list[str]]:
    """Paragraph text → its answers in the order served: the drift, then the paraphrase."""
    paragraphs = read_source(book, encoding="utf-8").paragraphs
    answers: dict[str, list[str]] = {}
    stem = book.stem.removesuffix(".txt")
    for kind in ("drifts", "free"):
        for line in (DATA / f"{kind}-{stem}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            paragraph = paragraphs[row["index"]]
            assert paragraph.sha256 == row["sha256"], f"{kind} row {row['index']} is stale"
            answers.setdefault(paragraph.text, []).append(row["answer"])
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", nargs="?", type=Path, default=ROOT / "samples" / "night-side.txt")
    args = parser.parse_args()
    answers = labelled_answers(args.book)

    def respond(body: dict[str, Any], call: int) -> Reply:
        text = body["messages"][-1]["content"]
        served = answers.get(text, [])
        return Reply(served[call - 1] if call <= len(served) else text)

    with FakeServer(responder=respond) as server:
        print(f"Serving {len(answers)} labelled paragraphs at {server.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
