"""How long `workbench report` takes on a big job.

    python benchmarks/bench_report.py [--paragraphs 1000000] [--attempts 3000000] [--db PATH]

Builds (by SQL, through the real schema and its triggers) a job of PARAGRAPHS paragraphs and
ATTEMPTS attempts with request and response bodies of a realistic size, then times the real
CLI: `report`, `report --json`, `report --reason too_short --show 3`, `recipes`. The database
is kept at --db (built once, reused when it exists), since building it takes minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.engine.recipes import Recipe, save_recipe  # noqa: E402
from workbench.judge.settings import Rules  # noqa: E402
from workbench.judge.versions import save_rules  # noqa: E402
from workbench.store.database import open_db  # noqa: E402
from workbench.store.times import utc_now  # noqa: E402

WORDS = [
    "the", "princess", "went", "up", "the", "stair", "and", "found", "the", "old", "lady",
    "spinning", "in", "the", "room", "at", "the", "top", "of", "the", "tower", "where", "the",
    "pigeons", "flew", "about", "her", "and", "the", "moon", "shone", "through", "the", "window",
]  # fmt: skip
REASONS = ["too_short", "truncated", "multiple_paragraphs", "commentary", "too_similar"]


def paragraph(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 90)))


def build(path: Path, paragraphs: int, attempts: int) -> None:
    rng = random.Random(3)
    per = attempts / paragraphs
    with open_db(path, create=True) as db:
        db.execute("PRAGMA synchronous = OFF")
        with db.atomic():
            source = db["sources"].insert({
                "path": "/bench/book.txt", "name": "book.txt", "encoding": "utf-8", "sha256": "",
                "min_words": 10, "paragraph_count": paragraphs, "first_ingested_at": utc_now(),
                "last_ingested_at": utc_now(),
            }).last_pk  # fmt: skip
            recipe = save_recipe(db, Recipe(model="bench-model"))
            rules_id = save_rules(db, Rules())
            run = db["runs"].insert({
                "recipe_id": recipe.id, "rules_id": rules_id, "started_at": utc_now(),
                "ended_at": utc_now(), "status": "completed", "base_url": "http://127.0.0.1:1/v1",
                "settings": "{}", "pid": 1, "hostname": "bench",
            }).last_pk  # fmt: skip
        texts = [paragraph(rng) for _ in range(2000)]  # reused: the size is what matters
        batch: list[tuple] = []
        made = 0
        for pid in range(1, paragraphs + 1):
            text = texts[pid % len(texts)]
            db.conn.execute(
                "INSERT INTO paragraphs (id, source_id, position, sha256, occurrence, text, "
                "word_count, filtered) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                [pid, source, pid, str(pid), text, len(text.split()), int(pid % 10 == 0)],
            )
            if pid % 10 == 0:
                continue  # filtered: never sent
            # 3 attempts a paragraph on average: most accepted at the 2nd or 3rd, some skipped.
            count = max(1, min(5, round(rng.gauss(per * 10 / 9, 1))))
            skipped = count == 5 and rng.random() < 0.5
            for number in range(1, count + 1):
                last = number == count
                outcome = "accepted" if last and not skipped else "rejected"
                if rng.random() < 0.03:
                    outcome = "failed"
                reason = None if outcome == "accepted" else rng.choice(REASONS)
                if outcome == "failed":
                    reason = "timeout"
                answer = None if outcome == "failed" else paragraph(rng)
                body = {"model": "bench-model", "messages": [
                    {"role": "system", "content": "You are an expert novelist. " * 8},
                    {"role": "user", "content": text}], "temperature": 0.9}  # fmt: skip
                response = json.dumps({"choices": [{"message": {"content": answer},
                                                    "finish_reason": "stop"}]})  # fmt: skip
                batch.append((
                    pid, recipe.id, run, number, utc_now(), utc_now(), rng.random() * 20,
                    json.dumps(body), 200, response, answer, answer, "stop", 300, 120,
                    outcome, reason, None if outcome == "accepted" else "detail",
                    None if outcome == "failed" else rules_id,
                    None if answer is None else 1.0, None if answer is None else 0.3,
                ))  # fmt: skip
                made += 1
            if len(batch) >= 20000:
                _flush(db, batch)
                print(f"  {pid:,} paragraphs, {made:,} attempts", file=sys.stderr, end="\r")
        _flush(db, batch)
        db.conn.commit()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("ANALYZE")
    print(f"  {paragraphs:,} paragraphs, {made:,} attempts", file=sys.stderr)


def _flush(db, batch: list[tuple]) -> None:
    db.conn.executemany(
        "INSERT INTO attempts (paragraph_id, recipe_id, run_id, attempt_number, started_at, "
        "finished_at, latency_s, request, http_status, response, answer, cleaned, finish_reason, "
        "prompt_tokens, completion_tokens, outcome, reason, detail, rules_id, length_ratio, "
        "similarity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    db.conn.commit()
    batch.clear()


def timed(args: list[str], db: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "workbench", *args, "--db", str(db)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paragraphs", type=int, default=1_000_000)
    parser.add_argument("--attempts", type=int, default=3_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/workbench-bench-report.db"))
    args = parser.parse_args()
    if not args.db.exists():
        start = time.perf_counter()
        build(args.db, args.paragraphs, args.attempts)
        print(f"built {args.db} in {time.perf_counter() - start:.0f} s "
              f"({args.db.stat().st_size / 1e9:.1f} GB)")  # fmt: skip
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import workbench.cli"], check=True)
    startup = time.perf_counter() - start
    print(f"python + workbench start-up: {startup:.2f} s")
    for args_ in (
        ["report"], ["report", "--json"], ["report", "--reason", "too_short", "--show", "3"],
        ["recipes"],
    ):  # fmt: skip
        seconds, out = timed(args_, args.db)
        print(f"{' '.join(args_):<40} {seconds:6.2f} s  ({len(out.splitlines())} lines)")
    seconds, _ = timed(["report"], args.db)
    print(f"RESULT report on {args.paragraphs:,} paragraphs: {seconds:.2f} s (start-up included)")


if __name__ == "__main__":
    main()
