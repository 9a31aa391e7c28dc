"""Reviewing in `workbench browse`: the real Datasette, its pages' own form and CSRF token.

Each test serves its own copy of the review database with the real CLI in a child process,
submits the form a page carries as a browser would (its hidden fields, the text boxes that
belong to it, and the one button pressed), and reads the database afterwards.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.browsing import browsing, rows_of, text
from tests.conftest import REVIEW_ANSWERS, REVIEW_PARAGRAPHS, words
from tests.fakeserver import FakeServer
from tests.test_review import assert_counts_true

pytest.importorskip("datasette")

P1, SHORT, P3, P4 = REVIEW_PARAGRAPHS
FORM = "wb-review"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def job(review_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "job.db"
    shutil.copyfile(review_db, path)
    return path


class FormReader(HTMLParser):
    """One form of a page as a browser submits it: its controls (inside it, or outside with
    form="its id"), the text boxes' contents, and its submit buttons."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []  # hidden and text inputs, text areas
        self.buttons: list[tuple[str, str]] = []  # (name, value) of enabled submit buttons
        self._textarea: str | None = None

    def _owned(self, attrs: dict[str, str | None]) -> bool:
        return attrs.get("form") == self.form_id or (self.inside and "form" not in attrs)

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside, self.action = True, attrs.get("action")
            return
        if not self._owned(attrs) or not attrs.get("name"):
            return
        name = str(attrs["name"])
        if tag == "input":
            self.fields.append((name, attrs.get("value") or ""))
        elif tag == "textarea":
            self._textarea = name
            self.fields.append((name, ""))
        elif tag == "button" and "disabled" not in attrs:
            self.buttons.append((name, attrs.get("value") or ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, so_far = self.fields[-1]
            self.fields[-1] = (name, so_far + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None


def page_form(session: requests.Session, url: str) -> FormReader:
    response = session.get(url, timeout=10)
    assert response.status_code == 200, response.text
    form = FormReader(FORM)
    form.feed(response.text)
    return form


def submit(
    session: requests.Session,
    url: str,
    button: tuple[str, str],
    fill: dict[str, str] | None = None,
) -> requests.Response:
    """Load the page at `url`, fill its form's text boxes, and press `button`."""
    form = page_form(session, url)
    assert form.action, "the page has no review form"
    assert button in form.buttons, (button, form.buttons)
    fill = fill or {}
    data = [(name, fill.get(name, value)) for name, value in form.fields] + [button]
    return session.post(urljoin(url, form.action), data=data, timeout=30, allow_redirects=False)


def table(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_accept_and_reject_with_the_pages_own_form_and_its_csrf_token(job):
    session = requests.Session()
    with browsing(job, "--reviewer", "carol") as browse:
        page = f"{browse.url}/review_rejected?reason=too_similar"
        done = submit(session, page, ("accept", "5"), {"note-5": "a copy is fine here"})
        assert done.status_code == 303
        assert done.headers["location"] == "/job/review_rejected?reason=too_similar"
        after = session.get(urljoin(page, done.headers["location"]), timeout=10).text
        # Datasette's message says what happened; the answer left the rejected page.
        assert "Accepted 1 answer by hand as carol: 1 was rejected before." in after
        assert [text(r["attempt"]) for r in rows_of(after)] == ["attempt 6"]

        rejected = submit(session, f"{browse.url}/review_accepted", ("reject", "2"))
        assert rejected.status_code == 303
        accepted = rows_of(session.get(f"{browse.url}/review_accepted", timeout=10).text)
        assert sorted(text(r["decided_by"]) for r in accepted) == ["carol", "rules v2"]
        # The `reviewed` parameter: the answers a person decided, or those nobody has yet.
        by_hand = {
            flag: [
                row["attempt"]
                for row in session.get(
                    f"{browse.url}/review_accepted.json",
                    params={"_shape": "array", "reviewed": flag}, timeout=10,
                ).json()
            ]
            for flag in ("yes", "no")
        }  # fmt: skip
        assert by_hand == {"yes": [5], "no": [4]}
    assert table(job, "SELECT attempt_id, verdict, repaired, note, reviewer FROM reviews") == [
        (5, "accepted", None, "a copy is fine here", "carol"),
        (2, "rejected", None, None, "carol"),
    ]
    assert table(job, "SELECT paraphrase FROM pairs") == [(REVIEW_ANSWERS[P3][1],), (P4,)]
    assert_counts_true(job)


def test_repair_from_a_paragraphs_history(job):
    session = requests.Session()
    repaired = "By night she went up the stairs with a lamp and her father's bag of tools."
    with browsing(job, "--reviewer", "carol") as browse:
        page = f"{browse.url}/paragraph_history?paragraph_id=3"
        form = page_form(session, page)
        # Each answer's repair box starts as the answer.
        assert ("text-3", REVIEW_ANSWERS[P3][0]) in form.fields
        done = submit(session, page, ("repair", "3"), {"text-3": repaired})
        assert done.status_code == 303
        history = rows_of(session.get(page, timeout=10).text)
    assert [(text(r["verdict"]), text(r["decided_by"])) for r in history] == [
        ("accepted", "carol"),
        ("accepted", "rules v2"),
    ]
    assert text(history[0]["repaired"]) == repaired
    assert table(job, "SELECT paraphrase FROM pairs WHERE paragraph_id = 3") == [(repaired,)]


def test_bulk_accept_of_the_answers_a_page_shows(job):
    session = requests.Session()
    with browsing(job, "--reviewer", "carol") as browse:
        page = f"{browse.url}/review_rejected?reason=too_similar"
        form = page_form(session, page)
        assert [value for name, value in form.fields if name == "shown"] == ["5", "6"]
        done = submit(session, page, ("bulk", "accepted"), {"bulk-note": "copies are fine"})
        assert done.status_code == 303
    assert table(job, "SELECT attempt_id, verdict, note FROM reviews") == [
        (5, "accepted", "copies are fine"),
        (6, "accepted", "copies are fine"),
    ]
    assert table(job, "SELECT status FROM paragraph_status WHERE paragraph_id = 4") == [
        ("succeeded",)
    ]


def test_a_review_without_the_token_is_refused(job):
    before = table(job, "SELECT count(*) FROM reviews")
    with browsing(job) as browse:
        review = browse.url.rsplit("/", 1)[0] + "/-/workbench/review"
        # No cookie at all: another site's form (a browser sends no SameSite=Lax cookie).
        bare = requests.post(review, data={"accept": "5"}, timeout=10)
        assert bare.status_code == 403
        assert bare.text == (
            "Error: no CSRF token: review from the review pages, whose form carries one\n"
        )
        # The cookie of a page, and a token that is not its own: Datasette refuses it.
        session = requests.Session()
        form = page_form(session, f"{browse.url}/review_rejected")
        forged = [(n, "forged" if n == "csrftoken" else v) for n, v in form.fields]
        wrong = session.post(review, data=[*forged, ("accept", "5")], timeout=10)
        assert wrong.status_code == 403
        # Another origin, even with the right token.
        other = session.post(
            review, data=[*form.fields, ("accept", "5")], timeout=10,
            headers={"Origin": "http://evil.example"},
        )  # fmt: skip
        assert other.status_code == 403 and "not http://evil.example" in other.text
        # A mistake in a form is one line, nothing written.
        unknown = session.post(review, data=[*form.fields, ("accept", "99")], timeout=10)
        assert (unknown.status_code, unknown.text) == (400, "Error: no attempt 99 in this job\n")
    assert table(job, "SELECT count(*) FROM reviews") == before


def test_read_only_serves_no_controls_and_refuses_writes(job):
    with browsing(job, "--read-only") as browse:
        page = requests.get(f"{browse.url}/review_rejected", timeout=10).text
        assert f'id="{FORM}"' not in page and 'name="accept"' not in page
        assert {text(r["decide"]) for r in rows_of(page)} == {"read-only"}
        refused = requests.post(
            browse.url.rsplit("/", 1)[0] + "/-/workbench/review",
            data={"accept": "5"}, headers={"Accept": "application/json"}, timeout=10,
        )  # fmt: skip
        _, err = browse.stop()
    assert refused.status_code == 403
    assert refused.json() == {"ok": False, "error": "browse was started with --read-only"}
    assert err.splitlines()[0] == (
        f"Serving {job} read-only: browse was started with --read-only; Ctrl-C to stop."
    )
    assert table(job, "SELECT count(*) FROM reviews") == [(0,)]


def test_read_only_and_allow_writes_together_is_one_line(cli, job):
    result = cli("browse", "--db", job, "--read-only", "--allow-writes")
    assert result.exit_code == 1
    assert (
        result.stderr == "Error: --read-only and --allow-writes contradict each other: give one\n"
    )


# A bind that is not loopback, in a network namespace of its own: the address exists only there,
# so nothing is exposed to any network while the test runs.
NETNS_ADDRESS = "10.99.0.1"
PROBE = """
import json, sys, requests
from tests.browsing import browsing
from tests.test_browse_review import page_form
db, *args = sys.argv[1:]
with browsing(db, "--host", "10.99.0.1", *args) as browse:
    session = requests.Session()
    form = page_form(session, browse.url + "/review_rejected")
    review = browse.url.rsplit("/", 1)[0] + "/-/workbench/review"
    answer = session.post(review, data=[*form.fields, ("accept", "5")], timeout=10,
                          headers={"Accept": "application/json"})
    code, err = browse.stop()
print(json.dumps({"form": form.action is not None, "status": answer.status_code,
                  "body": answer.json(), "stderr": err}))
"""


def in_own_network(db: Path, *args: str) -> dict:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip (util-linux, iproute2) for a network namespace")
    setup = f"ip link set lo up && ip addr add {NETNS_ADDRESS}/32 dev lo"
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):  # as root; or in a user namespace
        probe = subprocess.run([*prefix, "sh", "-c", setup], capture_output=True, text=True)
        if probe.returncode == 0:
            break
    else:
        pytest.skip(f"cannot make a network namespace: {probe.stderr.strip()!r}")
    command = [*prefix, "sh", "-c", f'{setup} && exec "$@"', "sh",
               sys.executable, "-c", PROBE, str(db), *args]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_writes_are_refused_by_default_on_an_address_that_is_not_loopback(job):
    found = in_own_network(job)
    assert found["form"] is False
    assert (found["status"], found["body"]["ok"]) == (403, False)
    assert found["body"]["error"] == (
        f"--host {NETNS_ADDRESS} is not loopback: verdicts by hand are off unless --allow-writes"
    )
    assert found["stderr"].splitlines()[:2] == [
        f"Warning: --host {NETNS_ADDRESS} is not loopback: whoever reaches it can read every "
        f"prompt and answer in {job}.",
        f"Serving {job} read-only: --host {NETNS_ADDRESS} is not loopback: verdicts by hand are "
        "off unless --allow-writes; Ctrl-C to stop.",
    ]
    assert table(job, "SELECT count(*) FROM reviews") == [(0,)]
    allowed = in_own_network(job, "--allow-writes", "--reviewer", "dana")
    assert allowed["form"] is True and allowed["status"] == 200
    assert allowed["body"]["reviewed"]["attempts"] == [5]
    assert table(job, "SELECT attempt_id, reviewer FROM reviews") == [(5, "dana")]


def test_reviews_are_written_while_a_run_writes(cli, tmp_path, db_path):
    source = tmp_path / "s.txt"
    source.write_text("\n\n".join(words(12, f"p{i}w") for i in range(40)), encoding="utf-8")
    assert cli("ingest", source).exit_code == 0
    with FakeServer(latency=0.02) as server:
        first = cli("run", "--base-url", server.base_url, "-q", "--limit", "6")
        assert first.exit_code == 0, first.stderr
        worked = table(db_path, "SELECT paragraph_id, id FROM attempts ORDER BY id")
        assert len(worked) == 6
        session = requests.Session()
        with browsing(db_path, "--reviewer", "erin") as browse:
            run = subprocess.Popen(
                [sys.executable, "-m", "workbench", "run", "--base-url", server.base_url,
                 "-q", "--concurrency", "1", "--db", str(db_path)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            try:
                answers: list[int] = []
                for paragraph, attempt in worked:
                    action = "reject" if attempt % 2 else "accept"
                    page = f"{browse.url}/paragraph_history?paragraph_id={paragraph}"
                    done = submit(session, page, (action, str(attempt)))
                    assert done.status_code == 303, done.text
                    answers.append(attempt)
                    time.sleep(0.05)
                during = run.poll() is None
            finally:
                _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    assert during, "the run ended before the reviews: nothing was tested"
    assert table(db_path, "SELECT attempt_id, verdict FROM reviews ORDER BY id") == [
        (n, "rejected" if n % 2 else "accepted") for n in answers
    ]
    assert table(db_path, "SELECT status, count(*) FROM runs GROUP BY status") == [("completed", 2)]
    assert_counts_true(db_path)


def test_the_calibration_page_draws_where_the_thresholds_cut(cli, job):
    assert cli("review", "1", "--accept", "--db", job, "--reviewer", "carol").exit_code == 0
    with browsing(job) as browse:
        root = browse.url.rsplit("/", 1)[0]
        page = requests.get(f"{root}/-/workbench/calibration", timeout=20).text
        review_page = requests.get(f"{browse.url}/review_rejected", timeout=10).text
    assert "/-/workbench/calibration" in review_page  # every review page links to it
    (too_short,) = [r for r in rows_of_calibration(page) if r[0] == "too_short"]
    assert too_short[:6] == ["too_short", "length_ratio", "min_ratio 0.8", "1", "0", "0.22"]
    assert page.count('class="wb-picture"') == 4  # length_ratio, similarity, repetition, meaning
    assert ">min_ratio 0.8</text>" in page and ">max_ratio 2</text>" in page
    assert ">suggested min_ratio 0.22</text>" in page and ">min_meaning 0.74</text>" in page
    # Every stored answer is in the top histogram; the one reviewed in the lower one.
    assert "6 answers, 1 reviewed by hand; threshold min_ratio 0.8, max_ratio 2" in page


def rows_of_calibration(page: str) -> list[list[str]]:
    import re

    body = page.split('class="rows-and-columns wb-calibration"')[1].split("</table>")[0]
    return [
        [text(cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.DOTALL)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)
        if "<td>" in row
    ]


def test_the_review_form_gives_enter_no_default_and_carries_token_way_back_and_controls(job):
    with browsing(job) as browse:
        url = f"{browse.url}/review_accepted"
        page = requests.get(url, timeout=10).text
        form = page_form(requests.Session(), url)
    # The form's first submit button is disabled: Enter in a text box submits nothing.
    form_html = page.split(f'<form id="{FORM}"')[1]
    assert form_html.index("<button") == form_html.index('<button type="submit" disabled')
    names = [name for name, _ in form.fields]
    assert names[:2] == ["csrftoken", "next"] and "bulk-note" in names
    assert ("next", "/job/review_accepted") in form.fields
    assert ("accept", "2") in form.buttons and ("reject", "4") in form.buttons
    assert ("bulk", "accepted") in form.buttons and ("bulk", "rejected") in form.buttons
