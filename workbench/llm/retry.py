"""The two retry policies of a run, declared with tenacity.

- Transport: a request that got no usable answer (connection error, timeout, HTTP 429 or 5xx,
  a body that is not the expected JSON) is sent again after an exponential, jittered wait, up
  to --retries times. These failures never use up a paragraph's validation attempts.
- Validation: a paragraph is asked for again at once, until it has the accepted answers its
  recipe wants (--outputs) or has had all the validated answers the recipe allows
  (--max-attempts per wanted output, across runs: a resumed paragraph gets only the rest).

Any other HTTP 4xx is not retried: it means the request itself is wrong (unknown model, bad key).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
    wait_none,
    wait_random,
)

from workbench.llm.client import Call

DEFAULT_RETRIES = 8  # with the default backoff: about 4 minutes of a dead server before giving up
DEFAULT_BACKOFF = 1.0  # seconds before the first retry; doubles each time
MAX_BACKOFF = 60.0


R = TypeVar("R", bound=Call)


class Stopped(Exception):
    """The run is stopping: send nothing more."""


class TransientFailure(Exception):
    """No usable answer, but worth asking again."""

    def __init__(self, reply: Call) -> None:
        super().__init__(f"{reply.error}: {reply.error_detail}")
        self.reply = reply


class RequestRefused(Exception):
    """The server refused the request itself (HTTP 4xx other than 429): asking again won't help."""

    def __init__(self, reply: Call) -> None:
        super().__init__(f"HTTP {reply.http_status}: {reply.error_detail}")
        self.reply = reply


def is_transient(reply: Call) -> bool:
    """Whether a failed request may succeed if sent again."""
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


def transport_policy(
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    *,
    stop: threading.Event | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> Retrying:
    """Retry TransientFailure `retries` times with jittered exponential waits; re-raise at the end.

    Waits sleep on the stop event, so Ctrl-C or a fatal error elsewhere ends them at once.
    """
    stop = stop or threading.Event()
    event = stop

    def sleep_on_stop(seconds: float) -> None:
        event.wait(seconds)

    return Retrying(
        stop=stop_after_attempt(retries + 1) | stop_when_event_set(stop),
        wait=wait_server_hint(multiplier=backoff, max=MAX_BACKOFF) + wait_random(0, backoff),
        retry=retry_if_exception_type(TransientFailure),
        sleep=sleep or sleep_on_stop,
        reraise=True,
    )


def validation_policy(attempts: int, *, stop: threading.Event | None = None) -> Retrying:
    """Ask again at once until the wrapped call says the paragraph is done, `attempts` times at
    most: it returns True when the paragraph has the answers it wants (or no attempts left).

    At the end the last result is returned rather than raised: a paragraph that used up its
    attempts is an outcome, not an error.
    """
    stop = stop or threading.Event()
    return Retrying(
        stop=stop_after_attempt(attempts) | stop_when_event_set(stop),
        wait=wait_none(),
        retry=retry_if_result(lambda done: not done),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )
