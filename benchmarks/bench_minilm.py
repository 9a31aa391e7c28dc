"""How fast the numpy all-MiniLM-L6-v2 encoder embeds, by text length and batch size.

    python benchmarks/bench_minilm.py [--threads 1,2] [--repeat 3]

For each OpenBLAS thread count (OPENBLAS_NUM_THREADS, which must be set before numpy loads,
hence a fresh process per count) it times loading the encoder (importing tokenizers and
safetensors, reading the files, laying the weights out), then `embed` on batches of 1, 4, 8, 16
and 32 different texts of about 40, 100 and 200 words, and prints milliseconds per text (the
best of --repeat runs) as Markdown tables. The texts are made of the sentences below, written
for this benchmark. The load average is printed too: on a shared machine it moves the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = (40, 100, 200)
BATCHES = (1, 4, 8, 16, 32)

SENTENCES = [
    "The ferry left the harbour an hour late because the captain could not find his hat.",
    "Mira counted the jars of plum jam twice and still came up one short of the order.",
    "A thin rain had been falling on the allotments since breakfast.",
    "Nobody in the choir admitted to having moved the piano into the corridor.",
    "The old surveyor unrolled his map across the kitchen table and weighed its corners "
    "down with teacups.",
    "By the third week of the strike the bakery was giving its bread away for free.",
    "Tomas learned to read from the labels on the seed packets in his grandmother's shed.",
    "The bridge had been painted green so many times that nobody remembered its first colour.",
    "She wrote to the council about the streetlight, and then again, and then a third time.",
    "In winter the canal froze thick enough for the children to skate to the next village.",
    "The museum kept a stuffed owl in the hallway that visitors were asked not to feed.",
    "Every summer the travelling cinema set up its screen on the wall of the cattle market.",
    "The accountant was certain the figures were wrong, but she could not yet say why.",
    "A fox had been seen crossing the cricket pitch at dusk for three evenings running.",
    "The lifeboat crew trained on Thursday nights whatever the weather.",
    "His first novel sold eleven copies, nine of them to his mother.",
    "The orchard's oldest pear tree produced fruit only in years that ended with a seven.",
    "When the clock in the square stopped, half the town was late for a week.",
    "The postmistress knew every family's business and repeated none of it.",
    "They rebuilt the stone wall after the storm, using the same stones in a different order.",
]


def texts(words: int, count: int) -> list[str]:
    """`count` different texts of `words` words, each starting at another sentence."""
    out = []
    for start in range(count):
        pool: list[str] = []
        i = start
        while len(pool) < words:
            pool.extend(SENTENCES[(i * 7) % len(SENTENCES)].split())
            i += 1
        out.append(" ".join(pool[:words]).rstrip(".,") + ".")
    return out


def child(repeat: int) -> None:
    """Measure in this process and print the figures as JSON on stdout."""
    sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    from workbench.judge.minilm import MiniLM

    encoder = MiniLM()
    load = time.perf_counter() - start
    encoder.embed(texts(40, 4))  # warm up BLAS and the allocator
    cells = {}
    tokens = {}
    for words in WORDS:
        batch_texts = texts(words, max(BATCHES))
        lengths = [len(encoder.token_ids(t)) for t in batch_texts]
        tokens[words] = round(sum(lengths) / len(lengths))
        for size in BATCHES:
            best = float("inf")
            for _ in range(repeat):
                began = time.perf_counter()
                encoder.embed(batch_texts[:size])
                best = min(best, time.perf_counter() - began)
            cells[f"{words},{size}"] = best / size * 1000
    print(json.dumps({"load": load, "cells": cells, "tokens": tokens}))


def table(result: dict) -> str:
    lines = [
        "| text | " + " | ".join(f"batch {b}" for b in BATCHES) + " |",
        "|---" * (len(BATCHES) + 1) + "|",
    ]
    for words in WORDS:
        cells = [f"{result['cells'][f'{words},{b}']:.1f}" for b in BATCHES]
        tokens = result["tokens"][str(words)]
        lines.append(f"| {words} words ({tokens} tokens) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="OpenBLAS thread counts to compare")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the best counts")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.repeat)
        return
    for threads in args.threads.split(","):
        before = os.getloadavg()[0]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads}
        run = subprocess.run(
            [sys.executable, __file__, "--child", "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        result = json.loads(run.stdout)
        print(
            f"\nOPENBLAS_NUM_THREADS={threads}: load {result['load']:.2f} s; "
            f"ms per text (load average {before:.1f} before, {os.getloadavg()[0]:.1f} after)\n"
        )
        print(table(result))


if __name__ == "__main__":
    main()
