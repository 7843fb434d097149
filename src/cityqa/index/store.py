"""The on-disk index: which generation of the node store is current, switched atomically, and the writer lock.

Layout of `index_dir`:

    manifest.json        written last, atomically: fingerprint, generation, files -> hash and chunk ids
    gen-000007/          one generation: chunks.jsonl, sentences.npy, doc_freq.json (`nodes`), bm25/ (a
                         BM25Retriever persist dir, plus each chunk's BM25 token ids: tokens.ids.npy,
                         tokens.offsets.npy; `bm25`)
    chroma/              Chroma PersistentClient data (absent when CITYQA_CHROMA_URL points at a server; `vectors`)
    .lock                held by the one process allowed to write

Readers only ever see the generation the manifest names. Chroma is updated so that it always holds a superset
of that generation's chunks (new chunks are added before the manifest switches, old ones deleted after), and
dense hits are filtered to the current generation, so a crash at any point leaves a consistent index.

A generation also holds what is derived from its chunks for serving: the answerer's document frequencies and the
BM25 index. Both are carried over incrementally: a new generation re-derives them only for chunks of new or
changed files and takes the rest from the previous generation (`nodes.Carry`), so an ingest that changes one file
does not re-tokenize 100k chunks.

This module owns the manifest, the generation folders (numbering, the atomic write, pruning), the writer lock and
fsync; what a generation holds is written by `nodes` and `bm25`, the Chroma side is `vectors`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError
from ..settings import Settings
from ..types import WriteStats
from .bm25 import write_bm25
from .nodes import Carry, NodeStore, read_node_files, write_node_files
from .vectors import ChromaCollections

MANIFEST = "manifest.json"
FORMAT_VERSION = 3
# Format 2 lacks doc_freq.json and the BM25 token files: it is served as it is (the answerer recounts document
# frequencies at load) and the next ingest upgrades it without re-embedding anything.
READABLE_FORMATS = (2, FORMAT_VERSION)


class IndexStore:
    """Owns `index_dir`: manifest, generations, the Chroma collection and the writer lock."""

    def __init__(self, index_dir: Path, settings: Settings) -> None:
        self.dir = Path(index_dir)
        self.settings = settings
        self.vectors = ChromaCollections(settings, self.dir / "chroma")

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
        if manifest.get("format") not in READABLE_FORMATS:
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

    # ------------------------------------------------------------ generations

    def new_generation(self, manifest: dict[str, Any] | None) -> tuple[int, Path]:
        number = (manifest or {}).get("generation", 0) + 1
        while (self.dir / f"gen-{number:06d}").exists():
            number += 1
        return number, self.dir / f"gen-{number:06d}"

    def write_nodes(self, gen_dir: Path, nodes: NodeStore, carry: Carry | None = None) -> WriteStats:
        """Write a generation into `gen_dir` (complete in a .tmp folder first, then renamed), with its document
        frequencies and BM25 index derived from `carry` where possible. Sets `nodes.doc_freq`."""
        started, stats = time.perf_counter(), WriteStats(chunks=len(nodes.chunks))
        tmp = gen_dir.with_name(gen_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write_node_files(tmp, nodes, carry, stats)
        t0 = time.perf_counter()
        write_bm25(tmp / "bm25", nodes.chunks, carry, stats)
        stats.bm25_s = time.perf_counter() - t0
        _fsync_tree(tmp)
        os.replace(tmp, gen_dir)
        stats.seconds = time.perf_counter() - started
        return stats

    def load_nodes(self, manifest: dict[str, Any]) -> NodeStore:
        gen_dir = self.dir / manifest["generation_dir"]
        try:
            nodes = read_node_files(gen_dir)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(self.dir, f"{gen_dir.name} is unreadable: {exc}") from exc
        if len(nodes.sentence_vectors) != sum(len(c.sentences) for c in nodes.chunks):
            raise IndexCorruptError(self.dir, f"{gen_dir.name}: sentence vectors do not match the chunks")
        return nodes

    def bm25_dir(self, manifest: dict[str, Any]) -> Path:
        return self.dir / manifest["generation_dir"] / "bm25"

    def prune_generations(self, keep: str) -> None:
        for path in self.dir.glob("gen-*"):
            if path.name != keep:
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------ Chroma (see `vectors`)

    def collection_name(self) -> str:
        return self.vectors.name()

    def client(self) -> Any:
        return self.vectors.client()

    def collection(self) -> Any:
        return self.vectors.collection()

    def drop_other_collections(self) -> None:
        """Delete collections of this deployment built with other settings (after a --rebuild switched)."""
        self.vectors.drop_others()

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
