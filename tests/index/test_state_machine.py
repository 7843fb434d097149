"""Property: any sequence of adding, changing and deleting files, with incremental ingests in between, leaves the
index equal to a fresh full build of the same corpus: same chunk ids, same chunk texts, same Chroma ids, the
same manifest entries, and the same derived indexes (carried over incrementally): document frequencies equal to
counting them afresh, and the same BM25 hits with the same scores. A Hypothesis rule-based state machine, in the
manner of Chroma's own test_embeddings.py, with the real model and a real Chroma store (the model is loaded once
and reused)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from cityqa import Settings
from cityqa.documents.text import document_frequencies
from cityqa.index.embeddings import Embedder
from cityqa.index.ingest import ingest
from cityqa.index.store import IndexStore

EMBEDDER = Embedder()
WORDS = ["Riverbend", "Port Alder", "sister city", "trade office", "delegation", "1987", "2003", "Okiyama",
         "memorandum", "the council", "a festival", "students", "the mayor", "exports", "a museum"]
SENTENCE = st.lists(st.sampled_from(WORDS), min_size=3, max_size=9).map(lambda w: " ".join(w).capitalize() + ".")
PARAGRAPH = st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join)
TEXT = st.lists(PARAGRAPH, min_size=1, max_size=4).map(lambda ps: "\n\n".join(ps) + "\n")
# a file that never changes, with enough chunks that incremental ingests carry most of the index over (a change
# touching at least half the chunks recounts the document frequencies from scratch)
ANCHOR = "\n\n".join(f"Riverbend signed agreement {i} with Port Alder in {1980 + i}. The council approved it."
                     for i in range(8)) + "\n"
NAMES = st.sampled_from(["a.txt", "b.md", "c.txt", "notes/d.md", "notes/e.txt", "f.markdown"])


def bm25_hits(store: IndexStore, manifest: dict[str, object], n_chunks: int) -> list[list[tuple[str, float]]]:
    from llama_index.core.schema import QueryBundle
    from llama_index.retrievers.bm25 import BM25Retriever

    retriever = BM25Retriever.from_persist_dir(str(store.bm25_dir(manifest)))
    retriever.similarity_top_k = n_chunks
    queries = ["Riverbend sister city", "trade office 1987 the mayor", "Okiyama delegation students exports"]
    return [[(r.node.node_id, r.score) for r in retriever.retrieve(QueryBundle(q))] for q in queries]


def snapshot(settings_: Settings) -> dict[str, object]:
    store = IndexStore(settings_.index_dir, settings_)
    manifest = store.require_manifest()
    nodes = store.load_nodes(manifest)
    return {
        "chunks": sorted((c.id, c.source, c.text) for c in nodes.chunks),
        "chroma": sorted(store.collection().get(include=[])["ids"]),
        "files": {s: (e["sha256"], e["chunks"]) for s, e in manifest["files"].items()},
        "sentence_rows": len(nodes.sentence_vectors),
        "doc_freq": nodes.doc_freq,
        "doc_freq_as_counted": nodes.doc_freq == document_frequencies(nodes.chunks),
        "bm25": bm25_hits(store, manifest, len(nodes.chunks)),
    }


class IndexMachine(RuleBasedStateMachine):
    files = Bundle("files")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="cityqa-sm-"))
        self.corpus = self.tmp / "corpus"
        self.corpus.mkdir()
        (self.corpus / "anchor.txt").write_text(ANCHOR)
        self.incremental = Settings(corpus_dir=self.corpus, index_dir=self.tmp / "incremental")
        self.fresh = Settings(corpus_dir=self.corpus, index_dir=self.tmp / "fresh")
        self.ingests = 0

    @rule(target=files, name=NAMES, text=TEXT)
    def add_or_replace(self, name: str, text: str) -> str:
        path = self.corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return name

    @rule(name=files, text=TEXT)
    def change(self, name: str, text: str) -> None:
        path = self.corpus / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    @rule(name=consumes(files))
    def delete(self, name: str) -> None:
        (self.corpus / name).unlink(missing_ok=True)

    @rule()
    def ingest_incrementally(self) -> None:
        ingest(self.incremental, embedder=EMBEDDER)
        self.ingests += 1
        ingest(self.fresh, rebuild=True, embedder=EMBEDDER)  # a fresh full build of the same corpus
        incremental = snapshot(self.incremental)
        assert incremental == snapshot(self.fresh)
        assert incremental["doc_freq_as_counted"]

    @invariant()
    def one_generation_at_rest(self) -> None:
        if self.ingests:
            assert len(list(self.incremental.index_dir.glob("gen-*"))) == 1

    def teardown(self) -> None:
        try:
            ingest(self.incremental, embedder=EMBEDDER)
            ingest(self.fresh, rebuild=True, embedder=EMBEDDER)
            assert snapshot(self.incremental) == snapshot(self.fresh)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class SoakMachine(IndexMachine):
    """The same machine, run longer in `make soak` (CI)."""


def _run(machine: type[IndexMachine], examples: int, steps: int) -> Any:
    case = machine.TestCase
    case.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, suppress_health_check=list(HealthCheck),
    )
    return case


# one random run of 4 steps inside make test's 6 minutes (11 s alone; two runs took 48 s beside the other worker);
# make soak (CI) runs 10 of 8 steps
TestIndexEqualsFreshBuild = pytest.mark.slow(_run(IndexMachine, examples=1, steps=4))
TestIndexEqualsFreshBuildSoak = pytest.mark.soak(_run(SoakMachine, examples=10, steps=8))
