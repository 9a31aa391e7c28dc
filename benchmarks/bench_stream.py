"""What streaming that stops early saves: completion tokens per accepted pair, with and without.

    python benchmarks/bench_stream.py              # a replay of real answers (a minute)
    python benchmarks/bench_stream.py --embedded   # and the built-in model itself (minutes)

Replay: the labelled real answers of SmolLM2-135M (tests/data/*-answers.jsonl, those whose
paragraph can be read here) are served again by the fake server, each paragraph's answers in
their order, streamed as SmolLM2's own tokens (llama.cpp's /tokenize, when the built-in model is
installed; else a word a piece, and the line says so). `workbench run` works the same job twice,
with --stream and --no-stream. Tokens generated are the pieces the server wrote (a server that
stops when the connection closes, as llama.cpp does here, generates no more); the fake writes a
token every 2 ms, as a server generates them.

Embedded: `workbench serve` (llama.cpp, SmolLM2-135M) answers two runs of the same paragraphs,
with and without --stream; tokens generated are llama.cpp's own count (GET /metrics,
llamacpp:tokens_predicted_total), so what it may have generated after a close is counted too.
The model samples at temperature 0.9: the two runs get different answers, and so different
numbers of accepted pairs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import labelled  # noqa: E402

from tests.fakeserver import FakeServer, Reply  # noqa: E402

WB = [sys.executable, "-m", "workbench"]
ANSWERS = (  # the real answers labelled by hand; each row names its paragraph
    "smollm2-answers.jsonl",
    "goblin-answers.jsonl",
    "pride-answers.jsonl",
    "night-side-answers.jsonl",
)


def real_answers() -> dict[str, list[tuple[str, str]]]:
    """Paragraph → its real answers (text, finish reason), in the order they were collected;
    the answers to a book not on this machine are left out."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in ANSWERS:
        for row in labelled.read_jsonl(labelled.DATA / name):
            original = labelled.original_of(row)
            if original is not None:
                found[original].append((row["answer"], row["finish_reason"]))
    return dict(found)


def tokenizer() -> tuple[object, str]:
    """A function giving a text's SmolLM2 token pieces, and what it is."""
    try:
        from workbench.llm.embedded import embedded_server

        server = embedded_server(parallel=1)
        running = server.__enter__()
    except Exception as e:  # the built-in model is not installed: words instead
        return (lambda text: re.findall(r"\s*\S+|\s+", text)), f"a word a piece ({e})"
    root = running.base_url.rsplit("/v1", 1)[0]

    def pieces(text: str) -> list[str]:
        reply = requests.post(f"{root}/tokenize", json={"content": text, "with_pieces": True},
                              timeout=30)  # fmt: skip
        return [token["piece"] for token in reply.json()["tokens"]]

    pieces.close = lambda: server.__exit__(None, None, None)  # type: ignore[attr-defined]
    return pieces, "SmolLM2's own tokens (llama.cpp /tokenize)"


def replay(max_attempts: int) -> None:
    answers = real_answers()
    pieces_of, how = tokenizer()
    tokens = {a: pieces_of(a) for found in answers.values() for a, _ in found}  # type: ignore[operator]
    getattr(pieces_of, "close", lambda: None)()
    print(f"replay: {sum(map(len, answers.values()))} real answers to {len(answers)} paragraphs, "
          f"streamed as {how}; --max-attempts {max_attempts}")  # fmt: skip

    served: list[int] = []  # tokens of each answer served, in the run at hand

    def responder(body: dict, call: int) -> Reply:
        found = answers[body["messages"][-1]["content"]]
        text, finish = found[(call - 1) % len(found)]
        served.append(len(tokens[text]))
        usage = {"prompt_tokens": 0, "completion_tokens": len(tokens[text])}
        return Reply(content=text, finish_reason=finish, pieces=tokens[text], usage=usage)

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        book = folder / "book.txt"
        book.write_text("\n\n".join(answers), encoding="utf-8")
        base = folder / "base.db"
        subprocess.run([*WB, "ingest", str(book), "--db", str(base), "--min-words", "1",
                        "--keep-line-breaks"], check=True, capture_output=True)  # fmt: skip
        results = {}
        for mode in ("--no-stream", "--stream"):
            db = folder / f"{mode[2:]}.db"
            shutil.copy(base, db)
            served.clear()
            # A token every 2 ms, as a server generates them: a close stops it mid-answer.
            with FakeServer(responder=responder, piece_delay=0.002) as fake:
                subprocess.run(
                    [*WB, "run", "--db", str(db), "--base-url", fake.base_url, "-q", mode,
                     "--max-attempts", str(max_attempts), "--concurrency", "4"],
                    check=True, capture_output=True,
                )  # fmt: skip
                # Streamed, the pieces it wrote before each close; else whole answers.
                written = sum(s.pieces for s in fake.streamed) if fake.streamed else sum(served)
            results[mode] = (written, *outcomes(db))
        report(results)


