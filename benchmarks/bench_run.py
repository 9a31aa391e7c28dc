"""`make bench`: how much of its servers' capacity `workbench run` uses, and what it costs itself.

    python benchmarks/bench_run.py [BOOK] [--seconds 8] [--latency 0.25] [--meaning]

Against the project's fake server (tests/fakeserver.py, a real HTTP server on 127.0.0.1) serving
N requests at once, each answer taking --latency seconds, so its capacity is N / latency answers a
second. `workbench run` runs as a subprocess, as a user runs it (start-up included), with answers
streamed (the default). We print:
- capacity used at --concurrency 1, 4, 16, 64 (the server's slots alike): whole run (the ideal
  time for the requests it served, over the time the command took) and steady state (the share
  of capacity used between the first answers and the last requests: start-up, whose fixed cost
  is below, and the last answers' tail left out);
- the fixed cost: `workbench --version`, and a run's start to its first request (medians);
- two servers of different speeds (`--base-url URL#N` each): steady state over their summed
  capacity, and each one's share of the requests.
Paragraphs are the BOOK's (default: twelve-word ones made up); the fake's answer is the paragraph's
words rotated, which passes every rule. The meaning check is off unless --meaning: this measures
the run's own machinery; what MiniLM adds, tens of milliseconds an answer on 2 cores, is
bench_meaning.py's to measure. The machine's other load moves these numbers: they are printed as
measured.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakeserver import FakeServer  # noqa: E402

WB = [sys.executable, "-m", "workbench"]


def paragraphs_of(book: Path | None, count: int) -> list[str]:
    if book is None:
        return [" ".join(f"w{i}_{k}" for k in range(12)) for i in range(count)]
    from workbench.ingest.sources import read_source

    texts = [p.text for p in read_source(book, encoding="utf-8").paragraphs if p.word_count >= 10]
    return [texts[i % len(texts)] + ("" if i < len(texts) else f" ({i})") for i in range(count)]


def job(folder: Path, paragraphs: list[str]) -> Path:
    """A database with these paragraphs ingested, made once and copied for each run; its rules
    without the meaning check unless --meaning (bench_meaning.py measures what that costs)."""
    source, db = folder / "book.txt", folder / "base.db"
    source.write_text("\n\n".join(paragraphs), encoding="utf-8")
    subprocess.run([*WB, "ingest", str(source), "--db", str(db)], check=True, capture_output=True)
    if not MEANING:
        subprocess.run([*WB, "rules", "--disable-rule", "meaning_drift", "--db", str(db)],
                       check=True, capture_output=True)  # fmt: skip
    return db


MEANING = False  # whether the jobs keep the default meaning check (MiniLM); set by --meaning


def fresh(base: Path, name: str) -> Path:
    copy = base.with_name(name)
    shutil.copy(base, copy)
    return copy


def steady(servers: list[FakeServer], slots: list[int]) -> float:
    """The share of the servers' summed capacity used between the end of the run's first
    longest answer and the start of its last one: the answers served in that window (a request
    counts for the part of its latency inside it) over what the servers could serve there."""
    longest = max(s.latency for s in servers)
    start = min(min(s.arrived) for s in servers) + longest
    end = max(max(s.arrived) for s in servers)
    served = sum(
        max(0.0, min(at + s.latency, end) - max(at, start)) / s.latency
        for s in servers
        for at in s.arrived
    )
    capacity = sum(n / s.latency for s, n in zip(servers, slots, strict=True))
    return served / (capacity * (end - start))


def capacity(base: Path, slots: int, latency: float, folder: Path) -> tuple[float, float, int]:
    """(whole-run share, steady-state share, requests) at --concurrency `slots`."""
    db = fresh(base, f"c{slots}.db")
    with FakeServer(slots=slots, latency=latency) as fake:
        started = time.perf_counter()
        subprocess.run(
            [*WB, "run", "--db", str(db), "--base-url", fake.base_url, "-q",
             "--concurrency", str(slots)],
            check=True, capture_output=True,
        )  # fmt: skip
        took = time.perf_counter() - started
        served = len(fake.requests)
        ideal = math.ceil(served / slots) * latency
        return ideal / took, steady([fake], [slots]), served


def version_time(trials: int = 10) -> float:
    times = []
    for _ in range(trials):
        started = time.perf_counter()
        subprocess.run([*WB, "--version"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def first_request_time(base: Path, trials: int = 7) -> float:
    times = []
    for n in range(trials):
        db = fresh(base, f"first{n}.db")
        with FakeServer() as fake:
            started = time.monotonic()
            subprocess.run(
                [*WB, "run", "--db", str(db), "--base-url", fake.base_url, "-q", "--limit", "1"],
                check=True, capture_output=True,
            )  # fmt: skip
            times.append(fake.arrived[0] - started)
    return statistics.median(times)


FAST, SLOW = (4, 0.25), (2, 1.0)  # slots, latency: 16 and 2 answers a second
SUMMED = FAST[0] / FAST[1] + SLOW[0] / SLOW[1]


def two_servers(base: Path) -> tuple[float, int, int, float]:
    """(steady share of summed capacity, fast's requests, slow's, whole-run share)."""
    db = fresh(base, "two.db")
    with (
        FakeServer(slots=FAST[0], latency=FAST[1]) as fast,
        FakeServer(slots=SLOW[0], latency=SLOW[1]) as slow,
    ):
        started = time.perf_counter()
        subprocess.run(
            [*WB, "run", "--db", str(db), "--base-url", f"{fast.base_url}#{FAST[0]}",
             "--base-url", f"{slow.base_url}#{SLOW[0]}", "-q"],
            check=True, capture_output=True,
        )  # fmt: skip
        took = time.perf_counter() - started
        served = len(fast.requests) + len(slow.requests)
        ideal = served / SUMMED
        share = steady([fast, slow], [FAST[0], SLOW[0]])
        return share, len(fast.requests), len(slow.requests), ideal / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path, nargs="?")
    parser.add_argument("--seconds", type=float, default=8.0, help="ideal length of each run")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--meaning", action="store_true", help="keep the meaning check on")
    args = parser.parse_args()
    global MEANING
    MEANING = args.meaning
    print(f"meaning check: {'on (MiniLM)' if MEANING else 'off (bench_meaning.py measures it)'}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        print(f"fixed cost (medians): workbench --version {version_time():.3f} s", flush=True)
        (folder / "small").mkdir()
        small = job(folder / "small", paragraphs_of(args.book, 20))
        print(f"fixed cost (medians): run's start to its first request "
              f"{first_request_time(small):.3f} s", flush=True)  # fmt: skip
        for slots in (1, 4, 16, 64):
            # 64 answers of --latency each at once would be more answers a second than this
            # machine can judge and commit while it also plays the server: 64 take 4 × longer.
            latency = args.latency * (4 if slots == 64 else 1)
            count = round(args.seconds * slots / latency)
            (folder / str(slots)).mkdir()
            base = job(folder / str(slots), paragraphs_of(args.book, count))
            whole, steady_share, served = capacity(base, slots, latency, folder)
            print(
                f"concurrency {slots:>2}: {served:>5} requests of {latency:g} s, capacity "
                f"{slots / latency:g}/s; used {whole:.3f} whole run, {steady_share:.3f} steady",
                flush=True,
            )
        (folder / "two").mkdir()
        base = job(folder / "two", paragraphs_of(args.book, round(args.seconds * SUMMED)))
        share, fast, slow, whole = two_servers(base)
        print(f"two servers ({FAST[0]} × {FAST[1]:g} s and {SLOW[0]} × {SLOW[1]:g} s, "
              f"{SUMMED:g}/s summed): {fast} and {slow} requests ({fast / (fast + slow):.2f} to "
              f"the fast, its share of capacity {FAST[0] / FAST[1] / SUMMED:.2f}); used "
              f"{whole:.3f} whole run, {share:.3f} steady")  # fmt: skip


if __name__ == "__main__":
    main()
