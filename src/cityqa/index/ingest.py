"""Incremental ingest: read the corpus, chunk and embed what changed, and switch the index atomically."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np

from ..documents.chunking import chunk_document
from ..documents.corpus import file_sha256, iter_corpus, ocr_state, read_document, reader_version, source_name
from ..errors import CorpusError, IndexCorruptError, UnreadableFileError
from ..settings import Settings
from ..types import Chunk, IngestReport, SkippedFile
from .embeddings import Embedder, Spans, pooled_keys
from .nodes import Carry, NodeStore
from .store import FORMAT_VERSION, IndexStore
from .vectors import to_text_node

Progress = Callable[[int, int, str], None]  # (done, total, what)
EMBED_STEP = 64  # chunks per progress step


@dataclass
class _Plan:
    keep: dict[str, dict[str, Any]]  # source -> manifest entry, for files whose chunks stay as they are
    fresh: dict[str, list[Chunk]]  # source -> new chunks to embed
    entries: dict[str, dict[str, Any]]  # source -> manifest entry for fresh files


def ingest(
    settings: Settings,
    corpus_dir: Path | None = None,
    index_dir: Path | None = None,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the index at `index_dir` in line with `corpus_dir`, embedding only new or changed files."""
    started = time.perf_counter()
    corpus_dir = Path(corpus_dir or settings.corpus_dir)
    store = IndexStore(Path(index_dir or settings.index_dir), settings)
    report = IngestReport(fingerprint=settings.fingerprint())
    with store.write_lock():
        manifest = store.read_manifest() if not rebuild else _readable_manifest(store)
        if manifest is not None and not rebuild:
            store.check_shape(manifest)
        plan = _plan(corpus_dir, {} if rebuild or manifest is None else manifest["files"], report, settings)
        if not plan.keep and not any(plan.fresh.values()):
            raise _nothing_to_index(corpus_dir, report)
        old = _current_nodes(store, manifest, rebuild)
        collection = store.collection()
        _remove_orphans(collection, set(old.by_id))
        embedder = embedder or Embedder(settings.embed_model, settings.embed_batch_size)
        embedder.use_index(store.dir, settings.embed_backend, export=True, cache_dir=_cache_dir(settings, store))
        if manifest is not None and not rebuild and report.nothing_to_do and manifest["format"] == FORMAT_VERSION:
            store.prune_generations(keep=manifest["generation_dir"])  # leftovers of a run killed mid-write
            embedder.cache = None
            report.seconds = time.perf_counter() - started
            return report
        new_chunks = [chunk for chunks in plan.fresh.values() for chunk in chunks]
        chunk_vectors, sentence_vectors = _embed(embedder, new_chunks, progress)
        nodes, rows = _merge(old, plan, new_chunks, sentence_vectors)
        del sentence_vectors  # the node store holds them (or its copy)
        number, gen_dir = store.new_generation(manifest)
        previous_dir = store.dir / manifest["generation_dir"] if manifest and old.chunks else None
        report.write = store.write_nodes(gen_dir, nodes, Carry(old, rows, previous_dir))
        # Written, the sentence vectors (~0.5 GB at 100k chunks) are let go before Chroma takes its share (~0.7 GB):
        # the cache, which keeps views of them, is saved and detached first. Nothing is committed before the
        # manifest, so the order of these writes does not matter to a run killed half-way.
        embedder.save_cache(None if settings.embed_cache_dir else embedded_texts(nodes.chunks))
        ids = set(nodes.by_id)
        del nodes
        if new_chunks:
            _add_to_chroma(collection, new_chunks, chunk_vectors, _max_batch(store.client()))
        files = {src: entry for src, entry in plan.keep.items()} | plan.entries
        store.commit(_manifest(settings, number, gen_dir.name, files, manifest))
        stale = set(old.by_id) - ids
        if stale:
            collection.delete(ids=sorted(stale))
        if rebuild:
            store.drop_other_collections()
        store.prune_generations(keep=gen_dir.name)
        report.chunks_written = len(new_chunks)
        report.chunks_removed = len(stale)
    report.seconds = time.perf_counter() - started
    return report


