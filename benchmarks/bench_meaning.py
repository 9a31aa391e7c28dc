"""What the meaning check costs a run: its own cost per attempt with it on and off.

    python benchmarks/bench_meaning.py BOOK.txt [--paragraphs 100] [--slots 4] [--latency 1]

`workbench run` as a subprocess (start-up included) against the fake server, whose answers pass
every rule, so every answer is measured: the worst case. Three ways, in one run on this machine:
the meaning rule off, on with WordLlama, on with MiniLM (the default). For each: the tool's own
cost per attempt against a zero-latency server, and the share of a server's capacity used when
it answers in `--latency` seconds with `--slots` slots: by default four answers a second, a
fast local server for paragraphs of this length (LM Studio with a 7B model takes seconds each).
Only ratios and per-attempt costs are printed as results: absolute times here are noisy.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeserver import FakeServer  # noqa: E402
from workbench.ingest.sources import read_source  # noqa: E402

WAYS = {
    "off": ["--disable-rule", "meaning_drift"],
    "wordllama": ["--meaning-model", "wordllama"],
    "minilm": ["--meaning-model", "minilm"],
}


def paragraphs_of(book: Path, count: int) -> list[str]:
    texts = [p.text for p in read_source(book, encoding="utf-8").paragraphs if p.word_count >= 10]
    return texts[:count]


def timed_run(paragraphs: list[str], slots: int, latency: float, options: list[str]) -> float:
    with tempfile.TemporaryDirectory() as folder, FakeServer(slots=slots, latency=latency) as fake:
        source, db = Path(folder) / "book.txt", Path(folder) / "bench.db"
        source.write_text("\n\n".join(paragraphs), encoding="utf-8")
        wb = [sys.executable, "-m", "workbench"]
        subprocess.run(
            [*wb, "ingest", str(source), "--db", str(db)], check=True, capture_output=True
        )
        started = time.perf_counter()
        subprocess.run(
            [*wb, "run", "--db", str(db), "--base-url", fake.base_url, "-q",
             "--concurrency", str(slots), "--max-attempts", "1", *options],
            check=True, capture_output=True,
        )  # fmt: skip
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path)
    parser.add_argument("--paragraphs", type=int, default=100)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    paragraphs = paragraphs_of(args.book, args.paragraphs)
    n, k, latency = len(paragraphs), args.slots, args.latency
    ideal = math.ceil(n / k) * latency
    words = sum(len(p.split()) for p in paragraphs) / n
    print(f"{n} paragraphs of {words:.0f} words on average; server {k} slots × {latency:g} s")
    print("| meaning check | own cost per attempt | capacity used |")
    print("|---|---|---|")
    for name, options in WAYS.items():
        own = timed_run(paragraphs, k, 0.0, options)
        busy = timed_run(paragraphs, k, latency, options)
        print(f"| {name} | {1000 * own / n:.1f} ms | {ideal / busy:.3f} |")


if __name__ == "__main__":
    main()
