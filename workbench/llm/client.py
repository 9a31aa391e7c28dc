"""The HTTP side: one OpenAI-compatible server, spoken to with requests.

`Server.complete` sends one chat completion and always returns a `Completion` that records what
happened, usable or not; deciding what to retry is the retry policies' job (llm/retry.py).
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from workbench.errors import ServerUnreachable, SettingError
from workbench.llm.defaults import (
    CONNECT_TIMEOUT,
    DEFAULT_BASE_URL,
    DEFAULT_TIMEOUT,
    PROBE_TIMEOUT,
)
from workbench.store.attempts import RequestRow
from workbench.store.times import utc_now

# Errors of a request the HTTP client could not send, which no retry mends: an invalid URL or
# header, a redirect loop. (Every other requests.RequestException is the network's: retried.)
UNSENDABLE = frozenset({"invalid_request", "too_many_redirects"})


@dataclass
class Call:
    """One request and what came back, usable or not: what every request record shares (a chat
    completion, an embeddings call, a rule's check), and what the retry policies decide on."""

    request: dict[str, Any]
    started_at: str
    finished_at: str = ""
    latency_s: float = 0.0
    http_status: int | None = None
    response: str | None = None  # the body as received
    # Set when there is no usable answer: connection_error, timeout, http_NNN, bad_json, bad_body.
    error: str | None = None
    error_detail: str | None = None
    retry_after: float | None = None  # seconds, from a Retry-After header
    server: str | None = None  # the base URL it was sent to

    @property
    def failed(self) -> bool:
        return self.error is not None

    def row(self) -> RequestRow:
        """The request and its response as the attempts and checks columns hold them."""
        return RequestRow(
            self.started_at, self.finished_at, self.latency_s,
            json.dumps(self.request, ensure_ascii=False), self.http_status, self.response,
        )  # fmt: skip


@dataclass
class Completion(Call):
    """One chat completion: the makings of an attempts row."""

    answer: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    streamed: bool | None = None  # asked to stream: whether the server answered in events


def post(session: requests.Session, url: str, call: Call, timeout: float) -> str | None:
    """POST `call.request` as JSON to `url` and record on `call` what happened; returns the body
    when a response came (its parsing is the caller's). Never raises for the network."""
    start = time.perf_counter()
    body = None
    try:
        response = session.post(url, json=call.request, timeout=(CONNECT_TIMEOUT, timeout))
    except requests.RequestException as e:
        call.error, call.error_detail = request_error(e), error_detail(e)
    else:
        call.http_status = response.status_code
        call.response = body = response.content.decode("utf-8", errors="replace")
        call.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        if response.status_code != 200:
            call.error = f"http_{response.status_code}"
            call.error_detail = server_message(body) or f"HTTP {response.status_code}"
            body = None
    call.latency_s = time.perf_counter() - start
    call.finished_at = utc_now()
    return body


def request_error(error: requests.RequestException) -> str:
    """The error code of a request that got no response: timeout, connection_error (both
    retried), or one of UNSENDABLE."""
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.TooManyRedirects):
        return "too_many_redirects"
    if isinstance(
        error,
        requests.exceptions.InvalidURL
        | requests.exceptions.InvalidHeader
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.InvalidJSONError,
    ):
        return "invalid_request"
    return "connection_error"


def error_detail(error: requests.RequestException) -> str:
    """What went wrong, for the attempt's detail; never a header's value (the API key)."""
    if isinstance(error, requests.exceptions.InvalidHeader):
        return "a request header is invalid: the API key must be one line of printable characters"
    return first_line(error)


def check_api_key(api_key: str | None) -> str | None:
    """The key, or a SettingError (which never shows it) when no HTTP header can carry it."""
    if api_key is not None and (
        api_key != api_key.strip() or any(not c.isprintable() for c in api_key)
    ):
        raise SettingError(
            "{api_key} must be one line of printable characters, without spaces around it"
        )
    return api_key


