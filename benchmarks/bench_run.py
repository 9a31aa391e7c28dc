"""How close `workbench run` keeps a server to its capacity, next to the notebook's loop.

    python benchmarks/bench_run.py BOOK.txt [--paragraphs 300] [--slots 4] [--latency 0.1]

The fake server serves `--slots` requests at once, each taking `--latency` seconds, so its
capacity is slots / latency answers a second. We time, in one run on this machine:
- workbench: `workbench run --concurrency SLOTS` as a subprocess (start-up included);
- notebook: the original one-request-at-a-time loop (requests.post, then validate);
- overhead: workbench against a zero-latency server, i.e. the tool's own cost per attempt.
Only ratios are printed as results: absolute times here are noisy.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeserver import FakeServer  # noqa: E402
from workbench.engine.recipes import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from workbench.ingest.sources import read_source  # noqa: E402
from workbench.judge.verdict import validate  # noqa: E402


def paragraphs_of(book: Path, count: int) -> list[str]:
    texts = [p.text for p in read_source(book, encoding="utf-8").paragraphs if p.word_count >= 10]
    return texts[:count]


def time_workbench(paragraphs: list[str], slots: int, latency: float) -> tuple[float, int]:
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
             "--concurrency", str(slots)],
            check=True, capture_output=True,
        )  # fmt: skip
        return time.perf_counter() - started, fake.max_in_flight


def time_notebook(paragraphs: list[str], slots: int, latency: float) -> float:
    """The notebook's loop: one request at a time, validate, next."""
    with FakeServer(slots=slots, latency=latency) as fake:
        started = time.perf_counter()
        for paragraph in paragraphs:
            response = requests.post(
                f"{fake.base_url}/chat/completions",
                json={
                    "messages": [
                        {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                        {"role": "user", "content": paragraph},
                    ],
                    "temperature": 0.9,
                },
                timeout=60,
            )
            answer = response.json()["choices"][0]["message"]["content"].strip()
            validate(paragraph, answer)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path)
    parser.add_argument("--paragraphs", type=int, default=300)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    paragraphs = paragraphs_of(args.book, args.paragraphs)
    n, k, latency = len(paragraphs), args.slots, args.latency
    ideal = math.ceil(n / k) * latency

    ours, in_flight = time_workbench(paragraphs, k, latency)
    notebook = time_notebook(paragraphs, k, latency)
    overhead, _ = time_workbench(paragraphs, k, 0.0)

    print(f"{n} paragraphs; server: {k} slots × {latency:g} s = capacity {k / latency:g}/s")
    print(f"workbench   {ours:7.2f} s  max in flight {in_flight}")
    print(f"notebook    {notebook:7.2f} s  (one request at a time)")
    print(f"ideal       {ideal:7.2f} s  (capacity, no overhead)")
    print(f"own cost    {overhead:7.2f} s  against a zero-latency server "
          f"({1000 * overhead / n:.2f} ms an attempt, start-up included)")  # fmt: skip
    print(f"RESULT capacity used (ideal / workbench): {ideal / ours:.3f}  (goal ≥ 0.9)")
    print(f"RESULT speed-up over the notebook: {notebook / ours:.2f}×")


if __name__ == "__main__":
    main()
