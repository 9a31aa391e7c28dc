"""Meaning similarity: how close an answer's meaning is to the original's, from sentence embeddings.

Two backends, both giving the cosine similarity of the two texts' embeddings (1 the same,
around 0 unrelated):

- WordLlama (the default): the 256-dimension `l2_supercat` model that ships inside the
  `wordllama` wheel, loaded from the installed package's own files, so nothing is ever
  downloaded. It averages token embeddings: word order does not change its score, so it sees
  an answer about something else, or one that adds commentary, but not a reversed event or a
  changed number. Loaded lazily, once per process (about 0.2 s): commands that do not judge
  meaning never import it.
- HTTP: `POST {base_url}/embeddings` of an OpenAI-compatible server (LM Studio, llama.cpp,
  Ollama, vLLM) with the model the user names. `embeddings_similarity` returns an
  `EmbeddingCall` recording the request and what came back, and never raises for what the
  server or the network does; deciding to retry is the caller's (retry.py's) job.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy
import requests

from workbench.llm.client import Call, Server, _first_line, post
from workbench.store.database import utc_now
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference

WORDLLAMA_PACKAGE = "wordllama"
# Where the 0.4 wheel keeps its default model. WordLlama.load() looks for the tokenizer under
# tokenizer/ (singular), misses it and tries a model hub: we load both files ourselves.
WORDLLAMA_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
WORDLLAMA_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
WORDLLAMA_HINT = "pip install 'wordllama>=0.4'"


class MeaningUnavailable(WorkbenchError):
    """The meaning backend cannot be loaded (package or model file missing); seen by `run`."""


# --- WordLlama, offline -----------------------------------------------------------------------

_model: WordLlamaInference | None = None
_load_lock = threading.Lock()
_use_lock = threading.Lock()  # the tokenizer is shared; one embedding at a time is ~1 ms anyway


def wordllama_files() -> tuple[Path, Path]:
    """The model's weights and tokenizer inside the installed package, found without importing
    it; MeaningUnavailable in one line when either is missing."""
    spec = importlib.util.find_spec(WORDLLAMA_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise MeaningUnavailable(f"the meaning rule needs WordLlama: {WORDLLAMA_HINT}")
    root = Path(folders[0])
    weights, tokenizer = root / WORDLLAMA_WEIGHTS, root / WORDLLAMA_TOKENIZER
    for path in (weights, tokenizer):
        if not path.is_file():
            raise MeaningUnavailable(
                f"WordLlama's model file {path} is missing: reinstall it ({WORDLLAMA_HINT})"
            )
    return weights, tokenizer


def load_wordllama() -> WordLlamaInference:
    """The WordLlama model, loaded on first use and shared by every thread after that."""
    global _model
    if _model is not None:
        return _model
    with _load_lock:
        if _model is None:
            _model = _load(*wordllama_files())
    return _model


def _load(weights: Path, tokenizer_file: Path) -> WordLlamaInference:
    # `import wordllama` calls logging.basicConfig(level=INFO): put the root logger back as
    # it was, so importing it does not make other libraries' INFO logs appear on stderr.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        from safetensors import safe_open
        from wordllama import WordLlama
        from wordllama.inference import WordLlamaInference
    except ImportError as e:
        raise MeaningUnavailable(
            f"the meaning rule needs WordLlama ({e.name} is missing): {WORDLLAMA_HINT}"
        ) from None
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    try:
        tokenizer = WordLlama.load_tokenizer(tokenizer_file)
        with safe_open(str(weights), framework="np") as f:
            embedding = f.get_tensor("embedding.weight")
    except Exception as e:  # a corrupt or truncated file: the library's own errors vary
        raise MeaningUnavailable(
            f"cannot load WordLlama's model from {weights.parent.parent}: {_first_line(e)}"
        ) from None
    return WordLlamaInference(embedding, tokenizer)


def similarity(original: str, answer: str) -> float:
    """Meaning similarity of original and answer with WordLlama: cosine of their embeddings,
    about 0.6-0.95 for a paraphrase, under 0.3 for unrelated text, 0.0 when either is blank."""
    return similarities([(original, answer)])[0]


def similarities(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """`similarity` for many (original, answer) pairs, embedded in one batch."""
    if not pairs:
        return []
    model = load_wordllama()
    texts = [text for pair in pairs for text in pair]
    with _use_lock:
        vectors = model.embed(texts, norm=False)
    return _cosines(vectors[0::2], vectors[1::2])


def _cosines(a: numpy.ndarray, b: numpy.ndarray) -> list[float]:
    """The cosine similarity of each row of `a` with the same row of `b`; 0.0 where either is
    all zeros (a blank text embeds to zeros: its similarity is 0, not NaN)."""
    norms = numpy.linalg.norm(a, axis=1) * numpy.linalg.norm(b, axis=1)
    dots = numpy.einsum("ij,ij->i", a, b)
    return [
        float(d / n) if n and numpy.isfinite(n) else 0.0 for d, n in zip(dots, norms, strict=True)
    ]


# --- an OpenAI-compatible /embeddings endpoint ------------------------------------------------

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
        call.error_detail = f"no two embeddings in data[].embedding ({_first_line(e)})"
        return
    call.score = _cosines(numpy.array([vectors[0]]), numpy.array([vectors[1]]))[0]
