"""Run the real `workbench browse` as a child process, and read the pages it serves."""

from __future__ import annotations

import contextlib
import html
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest


@dataclass
class Browse:
    process: subprocess.Popen[str]
    url: str  # the database's page, as browse printed it

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Send `sig`, wait for the exit, and check nothing is left: its exit code and stderr."""
        return stop(self.process, self.port, sig)


def start(
    db: Path, *args: str, prefix: Sequence[str] = (), env: dict[str, str] | None = None
) -> Browse:
    """Start `workbench browse --port 0` and wait for the URL it prints ('' if it exited)."""
    command = [*prefix, sys.executable, "-m", "workbench", "browse", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--db", str(db), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=30):
            process.kill()
            process.wait()
            raise AssertionError("browse printed no URL within 30 s")
    return Browse(process, process.stdout.readline().strip())


@contextlib.contextmanager
def browsing(db: Path, *args: str, **kwargs) -> Iterator[Browse]:
    """browse serving `db` for the duration of the block; stopped with SIGTERM after it."""
    served = start(db, *args, **kwargs)
    if not served.url:
        _, err = served.process.communicate(timeout=10)
        raise AssertionError(f"browse exited {served.process.returncode}: {err}")
    try:
        yield served
    finally:
        if served.process.poll() is None:
            served.stop()


def stop(process: subprocess.Popen[str], port: int, sig: int = signal.SIGTERM) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"browse ignored signal {sig}") from None
    assert_gone(process.pid, port)
    return process.returncode, err


def assert_gone(pid: int, port: int) -> None:
    """Nothing listens on the port any more, and the process is gone (reaped)."""
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 2):
        pass
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def read_only(folder: Path) -> list[str]:
    """A command prefix that runs a command with `folder` (and the files in it) read-only.

    Root ignores file modes, so as root the folder is bind-mounted read-only in a private
    mount namespace that only the command sees; otherwise the modes are cleared.
    """
    if os.geteuid() != 0:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
        return []
    if shutil.which("unshare") is None:
        pytest.skip("as root, a read-only folder needs unshare (util-linux) for a private mount")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"as root, cannot make a private read-only mount: {probe.stderr.strip()!r}")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(folder)]


def writable_again(folder: Path) -> None:
    """Undo read_only(), so pytest can clean the folder up."""
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o644)


def rows_of(page: str) -> list[dict[str, str]]:
    """The result rows of a Datasette HTML table: column → the cell's inner HTML."""
    rows = []
    for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", page, re.DOTALL):
        cells = re.findall(r'<td class="col-([\w-]+)[^"]*"[^>]*>(.*?)</td>', tr, re.DOTALL)
        if cells:
            rows.append(dict(cells))
    return rows


def text(fragment: str) -> str:
    """What a reader sees of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()
