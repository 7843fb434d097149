"""The systems `cityqa eval` compares, behind one small protocol.

Every system has a `name` and `ask(question, history) -> Response`: the answer (a cityqa `Answer`, so the same
scoring applies to all) plus the passages it retrieved, best first, as character spans of the sources.

* `CityqaSystem`: the real assistant (`Assistant.ask`); its ranked passages are the hybrid retriever's hits for
  the question as the assistant understood it (follow-ups resolved), in the answerer's order
  (`Assistant.passages`).
* `SingleRetrieverSystem`: cityqa's own chunks, follow-up resolution and extractive answerer, but only one of
  its two retrievers (`"bm25"` or `"dense"`) instead of their fusion.
* `LlamaIndexBaseline`: a plain llama-index pipeline as its docs set it up: `SimpleDirectoryReader` -> default
  `SentenceSplitter` -> `VectorStoreIndex` on a throwaway Chroma collection; the answer is the top chunk,
  the citations are the top-k chunks; it never abstains and ignores the conversation history.

All use the same embedding model through `cityqa.embeddings.Embedder`; nothing downloads, no LLM is resolved.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .assistant import Assistant, clean_question
from .embeddings import Embedder, llama_embedding
from .followup import resolve
from .retrieve import disable_llm
from .types import Answer, Citation, Hit

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


def _refusal(assistant: Assistant, question: str) -> Answer | None:
    """The assistant's own answer for an empty or oversized question, else None."""
    problem = assistant.question_problem(clean_question(question))
    if problem is None:
        return None
    return Answer(question=question, answer=problem, abstained=True, confidence=0.0, note=problem)


class CityqaSystem:
    """The assistant itself. Latency covers `Assistant.ask` only, not the extra look-up of the ranked hits."""

    name = "cityqa"

    def __init__(self, assistant: Assistant, k: int | None = None, passages: bool = True) -> None:
        self.assistant = assistant
        self.k = k or max(5, assistant.settings.top_k)
        self.passages = passages  # look up the ranked passages too (the gold metrics need them; SQuAD's do not)

    def ask(self, question: str, history: Sequence[str] | None = None) -> Response:
        start = time.perf_counter()
        answer = self.assistant.ask(question, history=list(history or []))
        seconds = time.perf_counter() - start
        return Response(answer, self.ranked(question, answer) if self.passages else [], seconds)

    def ranked(self, question: str, answer: Answer) -> list[Span]:
        """The hybrid retriever's hits for the question as resolved, in the order the answerer ranks them."""
        if answer.note:
            return []
        resolved = answer.resolved_question or clean_question(question)
        return [hit_span(hit) for hit in self.assistant.passages(resolved, self.k)]


class SingleRetrieverSystem:
    """cityqa with only its BM25 (`which="bm25"`) or only its dense (`which="dense"`) retriever."""

    def __init__(self, assistant: Assistant, which: str, k: int | None = None) -> None:
        if which not in ("bm25", "dense"):
            raise ValueError(f"which must be 'bm25' or 'dense', not {which!r}")
        self.assistant = assistant
        self.which = which
        self.name = which
        self.k = k or max(5, assistant.settings.top_k)

    def ask(self, question: str, history: Sequence[str] | None = None) -> Response:
        start = time.perf_counter()
        refusal = _refusal(self.assistant, question)
        if refusal is not None:
            return Response(refusal, [], time.perf_counter() - start)
        engine = self.assistant.engine
        cleaned = clean_question(question)
        resolved = resolve(cleaned, list(history or []), engine.people)
        vector = self.assistant.embedder.encode_one(resolved)
        hits = self.hits(resolved, vector.tolist())
        sentences = engine.extractor.rank_sentences(resolved, vector, hits)  # once: for the answer and the order
        answer = engine.extractor.answer(cleaned, resolved, vector, hits, ranked=sentences)
        answer.question = question
        seconds = time.perf_counter() - start
        ranked = engine.extractor.rerank(hits, sentences)
        return Response(answer, [hit_span(hit) for hit in ranked], seconds)

    def hits(self, query: str, vector: list[float]) -> list[Hit]:
        from llama_index.core.schema import QueryBundle

        engine = self.assistant.engine
        retriever = getattr(engine.retriever, self.which)
        hits: list[Hit] = []
        for result in retriever.retrieve(QueryBundle(query_str=query, embedding=vector)):
            index = engine.nodes.by_id.get(result.node.node_id)
            if index is not None:
                hits.append(Hit(engine.nodes.chunks[index], index, float(result.score or 0.0), len(hits)))
            if len(hits) >= self.k:
                break
        return hits


