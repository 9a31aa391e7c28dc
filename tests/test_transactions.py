"""Writers take turns: every write starts BEGIN IMMEDIATE, so a second writer waits for the
first instead of failing; the lock message says what happened; nothing slow holds the lock; a
database on a network file system is refused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from tests.conftest import assert_one_line_error, db_snapshot, ingest_paragraphs, words
from tests.fakeserver import FakeServer, Reply
from workbench.store import database
from workbench.store.filesystems import file_system_type, network_file_system


def hold_write_lock(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process that takes the database's write lock, says so, and keeps it."""
    script = textwrap.dedent(
        f"""
        import sqlite3, sys, time
        conn = sqlite3.connect({str(db_path)!r}, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE sources SET min_words = min_words")
        print("locked", flush=True)
        time.sleep({seconds})
        conn.execute("COMMIT")
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    return process


def dump(db_path: Path) -> list[str]:
    with Database(db_path) as db:
        return list(db.conn.iterdump())


@pytest.mark.parametrize(
    "command", [("rules", "--min-ratio", "0.5"), ("ingest", "more.txt")], ids=["rules", "ingest"]
)
def test_a_second_writer_waits_for_the_first_and_succeeds(cli, tmp_path, db_path, command):
    ingest_paragraphs(cli, tmp_path, [words(12)])
    (tmp_path / "more.txt").write_text(words(15, "more") + "\n", encoding="utf-8")
    holder = hold_write_lock(db_path, 2.0)
    started = time.monotonic()
    result = cli(*command)
    waited = time.monotonic() - started
    holder.wait(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert waited >= 1.0  # it waited for the other process, and then did its work
    if command[0] == "rules":
        assert Database(db_path)["rules"].count == 1
    else:
        assert Database(db_path)["paragraphs"].count == 2


def test_a_lock_held_past_the_busy_timeout_is_one_true_line(cli, tmp_path, db_path, monkeypatch):
    ingest_paragraphs(cli, tmp_path, [words(12)])
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.5)
    before = dump(db_path)
    holder = hold_write_lock(db_path, 3.0)
    try:
        result = cli("rules", "--min-ratio", "0.5")
        message = result.stderr.removeprefix("Error: ").strip()
        assert result.exit_code == 1 and result.stdout == ""
        assert message.startswith("the database is locked: another process kept writing to it ")
        waited = float(message.split("for the ")[1].split(" s ")[0])
        assert 0.4 <= waited < 2.5  # the time it really waited, not a made-up figure
        assert message.endswith("this command waited; try again when it is done")
    finally:
        holder.wait(timeout=10)
    assert dump(db_path) == before


def test_a_run_probing_its_server_holds_no_lock(cli, tmp_path, db_path):
    """The /models probe (here 3 s) runs before the run's transaction: another writer gets
    through meanwhile."""
    ingest_paragraphs(cli, tmp_path, [words(12)])
    (tmp_path / "more.txt").write_text(words(15, "more") + "\n", encoding="utf-8")
    with FakeServer(models_reply=Reply(delay=3.0, body='{"data": [{"id": "fake-model"}]}')) as fake:
        run = subprocess.Popen(
            [sys.executable, "-m", "workbench", "run", "--base-url", fake.base_url, "-q",
             "--db", str(db_path), "--disable-rule", "meaning_drift"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.0)  # the run is waiting for /models now
        started = time.monotonic()
        result = cli("ingest", "more.txt")
        assert result.exit_code == 0, result.stderr
        assert time.monotonic() - started < 1.5
        assert run.poll() is None  # still probing
        _, stderr = run.communicate(timeout=30)
        assert run.returncode == 0, stderr


MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
server:/export/books {point} nfs4 rw,relatime,vers=4.2 0 0
//nas/share /mnt/with\\040space cifs rw 0 0
"""


def test_a_database_on_a_network_file_system_is_refused(cli, tmp_path, db_path, monkeypatch):
    """There is no NFS mount on this machine: the mount table is the only thing faked, and the
    check reads it exactly as it reads /proc/self/mounts."""
    ingest_paragraphs(cli, tmp_path, [words(12)])
    before = db_snapshot(db_path)
    table = MOUNTS.format(point=tmp_path)
    monkeypatch.setattr("workbench.store.filesystems._mounts", lambda: table)
    for command in (("report",), ("run",), ("ingest", "book.txt")):
        result = cli(*command)
        assert_one_line_error(
            result,
            f"--db {db_path} is on a network file system (nfs4), where SQLite's locking "
            "cannot be trusted and two processes could corrupt it: keep it on a local disk",
        )
    assert db_snapshot(db_path) == before


def test_the_mount_table_is_read_as_linux_writes_it(tmp_path):
    table = MOUNTS.format(point="/srv/books")
    assert network_file_system("/srv/books/job.db", table) == "nfs4"
    assert network_file_system("/srv/books/deeper/job.db", table) == "nfs4"
    assert network_file_system("/srv/bookshelf/job.db", table) is None  # a prefix, not a parent
    assert network_file_system("/mnt/with space/job.db", table) == "cifs"
    assert network_file_system("/home/me/job.db", table) is None
    assert file_system_type("/home/me/job.db", table) == "ext4"
    # This machine's own table: the test folder is on a local disk.
    assert network_file_system(tmp_path / "job.db") is None
