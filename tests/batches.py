"""A batch engine for tests: answers a requests file through a real HTTP server (the fake), and
writes the results as OpenAI's Batch API or `vllm run-batch` writes them."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from tests.fakeserver import FakeServer


def answer_batch(
    requests_file: Path,
    server: FakeServer,
    out: Path,
    *,
    style: str = "openai",
    fail: set[str] | frozenset[str] = frozenset(),
) -> Path | None:
    """POST each line's body to `server` and write the results to `out`, in the order given.

    `fail`: custom_ids whose line is written as an error instead. openai: errors go to a
    separate error file (returned), half as a 4xx response with the message in
    response.body.error, half as `response: null` with `error: {code, message}`; vllm: errors
    in the same file, `body: null` and `error` a message."""
    lines = [json.loads(line) for line in requests_file.read_text().splitlines() if line]
    outputs, errors = [], []
    for n, line in enumerate(lines):
        custom_id = line["custom_id"]
        if custom_id in fail:
            if style == "vllm":
                outputs.append(
                    {
                        "id": f"vllm-{n}",
                        "custom_id": custom_id,
                        "response": {"status_code": 400, "request_id": f"r{n}", "body": None},
                        "error": "This model's maximum context length is exceeded",
                    }
                )
            elif n % 2:
                errors.append(
                    {
                        "id": f"batch_req_{n}",
                        "custom_id": custom_id,
                        "response": {
                            "status_code": 400,
                            "request_id": f"r{n}",
                            "body": {
                                "error": {
                                    "message": "invalid body",
                                    "type": "invalid_request_error",
                                }
                            },
                        },
                        "error": None,
                    }
                )
            else:
                errors.append(
                    {
                        "id": f"batch_req_{n}",
                        "custom_id": custom_id,
                        "response": None,
                        "error": {
                            "code": "batch_expired",
                            "message": "This request could not be executed before "
                            "the completion window expired.",
                        },
                    }
                )
            continue  # fmt: skip
        reply = requests.post(f"{server.base_url}/chat/completions", json=line["body"], timeout=30)
        outputs.append({"id": f"batch_req_{n}", "custom_id": custom_id,
                        "response": {"status_code": reply.status_code, "request_id": f"r{n}",
                                     "body": reply.json()},
                        "error": None})  # fmt: skip
    out.write_text("".join(json.dumps(o) + "\n" for o in outputs), encoding="utf-8")
    if style == "openai" and errors:
        error_file = out.with_name(out.stem + "-errors" + out.suffix)
        error_file.write_text("".join(json.dumps(e) + "\n" for e in errors), encoding="utf-8")
        return error_file
    return None