class TopSentenceSystem:
    """The single best sentence of the whole index, by BM25 alone (`which="bm25"`, bm25s over every sentence) or
    by MiniLM cosine alone (`which="dense"`, the index's own sentence vectors): what a 20-line extractive
    answerer does. It always answers."""

    def __init__(self, assistant: Assistant, which: str) -> None:
        if which not in ("bm25", "dense"):
            raise ValueError(f"which must be 'bm25' or 'dense', not {which!r}")
        self.assistant = assistant
        self.which = which
        self.name = f"{which}-sentence"
        nodes = assistant.engine.nodes
        self.rows = [(chunk, sentence) for chunk in nodes.chunks for sentence in chunk.sentences]
        self.vectors = np.asarray(nodes.sentence_vectors[:, 0], dtype=np.float32)
        self.bm25 = _sentence_bm25([c.sentence_text(s) for c, s in self.rows]) if which == "bm25" else None

    def ask(self, question: str, history: Sequence[str] | None = None) -> Response:
        from .answer import citation

        start = time.perf_counter()
        if self.bm25 is not None:
            tokens = [t for t in _bm25_tokens([question])[0] if t in self.bm25.vocab_dict]
            scores = self.bm25.get_scores(tokens) if tokens else np.zeros(len(self.rows))
        else:
            scores = self.vectors @ self.assistant.embedder.encode_one(question).astype(np.float32)
        best = int(np.argmax(scores))
        chunk, sentence = self.rows[best]
        cite = citation(1, chunk, sentence, float(scores[best]))
        answer = Answer(question=question, answer=f"{cite.quote} [1]", abstained=False, confidence=0.0,
                        citations=[cite])
        return Response(answer, [citation_span(cite)], time.perf_counter() - start)


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


class LlamaIndexBaseline:
    """Out-of-the-box llama-index retrieval over the corpus folder; the top chunk is the answer."""

    name = "llama-index"

    def __init__(self, corpus_dir: Path | str, embedder: Embedder, k: int = 5) -> None:
        self.corpus_dir = Path(corpus_dir).resolve()
        self.k = k
        self._tmp = tempfile.TemporaryDirectory(prefix="cityqa-eval-llama-")
        self._texts: dict[str, str] = {}
        self.retriever = self._build(embedder)

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

    def ask(self, question: str, history: Sequence[str] | None = None) -> Response:
        start = time.perf_counter()
        results = self.retriever.retrieve(question) if question.strip() else []
        seconds = time.perf_counter() - start
        citations = [self._citation(n, result) for n, result in enumerate(results, 1)]
        text = citations[0].quote if citations else ""
        answer = Answer(question=question, answer=text, abstained=False, confidence=0.0, citations=citations)
        return Response(answer, [citation_span(c) for c in citations], seconds)

    def _citation(self, n: int, result: Any) -> Citation:
        node = result.node
        source = self._source(node.metadata)
        start, end = self._span(source, node)
        return Citation(
            n=n, source=source, section="", quote=node.get_content(), start=start, end=end,
            score=round(float(result.score or 0.0), 4), chunk_id=node.node_id, chunk_start=start, chunk_end=end,
        )

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


def build_systems(assistant: Assistant, names: Sequence[str], corpus_dir: Path | str) -> list[System]:
    """The named systems, in the order given."""
    systems: list[System] = []
    for name in names:
        if name == "cityqa":
            systems.append(CityqaSystem(assistant))
        elif name in ("bm25", "dense"):
            systems.append(SingleRetrieverSystem(assistant, name))
        elif name == "llama-index":
            systems.append(LlamaIndexBaseline(corpus_dir, assistant.embedder))
        else:
            raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEM_NAMES)}")
    return systems
