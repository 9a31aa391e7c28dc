"""Report: the numbers of a scripted run, as JSON and as text, and of a fresh database."""

from __future__ import annotations

import json
import re

import pytest
from sqlite_utils import Database

from tests.conftest import reworded, words
from tests.fakeserver import Reply

P1, P2, P3, P4 = words(12, "p1"), words(10, "p2"), words(10, "s"), words(11, "p4")


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": 0}


@pytest.fixture
def scripted(cli, fake, tmp_path):
    """One run over 5 paragraphs: 1 filtered, 2 succeeded, 1 skipped, 1 left pending by --limit."""
    source = tmp_path / "report.txt"
    source.write_text(f"A short one.\n\n{P1}\n\n{P2}\n\n{P3}\n\n{P4}\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    fake.enqueue(
        # P1: a server error, retried at once (--backoff 0), then accepted
        Reply.error(500, "model crashed"),
        Reply(content=reworded(P1), usage=usage(100, 12)),
        # P2: too short, then accepted
        Reply(content="short answer", usage=usage(90, 2)),
        Reply(content=reworded(P2), usage=usage(90, 10)),
        # P3: too short twice: skipped after --max-attempts 2
        Reply(content="nope", usage=usage(95, 1)),
        Reply(content="still too short", usage=usage(95, 3)),
    )
    result = cli(
        "run",
        "--base-url",
        fake.base_url,
        "--concurrency",
        "1",
        "--backoff",
        "0",
        "--max-attempts",
        "2",
        "--limit",
        "3",
        "-q",
    )
    assert result.exit_code == 0, result.stderr
    assert len(fake.requests) == 6
    return source


def report_json(cli) -> dict:
    result = cli("report", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)  # exactly one JSON document: extra data would raise
    assert isinstance(data, dict)
    return data


def assert_consistent(data: dict) -> None:
    p, a = data["paragraphs"], data["attempts"]
    assert p["total"] == p["filtered"] + p["eligible"]
    assert p["eligible"] == p["pending"] + p["succeeded"] + p["skipped"]
    assert a["total"] == a["accepted"] + a["rejected"] + a["failed"]
    assert sum(data["rejection_reasons"].values()) == a["rejected"]
    assert sum(data["skipped_reasons"].values()) == p["skipped"]


def test_json_report_of_a_scripted_run(cli, scripted, db_path):
    data = report_json(cli)
    assert {
        "paragraphs",
        "skipped_reasons",
        "attempts",
        "rejection_reasons",
        "tokens",
        "runs",
    } <= set(data)
    assert data["paragraphs"] == {
        "total": 5,
        "filtered": 1,
        "eligible": 4,
        "pending": 1,
        "succeeded": 2,
        "skipped": 1,
    }
    assert data["skipped_reasons"] == {"too_short": 1}
    assert data["attempts"] == {"total": 6, "accepted": 2, "rejected": 3, "failed": 1}
    assert data["rejection_reasons"] == {"too_short": 3}
    assert data["failure_reasons"] == {"http_500": 1}
    assert data["retries"] == 2
    assert data["attempts_per_paragraph"] == {"1": 1, "2": 2}
    # Failed attempts carry no usage; the scripted usage of the others adds up to this.
    assert data["tokens"] == {"prompt": 100 + 90 + 90 + 95 + 95, "completion": 12 + 2 + 10 + 1 + 3}
    assert_consistent(data)

    [run] = data["runs"]
    assert {
        k: run[k]
        for k in ("id", "status", "model", "attempts", "accepted", "rejected", "failed", "message")
    } == {
        "id": 1,
        "status": "completed",
        "model": "fake-model",
        "attempts": 6,
        "accepted": 2,
        "rejected": 3,
        "failed": 1,
        "message": None,
    }
    assert run["started_at"] <= run["ended_at"]
    assert data["sources"] == [
        {
            "id": 1,
            "name": "report.txt",
            "path": str(scripted.resolve()),
            "paragraphs": 5,
            "succeeded": 2,
        }
    ]
    [skipped] = data["skipped"]
    assert {k: skipped[k] for k in ("source", "position", "reason", "detail", "text")} == {
        "source": "report.txt",
        "position": 4,
        "reason": "too_short",
        "detail": "3 words, fewer than 8 (0.8 × 10)",
        "text": P3,
    }

    # The report's numbers are the database's.
    db = Database(db_path)
    assert db.execute("SELECT count(*) FROM attempts").fetchone()[0] == 6
    assert (
        db.execute(
            "SELECT count(*) FROM paragraph_status WHERE status = 'skipped' "
            "AND last_reason = 'too_short'"
        ).fetchone()[0]
        == 1
    )
    # One recipe: the top-level keys are its numbers, and `recipes` lists it alone.
    assert data["recipe"] == "default"
    [recipe] = data["recipes"]
    assert {k: recipe[k] for k in ("name", "model", "paragraphs", "attempts", "tokens")} == {
        "name": "default",
        "model": "fake-model",
        "paragraphs": {"pending": 1, "succeeded": 2, "skipped": 1},
        "attempts": {"accepted": 2, "rejected": 3, "failed": 1},
        "tokens": {"prompt": 470, "completion": 28},
    }