def _nothing_to_index(corpus_dir: Path, report: IngestReport) -> CorpusError:
    """An index needs at least one passage; the one on disk (if any) is left as it was."""
    skipped = "".join(f"\n  ! skipped {s.source}: {s.reason}" for s in report.skipped)
    return CorpusError(
        f"Nothing to index: {corpus_dir} holds no readable document with text "
        f"({len(report.skipped)} file(s) skipped). Add .txt, .md, .pdf, .docx or .html files and run ingest again; "
        f"the index was left as it was.{skipped}"
    )


def _cache_dir(settings: Settings, store: IndexStore) -> Path | None:
    if not settings.embed_cache:
        return None
    return Path(settings.embed_cache_dir) if settings.embed_cache_dir else store.dir / "embed-cache"


def pooled_inputs(chunks: list[Chunk]) -> tuple[list[str], list[list[Spans]]]:
    """What is embedded for these chunks: each one's search text, and in it the spans each sentence's two vectors
    are pooled from: the sentence alone, then the sentence with the head lines and the two sentences before it
    ("It is a midsized town without a port…" only names the town through the sentence before it). The groups
    alternate (alone, in context) sentence by sentence: the node store's (sentences, 2, dim) layout, so the pooled
    rows are written straight into it."""
    texts, groups = [], []
    for chunk in chunks:
        text, head, spans = chunk.search_layout()
        pairs = [([span], [*([head] if head else []), *spans[max(0, i - 2) : i + 1]]) for i, span in enumerate(spans)]
        texts.append(text)
        groups.append([group for pair in pairs for group in pair])
    return texts, groups


def embedded_texts(chunks: list[Chunk]) -> list[str]:
    """What the embedding cache keeps vectors by for these chunks."""
    return [key for text, spans in zip(*pooled_inputs(chunks), strict=True) for key in pooled_keys(text, spans)]


def _readable_manifest(store: IndexStore) -> dict[str, Any] | None:
    try:
        return store.read_manifest()
    except IndexCorruptError:
        return None


def _current_nodes(store: IndexStore, manifest: dict[str, Any] | None, rebuild: bool) -> NodeStore:
    """The committed generation's nodes when they fit the current settings; empty otherwise."""
    empty = NodeStore([], np.zeros((0, 2, 0), np.float32))
    if manifest is None or manifest.get("fingerprint") != store.settings.fingerprint():
        return empty
    try:
        return store.load_nodes(manifest)
    except IndexCorruptError:
        if rebuild:
            return empty
        raise


def _plan(corpus_dir: Path, indexed: dict[str, dict[str, Any]], report: IngestReport, settings: Settings
          ) -> _Plan:
    plan = _Plan(keep={}, fresh={}, entries={})
    seen: set[str] = set()
    ocr_now = cache(partial(ocr_state, settings))  # asked only when a file was read with scanned pages
    for path in iter_corpus(corpus_dir):
        source = source_name(path, corpus_dir)
        seen.add(source)
        previous = indexed.get(source)
        try:
            sha = file_sha256(path)
        except OSError as exc:  # vanished or unreadable since listing
            _skip(report, plan, source, previous, f"cannot be read ({exc.strerror or exc})")
            continue
        if (previous and previous["sha256"] == sha and previous.get("reader", 1) == reader_version(path)
                and ("ocr" not in previous or previous["ocr"] == ocr_now())):  # scanned pages read as they would be now
            plan.keep[source] = previous
            report.unchanged.append(source)
            continue
        try:
            doc = read_document(path, corpus_dir, settings)
        except UnreadableFileError as exc:
            _skip(report, plan, source, previous, exc.reason)
            continue
        try:
            size = path.stat().st_size
        except OSError as exc:  # vanished after it was read
            _skip(report, plan, source, previous, f"vanished while being indexed ({exc.strerror or exc})")
            continue
        chunks = chunk_document(doc, settings.chunk_max_words, settings.chunk_overlap_sentences)
        if not chunks:
            _skip(report, plan, source, previous, "no text to index")
            continue
        plan.fresh[source] = chunks
        plan.entries[source] = {
            "sha256": doc.sha256, "kind": doc.kind, "bytes": size, "reader": reader_version(path),
            "chunks": [c.id for c in chunks], "indexed_at": _now(), **({"ocr": doc.ocr} if doc.ocr else {}),
        }
        (report.changed if previous else report.added).append(source)
    report.removed = sorted(set(indexed) - seen)
    return plan


