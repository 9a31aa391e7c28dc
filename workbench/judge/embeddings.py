"""Meaning similarity from a server: `POST {base_url}/embeddings` of an OpenAI-compatible server.

LM Studio, llama.cpp, Ollama and vLLM serve it, with the model the user names.
`embeddings_similarity` returns an `EmbeddingCall` recording the request and what came back, and
never raises for what the server or the network does; deciding to retry is the caller's (the
run's retry policy, through checks.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import requests

from workbench.judge.vectors import cosines
from workbench.llm.client import Call, Server, first_line, post
from workbench.store.times import utc_now

EMBEDDINGS_TIMEOUT = 60.0  # seconds: two short texts, even on a busy CPU server


@dataclass
class EmbeddingCall(Call):
    """One POST /embeddings and what came back: enough to store it next to the attempt."""

    score: float | None = None  # cosine similarity of the two embeddings


def embeddings_request(model: str, original: str, answer: str) -> dict[str, Any]:
    """The OpenAI embeddings request for one pair."""
    return {"model": model, "input": [original, answer]}


def embeddings_similarity(
    server: Server,
    session: requests.Session,
    model: str,
    original: str,
    answer: str,
    *,
    timeout: float = EMBEDDINGS_TIMEOUT,
) -> EmbeddingCall:
    """POST both texts to {server.base_url}/embeddings and score their cosine similarity;
    never raises for what the server or network does."""
    call = EmbeddingCall(request=embeddings_request(model, original, answer), started_at=utc_now())
    body = post(session, f"{server.base_url}/embeddings", call, timeout)
    if body is not None:
        _parse_embeddings(call, body)
    return call


def _parse_embeddings(call: EmbeddingCall, body: str) -> None:
    """Fill in the score from a 200 embeddings body, or the error saying why there is none."""
    try:
        data = json.loads(body)
    except ValueError:
        call.error, call.error_detail = "bad_json", f"the body is not JSON: {body[:120]!r}"
        return
    try:
        items = sorted(data["data"], key=lambda item: item.get("index", 0))
        vectors = [[float(x) for x in item["embedding"]] for item in items]
        if len(vectors) != 2:
            raise ValueError(f"{len(vectors)} embeddings for 2 inputs")
        if len(vectors[0]) != len(vectors[1]) or not vectors[0]:
            raise ValueError(f"embeddings of {len(vectors[0])} and {len(vectors[1])} dimensions")
        if not all(math.isfinite(x) for vector in vectors for x in vector):
            raise ValueError("an embedding holds NaN or infinity")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        call.error = "bad_body"
        call.error_detail = f"no two embeddings in data[].embedding ({first_line(e)})"
        return
    import numpy  # here: loading it (0.1 s) is not for a run's start to wait on

    call.score = cosines(numpy.array([vectors[0]]), numpy.array([vectors[1]]))[0]
