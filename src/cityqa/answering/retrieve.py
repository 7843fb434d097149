"""Retrieval stages through llama-index.

`HybridRetriever` (the default): BM25 over our own node store and dense search in Chroma, fused by
`QueryFusionRetriever` (one query, no LLM; distribution-based score fusion by default, reciprocal rank fusion by
setting: see `Settings.fusion_mode` for the measured difference). `SingleRetriever`: one of the two alone, for
the ablation baselines. Both satisfy `Retriever`, and their constructors `RetrieverFactory`, which is what
`Assistant(retriever=...)` takes (an index generation is opened with it whenever the index changes)."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np

from ..documents.text import fold
from ..index.embeddings import Embedder, llama_embedding
from ..index.nodes import NodeStore
from ..index.store import IndexStore
from ..types import Chunk, Hit, SearchFilters


def disable_llm() -> None:
    """llama-index defaults to OpenAI; make sure nothing ever resolves it (and keep its notice off stdout)."""
    from llama_index.core import Settings as LlamaSettings

    with contextlib.redirect_stdout(io.StringIO()):
        LlamaSettings.llm = None


class Retriever(Protocol):
    """A retrieval stage over one index generation: the passages for a question, best first."""

    def retrieve(
        self, question: str, query_vector: np.ndarray, k: int, filters: SearchFilters | None = None
    ) -> list[Hit]: ...


class RetrieverFactory(Protocol):
    """Opens a `Retriever` on an index generation (its store, manifest and nodes) with the assistant's embedder."""

    def __call__(self, store: IndexStore, manifest: dict[str, Any], nodes: NodeStore, embedder: Embedder
                 ) -> Retriever: ...


def candidate_k(store: IndexStore, nodes: NodeStore) -> int:
    """How many passages each retriever returns before fusion (`Settings.candidate_k`, at most the index size)."""
    return min(store.settings.candidate_k, max(1, len(nodes.chunks)))


def bm25_retriever(store: IndexStore, manifest: dict[str, Any], k: int) -> Any:
    """llama-index's `BM25Retriever` over the generation's persisted bm25s index."""
    with contextlib.redirect_stderr(io.StringIO()):  # bm25s draws a progress bar while loading
        bm25 = _node_caching_bm25().from_persist_dir(str(store.bm25_dir(manifest)))
    bm25.similarity_top_k = k
    return bm25


def dense_retriever(store: IndexStore, embedder: Embedder, k: int) -> Any:
    """llama-index's vector retriever over the index's Chroma collection (query vectors from `embedder`)."""
    from llama_index.core import VectorStoreIndex

    vector_store = _id_first_store()(chroma_collection=store.collection())
    index = VectorStoreIndex.from_vector_store(
        vector_store, embed_model=llama_embedding(embedder), transformations=[_no_transform()]
    )
    return index.as_retriever(similarity_top_k=k)


class HybridRetriever:
    """BM25 + Chroma dense retrieval over one index generation."""

    def __init__(self, store: IndexStore, manifest: dict[str, Any], nodes: NodeStore, embedder: Embedder) -> None:
        from llama_index.core.llms import MockLLM
        from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
        from llama_index.core.retrievers.fusion_retriever import FUSION_MODES

        disable_llm()
        self.nodes = nodes
        self.settings = store.settings
        k = candidate_k(store, nodes)
        self.bm25 = bm25_retriever(store, manifest, k)
        self.dense = dense_retriever(store, embedder, k)
        self._recorded = [_recording(BaseRetriever)(r) for r in (self.bm25, self.dense)]
        self.fusion = QueryFusionRetriever(
            self._recorded, llm=MockLLM(), mode=FUSION_MODES(self.settings.fusion_mode), num_queries=1,
            use_async=False, similarity_top_k=2 * k,
        )

    def retrieve(
        self, question: str, query_vector: np.ndarray, k: int, filters: SearchFilters | None = None,
        own_k: int | None = None,
    ) -> list[Hit]:
        """The fused top `k`, then each retriever's own top `own_k` (default `Settings.own_top_k`) that the
        fusion ranked lower, for the answerer to weigh (their fused score is 0).

        Why: distribution-based fusion adds up both retrievers' normalised scores, so among many look-alike
        passages, ones both retrievers half-like outrank the one only BM25 (or only the dense index) puts first.
        Among 96k distractor chunks that lost "What shortages do cities face…?" (BM25 rank 2, fused beyond 40).
        """
        from llama_index.core.schema import QueryBundle

        bundle = QueryBundle(query_str=question, embedding=query_vector.tolist())
        fused = self.fusion.retrieve(bundle)
        hits: list[Hit] = []
        extend_hits(self.nodes, hits, [(r.node.node_id, float(r.score or 0.0)) for r in fused], k, filters)
        own_k = self.settings.own_top_k if own_k is None else own_k
        for recorded in self._recorded:  # each retriever's own ranking of this query, as the fusion received it
            extend_hits(self.nodes, hits, [(node_id, 0.0) for node_id in recorded.last_ids()], own_k, filters)
        return hits