def check_base_url(base_url: str, setting: str = "base_url") -> str:
    """The URL without a trailing slash, or a SettingError naming what is wrong with it (and the
    setting that gave it)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError(
            "invalid {" + setting + "} {url!r}: expected http(s)://HOST[:PORT]/v1, e.g. {default}",
            url=base_url,
            default=DEFAULT_BASE_URL,
        )
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise SettingError("invalid {" + setting + "} {url!r}: bad port", url=base_url) from None
    return base_url.rstrip("/")


class StaleConnectionAdapter(HTTPAdapter):
    """Sends a request once more, at once, when the kept-alive connection it went out on turns
    out closed by the server without a word: a server may close a connection after an answer
    (llama.cpp's does now and then, the fake's after a stream cut short) while we are already
    reusing it, and that race is no failure of the server's. A fresh connection closed so, and
    a second such close, are failures, for the run's retry policy."""

    def send(  # the same parameters, passed on as they come
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        reusing = self._idle_connection(request, kwargs)
        try:
            return super().send(request, *args, **kwargs)
        except requests.ConnectionError as e:
            if not (reusing and _closed_unanswered(e)):
                raise  # a fresh connection closed unanswered is the server's doing
        return super().send(request, *args, **kwargs)

    def _idle_connection(self, request: requests.PreparedRequest, sending: dict[str, Any]) -> bool:
        """Whether a kept-alive connection waits in the pool `request` will go out from (a
        session is one thread's, so the request will go out on it)."""
        try:
            pool = self.get_connection_with_tls_context(
                request, sending.get("verify", True), sending.get("proxies"), sending.get("cert")
            )
        except (ValueError, LookupError, requests.RequestException):  # the send will say why
            return False
        idle = getattr(pool, "pool", None)
        return idle is not None and any(conn is not None for conn in list(idle.queue))


def _closed_unanswered(error: BaseException) -> bool:
    """Whether the server closed the connection before any response (the status line)."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        found = pending.pop()
        if id(found) in seen or not isinstance(found, BaseException):
            continue
        seen.add(id(found))
        if isinstance(found, http.client.RemoteDisconnected):
            return True
        pending.extend([*found.args, found.__cause__, found.__context__])
    return False


class Server:
    """An OpenAI-compatible server at `base_url` (which ends in /v1 for most servers)."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self._api_key = check_api_key(api_key)

    def session(self) -> requests.Session:
        """A keep-alive session carrying the key; one per worker thread."""
        session = requests.Session()
        session.mount("http://", StaleConnectionAdapter())
        session.mount("https://", StaleConnectionAdapter())
        if self._api_key:
            session.headers["Authorization"] = f"Bearer {self._api_key}"
        return session

    def list_models(self, session: requests.Session | None = None) -> list[str]:
        """The ids GET /models lists; raises ServerUnreachable in plain words when it cannot."""
        session = session or self.session()
        url = f"{self.base_url}/models"
        try:
            response = session.get(url, timeout=(CONNECT_TIMEOUT, PROBE_TIMEOUT))
        except requests.Timeout:
            raise ServerUnreachable(f"{url} did not answer within {PROBE_TIMEOUT:g} s") from None
        except requests.ConnectionError:
            raise ServerUnreachable(
                f"cannot reach {self.base_url}: is the server running? "
                "(LM Studio: Developer tab → Start Server)"
            ) from None
        except requests.RequestException as e:  # an invalid header (the key), a redirect loop
            raise ServerUnreachable(f"cannot ask {url}: {error_detail(e)}") from None
        if response.status_code in (401, 403):
            raise ServerUnreachable(
                f"{url} refused the API key (HTTP {response.status_code}): "
                "pass --api-key or set WORKBENCH_API_KEY"
            )
        if response.status_code != 200:
            raise ServerUnreachable(
                f"{url} answered HTTP {response.status_code}: is {self.base_url} an "
                "OpenAI-compatible API? (the base URL usually ends in /v1)"
            )
        try:
            return [str(model["id"]) for model in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise ServerUnreachable(
                f"{url} did not answer with an OpenAI-style model list: is {self.base_url} "
                "an OpenAI-compatible API?"
            ) from None

    def complete(self, session: requests.Session, body: dict[str, Any]) -> Completion:
        """POST one chat completion; never raises for what the server or network does."""
        completion = Completion(request=body, started_at=utc_now(), server=self.base_url)
        text = post(session, f"{self.base_url}/chat/completions", completion, self.timeout)
        if text is not None:
            parse_completion(completion, text)
        return completion


def parse_completion(completion: Completion, body: str) -> None:
    """Fill in the answer from a 200 body, or the error that explains why there is none."""
    try:
        data = json.loads(body)
    except ValueError:
        completion.error = "bad_json"
        completion.error_detail = f"the body is not JSON: {body[:120]!r}"
        return
    try:
        choice = data["choices"][0]
        # null content: a reasoning model that spent max_tokens thinking (reasoning_content)
        content = choice["message"]["content"] or ""
        if not isinstance(content, str):
            raise TypeError(f"content is {type(content).__name__}")
    except (KeyError, IndexError, TypeError) as e:
        completion.error = "bad_body"
        completion.error_detail = f"no choices[0].message.content in the body ({e!r})"
        return
    completion.answer = content.strip()
    completion.finish_reason = choice.get("finish_reason")
    usage = data.get("usage") or {}
    if isinstance(usage, dict):
        completion.prompt_tokens = usage.get("prompt_tokens")
        completion.completion_tokens = usage.get("completion_tokens")


def server_message(body: str) -> str | None:
    """The message in an OpenAI-style error body ({"error": {"message": …}}), else its start."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return body.strip()[:200] or None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error) if error else body.strip()[:200] or None


def retry_after_seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: rare from local servers, fall back to backoff


def first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__
