"""Batch files: pending requests out as OpenAI Batch API JSONL, results back in, judged as `run`
judges; both output formats, error lines, lines read twice, foreign ids; reservations."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.batches import answer_batch
from tests.conftest import assert_one_line_error, db_snapshot, ingest_paragraphs, statuses, words
from tests.fakeserver import FakeServer, Reply
from workbench.engine.recipes import Recipe

PARAGRAPHS = [words(12, f"p{i}_") for i in range(6)]


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def attempts(db_path: Path) -> list[dict]:
    return list(Database(db_path).query("SELECT * FROM attempts ORDER BY id"))


def write(cli, *args):
    result = cli("batch", "write", "--model", "fake-model", *args)
    assert result.exit_code == 0, result.stderr
    return result


@pytest.mark.parametrize("style", ["openai", "vllm"])
def test_a_round_trip(cli, tmp_path, db_path, style):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    result = write(cli, "-o", "requests.jsonl")
    assert result.stdout == (
        "Batch #1: 6 requests for 6 paragraphs in requests.jsonl (recipe 'default', fake-model)\n"
    )
    sent = lines_of(tmp_path / "requests.jsonl")
    assert [set(line) for line in sent] == [{"custom_id", "method", "url", "body"}] * 6
    assert {(line["method"], line["url"]) for line in sent} == {("POST", "/v1/chat/completions")}
    # Exactly the body `run` sends (without streaming).
    expected = Recipe(model="fake-model").request_body(PARAGRAPHS[0], 12, max_ratio=2.0)
    assert sent[0]["body"] == expected
    ids = [line["custom_id"] for line in sent]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i) for i in ids)
    assert ids[0].endswith("-p1-r1-a1")
    failing = {ids[1], ids[4]}
    with FakeServer() as engine:
        errors = answer_batch(
            tmp_path / "requests.jsonl", engine, tmp_path / "out.jsonl", style=style, fail=failing
        )
    files = ["out.jsonl"] + ([errors.name] if errors else [])
    result = cli("batch", "read", *reversed(files))  # in any order
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Read 6 lines: 6 answers stored (4 accepted, 0 rejected, 2 failed). Batch #1 read "
        "whole. 2 paragraphs pending again: `workbench batch write` or `workbench run` asks "
        "them next.\n"
    )
    rows = attempts(db_path)
    assert {r["server"] for r in rows} == {"batch #1"}
    by_id = {line["custom_id"]: line for line in sent}
    for row in rows:
        assert (
            json.loads(row["request"])["messages"]
            == by_id[next(i for i in ids if f"-p{row['paragraph_id']}-" in i)]["body"]["messages"]
        )
        raw = json.loads(row["response"])  # the result line, as read
        assert raw["custom_id"] in ids
    failed = [r for r in rows if r["outcome"] == "failed"]
    assert {r["reason"] for r in failed} == (
        {"http_400"} if style == "vllm" else {"http_400", "batch_expired"}
    )
    assert all(r["detail"] for r in failed)
    with Database(db_path) as db:
        assert db["claims"].count == 0
        assert db.execute("SELECT status FROM batches").fetchall() == [("read",)]
        run_row = next(db.query("SELECT status, base_url FROM runs"))
    assert run_row == {"status": "completed", "base_url": "batch #1"}
    # Read again: nothing added.
    again = cli("batch", "read", *files)
    assert again.stdout.startswith("Read 6 lines: 0 answers stored (0 accepted, 0 rejected, 0 "
                                   "failed); 6 read before.")  # fmt: skip
    assert len(attempts(db_path)) == 6
    # The failed ones go to the next batch, as attempt 2.
    write(cli, "-o", "retry.jsonl")
    retry = lines_of(tmp_path / "retry.jsonl")
    assert sorted(line["custom_id"].split("-", 2)[2] for line in retry) == sorted(
        re.sub(r"-a1$", "-a2", i.split("-", 2)[2]) for i in failing
    )
    assert report_servers(cli) == [("batch #1", 6, 2)]


def report_servers(cli):
    data = json.loads(cli("report", "--json").stdout)
    return [(s["server"], s["attempts"], s["failed"]) for s in data["servers"]]


def test_foreign_unknown_malformed_and_doubled_lines_are_reported_and_the_rest_read(
    cli, tmp_path, db_path
):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:3])
    write(cli, "-o", "requests.jsonl")
    with FakeServer() as engine:
        answer_batch(tmp_path / "requests.jsonl", engine, tmp_path / "out.jsonl")
    good = (tmp_path / "out.jsonl").read_text().splitlines()
    odd = [
        good[0],
        good[0],  # the same line twice
        '{"custom_id": "wb-00000000aa-p1-r1-a1", "response": {"status_code": 200, "body": {}}}',
        '{"custom_id": "request-7", "response": {"status_code": 200, "body": {}}}',
        "{not json",
        '{"id": "x"}',
        *good[1:],
    ]
    (tmp_path / "odd.jsonl").write_text("\n".join(odd) + "\n")
    result = cli("batch", "read", "odd.jsonl")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "odd.jsonl:5: not JSON: '{not json'",
        "odd.jsonl:6: no custom_id: not a batch result line",
        "odd.jsonl:3: custom_id 'wb-00000000aa-p1-r1-a1' belongs to no batch of this database "
        "(another job's?)",
        "odd.jsonl:4: custom_id 'request-7' is not one workbench writes",
    ]
    assert result.stdout.startswith(
        "Read 8 lines: 3 answers stored (3 accepted, 0 rejected, 0 failed); 1 read before; "
        "2 malformed; 1 unknown; 1 foreign. Batch #1 read whole."
    )
    assert set(statuses(db_path).values()) == {"succeeded"}


def test_reserved_paragraphs_are_left_alone_until_read_or_cancelled(cli, tmp_path, db_path):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    write(cli, "-o", "first.jsonl", "--limit", "4")
    with FakeServer() as fake:
        result = cli("run", "--base-url", fake.base_url, "-q", "--disable-rule", "meaning_drift")
        assert result.exit_code == 0, result.stderr
        sent = {b["messages"][-1]["content"] for b in fake.requests}
    assert sent == set(PARAGRAPHS[4:])  # the batch's four are not asked meanwhile
    # A second batch finds nothing free; --release cancels the first and takes its paragraphs.
    assert "Nothing to write" in write(cli, "-o", "second.jsonl").stdout
    result = write(cli, "-o", "second.jsonl", "--release")
    assert result.stderr == "cancelled batch #1: 4 paragraphs free again\n"
    assert result.stdout.startswith("Batch #2: 4 requests for 4 paragraphs")
    # The first batch's results, should they come, are no longer taken.
    with FakeServer() as engine:
        answer_batch(tmp_path / "first.jsonl", engine, tmp_path / "late.jsonl")
    late = cli("batch", "read", "late.jsonl")
    assert "4 of cancelled batches, not taken" in late.stdout
    assert cli("batch", "cancel").stdout == "Cancelled batch #2: 4 paragraphs are free again.\n"
    assert cli("batch", "cancel").stdout == "No batch is awaiting results.\n"
    assert_one_line_error(
        cli("batch", "cancel", "2"), "batch #2 is cancelled, not awaiting results"
    )
    assert_one_line_error(
        cli("batch", "cancel", "9"), "no batch #9 in this job (`workbench batch list`)"
    )
    listed = cli("batch", "list").stdout.splitlines()
    assert [line.split()[3] for line in listed] == ["cancelled", "cancelled"]


def test_files_are_cut_under_the_limits(cli, tmp_path, db_path, monkeypatch):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    result = write(cli, "-o", "req.jsonl", "--max-lines", "4")
    assert [line.split(" in ")[1].split()[0] for line in result.stdout.splitlines()] == [
        "req.jsonl", "req-2.jsonl",
    ]  # fmt: skip
    assert [len(lines_of(tmp_path / n)) for n in ("req.jsonl", "req-2.jsonl")] == [4, 2]
    assert cli("batch", "cancel").exit_code == 0
    monkeypatch.setattr("workbench.engine.batch.writing.MAX_BYTES", 2000)  # a line is ~700
    result = write(cli, "-o", "small.jsonl")
    sizes = [len(lines_of(tmp_path / f)) for f in ("small.jsonl", "small-2.jsonl", "small-3.jsonl")]
    assert sizes == [2, 2, 2]
    assert all((tmp_path / f).stat().st_size <= 2000 for f in ("small.jsonl", "small-2.jsonl"))


def test_more_outputs_get_a_line_each(cli, tmp_path, db_path):
    """A recipe wanting 2 answers: a line for each answer still wanted, numbered on from the
    paragraph's last attempt."""
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:2])
    with FakeServer() as fake:  # one answer for the first paragraph, then the run stops
        fake.enqueue(Reply(words(12, "z")), Reply.error(400, "stop here"))
        result = cli("run", "--base-url", fake.base_url, "-q", "--outputs", "2",
                     "--concurrency", "1", "--disable-rule", "meaning_drift")  # fmt: skip
        assert result.exit_code == 4
    write(cli, "-o", "req.jsonl")
    ids = [line["custom_id"].split("-", 2)[2] for line in lines_of(tmp_path / "req.jsonl")]
    assert ids == ["p1-r1-a3", "p2-r1-a1", "p2-r1-a2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("read", "missing.jsonl"), "no results file at missing.jsonl"),
        (("write", "-o", "book.txt", "--model", "m"),
         "book.txt exists: remove it, or name another file with -o"),
        (("write", "--max-lines", "0", "--model", "m"), "--max-lines must be between 1 and 50,000"),
        (("write", "--limit", "0", "--model", "m"), "--limit must be at least 1"),
        (("write",), "recipe 'default' is new: name the model its requests ask, --model NAME"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_changes_nothing(cli, tmp_path, db_path, args, message):
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS[:2])
    before = db_snapshot(db_path)
    assert_one_line_error(cli("batch", *args), message)
    assert db_snapshot(db_path) == before


def run_cli(db_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "workbench", *args, "--db", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_kill_9_while_reading_then_read_again(cli, tmp_path, db_path):
    paragraphs = [words(12, f"q{i}_") for i in range(300)]
    ingest_paragraphs(cli, tmp_path, paragraphs)
    write(cli, "-o", "req.jsonl")
    with FakeServer() as engine:
        answer_batch(tmp_path / "req.jsonl", engine, tmp_path / "out.jsonl")
    reader = run_cli(db_path, "batch", "read", str(tmp_path / "out.jsonl"))
    deadline = time.monotonic() + 60
    while Database(db_path)["attempts"].count < 20 and time.monotonic() < deadline:
        assert reader.poll() is None, reader.communicate()
        time.sleep(0.01)
    reader.send_signal(signal.SIGKILL)
    reader.wait()
    done = Database(db_path)["attempts"].count
    assert 20 <= done < 300
    result = cli("batch", "read", "out.jsonl")
    assert result.exit_code == 0, result.stderr
    assert f"{done:,} read before" in result.stdout
    with Database(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per = db.execute("SELECT count(*) FROM attempts GROUP BY paragraph_id").fetchall()
        assert len(per) == 300 and {n for (n,) in per} == {1}
        assert db["claims"].count == 0
        assert db.execute("SELECT status, count(*) FROM runs GROUP BY 1").fetchall() == [
            ("completed", 1), ("interrupted", 1),
        ]  # fmt: skip


def test_kill_9_while_writing_leaves_whole_batches(cli, tmp_path, db_path):
    paragraphs = [words(12, f"q{i}_") for i in range(3000)]
    ingest_paragraphs(cli, tmp_path, paragraphs)
    writer = run_cli(db_path, "batch", "write", "--model", "fake-model", "--max-lines", "50",
                     "-o", str(tmp_path / "req.jsonl"))  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("req*.jsonl"))) < 5 and time.monotonic() < deadline:
        assert writer.poll() is None, writer.communicate()
        time.sleep(0.005)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    # A file committed but not yet renamed when it was killed takes its name now.
    assert cli("batch", "list").exit_code == 0
    with Database(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = list(db.query("SELECT id, files, requests FROM batches"))
        for row in rows:  # every batch stored has its file, whole
            (name,) = json.loads(row["files"])
            assert len(lines_of(Path(name))) == row["requests"] == 50
        held = db.execute("SELECT count(*) FROM claims").fetchone()[0]
    assert held == 50 * len(rows)
    result = write(cli, "-o", "rest.jsonl")
    written = sum(int(line.split()[2].replace(",", "")) for line in result.stdout.splitlines())
    assert written == 3000 - 50 * len(rows)


def test_a_file_committed_but_not_named_is_named_by_the_next_batch_command(cli, tmp_path):
    """kill -9 between a batch's commit and its file's rename leaves FILE.part: the next
    `batch list` or `batch write` names it."""
    ingest_paragraphs(cli, tmp_path, PARAGRAPHS)
    write(cli, "-o", "req.jsonl")
    (tmp_path / "req.jsonl").replace(tmp_path / "req.jsonl.part")
    result = cli("batch", "list")
    assert result.stderr == (
        "batch #1: its file was written whole before the command stopped; named req.jsonl now\n"
    )
    assert len(lines_of(tmp_path / "req.jsonl")) == 6
    assert "req.jsonl" in result.stdout
