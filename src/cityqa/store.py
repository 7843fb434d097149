"""The on-disk index: a Chroma collection of chunk vectors plus our own node store, switched atomically.

Layout of `index_dir`:

    manifest.json        written last, atomically: fingerprint, generation, files -> hash and chunk ids
    gen-000007/          the node store of one generation: chunks.jsonl, sentences.npy, bm25/
    chroma/              Chroma PersistentClient data (absent when CITYQA_CHROMA_URL points at a server)
    .lock                held by the one process allowed to write

Readers only ever see the generation the manifest names. Chroma is updated so that it always holds a superset
of that generation's chunks (new chunks are added before the manifest switches, old ones deleted after), and
dense hits are filtered to the current generation, so a crash at any point leaves a consistent index.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError
from .settings import Settings
from .types import Chunk

MANIFEST = "manifest.json"
FORMAT_VERSION = 2


@dataclass
class NodeStore:
    """All chunks of one generation, with one vector per sentence for answer extraction."""

    chunks: list[Chunk]
    # (n_sentences, 2, dim), rows in chunk order then sentence order: [:, 0] the sentence alone,
    # [:, 1] the sentence in context (see Chunk.sentence_contexts)
    sentence_vectors: np.ndarray
    offsets: list[int] = field(default_factory=list)  # first sentence row of each chunk
    by_id: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.offsets:
            row = 0
            for chunk in self.chunks:
                self.offsets.append(row)
                row += len(chunk.sentences)
        self.by_id = {chunk.id: i for i, chunk in enumerate(self.chunks)}

    def sentence_rows(self, chunk_index: int) -> np.ndarray:
        start = self.offsets[chunk_index]
        return self.sentence_vectors[start : start + len(self.chunks[chunk_index].sentences)]

    def get(self, chunk_id: str) -> Chunk | None:
        index = self.by_id.get(chunk_id)
        return None if index is None else self.chunks[index]


def chroma_metadata(chunk: Chunk) -> dict[str, str | int]:
    """Flat metadata stored with each vector (Chroma takes scalars only); also used for filtering."""
    meta: dict[str, str | int] = {
        "source": chunk.source,
        "section": chunk.section_label,
        "kind": chunk.kind,
        "start": chunk.start,
        "end": chunk.end,
    }
    meta.update({key: value for key, value in chunk.metadata.items() if isinstance(value, str)})
    if chunk.endnotes:
        meta["endnotes"] = ",".join(chunk.endnotes)
    return meta


def to_text_node(chunk: Chunk) -> Any:
    """The llama-index node for a chunk. Built the same way for BM25 and Chroma, so fusion sees one node."""
    from llama_index.core.schema import TextNode

    meta = chroma_metadata(chunk)
    return TextNode(
        id_=chunk.id, text=chunk.search_text(), metadata=meta,
        excluded_embed_metadata_keys=list(meta), excluded_llm_metadata_keys=list(meta),
    )


class IndexStore:
    """Owns `index_dir`: manifest, generations, the Chroma collection and the writer lock."""

    def __init__(self, index_dir: Path, settings: Settings) -> None:
        self.dir = Path(index_dir)
        self.settings = settings
        self._client: Any = None

    # ------------------------------------------------------------ manifest

    @property
    def manifest_path(self) -> Path:
        return self.dir / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any] | None:
        if not self.exists():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(self.dir, f"manifest.json is unreadable: {exc}") from exc
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexCorruptError(self.dir, f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        return manifest

    def require_manifest(self) -> dict[str, Any]:
        manifest = self.read_manifest()
        if manifest is None:
            raise IndexNotFoundError(self.dir)
        self.check_shape(manifest)
        return manifest

    def check_shape(self, manifest: dict[str, Any]) -> None:
        if manifest.get("fingerprint") != self.settings.fingerprint():
            raise IndexMismatchError(self.dir, manifest.get("shape", {}), self.settings.index_shape())

    def commit(self, manifest: dict[str, Any]) -> None:
        """Atomically make `manifest` (and the generation it names) the current index."""
        write_atomic(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))

    # ------------------------------------------------------------ generations (node store)

    def new_generation(self, manifest: dict[str, Any] | None) -> tuple[int, Path]:
        number = (manifest or {}).get("generation", 0) + 1
        while (self.dir / f"gen-{number:06d}").exists():
            number += 1
        return number, self.dir / f"gen-{number:06d}"

    def write_nodes(self, gen_dir: Path, nodes: NodeStore) -> None:
        tmp = gen_dir.with_name(gen_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in nodes.chunks:
                handle.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")
        np.save(tmp / "sentences.npy", nodes.sentence_vectors.astype(np.float16))
        _write_bm25(tmp / "bm25", nodes.chunks)
        _fsync_tree(tmp)
        os.replace(tmp, gen_dir)

    def load_nodes(self, manifest: dict[str, Any]) -> NodeStore:
        gen_dir = self.dir / manifest["generation_dir"]
        try:
            with (gen_dir / "chunks.jsonl").open(encoding="utf-8") as handle:
                chunks = [Chunk.from_dict(json.loads(line)) for line in handle]
            vectors = np.load(gen_dir / "sentences.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(self.dir, f"{gen_dir.name} is unreadable: {exc}") from exc
        nodes = NodeStore(chunks, vectors)
        if len(vectors) != sum(len(c.sentences) for c in chunks):
            raise IndexCorruptError(self.dir, f"{gen_dir.name}: sentence vectors do not match the chunks")
        return nodes

    def bm25_dir(self, manifest: dict[str, Any]) -> Path:
        return self.dir / manifest["generation_dir"] / "bm25"

    def prune_generations(self, keep: str) -> None:
        for path in self.dir.glob("gen-*"):
            if path.name != keep:
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------ Chroma

    def collection_name(self) -> str:
        return f"{self.settings.collection}-{self.settings.fingerprint()}"

    def client(self) -> Any:
        if self._client is None:
            self._client = open_chroma(self.settings, self.dir / "chroma")
        return self._client

    def collection(self) -> Any:
        return self.client().get_or_create_collection(
            self.collection_name(),
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "fingerprint": self.settings.fingerprint()},
        )

    def drop_other_collections(self) -> None:
        """Delete collections of this deployment built with other settings (after a --rebuild switched)."""
        prefix, keep = f"{self.settings.collection}-", self.collection_name()
        for name in self.client().list_collections():
            name = getattr(name, "name", name)
            if name.startswith(prefix) and name != keep:
                self.client().delete_collection(name)

    # ------------------------------------------------------------ writer lock

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """Exclusive lock on the index; a second writer waits `lock_timeout` seconds, then gets a clear error."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / ".lock"
        with path.open("a+") as handle:
            deadline = time.monotonic() + self.settings.lock_timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        handle.seek(0)
                        raise IndexLockedError(self.dir, handle.read().strip() or "unknown") from None
                    time.sleep(0.2)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)


def open_chroma(settings: Settings, path: Path) -> Any:
    """Embedded PersistentClient at `path`, or an HttpClient when `settings.chroma_url` is set. Telemetry off."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        from urllib.parse import urlparse

        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "127.0.0.1", port=url.port or 8000, ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _write_bm25(path: Path, chunks: list[Chunk]) -> None:
    from llama_index.retrievers.bm25 import BM25Retriever

    nodes = [to_text_node(chunk) for chunk in chunks]
    retriever = BM25Retriever.from_defaults(nodes=nodes, similarity_top_k=min(10, len(nodes)), language="english")
    retriever.persist(str(path))


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(root)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
