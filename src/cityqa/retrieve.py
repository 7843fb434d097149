"""Hybrid retrieval through llama-index: BM25 over our own node store and dense search in Chroma, fused by
`QueryFusionRetriever` (one query, no LLM; distribution-based score fusion by default, reciprocal rank fusion
by setting: see `Settings.fusion_mode` for the measured difference)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from .embeddings import Embedder, llama_embedding
from .entities import fold
from .store import IndexStore, NodeStore
from .types import Chunk, Hit, SearchFilters


def disable_llm() -> None:
    """llama-index defaults to OpenAI; make sure nothing ever resolves it (and keep its notice off stdout)."""
    from llama_index.core import Settings as LlamaSettings

    with contextlib.redirect_stdout(io.StringIO()):
        LlamaSettings.llm = None


class HybridRetriever:
    """BM25 + Chroma dense retrieval over one index generation."""

    def __init__(self, store: IndexStore, manifest: dict[str, Any], nodes: NodeStore, embedder: Embedder) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import QueryFusionRetriever
        from llama_index.retrievers.bm25 import BM25Retriever
        from llama_index.vector_stores.chroma import ChromaVectorStore

        disable_llm()
        embedder.use_index(store.dir, store.settings.embed_backend)  # the index's ONNX encoder: no torch import
        self.nodes = nodes
        self.settings = store.settings
        k = min(self.settings.candidate_k, max(1, len(nodes.chunks)))
        with contextlib.redirect_stderr(io.StringIO()):  # bm25s draws a progress bar while loading
            self.bm25 = BM25Retriever.from_persist_dir(str(store.bm25_dir(manifest)))
        self.bm25.similarity_top_k = k
        vector_store = ChromaVectorStore(chroma_collection=store.collection())
        index = VectorStoreIndex.from_vector_store(
            vector_store, embed_model=llama_embedding(embedder), transformations=[_no_transform()]
        )
        self.dense = index.as_retriever(similarity_top_k=k)
        self.fusion = QueryFusionRetriever(
            [self.bm25, self.dense], llm=MockLLM(), mode=self.settings.fusion_mode, num_queries=1,
            use_async=False, similarity_top_k=2 * k,
        )

    def retrieve(
        self, question: str, query_vector: np.ndarray, k: int, filters: SearchFilters | None = None
    ) -> list[Hit]:
        from llama_index.core.schema import QueryBundle

        bundle = QueryBundle(query_str=question, embedding=query_vector.tolist())
        hits: list[Hit] = []
        for result in self.fusion.retrieve(bundle):
            index = self.nodes.by_id.get(result.node.node_id)
            if index is None:  # a vector a concurrent ingest added but has not committed yet
                continue
            chunk = self.nodes.chunks[index]
            if filters and not matches(chunk, filters):
                continue
            hits.append(Hit(chunk, index, float(result.score or 0.0), len(hits)))
            if len(hits) >= k:
                break
        return hits


def _no_transform() -> Any:
    """The query-side index never ingests (cityqa.ingest writes Chroma itself). Without an explicit transform,
    llama-index builds its default SentenceSplitter, which loads tiktoken's vocabulary: 0.27 s of every cold start."""
    from llama_index.core.schema import TransformComponent

    class NoTransform(TransformComponent):
        def __call__(self, nodes: Any, **kwargs: Any) -> Any:
            return nodes

    return NoTransform()


def matches(chunk: Chunk, filters: SearchFilters) -> bool:
    """Whether a chunk passes the user's filters (document kind, cities mentioned)."""
    if filters.kinds and chunk.kind not in filters.kinds:
        return False
    if filters.cities:
        haystack = fold(chunk.text + " " + chunk.metadata.get("city", ""))
        return any(fold(city) in haystack for city in filters.cities)
    return True
