"""Meaning similarity offline with WordLlama: the old, word-level measure.

The 256-dimension `l2_supercat` model that ships inside the `wordllama` wheel, loaded from the
installed package's own files, so nothing is ever downloaded. It averages token embeddings: word
order does not change its score, so it sees an answer about something else, or one that adds
commentary, but not a reversed event or a changed number. Loaded lazily, once per process (about
0.2 s): commands that do not judge meaning never import it.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.judge.vectors import MeaningUnavailable, cosines
from workbench.llm.client import first_line

if TYPE_CHECKING:
    from wordllama.inference import WordLlamaInference


WORDLLAMA_PACKAGE = "wordllama"


# Where the 0.4 wheel keeps its default model. WordLlama.load() looks for the tokenizer under
# tokenizer/ (singular), misses it and tries a model hub: we load both files ourselves.
WORDLLAMA_WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"


WORDLLAMA_TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"


WORDLLAMA_HINT = "pip install 'wordllama>=0.4'"


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
            f"cannot load WordLlama's model from {weights.parent.parent}: {first_line(e)}"
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
    return cosines(vectors[0::2], vectors[1::2])
