"""The transport retry policy of a run, declared with tenacity.

A request that got no usable answer (connection error, timeout, HTTP 429 or 5xx, a body that is
not the expected JSON, an event stream cut short) is sent again after an exponential, jittered
wait, never shorter than the server's Retry-After (up to MAX_BACKOFF), up to --retries times.
These failures never use up a paragraph's validation attempts: asking a paragraph again after a
rejected answer is the worker's own plain loop (engine/worker.py).

Any other HTTP 4xx is not retried: it means the request itself is wrong (unknown model, bad key);
nor is a request the HTTP client cannot even send (an invalid URL or header, a redirect loop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from workbench.llm.client import UNSENDABLE, Call
from workbench.llm.defaults import DEFAULT_BACKOFF, DEFAULT_RETRIES, MAX_BACKOFF

R = TypeVar("R", bound=Call)


class Stopped(Exception):
    """The run is stopping: send nothing more."""


class TransientFailure(Exception):
    """No usable answer, but worth asking again."""

    def __init__(self, reply: Call) -> None:
        super().__init__(f"{reply.error}: {reply.error_detail}")
        self.reply = reply


class RequestRefused(Exception):
    """The server refused the request itself (HTTP 4xx other than 429), or it could not be sent
    at all: asking again won't help."""

    def __init__(self, reply: Call) -> None:
        what = f"HTTP {reply.http_status}" if reply.http_status is not None else reply.error
        super().__init__(f"{what}: {reply.error_detail}")
        self.reply = reply


def is_transient(reply: Call) -> bool:
    """Whether a failed request may succeed if sent again."""
    if reply.error in UNSENDABLE:
        return False  # the client could not send it: it never will
    status = reply.http_status
    if status is None or status == 200:
        return True  # connection error, timeout, or a 200 with a body we could not use
    return status == 429 or status >= 500


def raise_for_failure(reply: R) -> R:
    """Turn a failed request into the exception that tells the policy what to do."""
    if reply.failed:
        if is_transient(reply):
            raise TransientFailure(reply)
        raise RequestRefused(reply)
    return reply


class wait_server_hint(wait_exponential):
    """Exponential backoff, but never shorter than the server's Retry-After."""

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = super().__call__(retry_state)
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, TransientFailure) and error.reply.retry_after is not None:
            return max(wait, min(error.reply.retry_after, MAX_BACKOFF))
        return wait


class wait_unless_ready(wait_base):
    """No wait when `ready()` says another server can take the request now; else `then`."""

    def __init__(self, ready: Callable[[], bool], then: wait_base) -> None:
        self.ready, self.then = ready, then

    def __call__(self, retry_state: RetryCallState) -> float:
        return 0.0 if self.ready() else float(self.then(retry_state))


def transport_policy(
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    *,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Any] | None = None,
    ready: Callable[[], bool] | None = None,
) -> Retrying:
    """Retry TransientFailure `retries` times with jittered exponential waits; re-raise at the end.

    Waits sleep on the stop event, so Ctrl-C or a fatal error elsewhere ends them at once.
    `ready`: whether another server could take the request at once (then it is sent again
    without waiting; the try still counts).
    """
    stop = stop or threading.Event()
    event = stop

    def sleep_on_stop(seconds: float) -> None:
        event.wait(seconds)

    wait: wait_base = wait_server_hint(multiplier=backoff, max=MAX_BACKOFF) + wait_random(
        0, backoff
    )
    return Retrying(
        stop=stop_after_attempt(retries + 1) | stop_when_event_set(stop),
        wait=wait_unless_ready(ready, wait) if ready else wait,
        retry=retry_if_exception_type(TransientFailure),
        sleep=sleep or sleep_on_stop,
        reraise=True,
    )