def outcomes(db: Path) -> tuple[int, int, Counter[str]]:
    """(accepted answers, attempts, stopped early by rule)."""
    from sqlite_utils import Database

    with Database(db) as job:
        accepted = job.execute("SELECT count(*) FROM attempts WHERE outcome = 'accepted'")
        total = job.execute("SELECT count(*) FROM attempts").fetchone()[0]
        stopped = Counter(
            dict(
                job.execute(
                    "SELECT reason, count(*) FROM attempts WHERE finish_reason = "
                    "'aborted' GROUP BY 1"
                ).fetchall()
            )
        )
        return accepted.fetchone()[0], total, stopped


def report(results: dict[str, tuple[int, int, int, Counter[str]]]) -> None:
    (plain, plain_ok, plain_n, _), (streamed, ok, n, stopped) = (
        results["--no-stream"], results["--stream"],
    )  # fmt: skip
    print(f"--no-stream: {plain:,} tokens generated for {plain_ok} accepted pairs "
          f"({plain_n} attempts): {plain / max(plain_ok, 1):,.0f} a pair")  # fmt: skip
    print(f"--stream:    {streamed:,} tokens generated for {ok} accepted pairs ({n} attempts, "
          f"{sum(stopped.values())} stopped early: "
          f"{', '.join(f'{k} {v}' for k, v in stopped.most_common())}): "
          f"{streamed / max(ok, 1):,.0f} a pair")  # fmt: skip
    if plain_ok and ok:
        saving = 1 - (streamed / ok) / (plain / plain_ok)
        print(f"RESULT streaming saves {saving:.0%} of the completion tokens per accepted pair")


def embedded(paragraphs: int, max_attempts: int) -> None:
    """Both modes against one `workbench serve`, tokens counted by llama.cpp itself."""
    sample = ROOT / "samples" / "the-clockmakers-daughter.txt"
    texts = [p for p in sample.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 10]
    texts = (texts * (paragraphs // len(texts) + 1))[:paragraphs]
    serve = subprocess.Popen([*WB, "serve", "--parallel", "4"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    assert serve.stdout is not None
    base_url = serve.stdout.readline().strip()
    root = base_url.rsplit("/v1", 1)[0]

    def predicted() -> float:
        text = requests.get(f"{root}/metrics", timeout=30).text
        return float(re.findall(r"^llamacpp:tokens_predicted_total (\S+)$", text, re.M)[0])

    print(f"embedded: SmolLM2-135M (llama.cpp, 4 slots), {len(texts)} paragraphs of {sample.name},"
          f" --max-attempts {max_attempts}")  # fmt: skip
    results = {}
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            book = folder / "book.txt"
            book.write_text("\n\n".join(f"{t} ({n})" for n, t in enumerate(texts)), "utf-8")
            for mode in ("--no-stream", "--stream"):
                db = folder / f"{mode[2:]}.db"
                subprocess.run([*WB, "ingest", str(book), "--db", str(db)], check=True,
                               capture_output=True)  # fmt: skip
                before, started = predicted(), time.monotonic()
                subprocess.run(
                    [*WB, "run", "--db", str(db), "--base-url", base_url, "-q", mode,
                     "--max-attempts", str(max_attempts), "--concurrency", "4"],
                    check=True, capture_output=True,
                )  # fmt: skip
                time.sleep(1.0)  # what a closed stream might still generate, counted
                generated = int(predicted() - before)
                results[mode] = (generated, *outcomes(db))
                print(f"  {mode}: {time.monotonic() - started:.0f} s", flush=True)
    finally:
        serve.terminate()
        serve.wait(timeout=60)
    report(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded", action="store_true", help="also the built-in model")
    parser.add_argument("--paragraphs", type=int, default=40, help="for --embedded")
    parser.add_argument("--max-attempts", type=int, default=3)
    args = parser.parse_args()
    replay(args.max_attempts)
    if args.embedded:
        embedded(args.paragraphs, args.max_attempts)


if __name__ == "__main__":
    main()
