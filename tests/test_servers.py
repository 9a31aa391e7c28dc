"""Many servers: `--base-url` several times, each with its own concurrency; health, rotation,
a server that drops out mid-run, Retry-After, and what each attempt records of its server."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlite_utils import Database

from tests.conftest import ingest_paragraphs, statuses, words
from tests.fakeserver import FakeServer, Reply

PARAGRAPHS = [words(12, f"p{i}_") for i in range(40)]


def run(cli, *servers: str, args: tuple[str, ...] = ()):
    urls = [arg for url in servers for arg in ("--base-url", url)]
    return cli("run", *urls, "--disable-rule", "meaning_drift", "--backoff", "0", *args)


def test_two_servers_of_different_speeds_each_at_its_own_concurrency(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    with FakeServer(slots=3, latency=0.05) as fast, FakeServer(slots=1, latency=0.2) as slow:
        result = run(cli, f"{fast.base_url}#3", f"{slow.base_url}#1")
        assert result.exit_code == 0, result.stderr
        assert (fast.max_in_flight, slow.max_in_flight) == (3, 1)
        fast_count, slow_count = len(fast.requests), len(slow.requests)
    assert fast_count + slow_count == len(PARAGRAPHS)
    # In proportion to capacity: 3 / 0.05 = 60 a second against 1 / 0.2 = 5.
    assert fast_count > 4 * slow_count and slow_count >= 1
    assert set(statuses(db_path).values()) == {"succeeded"}
    with Database(db_path) as db:
        by_server = dict(db.execute("SELECT server, count(*) FROM attempts GROUP BY 1").fetchall())
        assert by_server == {fast.base_url: fast_count, slow.base_url: slow_count}
        assert db.execute(
            "SELECT position, base_url, concurrency FROM run_servers ORDER BY position"
        ).fetchall() == [(1, fast.base_url, 3), (2, slow.base_url, 1)]
        run_row = next(db.query("SELECT base_url, settings FROM runs"))
    assert run_row["base_url"] == fast.base_url
    assert json.loads(run_row["settings"])["base_url"] == [
        f"{fast.base_url}#3",
        f"{slow.base_url}#1",
    ]
    report = cli("report", "--json")
    servers = json.loads(report.stdout)["servers"]
    assert [(s["server"], s["attempts"], s["failed"]) for s in servers] == [
        (fast.base_url, fast_count, 0),
        (slow.base_url, slow_count, 0),
    ]
    assert servers[1]["mean_latency_s"] >= 0.2 > servers[0]["mean_latency_s"]
    text = cli("report").stdout
    assert f"  {slow.base_url}  {slow_count} attempts (0 failed) · mean latency" in text


def test_concurrency_is_the_default_per_server(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:12])
    with FakeServer(slots=8, latency=0.1) as one, FakeServer(slots=8, latency=0.1) as two:
        assert run(cli, one.base_url, two.base_url, args=("--concurrency", "2")).exit_code == 0
        assert one.max_in_flight == two.max_in_flight == 2


def test_a_server_that_stops_mid_run_loses_nothing(cli, tmp_path, db_path):
    """It leaves the rotation with a line saying so; its requests are asked again of the other
    at once, and the run finishes there."""
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    stayer, leaver = FakeServer(slots=2, latency=0.05).start(), FakeServer(slots=2, latency=0.05)
    leaver.start()

    def stop_soon():
        while len(leaver.requests) < 5:
            time.sleep(0.01)
        leaver.kill()

    threading.Thread(target=stop_soon, daemon=True).start()
    try:
        result = cli("run", "--base-url", stayer.base_url, "--base-url", leaver.base_url,
                     "--disable-rule", "meaning_drift")  # fmt: skip
    finally:
        stayer.stop()
    assert result.exit_code == 0, result.stderr
    said = re.compile(
        re.escape(f"{leaver.base_url} left the rotation (3 failures in a row, last ")
        + r"connection_error: .+"  # refused, reset, closed without answering, cut mid-stream
        + re.escape("); the others take its requests; asking it again in 5 s")
    )
    assert any(said.fullmatch(line) for line in result.stderr.splitlines()), result.stderr
    assert set(statuses(db_path).values()) == {"succeeded"}
    with Database(db_path) as db:
        failed = db.execute(
            "SELECT DISTINCT server FROM attempts WHERE outcome = 'failed'"
        ).fetchall()
        accepted = db.execute(
            "SELECT paragraph_id, count(*) FROM attempts WHERE outcome = 'accepted' GROUP BY 1"
        ).fetchall()
    assert failed == [(leaver.base_url,)]
    assert len(accepted) == len(PARAGRAPHS) and {n for _, n in accepted} == {1}
    assert "Run #1 completed" in result.stdout


def test_retry_after_takes_a_server_out_until_a_probe_brings_it_back(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    with FakeServer(slots=2, latency=0.1) as steady, FakeServer(slots=2, latency=0.1) as busy:
        busy.enqueue(Reply.error(429, "rate limited", headers={"Retry-After": "1"}))
        result = cli("run", "--base-url", busy.base_url, "--base-url", steady.base_url,
                     "--disable-rule", "meaning_drift")  # fmt: skip
        assert result.exit_code == 0, result.stderr
        lines = result.stderr.splitlines()
        assert (
            f"{busy.base_url} left the rotation (it asked to wait 1 s (HTTP 429)); the others "
            "take its requests; asking it again in 1 s"
        ) in lines
        assert f"{busy.base_url} is back in the rotation: it lists 'fake-model'" in lines
        assert len(busy.requests) > 1  # used again once back
    assert set(statuses(db_path).values()) == {"succeeded"}


def test_an_unreachable_server_is_left_out_and_one_without_the_model_not_used(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:4])
    with FakeServer() as gone:
        dead = gone.base_url
    with FakeServer() as good, FakeServer(models=("other-model",)) as other:
        result = run(cli, good.base_url, dead, other.base_url)
        assert result.exit_code == 0, result.stderr
        assert other.requests == []
        assert len(good.requests) == 4
    assert f"{dead}: cannot reach {dead}: is the server running?" in result.stderr
    assert f"{other.base_url} does not list 'fake-model': not used by this run" in result.stderr


def test_when_no_server_can_be_used_the_first_ones_error_is_said(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:2])
    with FakeServer() as one, FakeServer() as two:
        urls = (one.base_url, two.base_url)
    result = run(cli, *urls)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: cannot reach {urls[0]}: is the server running? (LM Studio: Developer tab → "
        "Start Server)\n"
    )
    assert Database(db_path)["runs"].count == 0


def test_servers_are_asked_what_they_serve_at_once(cli, tmp_path):
    """Two servers that take 1 s each to list their models: the run's first request goes out
    after about 1 s, not 2."""
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:2])
    slow_list = Reply(delay=1.0, body=json.dumps({"data": [{"id": "fake-model"}]}))
    with FakeServer(models_reply=slow_list) as one, FakeServer(models_reply=slow_list) as two:
        first: list[float] = []
        original = one._next_reply

        def noted(body):
            first.append(time.monotonic())
            return original(body)

        one._next_reply = noted  # type: ignore[method-assign]
        started = time.monotonic()
        assert run(cli, one.base_url, two.base_url).exit_code == 0
    assert first and first[0] - started < 1.9


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/v1#0", "after '#' comes the requests in flight it takes"),
        ("http://127.0.0.1:9/v1#many", "after '#' comes the requests in flight it takes"),
    ],
)
def test_bad_server_counts_are_one_line(cli, tmp_path, db_path, url, message):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:1])
    result = run(cli, url)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: invalid --base-url {url!r}: {message}")
    assert len(result.stderr.splitlines()) == 1


def test_a_server_given_twice_is_refused(cli, tmp_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:1])
    result = run(cli, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1#2")
    assert result.exit_code == 1
    assert result.stderr == "Error: --base-url 'http://127.0.0.1:9/v1' is given twice\n"


def test_kill_9_with_two_servers_then_resume(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    with FakeServer(slots=2, latency=0.05) as one, FakeServer(slots=2, latency=0.1) as two:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "run", "--base-url", one.base_url, "--base-url",
             two.base_url, "--db", str(db_path), "--disable-rule", "meaning_drift", "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while Database(db_path)["attempts"].count < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert run(cli, one.base_url, two.base_url).exit_code == 0
        calls = Counter(one.calls) + Counter(two.calls)
    assert max(calls.values()) <= 2  # only the requests in flight at the kill were asked twice
    assert sum(calls.values()) - len(PARAGRAPHS) <= 8  # at most one per slot (4 a server)
    with Database(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        accepted = db.execute(
            "SELECT count(*) FROM attempts WHERE outcome = 'accepted' GROUP BY paragraph_id"
        ).fetchall()
        assert len(accepted) == len(PARAGRAPHS) and {n for (n,) in accepted} == {1}
