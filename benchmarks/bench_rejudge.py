"""How long judging every stored answer again takes, after a rules change.

    python benchmarks/bench_rejudge.py [BOOK] [--answers 100000]

Builds a job of ANSWERS stored answers (by SQL, from the book's paragraphs: each answer is the
paragraph's words in another order, so every rule has real text to look at), then times the
real CLI:
  1. `workbench rules --min-ratio 0.7` on answers stored without measures, as a database
     migrated from schema 2 has them: every answer is measured, then judged;
  2. `workbench rules --min-ratio 0.8` on the same answers, now measured: judged only, the
     case of every later rules change.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.engine.recipes import Recipe, save_recipe  # noqa: E402
from workbench.ingest.sources import read_source  # noqa: E402
from workbench.judge.settings import Rules  # noqa: E402
from workbench.judge.versions import save_rules  # noqa: E402
from workbench.store.database import open_db  # noqa: E402
from workbench.store.times import utc_now  # noqa: E402

DEFAULT_BOOK = ROOT.parent / "shared" / "corpus" / "princess-and-the-goblin.txt"


def shuffled(text: str, rng: random.Random) -> str:
    words = text.split()
    rng.shuffle(words)
    return " ".join(words)


def build(path: Path, book: Path, answers: int) -> None:
    paragraphs = [p for p in read_source(book, encoding="utf-8").paragraphs if p.word_count >= 10]
    rng = random.Random(7)
    with open_db(path, create=True) as db, db.atomic():
        source = db["sources"].insert({
            "path": str(book), "name": book.name, "encoding": "utf-8", "sha256": "",
            "min_words": 10, "paragraph_count": len(paragraphs), "first_ingested_at": utc_now(),
            "last_ingested_at": utc_now(),
        }).last_pk  # fmt: skip
        # As many paragraphs as needed for 5 answers each, the book repeated as need be.
        count = answers // 5
        db["paragraphs"].insert_all(
            (
                {"source_id": source, "position": n + 1, "sha256": str(n), "occurrence": 1,
                 "text": paragraphs[n % len(paragraphs)].text,
                 "word_count": paragraphs[n % len(paragraphs)].word_count, "filtered": 0}
                for n in range(count)
            ),
            batch_size=1000,
        )  # fmt: skip
        recipe = save_recipe(db, Recipe(model="bench"))
        rules_id = save_rules(db, Rules())
        run = db["runs"].insert({
            "recipe_id": recipe.id, "rules_id": rules_id, "started_at": utc_now(),
            "status": "completed", "base_url": "http://127.0.0.1:1/v1", "settings": "{}",
            "pid": 1, "hostname": "bench",
        }).last_pk  # fmt: skip
        texts = {pid: text for pid, text in db.execute("SELECT id, text FROM paragraphs")}

        def rows():
            for pid, text in texts.items():
                for number in range(1, 6):
                    answer = shuffled(text, rng)
                    # Four rejected, then one accepted: the verdicts a run would leave.
                    outcome = "accepted" if number == 5 else "rejected"
                    yield {
                        "paragraph_id": pid, "recipe_id": recipe.id, "run_id": run,
                        "attempt_number": number, "started_at": "", "finished_at": "",
                        "latency_s": 1.0, "request": json.dumps({"model": "bench"}),
                        "http_status": 200, "response": "{}", "answer": answer,
                        "cleaned": answer, "finish_reason": "stop", "outcome": outcome,
                        "reason": None if number == 5 else "commentary",
                        "detail": None if number == 5 else "stored", "rules_id": rules_id,
                    }  # fmt: skip

        db["attempts"].insert_all(rows(), batch_size=1000)


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("book", nargs="?", type=Path, default=DEFAULT_BOOK)
    parser.add_argument("--answers", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        start = time.perf_counter()
        build(db, args.book, args.answers)
        print(f"built {args.answers:,} stored answers in {time.perf_counter() - start:.1f} s")
        workbench = [sys.executable, "-m", "workbench", "rules", "--db", str(db)]
        seconds, said = timed([*workbench, "--min-ratio", "0.7"])
        print(f"measure and judge again: {seconds:6.1f} s  ({said.splitlines()[-1]})")
        seconds, said = timed([*workbench, "--min-ratio", "0.8"])
        print(f"judge again (measured):  {seconds:6.1f} s  ({said.splitlines()[-1]})")
        print(f"RESULT re-judging {args.answers:,} stored answers after a rules change: "
              f"{seconds:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