def test_text_report_of_a_scripted_run(cli, scripted):
    result = cli("report")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    patterns: list[str | re.Pattern[str]] = [
        "Recipe      default",
        "Paragraphs        5",
        "  filtered        1  (too short to send)",
        "  eligible        4",
        "    succeeded     2",
        "    skipped       1",
        "    pending       1",
        "Attempts          6  accepted 2 · rejected 3 · failed 1",
        "Retries           2  (answers asked for again after a rejection)",
        re.compile(r"Tokens      prompt 470 · completion 28( · mean latency \d+\.\d\d s)?"),
        "Rejection reasons",
        "  too_short                   3",
        "Failure reasons",
        "  http_500                    1",
        "Skipped paragraphs by reason",
        "  too_short                   1",
        "Answers per finished paragraph  1: 1 · 2: 2",
        "Runs",
        re.compile(
            r"  #1 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d completed   fake-model  6 attempts \(2 accepted\)"
        ),
        "Servers",
        re.compile(
            r"  http://127\.0\.0\.1:\d+/v1  6 attempts \(1 failed\) · mean latency \d+\.\d\d s"
        ),
        "Skipped",
        f"  report.txt ¶4 too_short: 3 words, fewer than 8 (0.8 × 10)  '{P3}'",
    ]
    assert len(lines) == len(patterns), result.stdout
    for line, pattern in zip(lines, patterns, strict=True):
        if isinstance(pattern, str):
            assert line == pattern
        else:
            assert pattern.fullmatch(line), line


def test_report_after_ingest_only(cli, book):
    assert cli("ingest", book).exit_code == 0
    data = report_json(cli)
    assert data["paragraphs"] == {
        "total": 4,
        "filtered": 1,
        "eligible": 3,
        "pending": 3,
        "succeeded": 0,
        "skipped": 0,
    }
    assert data["skipped_reasons"] == {}
    assert data["attempts"] == {"total": 0, "accepted": 0, "rejected": 0, "failed": 0}
    assert data["rejection_reasons"] == {}
    assert data["tokens"] == {"prompt": 0, "completion": 0}
    assert data["runs"] == []
    assert data["skipped"] == []
    assert_consistent(data)

    text = cli("report")
    assert text.exit_code == 0
    assert text.stdout == (
        "Recipe      (none yet: `workbench run` makes one)\n"
        "Paragraphs        4\n"
        "  filtered        1  (too short to send)\n"
        "  eligible        3\n"
        "    succeeded     0\n"
        "    skipped       0\n"
        "    pending       3\n"
        "Attempts          0  accepted 0 · rejected 0 · failed 0\n"
        "Retries           0  (answers asked for again after a rejection)\n"
        "Tokens      prompt 0 · completion 0\n"
    )


def test_report_does_not_write_to_the_database(cli, book, db_path):
    import gc

    assert cli("ingest", book).exit_code == 0
    gc.collect()
    before = db_path.read_bytes()
    assert cli("report", "--json").exit_code == 0
    assert cli("report").exit_code == 0
    gc.collect()
    assert db_path.read_bytes() == before


# --- at scale: a bounded text form, one run, examples of one reason ------------------------------


@pytest.fixture
def many_skipped(cli, fake, tmp_path):
    """25 paragraphs, every one skipped (answers far too short), over two runs."""
    source = tmp_path / "many.txt"
    source.write_text("\n\n".join(words(10, f"m{i}_") for i in range(25)) + "\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    fake.responder = lambda body, call: Reply(content="short")
    base = ["run", "--base-url", fake.base_url, "-q", "--max-attempts", "1"]
    assert cli(*base, "--limit", "5").exit_code == 0
    assert cli(*base).exit_code == 0
    return source


def test_text_report_lists_twenty_skipped_and_says_how_many_more(cli, many_skipped):
    lines = cli("report").stdout.splitlines()
    start = lines.index(
        "Skipped (the first 20 of 25: all of them in `workbench report --json` or "
        "`workbench browse`, Skipped paragraphs)"
    )
    listed = lines[start + 1 :]
    assert len(listed) == 21 and listed[-1] == "  … and 5 more"
    assert listed[0].startswith("  many.txt ¶1 too_short: 1 words, fewer than 8 (0.8 × 10)")
    assert len(json.loads(cli("report", "--json").stdout)["skipped"]) == 25


def test_report_of_one_run(cli, many_skipped):
    data = json.loads(cli("report", "--run", "1", "--json").stdout)
    assert data["run"] == 1
    assert data["paragraphs"]["skipped"] == data["paragraphs"]["eligible"] == 5
    assert data["attempts"] == {"total": 5, "accepted": 0, "rejected": 5, "failed": 0}
    assert [run["id"] for run in data["runs"]] == [1]
    assert len(data["skipped"]) == 5
    text = cli("report", "--run", "2").stdout.splitlines()
    assert text[0] == "Recipe      default  run #2: the paragraphs it worked"
    assert "Attempts         20  accepted 0 · rejected 20 · failed 0" in text
    for args, message in (
        (["--run", "9"], "no run #9 in this job (runs are #1 to #2)"),
        (["--run", "1", "--recipe", "other"], "no recipe 'other' in this job; it has: default"),
    ):
        result = cli("report", *args)
        assert result.exit_code == 1
        assert result.stderr == f"Error: {message}\n"


def test_report_reason_shows_examples(cli, fake, scripted):
    result = cli("report", "--reason", "too_short", "--show", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "too_short: 3 answers under recipe 'default'; the latest 2:"
    assert lines[2].startswith("── attempt 6 · report.txt ¶4 · answer 2 of run #1 · rejected: ")
    assert lines[3] == f"original:  {P3}"
    assert lines[4] == "answer:    still too short"
    data = json.loads(cli("report", "--reason", "http_500", "--json").stdout)
    assert data["total"] == 1
    [failed] = data["examples"]
    assert (failed["outcome"], failed["detail"], failed["answer"]) == (
        "failed",
        "model crashed",
        None,
    )
    result = cli("report", "--reason", "too_funny")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: no answer under recipe 'default' was rejected or failed for 'too_funny'; "
        "the reasons are: http_500, too_short\n"
    )
