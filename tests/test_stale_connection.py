"""A kept-alive connection the server closes as we reuse it: sent once more on a fresh one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from workbench.llm.client import Server

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def read_request(conn: socket.socket) -> bool:
    """Read one request (headers and a Content-Length body); False when the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")),
        0,
    )  # fmt: skip
    while len(body) < length:
        body += conn.recv(65536)
    return True


@contextmanager
def server(answers: list[int]) -> Iterator[tuple[str, list[int]]]:
    """On 127.0.0.1: the n-th connection gets answers[n] answers (the last number for the
    rest), then its next request is read and the connection closed without a word. Yields the
    base URL and the requests each connection got."""
    listener = socket.create_server(("127.0.0.1", 0))
    served: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                allowed = answers[min(len(served), len(answers) - 1)]
                served.append(0)
                while read_request(conn):
                    served[-1] += 1
                    if served[-1] > allowed:
                        break  # closed unanswered
                    conn.sendall(ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", served
    finally:
        listener.close()


def test_a_request_on_a_connection_closed_under_it_goes_out_again_on_a_fresh_one():
    with server([1]) as (url, served):
        session = Server(url).session()
        assert session.post(f"{url}/chat/completions", json={}, timeout=5).status_code == 200
        # Its connection is kept alive; the server closes it on the next request, unanswered.
        assert session.post(f"{url}/chat/completions", json={}, timeout=5).status_code == 200
    assert served == [2, 1]  # the second request went out twice: the second time answered


def test_a_fresh_connection_closed_unanswered_is_a_failure_for_the_retry_policy():
    with server([0]) as (url, served):
        session = Server(url).session()
        with pytest.raises(requests.ConnectionError):
            session.post(f"{url}/chat/completions", json={}, timeout=5)
    assert served == [1]  # the server's doing, not a race: not sent again here


def test_a_reused_connection_closed_twice_is_a_failure_for_the_retry_policy():
    with server([1, 0]) as (url, served):  # the second connection answers nothing
        session = Server(url).session()
        assert session.post(f"{url}/chat/completions", json={}, timeout=5).status_code == 200
        with pytest.raises(requests.ConnectionError):
            session.post(f"{url}/chat/completions", json={}, timeout=5)
    assert served == [2, 1]  # once more, not again and again