class SingleRetriever:
    """Only BM25 (`which="bm25"`) or only the dense index (`which="dense"`), no fusion: the ablation baselines.
    `SingleRetriever.factory("bm25")` is a `RetrieverFactory`."""

    def __init__(self, which: Literal["bm25", "dense"], store: IndexStore, manifest: dict[str, Any],
                 nodes: NodeStore, embedder: Embedder) -> None:
        if which not in ("bm25", "dense"):
            raise ValueError(f"which must be 'bm25' or 'dense', not {which!r}")
        disable_llm()
        self.nodes = nodes
        k = candidate_k(store, nodes)
        self.inner = bm25_retriever(store, manifest, k) if which == "bm25" else dense_retriever(store, embedder, k)

    @classmethod
    def factory(cls, which: Literal["bm25", "dense"]) -> RetrieverFactory:
        return functools.partial(cls, which)

    def retrieve(
        self, question: str, query_vector: np.ndarray, k: int, filters: SearchFilters | None = None
    ) -> list[Hit]:
        from llama_index.core.schema import QueryBundle

        results = self.inner.retrieve(QueryBundle(query_str=question, embedding=query_vector.tolist()))
        hits: list[Hit] = []
        extend_hits(self.nodes, hits, [(r.node.node_id, float(r.score or 0.0)) for r in results], k, filters)
        return hits


def extend_hits(nodes: NodeStore, hits: list[Hit], candidates: list[tuple[str, float]], limit: int,
                filters: SearchFilters | None) -> None:
    """Append to `hits` the first `limit` of `candidates` (node id, score) that pass the filters, unless in."""
    seen = {hit.index for hit in hits}
    taken = 0
    for node_id, score in candidates:
        if taken >= limit:
            break
        index = nodes.by_id.get(node_id)
        if index is None:  # a vector a concurrent ingest added but has not committed yet
            continue
        chunk = nodes.chunks[index]
        if filters and not matches(chunk, filters):
            continue
        taken += 1
        if index not in seen:
            seen.add(index)
            hits.append(Hit(chunk, index, score, len(hits)))


@functools.cache
def _recording(base: type) -> type:
    """A llama-index retriever (a `BaseRetriever`, llama-index's extension point for custom retrievers; passed in
    because llama-index is imported lazily) that hands each query to an inner retriever and remembers, per thread,
    the node ids it returned: the fusion's inputs, which `QueryFusionRetriever` does not expose."""

    class Recording(base):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner
            self._local = threading.local()

        def _retrieve(self, query_bundle: Any) -> Any:
            nodes = self.inner.retrieve(query_bundle)
            self._local.ids = [n.node.node_id for n in nodes]
            return nodes

        def last_ids(self) -> list[str]:
            return getattr(self._local, "ids", [])

    return Recording


NODE_CACHE_SIZE = 8192  # nodes kept per retriever (about 3 KB each); a query reads `candidate_k` of them


class _NodeCache:
    """The llama-index nodes a retriever has returned lately, by node id (LRU, thread-safe): a node's record is
    parsed once, not on every query that retrieves it."""

    def __init__(self, size: int = NODE_CACHE_SIZE) -> None:
        self.size = size
        self._nodes: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def nodes(self, ids: list[str], make: Callable[[list[str]], dict[str, Any]]) -> list[Any]:
        """The nodes of `ids`, those not cached made by `make` (from the ids missing, outside the lock: it may read
        Chroma), None for one it could not make (deleted since the query by a concurrent ingest's clean-up)."""
        with self._lock:
            missing = [node_id for node_id in ids if node_id not in self._nodes]
        made = make(missing) if missing else {}
        with self._lock:
            self._nodes.update(made)
            nodes = [self._nodes.get(node_id) for node_id in ids]
            for node_id in ids:
                if node_id in self._nodes:
                    self._nodes.move_to_end(node_id)
            while len(self._nodes) > max(self.size, len(ids)):
                self._nodes.popitem(last=False)
            return nodes


