"""The systems `cityqa eval` compares, behind one small protocol, and the parts the baselines are built from.

Every system has a `name` and `ask(question, history) -> Response`: the answer (a cityqa `Answer`, so the same
scoring applies to all) plus the passages it retrieved, best first, as character spans of the sources. Every
system is an `Assistant` (`CityqaSystem` wraps one); the baselines are assistants built with other parts:

* `cityqa`: the assistant as shipped; its ranked passages are the hybrid retriever's hits for the question as the
  assistant understood it (follow-ups resolved), in the answerer's order (`Assistant.passages`).
* `bm25`, `dense` (`ablation`): the same chunks, follow-up resolution and extractive answerer, but only one of the
  two retrievers (`retrieve.SingleRetriever`) instead of their fusion.
* `llama-index` (`llama_index_baseline`): a plain llama-index pipeline as its docs set it up
  (`LlamaIndexRetriever`: `SimpleDirectoryReader` -> default `SentenceSplitter` -> `VectorStoreIndex` on a throwaway
  Chroma collection); the answer is the top chunk (`TopChunkAnswerer`), the citations the top-k chunks; it never
  abstains and ignores the conversation history.
* `bm25-sentence`, `dense-sentence` (`top_sentence_baseline`, SQuAD only): the single best sentence of the whole
  index by BM25 alone or by MiniLM cosine alone (`TopSentenceAnswerer`), no retrieval: what a 20-line extractive
  answerer does. It always answers.

All use the same loaded embedding model; nothing downloads, no LLM is resolved.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from ..answering.answer import citation
from ..answering.retrieve import SingleRetriever, disable_llm
from ..assistant import Assistant, clean_question
from ..index.embeddings import Embedder, llama_embedding
from ..index.nodes import NodeStore
from ..index.store import IndexStore
from ..settings import Settings
from ..types import Answer, Chunk, Citation, Hit, SearchFilters

SYSTEM_NAMES = ("cityqa", "llama-index", "bm25", "dense")


@dataclass(frozen=True)
class Span:
    """A character span of one source file (offsets into the file's text)."""

    source: str
    start: int
    end: int

    def overlaps(self, other: Span) -> bool:
        return self.source == other.source and self.start < other.end and other.start < self.end


@dataclass
class Response:
    """What one system returned for one question, with the time its answering took."""

    answer: Answer
    passages: list[Span] = field(default_factory=list)  # retrieved passages, best first
    seconds: float = 0.0


class System(Protocol):
    name: str

    def ask(self, question: str, history: Sequence[str] | None = None) -> Response: ...


def citation_span(citation: Citation) -> Span:
    return Span(citation.source, citation.start, citation.end)


def hit_span(hit: Hit) -> Span:
    return Span(hit.chunk.source, hit.chunk.start, hit.chunk.end)


class CityqaSystem:
    """An assistant as an evaluated system. Latency covers `Assistant.ask` only, not the extra look-up of the
    ranked passages (`passages=False` skips it: SQuAD's metrics do not need them); `history=False` asks every
    question alone."""

    def __init__(self, assistant: Assistant, k: int | None = None, passages: bool = True, name: str = "cityqa",
                 history: bool = True) -> None:
        self.assistant = assistant
        self.name = name
        self.k = k or max(5, assistant.settings.top_k)
        self.passages = passages
        self.history = history

    def ask(self, question: str, history: Sequence[str] | None = None) -> Response:
        start = time.perf_counter()
        answer = self.assistant.ask(question, history=list(history or []) if self.history else None)
        seconds = time.perf_counter() - start
        return Response(answer, self.ranked(question, answer) if self.passages else [], seconds)

    def ranked(self, question: str, answer: Answer) -> list[Span]:
        """The retriever's hits for the question as resolved, in the order the answerer ranks them."""
        if answer.note:
            return []
        resolved = answer.resolved_question or clean_question(question)
        return [hit_span(hit) for hit in self.assistant.passages(resolved, self.k)]


def ablation(assistant: Assistant, which: Literal["bm25", "dense"]) -> CityqaSystem:
    """cityqa with only its BM25 or only its dense retriever."""
    return CityqaSystem(assistant.with_stages(retriever=SingleRetriever.factory(which)), name=which)


# ------------------------------------------------------------------ the top sentence of the whole index


class TopSentenceAnswerer:
    """The single best sentence of the index by BM25 alone (`which="bm25"`, bm25s over every sentence) or by
    MiniLM cosine alone (`which="dense"`, the index's own sentence vectors); it ignores the retrieved passages
    and always answers. `functools.partial(TopSentenceAnswerer, which)` is an `AnswererFactory`."""

    def __init__(self, which: Literal["bm25", "dense"], nodes: NodeStore, settings: Settings, embedder: Embedder
                 ) -> None:
        if which not in ("bm25", "dense"):
            raise ValueError(f"which must be 'bm25' or 'dense', not {which!r}")
        self.rows = [(chunk, sentence) for chunk in nodes.chunks for sentence in chunk.sentences]
        self.vectors = np.asarray(nodes.sentence_vectors[:, 0], dtype=np.float32)
        self.bm25 = _sentence_bm25([c.sentence_text(s) for c, s in self.rows]) if which == "bm25" else None

    def answer(self, question: str, resolved: str, query_vector: np.ndarray, hits: list[Hit]) -> Answer:
        if self.bm25 is not None:
            tokens = [t for t in _bm25_tokens([question])[0] if t in self.bm25.vocab_dict]
            scores = self.bm25.get_scores(tokens) if tokens else np.zeros(len(self.rows))
        else:
            scores = self.vectors @ query_vector.astype(np.float32)
        best = int(np.argmax(scores))
        chunk, sentence = self.rows[best]
        cite = citation(1, chunk, sentence, float(scores[best]))
        return Answer(question=question, answer=f"{cite.quote} [1]", abstained=False, confidence=0.0,
                      citations=[cite])

    def order(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Hit]:
        return hits


class NoRetriever:
    """Retrieves nothing (for answerers that read the whole index themselves)."""

    def __init__(self, store: IndexStore, manifest: dict[str, Any], nodes: NodeStore, embedder: Embedder) -> None:
        pass

    def retrieve(self, question: str, query_vector: np.ndarray, k: int, filters: SearchFilters | None = None
                 ) -> list[Hit]:
        return []


def top_sentence_baseline(assistant: Assistant, which: Literal["bm25", "dense"]) -> CityqaSystem:
    answerer = functools.partial(TopSentenceAnswerer, which)
    return CityqaSystem(assistant.with_stages(retriever=NoRetriever, answerer=answerer), name=f"{which}-sentence",
                        passages=False, history=False)


def _bm25_tokens(texts: list[str]) -> Any:
    """Tokens as llama-index's BM25Retriever makes them: English stop words out, Snowball stems."""
    import bm25s
    import Stemmer

    return bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"), return_ids=False,
                          show_progress=False)


