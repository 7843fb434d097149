"""The baseline: a plain llama-index pipeline as its docs set it up, with cityqa's model (through the adapter).

    build:  SimpleDirectoryReader -> default SentenceSplitter -> VectorStoreIndex on a persistent Chroma collection
    ask:    python benchmarks/baseline.py ask INDEX_DIR "question"   (opens the persisted index, retrieves, prints)

Nothing is downloaded and no LLM is resolved (the same `disable_llm` cityqa uses).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _client(path: Path):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))


def build(corpus_dir: Path, index_dir: Path, embedder: object, chunk_size: int | None = None) -> dict[str, float]:
    """Index `corpus_dir` into `index_dir`; returns nodes and seconds (reading, splitting, embedding, storing).

    `chunk_size` (tokens) replaces the default SentenceSplitter's 1,024: the default's nodes are four times the
    model's 256-token window, so three quarters of each node's text is never embedded; 256 embeds all of it
    (with an overlap of 20 tokens instead of the default 200, which at 256 would embed most text four times).
    """
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from cityqa.answering.retrieve import disable_llm
    from cityqa.index.embeddings import llama_embedding

    disable_llm()
    start = time.perf_counter()
    documents = SimpleDirectoryReader(str(corpus_dir), recursive=True).load_data()
    collection = _client(index_dir).get_or_create_collection("baseline", embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
    splitter = {"transformations": [SentenceSplitter(chunk_size=chunk_size, chunk_overlap=20)]} if chunk_size else {}
    VectorStoreIndex.from_documents(
        documents, storage_context=storage, embed_model=llama_embedding(embedder), **splitter
    )
    return {"nodes": collection.count(), "seconds": time.perf_counter() - start}


def ask(index_dir: Path, question: str) -> str:
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from cityqa.answering.retrieve import disable_llm
    from cityqa.index.embeddings import Embedder, llama_embedding

    disable_llm()
    collection = _client(index_dir).get_or_create_collection("baseline", embedding_function=None)
    index = VectorStoreIndex.from_vector_store(
        ChromaVectorStore(chroma_collection=collection), embed_model=llama_embedding(Embedder())
    )
    results = index.as_retriever(similarity_top_k=5).retrieve(question)
    return results[0].node.get_content() if results else ""


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if len(sys.argv) != 4 or sys.argv[1] != "ask":
        sys.exit("usage: baseline.py ask INDEX_DIR QUESTION")
    print(ask(Path(sys.argv[2]), sys.argv[3])[:300])
