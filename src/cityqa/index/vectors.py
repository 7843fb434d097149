"""The dense side of an index in Chroma: the client (embedded in `index_dir/chroma/`, or a server when
`CITYQA_CHROMA_URL` is set), the collection named after the settings' fingerprint, what is stored with each chunk
(`chroma_metadata`, `to_text_node`), and the clean-up after a rebuild with other settings.

Which of the collection's vectors are current is the manifest's (`store`); adding and deleting them is `ingest`'s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

from ..settings import Settings
from ..types import Chunk


class ChromaCollections:
    """The Chroma client of one index (opened on first use) and its collection for `settings`."""

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings = settings
        self.path = path  # the embedded store's folder (unused with a server)
        self._client: Any = None

    def name(self) -> str:
        return f"{self.settings.collection}-{self.settings.fingerprint()}"

    def client(self) -> Any:
        if self._client is None:
            self._client = open_chroma(self.settings, self.path)
        return self._client

    def collection(self) -> Any:
        return self.client().get_or_create_collection(
            self.name(),
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "fingerprint": self.settings.fingerprint()},
        )

    def drop_others(self) -> None:
        """Delete collections of this deployment built with other settings (after a --rebuild switched)."""
        prefix, keep = f"{self.settings.collection}-", self.name()
        dropped = False
        for name in self.client().list_collections():
            name = getattr(name, "name", name)
            if name.startswith(prefix) and name != keep:
                self.client().delete_collection(name)
                dropped = True
        if dropped and not self.settings.chroma_url:
            remove_orphan_segments(self.path)


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


def remove_orphan_segments(chroma_dir: Path) -> list[str]:
    """Delete the vector-segment folders of deleted collections from an embedded Chroma store; returns their names.

    chromadb 1.x's `delete_collection` drops the collection from chroma.sqlite3 but leaves its HNSW files (one
    folder per segment, named by the segment's UUID; chroma-core/chroma#5520): at 96k chunks, 161 MiB left behind
    by every rebuild that changed the settings. A folder is removed only when it is named like a UUID and no
    segment in chroma.sqlite3 has that id; if the database cannot be read as expected, nothing is touched.
    """
    import sqlite3
    import uuid

    try:
        with contextlib.closing(sqlite3.connect(f"file:{chroma_dir / 'chroma.sqlite3'}?mode=ro", uri=True)) as db:
            live = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
    except sqlite3.Error:
        return []
    removed = []
    for path in chroma_dir.iterdir():
        with contextlib.suppress(ValueError):
            if path.is_dir() and str(uuid.UUID(path.name)) == path.name and path.name not in live:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


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
