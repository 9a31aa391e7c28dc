"""A real browser, headless Chromium, loads the review page and a paragraph's history.

The screenshots are kept as test artifacts in tests/artifacts/ (git-ignored) for a look.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.browsing import browsing, rows_of, text
from tests.conftest import REVIEW_ANSWERS, REVIEW_PARAGRAPHS

pytest.importorskip("datasette")

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Debian's chromium package (.ci/run installs it)"
)
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
P1 = REVIEW_PARAGRAPHS[0]


def chromium(url: str, profile: Path, *args: str) -> str:
    """Run headless Chromium on `url` with `args`; its stdout."""
    assert CHROMIUM is not None
    command = [
        *(CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic"),
        *("--no-first-run", "--disable-background-networking", "--disable-component-update"),
        *("--disable-sync", f"--user-data-dir={profile}", *args, url),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = process.communicate(timeout=60)
    finally:
        # Its helper processes (zygote, renderers) share its session: leave none behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == 0, err[-2000:]
    return out


def test_review_page_and_history_in_a_real_browser(review_db, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    profile = tmp_path / "chromium-profile"
    with browsing(review_db) as browse:  # stops it after, checking the port and the pid
        pages = {
            "review": f"{browse.url}/review_rejected",
            "history": f"{browse.url}/paragraph_history?paragraph_id=1",
        }
        dom = {}
        for name, url in pages.items():
            shot = ARTIFACTS / f"{name}.png"
            shot.unlink(missing_ok=True)
            size = "--window-size=1400,1000"
            dom[name] = chromium(url, profile, "--dump-dom", f"--screenshot={shot}", size)
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            print(f"screenshot: {shot}")

    # The review page: each rejected answer in one row with its original, the changes marked.
    rows = rows_of(dom["review"])
    assert len(rows) == 4
    (row,) = [r for r in rows if text(r["original"]) == P1]
    assert text(row["answer"]) == REVIEW_ANSWERS[P1][0]
    assert "<del>" in row["original"] and "<ins>" in row["answer"]
    assert text(row["reason"]) == "too_short" and text(row["attempt_number"]) == "1"
    assert 'href="/review/paragraph_history?paragraph_id=1"' in row["history"]

    # The history: the original beside every answer it got, in order, with verdicts.
    history = rows_of(dom["history"])
    assert [(text(r["attempt_number"]), text(r["outcome"])) for r in history] == [
        ("1", "rejected"),
        ("2", "accepted"),
    ]
    assert [text(r["answer"]) for r in history] == REVIEW_ANSWERS[P1]
    assert all(text(r["original"]) == P1 and "<del>" in r["original"] for r in history)
    assert "<ins>" in history[1]["answer"]


def test_review_controls_and_the_calibration_picture_in_a_real_browser(review_db, tmp_path, cli):
    from sqlite_utils import Database

    from workbench.review.calibrate import calibrate
    from workbench.review.picture import distributions, svg

    ARTIFACTS.mkdir(exist_ok=True)
    job = tmp_path / "job.db"
    shutil.copyfile(review_db, job)
    assert cli("review", "1", "--accept", "--db", job, "--reviewer", "carol").exit_code == 0
    assert cli("review", "2", "--reject", "--db", job, "--reviewer", "carol").exit_code == 0
    profile = tmp_path / "chromium-profile"
    shots = {name: ARTIFACTS / f"{name}.png" for name in ("review-controls", "calibration")}
    with browsing(job, "--reviewer", "carol") as browse:
        root = browse.url.rsplit("/", 1)[0]
        dom = {}
        for name, url, size in (
            ("review-controls", f"{browse.url}/review_rejected", "1400,1000"),
            ("calibration", f"{root}/-/workbench/calibration", "1000,1700"),
        ):
            shots[name].unlink(missing_ok=True)
            dom[name] = chromium(
                url, profile, "--dump-dom", f"--screenshot={shots[name]}", f"--window-size={size}"
            )
            assert shots[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            print(f"screenshot: {shots[name]}")

    # The controls are on every answer of the review page, with the form they submit.
    rows = rows_of(dom["review-controls"])
    assert [text(r["decided_by"]) for r in rows] == ["carol", "rules v2", "rules v2", "rules v2"]
    for row in rows:
        attempt = text(row["attempt"]).split()[1]
        for action in ("accept", "reject", "repair"):
            assert f'name="{action}" value="{attempt}"' in row["decide"]
    assert 'id="wb-review"' in dom["review-controls"]
    assert 'name="csrftoken"' in dom["review-controls"]
    assert "Reviewing as <strong>carol</strong>" in dom["review-controls"]
    # The picture: four measures, the thresholds drawn.
    assert dom["calibration"].count('class="wb-picture"') == 4
    assert ">min_meaning 0.74</text>" in dom["calibration"]

    # The picture alone, as a file of its own (its styles are inside it).
    with Database(job) as db:
        meaning = next(d for d in distributions(db, calibrate(db)) if d.measure == "meaning")
        picture = ARTIFACTS / "picture-meaning.svg"
        picture.write_text(svg(meaning), encoding="utf-8")
    shot = ARTIFACTS / "picture-meaning.png"
    shot.unlink(missing_ok=True)
    chromium(picture.as_uri(), profile, f"--screenshot={shot}", "--window-size=760,350")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {shot}")