def _skip(report: IngestReport, plan: _Plan, source: str, previous: dict[str, Any] | None, reason: str) -> None:
    """Report a file that cannot be read; if an earlier version was indexed, keep serving that one."""
    if previous:
        plan.keep[source] = previous
        reason += "; the previously indexed version is kept"
    report.skipped.append(SkippedFile(source, reason))


def _embed(embedder: Embedder, chunks: list[Chunk], progress: Progress | None) -> tuple[np.ndarray, np.ndarray]:
    """One encoder pass per chunk: the chunks' vectors (n, dim) and their sentences' vectors, alone and in
    context, pooled from the chunk's token states (`Embedder.encode_pooled`), in one (sentences, 2, dim) float16
    array in chunk order. Both arrays are allocated once and filled step by step: the cache keeps views of them,
    not copies (a 100k build holds ~0.5 GB of sentence vectors and ~0.15 GB of chunk vectors)."""
    total = sum(len(chunk.text) for chunk in chunks)  # progress in characters: chunks differ in length
    bar = _progress_bar(total) if progress is None and len(chunks) > 100 else None
    counts = [len(chunk.sentences) for chunk in chunks]
    dim = embedder.dimension if chunks else 0
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    sentences = np.zeros((sum(counts), 2, dim), dtype=np.float16)
    firsts = np.cumsum([0, *counts])
    done, started = 0, time.perf_counter()
    for i, j in _steps(chunks):
        # made step by step: every sentence's spans as Python lists and tuples, all at once, took ~0.3 GB at 100k
        part, spans = pooled_inputs(chunks[i:j])
        rows = [sentences[firsts[k] : firsts[k + 1]].reshape(-1, dim) for k in range(i, j)]  # views
        embedder.encode_pooled(part, spans, into=(vectors[i:j], rows))
        size = sum(len(chunk.text) for chunk in chunks[i:j])
        done += size
        if progress:
            progress(done, total, embedding_status(done, total, time.perf_counter() - started))
        if bar is not None:
            bar.update(size)
    if bar is not None:
        bar.close()
    return vectors, sentences


def _steps(chunks: list[Chunk]) -> list[tuple[int, int]]:
    """Runs of at most EMBED_STEP chunks of one document. The int8 encoder quantises activations per batch, so a
    chunk's vectors depend a little on what shares its batch: batches never mix documents, and a document gets
    the same vectors whatever else the corpus holds (its PDF and its text version answer alike)."""
    steps, start = [], 0
    for end in range(1, len(chunks) + 1):
        if end == len(chunks) or end - start == EMBED_STEP or chunks[end].source != chunks[start].source:
            steps.append((start, end))
            start = end
    return steps


def embedding_status(done: int, total: int, seconds: float) -> str:
    """'embedding 1.2 of 3.4 MB of text, 0.35 MB/s, about 6 s left' (the Corpus tab's progress line)."""
    rate = done / max(seconds, 1e-6) / 1e6
    left = (total - done) / (rate * 1e6) if rate > 0 else float("inf")
    eta = "done" if done >= total else f"about {left:.0f} s left" if left < 90 else f"about {left / 60:.0f} min left"
    return f"embedding {done / 1e6:.2f} of {total / 1e6:.2f} MB of text, {rate:.2f} MB/s, {eta}"


def _progress_bar(total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="B", unit_scale=True, unit_divisor=1024, leave=False)


CHROMA_BATCH = 5000  # vectors per `collection.add`: 18% faster than 1,000 (20k vectors: 14.3 s against 17.5 s)


def _add_to_chroma(collection: Any, chunks: list[Chunk], vectors: np.ndarray, max_batch: int = CHROMA_BATCH) -> None:
    """Each chunk's vector with llama-index's node record as metadata, which is what `ChromaVectorStore` writes and
    reads back, but without the copy of the chunk's text it also stores as the Chroma document: answers read the
    text from the node store, and Chroma's full-text index of those copies took half of its write time (0.52 s
    against 0.28 s per 1,000 chunks). Vectors go in as arrays, in batches no larger than Chroma takes."""
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    step = min(CHROMA_BATCH, max_batch)
    for i in range(0, len(chunks), step):
        part = chunks[i : i + step]
        metadatas = [
            {key: "" if value is None else value for key, value in
             node_to_metadata_dict(to_text_node(chunk), remove_text=True, flat_metadata=True).items()}
            for chunk in part
        ]
        collection.add(ids=[c.id for c in part], embeddings=vectors[i : i + step], metadatas=metadatas)


