"""Result lines of batch inference, in the formats the engines write them.

- OpenAI's output file: `{"id", "custom_id", "response": {"status_code": 200, "request_id",
  "body": {chat completion}}, "error": null}`; its error file: the same with a status_code of
  4xx/5xx and the message in `response.body.error`, or `"response": null` and
  `"error": {"code", "message"}`.
- `vllm run-batch`: the same shape, errors in the same file: `"body": null` and `"error"` a
  message, or an object with `message` (or `error.message`).
- Ray Data's HTTP processor: `{"custom_id", "http_response": {chat completion or an error
  body}}`, with `__inference_error__` set when the row failed; or the OpenAI shape, when its
  postprocess writes it (as the docs show).

Each line becomes a `Result`, or a `Problem` naming its file and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Result:
    """One result line: the answer's body, or why there is none."""

    where: str  # FILE:LINE
    raw: str  # the line as read
    custom_id: str
    status: int | None  # the HTTP status the engine reports, when it does
    body: dict[str, Any] | None  # the chat completion, when there is one
    error: str | None  # an error code: http_NNN, batch_error, batch_expired, …
    detail: str | None  # the error's message


@dataclass(frozen=True)
class Problem:
    """A line that is not a result of ours."""

    where: str
    kind: str  # malformed, unknown (not a workbench custom_id), foreign (no batch of this job)
    detail: str

    def describe(self) -> str:
        return f"{self.where}: {self.detail}"


def read_lines(path: Path) -> list[Result | Problem]:
    """Every non-blank line of a results file, parsed."""
    found: list[Result | Problem] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                found.append(parse_line(f"{path}:{number}", line.rstrip("\n")))
    return found


def parse_line(where: str, raw: str) -> Result | Problem:
    try:
        data = json.loads(raw)
    except ValueError:
        return Problem(where, "malformed", f"not JSON: {raw[:80]!r}")
    if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
        return Problem(where, "malformed", "no custom_id: not a batch result line")
    custom_id = data["custom_id"]
    if "http_response" in data:  # Ray Data's HTTP processor, as it comes
        return _ray(where, raw, custom_id, data)
    response = data.get("response")
    if response is not None and not isinstance(response, dict):
        return Problem(where, "malformed", "its response is not an object")
    status = (response or {}).get("status_code")
    status = status if isinstance(status, int) else None
    body = (response or {}).get("body")
    body = body if isinstance(body, dict) else None
    message = _message(data.get("error")) or _message((body or {}).get("error"))
    if status is not None and status != 200:
        return Result(where, raw, custom_id, status, None, f"http_{status}",
                      message or f"HTTP {status}")  # fmt: skip
    if body is None or body.get("error") or data.get("error"):
        return Result(where, raw, custom_id, status, None, _code(data.get("error")),
                      message or "the line carries no answer")  # fmt: skip
    return Result(where, raw, custom_id, status or 200, body, None, None)


def _ray(where: str, raw: str, custom_id: str, data: dict[str, Any]) -> Result:
    failure = data.get("__inference_error__")
    body = data.get("http_response")
    if failure or not isinstance(body, dict) or body.get("error"):
        message = str(failure) if failure else _message((body or {}).get("error"))
        return Result(where, raw, custom_id, None, None, "batch_error",
                      message or "the line carries no answer")  # fmt: skip
    return Result(where, raw, custom_id, 200, body, None, None)


def _message(error: object) -> str | None:
    """The message of an error as the engines write it: a string, {"message"}, or an
    ErrorResponse {"error": {"message"}}."""
    if isinstance(error, str):
        return error or None
    if isinstance(error, dict):
        inner = error.get("error")
        if isinstance(inner, dict):
            return _message(inner)
        message = error.get("message")
        return str(message) if message else json.dumps(error)[:200]
    return None


def _code(error: object) -> str:
    """An error code worth keeping as the attempt's reason: batch_expired, batch_… ."""
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str) and re.fullmatch(r"[a-z_]{1,40}", code):
        return code if code.startswith("batch_") else f"batch_{code}"
    return "batch_error"
