"""Streamed chat completions: server-sent events read as they come, stopped when told.

`stream_complete` sends the request with `"stream": true` (and asks for the usage in the last
event), reads the events as the server writes them, and after each piece of the answer asks
`watch` whether to go on. When `watch` names a reason, it closes the connection: vLLM and Ollama
stop generating then, and so does the llama.cpp server here (measured: benchmarks/bench_stream.py);
servers that finish the prompt first, or a proxy that does not pass the close on, only cost the
tokens we no longer wait for. The attempt keeps the text received, `finish_reason` "aborted",
and the event stream exactly as received.

A server that answers a streamed request with one JSON body (it does not stream) is read as
usual, and `Completion.streamed` says so, so the caller stops asking it to. A stream cut short
(no `[DONE]`, no finish reason) or an error event is a failed request, retried as any other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests

from workbench.llm.client import (
    Completion,
    Server,
    error_detail,
    parse_completion,
    request_error,
    retry_after_seconds,
    server_message,
)
from workbench.llm.defaults import CONNECT_TIMEOUT
from workbench.store.states import FinishReason
from workbench.store.times import utc_now

ABORTED = FinishReason.ABORTED  # the finish reason of an answer we stopped

# Asked of every piece of a streamed answer: the answer so far; a reason to stop, or None.
Watch = Callable[[str], str | None]


def streamed_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body sent to stream `body`: the same request, streamed, with the usage at the end."""
    return {**body, "stream": True, "stream_options": {"include_usage": True}}


def stream_complete(
    server: Server, session: requests.Session, body: dict[str, Any], watch: Watch | None = None
) -> Completion:
    """POST one streamed chat completion; never raises for what the server or network does."""
    sent = streamed_body(body)
    completion = Completion(request=sent, started_at=utc_now(), server=server.base_url)
    start = time.perf_counter()
    reader = _Reader(completion, watch)
    try:
        with session.post(
            f"{server.base_url}/chat/completions", json=sent, stream=True,
            timeout=(CONNECT_TIMEOUT, server.timeout),
        ) as response:  # fmt: skip
            completion.http_status = response.status_code
            completion.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            kind = response.headers.get("Content-Type", "")
            if response.status_code != 200 or not kind.startswith("text/event-stream"):
                text = response.content.decode("utf-8", errors="replace")
                completion.response = text
                if response.status_code != 200:
                    completion.error = f"http_{response.status_code}"
                    completion.error_detail = server_message(text) or f"HTTP {response.status_code}"
                else:
                    completion.streamed = False
                    parse_completion(completion, text)
            else:
                completion.streamed = True
                deadline = start + server.timeout
                chunks = response.iter_content(chunk_size=None)
                for chunk in chunks:
                    if reader.feed(chunk) or time.perf_counter() > deadline:
                        break
                if reader.done:  # read the stream's end too: the connection is kept alive
                    for chunk in chunks:
                        reader.raw += chunk
                reader.finish(timed_out=server.timeout if time.perf_counter() > deadline else None)
    except requests.RequestException as e:
        completion.error, completion.error_detail = request_error(e), error_detail(e)
        completion.response = reader.raw_text() or completion.response
    completion.latency_s = time.perf_counter() - start
    completion.finished_at = utc_now()
    return completion


class _Reader:
    """The events of one streamed answer, as they arrive."""

    def __init__(self, completion: Completion, watch: Watch | None) -> None:
        self.completion, self.watch = completion, watch
        self.raw = bytearray()
        self.pending = b""
        self.text: list[str] = []
        self.pieces = 0  # events that carried a piece of the answer
        self.done = False  # [DONE] seen
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.failure: tuple[str, str] | None = None

    def raw_text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")

    def feed(self, chunk: bytes) -> bool:
        """Take what arrived; True when reading should stop (done, failed, or stopped)."""
        self.raw += chunk
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        return any(self._line(line.strip()) for line in lines)  # stops at the first that ends

    def _line(self, line: bytes) -> bool:
        if not line.startswith(b"data:"):
            return False  # blank lines, comments (": keep-alive"), event: names
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = True
            return True
        try:
            event = json.loads(data)
        except ValueError:
            self.failure = ("bad_stream", f"an event is not JSON: {data[:120]!r}")
            return True
        if not isinstance(event, dict):
            self.failure = ("bad_stream", f"an event is not an object: {data[:120]!r}")
            return True
        if event.get("error"):
            message = event["error"]
            text = message.get("message") if isinstance(message, dict) else message
            self.failure = ("stream_error", str(text or message)[:200])
            return True
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        choices = event.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or {}
        piece = delta.get("content") if isinstance(delta, dict) else None
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        if isinstance(piece, str) and piece:
            self.text.append(piece)
            self.pieces += 1
            if self.watch is not None and self.finish_reason is None:
                reason = self.watch("".join(self.text))
                if reason is not None:
                    self.finish_reason = ABORTED
                    return True
        return False

    def finish(self, *, timed_out: float | None) -> None:
        """Fill the completion in from what was read."""
        c = self.completion
        c.response = self.raw_text()
        if self.failure is not None:
            c.error, c.error_detail = self.failure
            return
        if self.finish_reason != ABORTED and timed_out is not None:
            c.error, c.error_detail = "timeout", f"the answer took over {timed_out:g} s"
            return
        if self.finish_reason is None:
            c.error = "bad_stream"
            c.error_detail = "the event stream ended before the answer did (no finish_reason)"
            return
        c.answer = "".join(self.text).strip()
        c.finish_reason = self.finish_reason
        usage = self.usage or {}
        c.prompt_tokens = usage.get("prompt_tokens")
        # Without a usage event (an answer we stopped), the pieces received: one token each
        # from llama.cpp, vLLM and Ollama.
        c.completion_tokens = usage.get("completion_tokens", self.pieces)