def _max_batch(client: Any) -> int:
    """The largest batch the Chroma client accepts (5,461 for the embedded store), or 1,000 if it cannot say."""
    try:
        return int(client.get_max_batch_size())
    except Exception:  # a client without the call, or a server that does not answer it
        return 1000


def _remove_orphans(collection: Any, valid: set[str]) -> None:
    """Delete vectors a crashed earlier run added but never committed to a manifest."""
    ids = collection.get(include=[])["ids"]
    orphans = [i for i in ids if i not in valid]
    for i in range(0, len(orphans), 5000):
        collection.delete(ids=orphans[i : i + 5000])


def _merge(
    old: NodeStore, plan: _Plan, new_chunks: list[Chunk], new_vectors: np.ndarray
) -> tuple[NodeStore, list[int]]:
    """The new generation's nodes (kept and new chunks in (source, start) order), and for each chunk its row in
    `old`, or -1 for a new one (what `nodes.Carry` takes over). `new_vectors`: the new chunks' sentence vectors
    in their order (`_embed`)."""
    kept = [i for i, c in enumerate(old.chunks) if c.source in plan.keep]
    chunks = [old.chunks[i] for i in kept] + new_chunks
    origin = kept + list(range(len(old.chunks), len(old.chunks) + len(new_chunks)))  # rows of old + new
    order = sorted(range(len(chunks)), key=lambda i: (chunks[i].source, chunks[i].start))
    ordered, sources = [chunks[i] for i in order], [origin[i] for i in order]
    vectors = _sentence_vectors(old, new_vectors, ordered, sources)
    return NodeStore(ordered, vectors), [s if s < len(old.chunks) else -1 for s in sources]


def _sentence_vectors(old: NodeStore, new: np.ndarray, chunks: list[Chunk], sources: list[int]) -> np.ndarray:
    """Sentence vectors of `chunks`, where chunk j comes from row sources[j] of old.chunks + the new chunks, in one
    float16 array (as stored), gathered in one indexing pass (not chunk by chunk: 13 s at 100k chunks). A fresh
    build whose new chunks are already in order takes `new` itself: no second copy of every sentence vector."""
    n_old = len(old.chunks)
    if not n_old and sources == list(range(len(chunks))):
        return new
    counts = np.array([len(c.sentences) for c in chunks], dtype=np.int64)
    total = int(counts.sum())
    if not total:
        return np.zeros((0, 2, 0), np.float16)
    dim = new.shape[2] if new.size else old.sentence_vectors.shape[2]
    out = np.empty((total, 2, dim), dtype=np.float16)
    src = np.array(sources, dtype=np.int64)
    dst = np.cumsum(counts) - counts
    is_old = src < n_old
    new_counts = np.zeros(len(chunks) - int(is_old.sum()), dtype=np.int64)
    new_counts[src[~is_old] - n_old] = counts[~is_old]
    new_first = np.cumsum(new_counts) - new_counts  # each new chunk's first row in `new`
    for mask, array, first in ((is_old, old.sentence_vectors, np.array(old.offsets, dtype=np.int64)[src[is_old]]),
                               (~is_old, new, new_first[src[~is_old] - n_old])):
        if mask.any():
            n = counts[mask]
            within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # 0, 1, … inside each chunk
            out[np.repeat(dst[mask], n) + within] = array[np.repeat(first, n) + within]
    return out


def _manifest(
    settings: Settings, number: int, gen_name: str, files: dict[str, Any], old: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "fingerprint": settings.fingerprint(),
        "shape": settings.index_shape(),
        "generation": number,
        "generation_dir": gen_name,
        "files": dict(sorted(files.items())),
        "created": (old or {}).get("created", _now()),
        "updated": _now(),
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
