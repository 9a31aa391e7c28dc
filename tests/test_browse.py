"""`workbench browse`: the real CLI serving Datasette, its canned queries, plugin and stopping."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.browsing import (
    Browse,
    browsing,
    read_only,
    rows_of,
    start,
    text,
    writable_again,
)
from tests.conftest import REVIEW_ANSWERS, REVIEW_PARAGRAPHS, reworded, words
from tests.fakeserver import FakeServer, Reply
from workbench.review.browse import is_loopback, metadata

pytest.importorskip("datasette")

P1, SHORT, P3, P4 = REVIEW_PARAGRAPHS


@pytest.fixture(scope="module")
def served(review_db):
    """One browse serving the review database for the tests that only read."""
    with browsing(review_db) as browse:
        yield browse


def get_json(browse: Browse, path: str, **params) -> list[dict]:
    response = requests.get(
        f"{browse.url}/{path}.json", params={"_shape": "array", **params}, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def get_page(browse: Browse, path: str, **params) -> str:
    response = requests.get(f"{browse.url}/{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


# The JSON API: every canned query runs and returns the expected rows.


def test_every_canned_query_runs_through_the_json_api(served):
    queries = metadata(Path("x.db"))["databases"]["x"]["queries"]
    for name in queries:
        get_json(served, name)  # runs, with its parameters empty
    assert set(queries) == {
        "review_rejected",
        "review_accepted",
        "paragraph_history",
        "rejection_reasons",
        "compare_recipes",
        "search_answers",
        "skipped_paragraphs",
        "runs_summary",
    }  # a new query gets its expected rows below


def test_review_rejected_rows(served):
    rows = get_json(served, "review_rejected")
    assert (rows[0].pop("repetition"), rows[0].pop("judge")) == (0.0, None)
    # MiniLM measures the answers that reach meaning_drift; too_short came first
    assert rows[0].pop("meaning") is None
    assert [(r["history"], r["attempt_number"], r["reason"]) for r in rows] == [
        (1, 1, "too_short"),
        (3, 1, "preamble"),
        (4, 1, "too_similar"),
        (4, 2, "too_similar"),
    ]
    assert rows[0] == {
        "attempt": 1,
        "history": 1,
        "recipe": "default",
        "reason": "too_short",
        "detail": "3 words, fewer than 14 (0.8 × 18)",
        "original": P1,
        "answer": REVIEW_ANSWERS[P1][0],
        "decide": 1,  # the controls, shown when browse may write
        "decided_by": "rules v2",  # no person reviewed it
        "reviewed_at": None,
        "length_ratio": 0.167,
        "similarity": 0.191,
        "attempt_number": 1,
        "run": 1,
        "rules": 2,  # judged again under the second version
        "source": "book.txt",
        "position": 1,
    }
    similar = get_json(served, "review_rejected", reason="too_similar")
    assert [(r["attempt"], r["detail"]) for r in similar] == [
        (5, "a near copy of the original (similarity 1.00 ≥ 0.95)"),
        (6, "a near copy of the original (similarity 1.00 ≥ 0.95)"),
    ]
    assert len(get_json(served, "review_rejected", run="1")) == 4
    assert get_json(served, "review_rejected", run="2") == []
    assert len(get_json(served, "review_rejected", recipe="default")) == 4
    assert get_json(served, "review_rejected", recipe="other") == []


def test_review_accepted_rows(served):
    rows = get_json(served, "review_accepted")
    # The least faithful first: sorted by meaning similarity, lowest first.
    assert [r["meaning"] for r in rows] == sorted(r["meaning"] for r in rows)
    rows.sort(key=lambda r: r["attempt"])
    assert [(r["attempt"], r["history"], r["original"], r["answer"]) for r in rows] == [
        (2, 1, P1, REVIEW_ANSWERS[P1][1]),
        (4, 3, P3, REVIEW_ANSWERS[P3][1]),
    ]
    assert get_json(served, "review_accepted", run="2") == []
    assert get_json(served, "review_accepted", recipe="other") == []
    assert [(r["recipe"], r["length_ratio"]) for r in rows] == [
        ("default", 0.833),
        ("default", 1.0),
    ]


def test_paragraph_history_rows(served):
    rows = get_json(served, "paragraph_history", paragraph_id="4")
    assert [(r["recipe"], r["attempt_number"], r["outcome"], r["reason"]) for r in rows] == [
        ("default", 1, "rejected", "too_similar"),
        ("default", 2, "rejected", "too_similar"),
    ]
    # The verdict in force and who gave it: the rules here, no person has reviewed them.
    assert [(r["verdict"], r["decided_by"], r["reviewed_at"], r["decide"]) for r in rows] == [
        ("rejected", "rules v2", None, 5),
        ("rejected", "rules v2", None, 6),
    ]
    assert {r["original"] for r in rows} == {P4}
    # The verdicts the rules change replaced are on each answer's row.
    assert [(r["rules"], r["earlier_verdicts"]) for r in rows] == [
        (2, "v1 rejected too_similar"),
        (2, "v1 rejected too_similar"),
    ]
    assert get_json(served, "paragraph_history", paragraph_id="1")[0]["earlier_verdicts"] is None
    # A paragraph never sent still shows its original, with no answer.
    (never,) = get_json(served, "paragraph_history", paragraph_id="2")
    assert (never["attempt"], never["original"], never["answer"]) == (None, SHORT, None)


def test_summary_queries_rows(served):
    reasons = get_json(served, "rejection_reasons")
    assert sorted((r["recipe"], r["reason"], r["attempts"], r["review"]) for r in reasons) == [
        ("default", "preamble", 1, "preamble"),
        ("default", "too_short", 1, "too_short"),
        ("default", "too_similar", 2, "too_similar"),
    ]
    (skipped,) = get_json(served, "skipped_paragraphs")
    assert (skipped["history"], skipped["recipe"], skipped["skip_reason"], skipped["text"]) == (
        4,
        "default",
        "too_similar",
        P4,
    )
    (run,) = get_json(served, "runs_summary")
    assert (run["recipe"], run["status"], run["attempts"], run["accepted"], run["rejected"]) == (
        "default",
        "completed",
        6,
        2,
        4,
    )
    pairs = get_json(served, "pairs")
    assert [p["paraphrase"] for p in pairs] == [REVIEW_ANSWERS[P1][1], REVIEW_ANSWERS[P3][1]]


def test_search_answers_finds_words_in_answers(served):
    rows = get_json(served, "search_answers", q="lamp")
    assert sorted((r["history"], r["verdict"], r["reason"]) for r in rows) == [
        (3, "accepted", None),
        (3, "rejected", "preamble"),
    ]
    assert rows[0]["original"] == P3
    assert get_json(served, "search_answers", q="carriage") == []
    assert get_json(served, "search_answers", q="") == []
    assert get_json(served, "search_answers", q='"unbalanced') == []  # escaped, not an error
    # The tables' own search boxes: the full-text index behind each.
    found = get_json(served, "attempts", _search="tower")
    assert [r["id"] for r in found] == [2]
    assert [r["id"] for r in get_json(served, "paragraphs", _search="stairs")] == [3]
    assert 'name="_search"' in get_page(served, "attempts")


def test_compare_recipes_page_shows_report_compare_numbers(cli, fake, tmp_path, db_path):
    source = tmp_path / "s.txt"
    source.write_text("\n\n".join(REVIEW_PARAGRAPHS) + "\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    fake.responder = lambda body, call: Reply(
        "no" if call == 1 else reworded(body["messages"][1]["content"], call)
    )
    base = ["run", "--base-url", fake.base_url, "-q", "--concurrency", "1"]
    assert cli(*base).exit_code == 0
    assert cli(*base, "--recipe", "cool", "--temperature", "0.1").exit_code == 0
    expected = json.loads(cli("report", "--compare", "--json").stdout)
    with browsing(db_path) as browse:
        rows = get_json(browse, "compare_recipes")
        only = get_json(browse, "compare_recipes", recipes="cool")
        by_run = get_json(browse, "rejection_reasons", run="1")
        assert get_json(browse, "rejection_reasons", run="2") == []
    assert [r["recipe"] for r in rows] == ["default", "cool"]
    for row, want in zip(rows, expected["recipes"], strict=True):
        assert row["paragraphs"] == expected["paragraphs"] == 3
        for key in ("accept_rate", "accepted_first_try", "attempts_per_accepted",
                    "completion_tokens_per_accepted", "succeeded"):  # fmt: skip
            assert row[key] == want[key], key
        assert json.loads(row["rejection_reasons"]) == want["rejection_reasons"]
    assert [r["recipe"] for r in only] == ["cool"]
    assert [(r["recipe"], r["run"], r["reason"], r["attempts"]) for r in by_run] == [
        ("default", 1, "too_short", 3)
    ]


# The HTML pages: what the plugin renders.


def test_review_page_shows_original_and_answer_side_by_side_with_the_changes_marked(served):
    rows = rows_of(get_page(served, "review_rejected", reason="too_short"))
    (row,) = rows
    assert text(row["original"]) == P1 and text(row["answer"]) == REVIEW_ANSWERS[P1][0]
    assert "<del>" in row["original"] and "<ins>" not in row["original"]
    assert row["answer"] == "The clock <ins>stopped</ins>."
    assert row["original"].startswith("The clock <del>in the tower had not moved")
    (accepted, _) = rows_of(get_page(served, "review_accepted"))
    assert "<ins>" in accepted["answer"] and "<del>" in accepted["original"]


def test_text_is_escaped_in_the_diff(tmp_path, cli, fake):
    source = tmp_path / "s.txt"
    source.write_text(f"<b>{words(12)}</b> & more\n", encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    answer = f"<script>alert(1)</script> {words(12)} & more"
    fake.enqueue(answer)  # (says something else than the original: accepted with the rule off)
    args = ["--max-attempts", "1", "--disable-rule", "meaning_drift"]
    assert cli("run", "--base-url", fake.base_url, "-q", *args).exit_code == 0
    with browsing(tmp_path / "test.db") as browse:
        page = get_page(browse, "review_accepted")
    (row,) = rows_of(page)
    assert "<script>alert" not in page and "<b>" not in page
    assert text(row["answer"]) == answer and text(row["original"]) == f"<b>{words(12)}</b> & more"


def test_links_lead_to_the_attempt_and_the_paragraph_history(served):
    (row,) = rows_of(get_page(served, "review_rejected", reason="preamble"))
    assert row["attempt"] == '<a href="/review/attempts/3">attempt 3</a>'
    assert row["history"] == '<a href="/review/paragraph_history?paragraph_id=3">history</a>'
    reasons = rows_of(get_page(served, "rejection_reasons"))
    assert '<a href="/review/review_rejected?reason=too_short">see them</a>' in [
        r["review"] for r in reasons
    ]


def test_a_paragraph_id_in_a_view_links_to_its_history(served):
    first = rows_of(get_page(served, "pairs"))[0]
    assert first["paragraph_id"] == '<a href="/review/paragraph_history?paragraph_id=1">1</a>'
    (row,) = rows_of(get_page(served, "review_rejected", reason="preamble"))
    assert row["rules"] == '<a href="/review/rules/2">v2</a>'


def test_attempts_list_leaves_out_request_and_response_and_its_row_page_shows_them(served):
    page = get_page(served, "attempts")
    assert 'class="col-answer' in page
    assert 'class="col-request' not in page and 'class="col-response' not in page
    chosen = get_page(served, "attempts", _col="request")  # a URL that picks columns gets them
    assert 'class="col-request' in chosen
    assert "request" in get_json(served, "attempts")[0]  # the JSON API keeps every column
    assert 'class="col-settings' not in get_page(served, "runs")
    assert 'class="col-settings' not in get_page(served, "rules")
    row_page = get_page(served, "attempts/1")
    assert 'class="col-request' in row_page and "<pre" in row_page  # pretty-printed JSON
    assert "&#34;messages&#34;: [" in row_page or "&quot;messages&quot;: [" in row_page


def test_a_foreign_key_to_a_paragraph_shows_its_first_words(served):
    page = get_page(served, "attempts", _sort="id")
    first = rows_of(page)[0]
    assert text(first["paragraph_id"]) == "The clock in the tower had not moved…\xa01"
    assert f'title="{P1}"' in first["paragraph_id"]


def test_a_paragraph_page_links_to_its_history(served):
    page = get_page(served, "paragraphs/4")
    assert '<a href="/review/paragraph_history?paragraph_id=4">This paragraph' in page
    attempt = get_page(served, "attempts/1")
    assert "This paragraph" not in attempt  # row links are per table
    # an attempt's page shows paragraph_id unlabelled: it leads to the history too
    assert '<a href="/review/paragraph_history?paragraph_id=1">1</a>' in attempt


def test_every_page_gets_our_css(served):
    assert "/-/workbench.css" in get_page(served, "")
    css = requests.get(served.url.rsplit("/", 1)[0] + "/-/workbench.css", timeout=5)
    assert css.headers["content-type"].startswith("text/css") and "ins {" in css.text


# Metadata: labels everywhere.


def test_metadata_describes_every_table_view_column_and_query(review_db):
    from sqlite_utils import Database

    meta = metadata(review_db)["databases"]["review"]
    db = Database(review_db)
    tables = meta["tables"]
    assert set(db.table_names()) | set(db.view_names()) == set(tables)
    for name in set(db.table_names()) | set(db.view_names()):
        if tables[name].get("hidden"):
            continue
        assert tables[name].get("title") and tables[name].get("description"), name
        columns = [c.name for c in db[name].columns]
        assert sorted(tables[name].get("columns", {})) == sorted(columns), name
    for name, query in meta["queries"].items():
        assert query.get("title") and query.get("description"), name


# Stopping: however browse is stopped, nothing is left behind.


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_leaves_nothing_listening(review_db, sig):
    browse = start(review_db)
    try:
        assert get_json(browse, "runs_summary")
    finally:
        code, err = browse.stop(sig)  # checks the port is closed and the process gone
    assert code == 0
    assert err.splitlines()[-1] == "Stopped."


def test_browse_starts_quickly_and_prints_its_url(review_db):
    started = time.monotonic()
    browse = start(review_db)
    elapsed = time.monotonic() - started
    browse.stop()
    assert browse.url.startswith("http://127.0.0.1:") and browse.url.endswith("/review")
    assert elapsed < 10  # about 0.5 s here; generous for a loaded CI machine


# Read-only files and a run writing.


def test_browse_reads_a_read_only_file_in_a_read_only_folder(review_db, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copyfile(review_db, folder / "review.db")
    before = sorted(p.name for p in folder.iterdir())
    prefix = read_only(folder)
    try:
        browse = start(folder / "review.db", prefix=prefix)
        try:
            assert len(get_json(browse, "review_rejected")) == 4
            assert rows_of(get_page(browse, "review_accepted"))
        finally:
            code, err = browse.stop()
        assert sorted(p.name for p in folder.iterdir()) == before  # nothing written beside it
    finally:
        writable_again(folder)
    assert code == 0
    assert err.splitlines() == [
        f"Serving {folder / 'review.db'} as it stands (read-only, nothing writing it); "
        "Ctrl-C to stop.",
        "Stopped.",
    ]


def test_a_pending_schema_step_on_a_read_only_file_is_one_error_line(review_db, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "review.db"
    shutil.copyfile(review_db, db)
    with sqlite3.connect(db) as conn:  # as if made by a workbench before that step existed
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm001_attempts_cleaned'")
    conn.close()
    prefix = read_only(folder)
    try:
        command = [*prefix, sys.executable, "-m", "workbench", "browse", "--db", str(db)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    finally:
        writable_again(folder)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: --db {db} needs schema steps m001_attempts_cleaned and cannot be written "
        "here: open it once with write access (any command, e.g. `workbench report`) first\n"
    )


def test_browse_migrates_a_writable_file_with_a_pending_step(cli, tmp_path, db_path):
    (tmp_path / "s.txt").write_text(words(10), encoding="utf-8")
    assert cli("ingest", tmp_path / "s.txt").exit_code == 0
    with sqlite3.connect(db_path) as conn:  # an older database: no search index yet
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_search'")
        for table in ("paragraphs", "attempts"):
            for event in ("insert", "delete", "update"):
                conn.execute(f"DROP TRIGGER {table}_fts_{event}")
            conn.execute(f"DROP TABLE {table}_fts")
    conn.close()
    with browsing(db_path) as browse:
        assert get_json(browse, "review_accepted") == []
    tables = [r[0] for r in sqlite3.connect(db_path).execute("SELECT name FROM sqlite_master")]
    assert "attempts_fts" in tables


def test_browse_serves_while_a_run_is_writing(cli, tmp_path, db_path):
    source = tmp_path / "s.txt"
    source.write_text("\n\n".join(words(12, f"p{i}w") for i in range(40)), encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    counts = []
    with FakeServer(latency=0.03) as server, browsing(db_path) as browse:
        run = subprocess.Popen(
            [
                *(sys.executable, "-m", "workbench", "run", "--base-url", server.base_url),
                *("-q", "--concurrency", "1", "--db", str(db_path)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while run.poll() is None:
                (row,) = get_json(browse, "runs_summary") or [{"attempts": 0}]
                counts.append(row["attempts"])
                time.sleep(0.05)
        finally:
            _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        (row,) = get_json(browse, "runs_summary")
    assert row["attempts"] == 40 and row["status"] == "completed"
    assert counts == sorted(counts) and any(0 < c < 40 for c in counts), counts


# Options.


def test_a_host_that_is_not_loopback_gets_a_warning(review_db):
    # 192.0.2.1 is reserved for documentation: never this machine's, so nothing is exposed.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "browse",
            "--host",
            "192.0.2.1",
            "--db",
            str(review_db),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    warning, error = result.stderr.splitlines()
    assert warning == (
        f"Warning: --host 192.0.2.1 is not loopback: whoever reaches it can read every prompt "
        f"and answer in {review_db}."
    )
    assert error.startswith("Error: cannot listen on 192.0.2.1:8001: ")
    assert result.returncode == 1


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_open_shows_the_database_page_in_a_browser(review_db, tmp_path):
    opened = tmp_path / "opened.txt"
    fake_browser = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\""
    env = {**os.environ, "BROWSER": f"{fake_browser} {opened} %s"}
    browse = start(review_db, "--open", env=env)
    try:
        deadline = time.monotonic() + 10
        while not opened.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        browse.stop()
    assert opened.read_text() == browse.url


def test_browse_refuses_a_file_that_is_not_ours(cli, tmp_path):
    other = tmp_path / "other.db"
    other.write_text("not a database", encoding="utf-8")
    result = cli("browse", "--db", other)
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: --db {other} is not a SQLite database"


def test_browse_refuses_a_missing_database(cli, tmp_path):
    result = cli("browse", "--db", tmp_path / "none.db")
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == f"Error: no database at {tmp_path / 'none.db'}: run `workbench ingest` first"
    )


def test_a_port_out_of_range_is_refused(cli, review_db):
    result = cli("browse", "--db", review_db, "--port", "70000")
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.stderr and "65535" in result.stderr


def test_a_port_in_use_is_one_error_line(review_db):
    with browsing(review_db) as first:
        taken = start(review_db, "--port", str(first.port))
        _, err = taken.process.communicate(timeout=15)
    assert taken.url == "" and taken.process.returncode == 1
    assert err.strip() == f"Error: cannot listen on 127.0.0.1:{first.port}: Address already in use"