def _sentence_bm25(texts: list[str]) -> Any:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(_bm25_tokens(texts), show_progress=False)
    return retriever


# ------------------------------------------------------------------ plain llama-index


class LlamaIndexRetriever:
    """Out-of-the-box llama-index retrieval over the corpus folder, in its own throwaway Chroma collection: its
    chunks (llama-index's default `SentenceSplitter`) come back as `Hit`s whose `Chunk` is the node's text and
    span. It embeds the question itself, as llama-index does; the assistant's query vector is not used."""

    def __init__(self, corpus_dir: Path | str, embedder: Embedder, k: int = 5) -> None:
        self.corpus_dir = Path(corpus_dir).resolve()
        self.k = k
        self._tmp = tempfile.TemporaryDirectory(prefix="cityqa-eval-llama-")
        self._texts: dict[str, str] = {}
        self.llama = self._build(embedder)

    def factory(self, store: IndexStore, manifest: dict[str, Any], nodes: NodeStore, embedder: Embedder
                ) -> LlamaIndexRetriever:
        """A `RetrieverFactory` for an assistant: this pipeline, whatever the generation (it has its own index)."""
        return self

    def _build(self, embedder: Embedder) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        disable_llm()
        documents = SimpleDirectoryReader(str(self.corpus_dir)).load_data()
        client = chromadb.PersistentClient(path=self._tmp.name, settings=ChromaSettings(anonymized_telemetry=False))
        collection = client.get_or_create_collection("baseline", embedding_function=None)
        storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(chroma_collection=collection))
        embed_model = llama_embedding(embedder)
        index = VectorStoreIndex.from_documents(documents, storage_context=storage, embed_model=embed_model)
        return index.as_retriever(similarity_top_k=self.k)

    def retrieve(self, question: str, query_vector: np.ndarray, k: int, filters: SearchFilters | None = None
                 ) -> list[Hit]:
        results = self.llama.retrieve(question) if question.strip() else []
        return [Hit(self._chunk(result), n, float(result.score or 0.0), n) for n, result in enumerate(results[:k])]

    def _chunk(self, result: Any) -> Chunk:
        node = result.node
        source = self._source(node.metadata)
        start, end = self._span(source, node)
        return Chunk(id=node.node_id, source=source, section=(), start=start, end=end, text=node.get_content(),
                     sentences=())

    def _source(self, metadata: dict[str, Any]) -> str:
        path = Path(str(metadata.get("file_path") or metadata.get("file_name") or ""))
        try:
            return path.resolve().relative_to(self.corpus_dir).as_posix()
        except ValueError:
            return path.name

    def _span(self, source: str, node: Any) -> tuple[int, int]:
        """The node's character span in its file: llama-index's own offsets if they check out, else a search."""
        if source not in self._texts:
            path = self.corpus_dir / source
            self._texts[source] = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        text, content = self._texts[source], node.get_content()
        start, end = node.start_char_idx, node.end_char_idx
        if start is not None and end is not None and text[start:end] == content:
            return int(start), int(end)
        found = text.find(content)
        return (found, found + len(content)) if found >= 0 else (-1, -1)

    def close(self) -> None:
        self._tmp.cleanup()


