"""Sections out: the heading above each paragraph in the pairs view, in `report` (the skipped
list, and counts per section in --json) and in Datasette's pairs facets and skipped query."""

from __future__ import annotations

import json

import pytest
from sqlite_utils import Database

from tests.conftest import reworded, words
from tests.fakeserver import Reply

FIRST, SECOND, THIRD, FOURTH = (words(12, s) for s in ("one", "two", "three", "four"))
BOOK = (
    f"{FIRST}\n\nCHAPTER I. THE SHOP\n\n{SECOND}\n\nShort one.\n\n"
    f"CHAPTER II. A VERY LONG TITLE THAT GOES ON AND ON\n\n{THIRD}\n\n{FOURTH}\n"
)


@pytest.fixture
def job(cli, fake, tmp_path, db_path):
    """FIRST (before any heading) and THIRD succeed; SECOND is skipped; FOURTH is pending."""
    book = tmp_path / "sections.txt"
    book.write_text(BOOK, encoding="utf-8")
    assert cli("ingest", book).exit_code == 0
    fake.responder = lambda body, call: Reply(
        "too short"
        if "two0" in body["messages"][-1]["content"]
        else reworded(body["messages"][-1]["content"], call)
    )
    result = cli(
        "run", "--base-url", fake.base_url, "-q", "--concurrency", "1", "--max-attempts", "1",
        "--limit", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return db_path


def test_the_pairs_view_has_the_section(job):
    with Database(job) as db:
        rows = db.execute(
            "SELECT original, section, section_id, source_id, word_count FROM pairs"
        ).fetchall()
    assert rows == [
        (FIRST, None, None, 1, 12),
        (THIRD, "CHAPTER II. A VERY LONG TITLE THAT GOES ON AND ON", 2, 1, 12),
    ]


def test_report_lists_skipped_paragraphs_with_their_section(cli, job):
    result = cli("report")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        f"  sections.txt ¶2 [CHAPTER I. THE SHOP] too_short: 2 words, fewer than 9 (0.8 × 12)"
        f"  '{SECOND[:60]}…'"
    )
    data = json.loads(cli("report", "--json").stdout)
    assert data["skipped"][0]["section"] == "CHAPTER I. THE SHOP"


def test_report_json_counts_paragraphs_by_section(cli, job):
    data = json.loads(cli("report", "--json").stdout)
    assert data["sections"] == [
        {"source": "sections.txt", "position": None, "section": None, "level": None,
         "paragraphs": 1, "filtered": 0, "pending": 0, "succeeded": 1, "skipped": 0},
        {"source": "sections.txt", "position": 1, "section": "CHAPTER I. THE SHOP", "level": 2,
         "paragraphs": 2, "filtered": 1, "pending": 0, "succeeded": 0, "skipped": 1},
        {"source": "sections.txt", "position": 2,
         "section": "CHAPTER II. A VERY LONG TITLE THAT GOES ON AND ON", "level": 2,
         "paragraphs": 2, "filtered": 0, "pending": 1, "succeeded": 1, "skipped": 0},
    ]  # fmt: skip
    p = data["paragraphs"]
    for key in ("filtered", "pending", "succeeded", "skipped"):
        assert sum(s[key] for s in data["sections"]) == p[key]


def test_a_long_section_title_is_cut_in_the_text_report(cli, fake, job):
    fake.responder = lambda body, call: Reply("no")
    assert cli("run", "--base-url", fake.base_url, "-q", "--max-attempts", "1").exit_code == 0
    line = cli("report").stdout.splitlines()[-1]
    assert line.startswith("  sections.txt ¶5 [CHAPTER II. A VERY LONG TITLE…] too_short: ")


def test_datasette_facets_pairs_by_section(job):
    pytest.importorskip("datasette")
    import requests

    from tests.browsing import browsing

    def datasette_get(path: str):
        response = requests.get(f"{browse.url.rsplit('/', 1)[0]}{path}", timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    name = job.stem
    with browsing(job) as browse:
        pairs = datasette_get(f"/{name}/pairs.json?_shape=array")
        skipped = datasette_get(f"/{name}/skipped_paragraphs.json?_shape=array")
        # No _facet in the URL: the facets are those datasette.yaml gives the view.
        facets = datasette_get(f"/{name}/pairs.json")["facet_results"]
    assert [row["section"] for row in pairs] == [
        None,
        "CHAPTER II. A VERY LONG TITLE THAT GOES ON AND ON",
    ]
    assert [row["section"] for row in skipped] == ["CHAPTER I. THE SHOP"]
    results = facets.get("results", facets)  # Datasette 1.0 nests them under "results"
    assert {row["value"]: row["count"] for row in results["section"]["results"]} == {
        "CHAPTER II. A VERY LONG TITLE THAT GOES ON AND ON": 1
    }
