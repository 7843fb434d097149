"""Incremental ingest into a real Chroma store: what is embedded, removed, skipped, and refused."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import cityqa.index.bm25 as bm25_module
import cityqa.index.ingest as ingest_module
from cityqa import (
    Assistant,
    CorpusError,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    Settings,
)
from cityqa.documents.text import document_frequencies
from cityqa.index.embeddings import Embedder
from cityqa.index.ingest import ingest
from cityqa.index.nodes import NodeStore
from cityqa.index.store import FORMAT_VERSION, IndexStore
from cityqa.index.vectors import to_text_node
from cityqa.types import Chunk, Sentence
from conftest import FIXTURE_CORPUS

NOTES = next(FIXTURE_CORPUS.glob("*.md"))


class CountingEmbedder(Embedder):
    """The real bundled model, counting the texts it runs through the encoder (cache misses only)."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return super()._encode_uncached(texts)

    def _token_states(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        self.texts += len(texts)
        return super()._token_states(texts)


@pytest.fixture
def small(tmp_path: Path) -> tuple[Settings, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(NOTES, corpus / NOTES.name)
    (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2001.\n\nIt closed in 2009.\n")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), corpus


def _chroma_ids(settings: Settings) -> set[str]:
    return set(IndexStore(settings.index_dir, settings).collection().get(include=[])["ids"])


def _node_ids(settings: Settings) -> set[str]:
    store = IndexStore(settings.index_dir, settings)
    return set(store.load_nodes(store.require_manifest()).by_id)


def test_incremental_ingest_embeds_only_what_changed(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    embedder = CountingEmbedder()
    first = ingest(settings, embedder=embedder)
    assert sorted(first.added) == ["interview-notes-riverbend-fictional.md", "memo.txt"]
    assert first.chunks_written > 0 and embedder.texts > 0
    assert _chroma_ids(settings) == _node_ids(settings)

    embedder.texts = 0
    again = ingest(settings, embedder=embedder)
    assert again.nothing_to_do and again.chunks_written == 0 and embedder.texts == 0
    assert sorted(again.unchanged) == ["interview-notes-riverbend-fictional.md", "memo.txt"]

    (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2003.\n")
    changed = ingest(settings, embedder=embedder)
    assert changed.changed == ["memo.txt"] and changed.chunks_written == 1
    assert embedder.texts == 1  # one pass over the one new chunk gives its sentence's vectors too; nothing else
    assert _chroma_ids(settings) == _node_ids(settings)

    (corpus / "memo.txt").unlink()
    removed = ingest(settings, embedder=embedder)
    assert removed.removed == ["memo.txt"] and removed.chunks_removed == 1
    ids = _chroma_ids(settings)
    assert ids == _node_ids(settings)
    store = IndexStore(settings.index_dir, settings)
    assert all(c.source != "memo.txt" for c in store.load_nodes(store.require_manifest()).chunks)
    assert len(list(settings.index_dir.glob("gen-*"))) == 1  # old generations are pruned


def test_unreadable_files_are_skipped_with_reasons_and_the_rest_indexed(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.md").write_bytes(b"\x00\xff\x00 binary")
    report = ingest(settings)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons == {"empty.txt": "file is empty", "blob.md": reasons["blob.md"]}
    assert "binary" in reasons["blob.md"]
    assert sorted(report.added) == ["interview-notes-riverbend-fictional.md", "memo.txt"]
    assert "skipped empty.txt: file is empty" in report.summary()


def test_a_corpus_with_nothing_readable_is_refused_and_the_index_kept(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    for path in corpus.iterdir():
        path.unlink()
    (corpus / "blob.pdf").write_bytes(b"not a pdf")
    with pytest.raises(CorpusError, match="Nothing to index") as refused:
        ingest(settings)
    assert "skipped blob.pdf" in str(refused.value) and refused.value.exit_code == 7
    assert not (settings.index_dir / "manifest.json").exists()
    (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2001.\n")
    ingest(settings)
    (corpus / "memo.txt").unlink()
    with pytest.raises(CorpusError, match="left as it was"):
        ingest(settings)
    assert "2001" in Assistant.open(settings=settings).ask("When did Port Alder open a trade office?").answer


def test_a_file_that_breaks_keeps_its_previous_version(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    ingest(settings)
    (corpus / "memo.txt").write_bytes(b"\x00\x00 corrupted")
    report = ingest(settings)
    assert report.skipped[0].source == "memo.txt"
    assert "previously indexed version is kept" in report.skipped[0].reason
    assert "2001" in Assistant.open(settings=settings).ask("When did Port Alder open a trade office?").answer


def test_settings_mismatch_is_refused_until_rebuild(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    ingest(settings)
    other = settings.model_copy(update={"chunk_max_words": 60})
    with pytest.raises(IndexMismatchError, match=r"cityqa ingest --rebuild"):
        Assistant.open(settings=other).ask("When did Port Alder open a trade office?")
    with pytest.raises(IndexMismatchError, match="chunk_max_words"):
        ingest(other)
    rebuilt = ingest(other, rebuild=True)
    assert rebuilt.chunks_written > 0
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["fingerprint"] == other.fingerprint() and manifest["shape"]["chunk_max_words"] == 60
    names = [c.name for c in IndexStore(settings.index_dir, other).client().list_collections()]
    assert names == [f"cityqa-{other.fingerprint()}"]  # the old collection is dropped after the switch


@pytest.mark.slow
def test_chunk_settings_shape_the_chunks(small: tuple[Settings, Path], tmp_path: Path) -> None:
    """`chunk_max_words` and `chunk_overlap_sentences` reach the chunker: not only the fingerprint changes."""
    corpus = tmp_path / "long-corpus"
    corpus.mkdir()
    sentences = [f"Harbour office number {n} opened a trade desk for the valley growers in spring." for n in range(12)]
    (corpus / "long.txt").write_text(" ".join(sentences) + "\n", encoding="utf-8")  # one paragraph of 168 words

    def chunks(name: str, **update: Any) -> list[Chunk]:
        settings = small[0].model_copy(update={"corpus_dir": corpus, "index_dir": tmp_path / name, **update})
        ingest(settings)
        store = IndexStore(settings.index_dir, settings)
        return store.load_nodes(store.require_manifest()).chunks

    assert [len(c.sentences) for c in chunks("default")] == [12]  # 168 words fit the default 180
    assert [len(c.sentences) for c in chunks("short", chunk_max_words=60, chunk_overlap_sentences=0)] == [4, 4, 4]
    overlapping = chunks("overlap", chunk_max_words=60, chunk_overlap_sentences=1)
    assert len(overlapping) > 3 and all(a.sentences[-1] == b.sentences[0] for a, b in itertools.pairwise(overlapping))


def test_a_rebuild_with_other_settings_leaves_no_old_vector_files(small: tuple[Settings, Path]) -> None:
    """chromadb's delete_collection leaves the HNSW folder behind (chroma-core/chroma#5520); the rebuild removes it."""
    settings, _ = small
    ingest(settings)
    chroma = settings.index_dir / "chroma"
    before = {p.name for p in chroma.iterdir() if p.is_dir()}
    assert before  # the first build's vector segment folder
    other = settings.model_copy(update={"chunk_max_words": 60})
    ingest(other, rebuild=True)
    after = {p.name for p in chroma.iterdir() if p.is_dir()}
    assert not before & after and len(after) == 1
    assert "Port Alder" in Assistant.open(settings=other).ask("When did Port Alder open a trade office?").answer


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="run `cityqa ingest"):
        Assistant.open(index_dir=tmp_path / "nothing").ask("Anything?")


def test_second_writer_is_refused_while_the_lock_is_held(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    with IndexStore(settings.index_dir, settings).write_lock(), pytest.raises(IndexLockedError, match="Wait for it"):
        ingest(settings)


def test_orphan_vectors_from_a_crashed_run_are_removed(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    ingest(settings)
    collection = IndexStore(settings.index_dir, settings).collection()
    collection.add(ids=["orphan"], embeddings=[[0.1] * 384], documents=["left by a crash"])
    (settings.corpus_dir / "memo.txt").write_text("A new memo.\n")
    ingest(settings)
    assert "orphan" not in _chroma_ids(settings)
    assert _chroma_ids(settings) == _node_ids(settings)


def test_leftover_generations_of_a_killed_run_are_pruned_even_when_nothing_changed(
    small: tuple[Settings, Path],
) -> None:
    settings, _ = small
    ingest(settings)
    (settings.index_dir / "gen-000099.tmp").mkdir()  # what a run killed while writing its node store leaves
    (settings.index_dir / "gen-000100").mkdir()  # … or killed after writing it, before the manifest switched
    report = ingest(settings)
    assert report.nothing_to_do
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert [p.name for p in settings.index_dir.glob("gen-*")] == [manifest["generation_dir"]]


# ------------------------------------------------------------------ derived indexes: doc frequencies and BM25

QUERIES = ["sister city Okiyama", "When did Port Alder open a trade office?", "mayor budget 2003 ferry",
           "interview notes Riverbend", "zzzz unknownword"]


def _bm25_results(retriever: Any, n_chunks: int) -> list[list[tuple[str, float]]]:
    from llama_index.core.schema import QueryBundle

    retriever.similarity_top_k = min(20, n_chunks)
    return [[(r.node.node_id, r.score) for r in retriever.retrieve(QueryBundle(q))] for q in QUERIES]


def _assert_derived_indexes_exact(settings: Settings, tmp_path: Path) -> None:
    """doc_freq.json and the BM25 index equal what a from-scratch computation over the generation's chunks gives:
    the same frequencies, the same BM25 hits and scores, byte-identical node list and chunks.jsonl."""
    from llama_index.retrievers.bm25 import BM25Retriever

    store = IndexStore(settings.index_dir, settings)
    manifest = store.require_manifest()
    nodes = store.load_nodes(manifest)
    assert manifest["format"] == FORMAT_VERSION
    assert nodes.doc_freq == document_frequencies(nodes.chunks)
    reference = BM25Retriever.from_defaults(
        nodes=[to_text_node(c) for c in nodes.chunks], similarity_top_k=min(10, len(nodes.chunks)), language="english"
    )
    scratch = tmp_path / f"reference-{manifest['generation']}"
    reference.persist(str(scratch))
    loaded = BM25Retriever.from_persist_dir(str(store.bm25_dir(manifest)))
    assert _bm25_results(loaded, len(nodes.chunks)) == _bm25_results(reference, len(nodes.chunks))
    bm25_dir = store.bm25_dir(manifest)
    for name in ("corpus.jsonl", "corpus.mmindex.json", "retriever.json"):
        assert (bm25_dir / name).read_bytes() == (scratch / name).read_bytes(), name
    chunk_lines = (bm25_dir.parent / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert chunk_lines == [json.dumps(c.to_dict(), ensure_ascii=False) for c in nodes.chunks]


def test_doc_freq_and_bm25_are_carried_over_exactly_and_only_new_chunks_are_tokenized(
    small: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, corpus = small
    first = ingest(settings)
    assert first.write is not None and first.write.tokenized == first.write.chunks == first.chunks_written
    _assert_derived_indexes_exact(settings, tmp_path)

    steps = [
        lambda: (corpus / "extra.txt").write_text("Riverbend signed a sister city memorandum with Okiyama.\n"),
        lambda: (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2003.\n\nThe mayor came.\n"),
        lambda: (corpus / "extra.txt").unlink(),
    ]
    for step in steps:
        before = IndexStore(settings.index_dir, settings)
        old_count = len(before.load_nodes(before.require_manifest()).chunks)
        step()
        report = ingest(settings)
        stats = report.write
        assert stats is not None
        assert stats.tokenized == report.chunks_written  # the carried chunks' tokens were reused
        dropped = old_count - (stats.chunks - report.chunks_written)
        assert stats.counted == report.chunks_written + dropped < stats.chunks
        _assert_derived_indexes_exact(settings, tmp_path)


def test_rebuild_derives_everything_from_scratch(small: tuple[Settings, Path], tmp_path: Path) -> None:
    settings, _ = small
    ingest(settings)
    report = ingest(settings, rebuild=True)
    stats = report.write
    assert stats is not None
    assert stats.tokenized == stats.counted == stats.chunks == report.chunks_written
    _assert_derived_indexes_exact(settings, tmp_path)


def _downgrade_to_format_2(settings: Settings) -> None:
    """What an index written before doc frequencies and BM25 tokens were stored looks like."""
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    gen_dir = settings.index_dir / manifest["generation_dir"]
    for name in ("doc_freq.json", "bm25/tokens.ids.npy", "bm25/tokens.offsets.npy"):
        (gen_dir / name).unlink()
    (settings.index_dir / "manifest.json").write_text(json.dumps({**manifest, "format": 2}))


def test_a_format_2_index_is_served_and_upgraded_by_the_next_ingest_without_reembedding(
    small: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, _ = small
    ingest(settings)
    question = "When did Port Alder open a trade office?"
    expected = Assistant.open(settings=settings).ask(question).answer
    _downgrade_to_format_2(settings)
    store = IndexStore(settings.index_dir, settings)
    assert store.load_nodes(store.require_manifest()).doc_freq is None  # the answerer recounts at load
    assert Assistant.open(settings=settings).ask(question).answer == expected

    embedder = CountingEmbedder()
    report = ingest(settings, embedder=embedder)  # nothing changed, but it is upgraded
    assert report.nothing_to_do and embedder.texts == 0
    assert report.write is not None and report.write.tokenized == report.write.chunks  # no stored tokens to reuse
    _assert_derived_indexes_exact(settings, tmp_path)
    assert Assistant.open(settings=settings).ask(question).answer == expected
    assert ingest(settings, embedder=embedder).nothing_to_do and len(list(settings.index_dir.glob("gen-*"))) == 1


def test_an_index_of_an_unknown_format_asks_for_a_rebuild(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    ingest(settings)
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    (settings.index_dir / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    with pytest.raises(IndexCorruptError, match=r"index format 1 .*cityqa ingest --rebuild"):
        Assistant.open(settings=settings).ask("When did Port Alder open a trade office?")
    with pytest.raises(IndexCorruptError):
        ingest(settings)
    assert ingest(settings, rebuild=True).chunks_written > 0
    assert json.loads((settings.index_dir / "manifest.json").read_text())["format"] == FORMAT_VERSION


def _chunk(source: str, k: int, sentences: int) -> Chunk:
    return Chunk(id=f"{source}-{k}", source=source, section=(), start=100 * k, end=100 * k + 50, text="x" * 50,
                 sentences=tuple(Sentence(100 * k + i, 100 * k + i + 1) for i in range(sentences)))


def test_merge_gathers_sentence_vectors_as_chunk_by_chunk_concatenation_did() -> None:
    rng = np.random.default_rng(3)
    old_chunks = [_chunk(s, k, int(rng.integers(0, 4))) for s in ("a", "c", "e") for k in range(5)]
    old_vectors = rng.normal(size=(sum(len(c.sentences) for c in old_chunks), 2, 8)).astype(np.float16)
    old = NodeStore(old_chunks, old_vectors)
    new_chunks = [_chunk(s, k, int(rng.integers(0, 4))) for s in ("d", "b") for k in range(3)]
    new_vectors = rng.normal(size=(sum(len(c.sentences) for c in new_chunks), 2, 8)).astype(np.float16)
    plan = ingest_module._Plan(keep={"a": {}, "e": {}}, fresh={}, entries={})

    nodes, rows = ingest_module._merge(old, plan, new_chunks, new_vectors)

    kept = [(i, c) for i, c in enumerate(old.chunks) if c.source in plan.keep]  # the former implementation
    chunks = [c for _, c in kept] + new_chunks
    parts = [np.asarray(old.sentence_rows(i), dtype=np.float32) for i, _ in kept] + [new_vectors]
    vectors = np.concatenate([p for p in parts if len(p)])
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].start))
    starts = np.cumsum([0] + [len(c.sentences) for c in chunks])
    expected = np.concatenate([vectors[starts[i] : starts[i + 1]] for i in order])
    assert [c.id for c in nodes.chunks] == [chunks[i].id for i in order]
    assert np.array_equal(nodes.sentence_vectors, expected.astype(np.float16))
    assert rows == [old.by_id[c.id] if c.source in plan.keep else -1 for c in nodes.chunks]


def test_a_fresh_build_in_order_keeps_its_one_array_of_sentence_vectors() -> None:
    """No second copy of every sentence vector (~0.5 GB at 100k chunks) when the new chunks are already in order;
    out of order they are gathered into place."""
    rng = np.random.default_rng(4)
    chunks = [_chunk(s, k, int(rng.integers(0, 4))) for s in ("a", "b") for k in range(4)]
    vectors = rng.normal(size=(sum(len(c.sentences) for c in chunks), 2, 8)).astype(np.float16)
    empty = NodeStore([], np.zeros((0, 2, 8), np.float16))
    plan = ingest_module._Plan(keep={}, fresh={}, entries={})

    nodes, _ = ingest_module._merge(empty, plan, chunks, vectors)
    assert nodes.sentence_vectors is vectors

    flipped = chunks[4:] + chunks[:4]  # "b" before "a": reordered by the merge
    counts = [len(c.sentences) for c in flipped]
    flipped_vectors = np.concatenate([vectors[sum(len(c.sentences) for c in chunks[:4]):], vectors[: sum(counts[4:])]])
    nodes, _ = ingest_module._merge(empty, plan, flipped, flipped_vectors)
    assert [c.id for c in nodes.chunks] == [c.id for c in chunks]
    assert np.array_equal(nodes.sentence_vectors, vectors) and not np.shares_memory(nodes.sentence_vectors, vectors)


def test_bm25_score_matrix_is_bit_identical_to_bm25s_own_indexing() -> None:
    """bm25 computes bm25s's "lucene" score matrix with numpy; it must equal what bm25s.BM25.index builds."""
    import itertools

    import bm25s
    from bm25s.tokenization import Tokenized

    rng = np.random.default_rng(11)
    lengths = rng.integers(0, 40, size=300)
    lengths[[0, 7]] = 0  # chunks with no terms left after stopwords
    ids = (rng.zipf(1.3, size=int(lengths.sum())) % 500).astype(np.int64)
    used = np.unique(ids)  # a compact vocabulary, as bm25 keeps it
    ids = np.searchsorted(used, ids)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    tokens = bm25_module._Tokens([f"t{i}" for i in range(len(used))], ids.astype(np.int32), offsets)

    ours = bm25_module._bm25_index(tokens)
    flat = ids.tolist()
    theirs = bm25s.BM25()
    docs = [flat[a:b] for a, b in itertools.pairwise(offsets.tolist())]
    theirs.index(Tokenized(ids=docs, vocab=dict(zip(tokens.vocab, range(len(used)), strict=True))), show_progress=False)
    for key in ("data", "indices", "indptr"):
        assert ours.scores[key].dtype == theirs.scores[key].dtype
        assert ours.scores[key].tobytes() == theirs.scores[key].tobytes(), key
    assert ours.scores["num_docs"] == theirs.scores["num_docs"]
    assert list(ours.vocab_dict.items()) == list(theirs.vocab_dict.items())
    assert ours.nonoccurrence_array is None and theirs.nonoccurrence_array is None