class TopChunkAnswerer:
    """The top retrieved chunk is the answer and every retrieved chunk a citation; never abstains (an
    `AnswererFactory` as a class)."""

    def __init__(self, nodes: NodeStore, settings: Settings, embedder: Embedder) -> None:
        pass

    def answer(self, question: str, resolved: str, query_vector: np.ndarray, hits: list[Hit]) -> Answer:
        citations = [_chunk_citation(n, hit) for n, hit in enumerate(hits, 1)]
        text = citations[0].quote if citations else ""
        return Answer(question=question, answer=text, abstained=False, confidence=0.0, citations=citations)

    def order(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Hit]:
        return hits


def _chunk_citation(n: int, hit: Hit) -> Citation:
    chunk = hit.chunk
    return Citation(n=n, source=chunk.source, section="", quote=chunk.text, start=chunk.start, end=chunk.end,
                    score=round(hit.score, 4), chunk_id=chunk.id, chunk_start=chunk.start, chunk_end=chunk.end)


def llama_index_baseline(assistant: Assistant, corpus_dir: Path | str) -> CityqaSystem:
    """The plain pipeline, built now (as a user of llama-index would build it before asking anything)."""
    llama = LlamaIndexRetriever(corpus_dir, assistant.embedder)
    built = assistant.with_stages(retriever=llama.factory, answerer=TopChunkAnswerer)
    return CityqaSystem(built, name="llama-index", history=False)


def build_systems(assistant: Assistant, names: Sequence[str], corpus_dir: Path | str) -> list[System]:
    """The named systems, in the order given."""
    systems: list[System] = []
    for name in names:
        if name == "cityqa":
            systems.append(CityqaSystem(assistant))
        elif name in ("bm25", "dense"):
            systems.append(ablation(assistant, "bm25" if name == "bm25" else "dense"))
        elif name == "llama-index":
            systems.append(llama_index_baseline(assistant, corpus_dir))
        else:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEM_NAMES)}")
    return systems
