"""A scriptable OpenAI-compatible server on 127.0.0.1 for tests and benchmarks.

It serves GET /v1/models, GET /health, POST /v1/chat/completions and POST /v1/embeddings with
the standard library only. Each test scripts it: queued replies (answers, delays, HTTP errors,
bad bodies, dropped connections) are served in arrival order, then a `responder` function
decides; `slots` limits how many requests it works at once, like LM Studio's parallel
predictions. Embeddings are a hashed bag of words unless scripted (`enqueue_embeddings`).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer to a chat completion."""

    content: str | None = None  # the answer; None: the default responder's
    finish_reason: str = "stop"
    status: int = 200
    body: str | None = None  # the raw body, replacing the whole JSON answer
    delay: float = 0.0  # extra seconds before answering
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    usage: dict[str, int] | bool | None = True  # True: computed; None/False: left out
    cut_after: int | None = None  # streamed: close after this many pieces, no end (a cut stream)
    pieces: list[str] | None = None  # streamed: these pieces (a model's tokens), not a word each

    @classmethod
    def error(cls, status: int, message: str = "scripted error", **kw: Any) -> Reply:
        body = json.dumps({"error": {"message": message, "type": "scripted"}})
        return cls(status=status, body=body, **kw)


def rotate_words(text: str) -> str:
    """The default 'paraphrase': the second half of the words, then the first. Half its word
    sequence is the original's (too_similar lets it through) and, to a sentence encoder, its
    meaning is the original's (meaning_drift does too)."""
    words = text.split()
    half = len(words) // 2
    return " ".join(words[half:] + words[:half])


Responder = Callable[[dict[str, Any], int], Reply]  # (request body, call number for this text)


@dataclass
class Streamed:
    """One streamed answer as the server sent it: how many pieces went out before it ended or
    the client closed the connection."""

    text: str  # the user message it answered
    pieces: int  # pieces of the answer it wrote
    total: int  # pieces the whole answer had
    closed_by_client: bool  # a write failed: the client had gone


class FakeServer:
    def __init__(
        self,
        *,
        models: tuple[str, ...] = ("fake-model",),
        slots: int | None = None,
        latency: float = 0.0,
        responder: Responder | None = None,
        models_reply: Reply | None = None,
        streams: bool = True,
        piece_delay: float = 0.0,
    ) -> None:
        self.models = models
        self.latency = latency
        # Asked to stream, it answers in server-sent events, a word a piece, piece_delay apart
        # (as llama.cpp, vLLM, LM Studio do); streams=False: one JSON body, as if it could not.
        self.streams = streams
        self.piece_delay = piece_delay
        self.streamed: list[Streamed] = []
        self.responder = responder
        self.models_reply = models_reply
        self.queue: deque[Reply] = deque()
        self.embedding_queue: deque[Reply] = deque()  # scripted replies to POST /embeddings
        self.embedding_requests: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # bodies of chat completions, in arrival order
        self.arrived: list[float] = []  # their time.monotonic() of arrival
        self.headers: list[dict[str, str]] = []  # their headers
        self.calls: Counter[str] = Counter()  # per user message
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(slots) if slots else None
        self._connections: set[Any] = set()  # open client sockets, for kill()
        self._httpd = _Quiet(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Reply | str) -> None:
        """Serve these next, in order; a str is shorthand for Reply(content=…)."""
        with self._lock:
            self.queue.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def enqueue_embeddings(self, *replies: Reply) -> None:
        """Serve these to the next POST /embeddings, in order (Reply.body, status, drop, delay)."""
        with self._lock:
            self.embedding_queue.extend(replies)

    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join()

    def kill(self) -> None:
        """Stop as a server that dies does: no new connections, and the open ones (keep-alive
        and in flight) reset."""
        self.stop()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        user = _user_message(body)
        with self._lock:
            self.requests.append(body)
            self.arrived.append(time.monotonic())
            self.calls[user] += 1
            call = self.calls[user]
            if self.queue:
                return self.queue.popleft()
        if self.responder:
            return self.responder(body, call)
        return Reply()


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (the point of some tests) is no error here."""


def _user_message(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    return str(messages[-1].get("content", ""))


def completion_body(body: dict[str, Any], reply: Reply) -> str:
    content = reply.content if reply.content is not None else rotate_words(_user_message(body))
    data: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.usage is True:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = len(content.split())
        data["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    elif reply.usage:
        data["usage"] = reply.usage
    return json.dumps(data)


EMBEDDING_DIMENSIONS = 64


def bag_of_words(text: str) -> list[float]:
    """A deterministic embedding: word counts hashed into 64 buckets. Texts sharing words score
    high, texts sharing none score 0, whatever the word order."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(word.encode("utf-8")) % EMBEDDING_DIMENSIONS] += 1.0
    return vector


