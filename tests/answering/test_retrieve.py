"""Hybrid retrieval: the fused list plus each retriever's own top passages, on the shared index."""

from __future__ import annotations

from llama_index.core.schema import QueryBundle

from cityqa import Assistant

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
