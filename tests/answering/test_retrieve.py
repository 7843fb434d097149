"""Hybrid retrieval: the fused list plus each retriever's own top passages, on the shared index."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.schema import QueryBundle

from cityqa import Assistant
from cityqa.answering.retrieve import _NodeCache
from cityqa.index.embeddings import llama_embedding

QUESTION = "What shortages do cities face in doing international relations work?"


def _own_tops(assistant: Assistant, question: str, n: int) -> list[list[int]]:
    engine = assistant.engine
    bundle = QueryBundle(query_str=question, embedding=assistant.embedder.encode_one(question).tolist())
    retrievers = (engine.retriever.bm25, engine.retriever.dense)
    return [[engine.nodes.by_id[r.node.node_id] for r in retriever.retrieve(bundle)[:n]] for retriever in retrievers]


def test_each_retrievers_own_top_joins_the_fused_top(assistant: Assistant) -> None:
    engine = assistant.engine
    vector = assistant.embedder.encode_one(QUESTION)
    fused_only = engine.retriever.retrieve(QUESTION, vector, 1, own_k=0)
    pooled = engine.retriever.retrieve(QUESTION, vector, 1, own_k=3)
    assert len(fused_only) == 1 and pooled[0].index == fused_only[0].index
    bm25_top, dense_top = _own_tops(assistant, QUESTION, 3)
    assert set(bm25_top) | set(dense_top) <= {hit.index for hit in pooled}
    assert 1 < len(pooled) <= 1 + 6
    assert len({hit.index for hit in pooled}) == len(pooled)  # no passage twice
    assert [hit.rank for hit in pooled] == list(range(len(pooled)))
    assert all(hit.score == 0.0 for hit in pooled[1:] if hit.index not in {h.index for h in fused_only})


def test_passages_are_cut_to_k_after_the_answerer_reorders_the_pool(assistant: Assistant) -> None:
    assert len(assistant.passages(QUESTION, k=2)) == 2
    pool = assistant.engine.retriever.retrieve(QUESTION, assistant.embedder.encode_one(QUESTION), 2)
    assert len(pool) > 2  # the answerer saw more than it lists


QUESTIONS = (QUESTION, "Which city hosted a trade mission in 2019?", "office of international affairs budget",
             "sister city agreements signed by mayors")


def _same_results(ours: Any, theirs: Any, bundle: QueryBundle) -> None:
    mine, plain = ours.retrieve(bundle), theirs.retrieve(bundle)
    assert [r.node.node_id for r in mine] == [r.node.node_id for r in plain]
    assert [r.score for r in mine] == pytest.approx([r.score for r in plain], abs=1e-9)
    assert [r.node.hash for r in mine] == [r.node.hash for r in plain]  # the fusion de-duplicates by this hash


def test_node_caching_retrievers_return_what_llama_indexs_own_return(assistant: Assistant) -> None:
    """The caching BM25 retriever and the ids-first Chroma store give llama-index's own results, node for node,
    on a first query and on repeated ones (from the cache)."""
    from llama_index.core import VectorStoreIndex
    from llama_index.retrievers.bm25 import BM25Retriever
    from llama_index.vector_stores.chroma import ChromaVectorStore

    engine = assistant.engine
    store, k = assistant.store, engine.retriever.bm25.similarity_top_k
    plain_bm25 = BM25Retriever.from_persist_dir(str(store.bm25_dir(store.require_manifest())))
    plain_bm25.similarity_top_k = k
    plain_dense = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=store.collection()), embed_model=llama_embedding(assistant.embedder),
        transformations=[],
    ).as_retriever(similarity_top_k=k)
    for _ in range(2):
        for question in QUESTIONS:
            bundle = QueryBundle(query_str=question, embedding=assistant.embedder.encode_one(question).tolist())
            _same_results(engine.retriever.bm25, plain_bm25, bundle)
            _same_results(engine.retriever.dense, plain_dense, bundle)


def test_the_node_cache_keeps_the_latest_nodes_and_skips_vanished_ones() -> None:
    cache = _NodeCache(size=2)
    asked: list[list[str]] = []

    def make(missing: list[str]) -> dict[str, int]:
        asked.append(missing)
        return {k: v for k, v in {"a": 1, "b": 2, "c": 3}.items() if k in missing}

    assert cache.nodes(["a", "b"], make) == [1, 2] and asked == [["a", "b"]]
    assert cache.nodes(["c", "gone"], make) == [3, None]  # "gone": deleted between query and fetch
    cache.nodes(["a", "b", "c"], make)
    assert asked[-1] == ["a"]  # least recently used dropped