def embeddings_body(body: dict[str, Any]) -> str:
    """The OpenAI embeddings answer for `input` (a string or a list of strings)."""
    inputs = body.get("input", [])
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    data = [
        {"object": "embedding", "index": i, "embedding": bag_of_words(str(text))}
        for i, text in enumerate(texts)
    ]
    tokens = sum(len(str(text).split()) for text in texts)
    return json.dumps(
        {
            "object": "list",
            "data": data,
            "model": body.get("model", "fake-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        # Without this every keep-alive response stalls ~40 ms (Nagle + delayed ACK).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            if "Content-Type" not in (headers or {}):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                reply = server.models_reply
                if reply is not None:
                    time.sleep(reply.delay)
                    if reply.drop:
                        self.close_connection = True
                        return
                    self._send(reply.status, reply.body or "")
                    return
                models = [{"id": m, "object": "model", "owned_by": "fake"} for m in server.models]
                self._send(200, json.dumps({"object": "list", "data": models}))
            elif self.path == "/health":
                self._send(200, json.dumps({"status": "ok"}))
            else:
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") in ("/v1/embeddings", "/embeddings"):
                self._embeddings(json.loads(raw))
                return
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
                return
            body = json.loads(raw)
            with server._lock:
                server.headers.append(dict(self.headers))
            reply = server._next_reply(body)
            if server._slots:
                server._slots.acquire()
            ended = False

            def end() -> None:
                """The answer is generated: its slot is free before its last bytes are sent, as
                a real server's is, or a client that reads them and asks at once would seem to
                have one request too many in flight."""
                nonlocal ended
                if not ended:
                    ended = True
                    with server._lock:
                        server.in_flight -= 1
                    if server._slots:
                        server._slots.release()

            try:
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                streamed = (
                    body.get("stream") and server.streams and reply.body is None
                    and reply.status == 200 and not reply.drop
                )  # fmt: skip
                # Streamed, the server's latency is spread over the pieces, as a model
                # generates them; else the whole answer comes after it.
                wait = reply.delay + (0 if streamed else server.latency)
                if wait:
                    time.sleep(wait)
                if reply.drop:
                    self.close_connection = True
                    return
                if streamed:
                    self._stream(body, reply, end)
                    return
                text = reply.body if reply.body is not None else completion_body(body, reply)
                end()
                self._send(reply.status, text, reply.headers)
            finally:
                end()

        def _stream(self, body: dict[str, Any], reply: Reply, end: Callable[[], None]) -> None:
            """The answer as server-sent events over chunked encoding: a role event, a piece a
            word (with the space before it), the finish reason, the usage, [DONE]."""
            content = (
                reply.content if reply.content is not None else rotate_words(_user_message(body))
            )
            pieces = reply.pieces or re.findall(r"\s*\S+|\s+", content)
            log = Streamed(_user_message(body), 0, len(pieces), False)
            with server._lock:
                server.streamed.append(log)

            def event(data: dict[str, Any] | str) -> None:
                text = data if isinstance(data, str) else json.dumps(data)
                payload = f"data: {text}\n\n".encode()
                self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
                self.wfile.flush()

            def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-fake", "object": "chat.completion.chunk",
                    "model": body.get("model", "fake-model"),
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }  # fmt: skip

            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                event(chunk({"role": "assistant", "content": None}))
                # Piece n goes out at its time, however long writing the others took.
                step = server.piece_delay + server.latency / max(len(pieces), 1)
                begun = time.monotonic()
                for n, piece in enumerate(pieces):
                    if reply.cut_after is not None and n >= reply.cut_after:
                        self.close_connection = True
                        self.wfile.write(b"0\r\n\r\n")  # ends, without a finish reason
                        return
                    due = begun + (n + 1) * step - time.monotonic()
                    if due > 0:
                        time.sleep(due)
                    event(chunk({"content": piece}))
                    log.pieces += 1
                event(chunk({}, reply.finish_reason))
                if reply.usage:
                    prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                    usage = reply.usage if isinstance(reply.usage, dict) else {
                        "prompt_tokens": prompt, "completion_tokens": len(pieces),
                        "total_tokens": prompt + len(pieces),
                    }  # fmt: skip
                    event({**chunk({}), "choices": [], "usage": usage})
                end()
                event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:  # the client closed the connection
                log.closed_by_client = True
                self.close_connection = True

        def _embeddings(self, body: dict[str, Any]) -> None:
            with server._lock:
                server.embedding_requests.append(body)
                reply = server.embedding_queue.popleft() if server.embedding_queue else Reply()
            time.sleep(reply.delay)
            if reply.drop:
                self.close_connection = True
                return
            text = reply.body if reply.body is not None else embeddings_body(body)
            self._send(reply.status, text, reply.headers)

    return Handler