@functools.cache
def _node_caching_bm25() -> Any:
    """llama-index's `BM25Retriever`, turning each retrieved record into a node once (`_NodeCache`); the scores and
    order are bm25s's, as the parent's (`tests/answering/test_retrieve.py` compares the two)."""
    import bm25s
    from llama_index.core.schema import NodeWithScore
    from llama_index.core.vector_stores.utils import metadata_dict_to_node
    from llama_index.retrievers.bm25 import BM25Retriever

    class NodeCachingBM25(BM25Retriever):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._cache = _NodeCache()

        def _retrieve(self, query_bundle: Any) -> list[Any]:
            tokens = bm25s.tokenize(query_bundle.query_str, stemmer=None if self.skip_stemming else self.stemmer,
                                    token_pattern=self.token_pattern, show_progress=False)
            mask = np.array(self.corpus_weight_mask) if self.corpus_weight_mask else None
            found, scores = self.bm25.retrieve(tokens, k=self.similarity_top_k, show_progress=False,
                                               weight_mask=mask)
            records = [item if isinstance(item, dict) else self.corpus[int(item)] for item in found[0]]
            by_id = {record["node_id"]: record for record in records}
            nodes = self._cache.nodes([record["node_id"] for record in records], lambda missing: {
                node_id: metadata_dict_to_node(by_id[node_id]) for node_id in missing})
            return [NodeWithScore(node=node, score=float(score)) for node, score in zip(nodes, scores[0], strict=True)]

    return NodeCachingBM25


@functools.cache
def _id_first_store() -> type:
    """llama-index's `ChromaVectorStore`, asking Chroma for ids and distances only and building each node once.

    Why: every query fetched the `candidate_k` passages' text and metadata from Chroma's SQLite and parsed them into
    nodes again (3.5 ms + 2.4 ms of a 25 ms question); ids and distances alone take 1.1 ms. Nodes are rebuilt from
    Chroma's own record exactly as `ChromaVectorStore` builds them (the fusion de-duplicates by their content hash),
    only for ids not seen before. Filtered or MMR queries take the parent's path unchanged."""
    from llama_index.core.bridge.pydantic import PrivateAttr
    from llama_index.core.vector_stores.types import VectorStoreQueryMode, VectorStoreQueryResult
    from llama_index.core.vector_stores.utils import metadata_dict_to_node
    from llama_index.vector_stores.chroma import ChromaVectorStore

    class IdFirstChromaStore(ChromaVectorStore):
        _cache: _NodeCache = PrivateAttr(default_factory=_NodeCache)

        def query(self, query: Any, **kwargs: Any) -> Any:
            if kwargs or query.filters is not None or not query.query_embedding \
                    or query.mode == VectorStoreQueryMode.MMR:
                return super().query(query, **kwargs)
            found: Any = self._collection.query(
                query_embeddings=query.query_embedding, n_results=query.similarity_top_k, include=["distances"])
            nodes = self._cache.nodes(found["ids"][0], self._records)
            kept = [(node, distance) for node, distance  # a node deleted since the query is left out
                    in zip(nodes, found["distances"][0], strict=True) if node is not None]
            return VectorStoreQueryResult(nodes=[node for node, _ in kept], ids=[node.node_id for node, _ in kept],
                                          similarities=[math.exp(-distance) for _, distance in kept])

        def _records(self, ids: list[str]) -> dict[str, Any]:
            records: Any = self._collection.get(ids=ids, include=["documents", "metadatas"])
            return {node_id: metadata_dict_to_node(metadata, text=text) for node_id, text, metadata
                    in zip(records["ids"], records["documents"], records["metadatas"], strict=True)}

    return IdFirstChromaStore


def _no_transform() -> Any:
    """The query-side index never ingests (cityqa.index.ingest writes Chroma itself). Without an explicit transform,
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
