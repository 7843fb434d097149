"""A generation's node store: its chunks and sentence vectors (`NodeStore`), the files that hold them in the
generation's folder (chunks.jsonl, sentences.npy, doc_freq.json), and what a new generation carries over from the
previous one (`Carry`), so that an ingest that changes one file does not re-serialize or recount 100k chunks.

Which generation is current, and writing one atomically, is `store`'s; a generation's BM25 index is `bm25`'s.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..documents.text import document_frequencies
from ..types import Chunk, WriteStats

CHUNKS, SENTENCES = "chunks.jsonl", "sentences.npy"
DOC_FREQ = "doc_freq.json"  # absent in a format-2 generation


@dataclass
class NodeStore:
    """All chunks of one generation, with one vector per sentence for answer extraction."""

    chunks: list[Chunk]
    # (n_sentences, 2, dim), rows in chunk order then sentence order: [:, 0] the sentence alone,
    # [:, 1] the sentence in context (see ingest.pooled_inputs)
    sentence_vectors: np.ndarray
    offsets: list[int] = field(default_factory=list)  # first sentence row of each chunk
    doc_freq: Counter[str] | None = None  # content term -> chunks containing it (text.document_frequencies)
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

    def frequencies(self) -> Counter[str]:
        """`doc_freq`; computed and kept on first use for a node store that does not carry it."""
        if self.doc_freq is None:
            self.doc_freq = document_frequencies(self.chunks)
        return self.doc_freq

    def get(self, chunk_id: str) -> Chunk | None:
        index = self.by_id.get(chunk_id)
        return None if index is None else self.chunks[index]


@dataclass
class Carry:
    """What a new generation takes over from the previous one (see `IndexStore.write_nodes`)."""

    previous: NodeStore
    rows: list[int]  # per chunk of the new generation: its row in `previous`, or -1 for a chunk new to the index
    gen_dir: Path | None = None  # the previous generation's folder, for its BM25 tokens and node list

    def fresh(self, chunks: list[Chunk]) -> list[Chunk]:
        return [chunk for chunk, row in zip(chunks, self.rows, strict=True) if row < 0]

    def dropped(self) -> list[Chunk]:
        kept = set(self.rows)
        return [chunk for i, chunk in enumerate(self.previous.chunks) if i not in kept]


def write_node_files(folder: Path, nodes: NodeStore, carry: Carry | None, stats: WriteStats) -> None:
    """Write chunks.jsonl, sentences.npy and doc_freq.json of `nodes` into `folder`, taking what `carry` allows
    from the previous generation. Sets `nodes.doc_freq` and the document-frequency figures of `stats`."""
    _write_chunks(folder / CHUNKS, nodes.chunks, carry)
    np.save(folder / SENTENCES, np.asarray(nodes.sentence_vectors, dtype=np.float16))
    t0 = time.perf_counter()
    nodes.doc_freq = carried_doc_freq(nodes.chunks, carry, stats)
    (folder / DOC_FREQ).write_text(json.dumps(dict(sorted(nodes.doc_freq.items())), ensure_ascii=False), "utf-8")
    stats.doc_freq_s = time.perf_counter() - t0


def read_node_files(folder: Path) -> NodeStore:
    """The node store written into `folder` (sentence vectors memory-mapped); OSError, ValueError or KeyError when
    a file is missing or unreadable."""
    with (folder / CHUNKS).open(encoding="utf-8") as handle:
        chunks = [Chunk.from_dict(json.loads(line)) for line in handle]
    vectors = np.load(folder / SENTENCES, mmap_mode="r")
    return NodeStore(chunks, vectors, doc_freq=_load_doc_freq(folder / DOC_FREQ))


def _write_chunks(path: Path, chunks: list[Chunk], carry: Carry | None) -> None:
    """chunks.jsonl, one JSON object per chunk: carried chunks' lines are copied from the previous generation
    (serializing 100k chunks again takes seconds), fresh ones serialized."""
    old = previous_lines(carry, CHUNKS, _is_chunk_line)
    rows = carry.rows if carry and old else [-1] * len(chunks)
    fresh = (json.dumps(c.to_dict(), ensure_ascii=False).encode() for c, row in zip(chunks, rows, strict=True)
             if row < 0)
    with path.open("wb") as handle:
        handle.writelines(line + b"\n" for line in carried_lines(rows, old or [], fresh))


def carried_lines(rows: list[int], old: list[bytes], fresh: Iterator[bytes]) -> Iterator[bytes]:
    """One line per chunk of the new generation, as they are written: row `rows[i]` of the previous generation's
    `old` lines, or, for a chunk new to the index (-1), the next of the `fresh` lines (made when needed: a
    fresh 100k build's lines held at once took hundreds of MB)."""
    for row in rows:
        yield old[row] if row >= 0 else next(fresh)


def previous_lines(carry: Carry | None, name: str, matches: Callable[[bytes, Chunk], bool]) -> list[bytes] | None:
    """The lines of the previous generation's file `name` (one per chunk, in chunk order), when some chunks are
    carried over and every line `matches` its chunk; None otherwise (then everything is written afresh)."""
    if carry is None or carry.gen_dir is None or all(row < 0 for row in carry.rows):
        return None
    try:
        lines = (carry.gen_dir / name).read_bytes().split(b"\n")[:-1]
    except OSError:
        return None
    chunks = carry.previous.chunks
    if len(lines) != len(chunks) or not all(map(matches, lines, chunks)):
        return None
    return lines


def _is_chunk_line(line: bytes, chunk: Chunk) -> bool:
    return line.startswith(b'{"id": "%s"' % chunk.id.encode())


def carried_doc_freq(chunks: list[Chunk], carry: Carry | None, stats: WriteStats) -> Counter[str]:
    """The answerer's document frequencies of `chunks`: the previous generation's, minus its chunks that are gone,
    plus the new ones; counted over all chunks when there is nothing to start from."""
    fresh, dropped = (carry.fresh(chunks), carry.dropped()) if carry else (chunks, [])
    if carry is None or carry.previous.doc_freq is None or len(fresh) + len(dropped) >= len(chunks):
        stats.counted = len(chunks)
        return document_frequencies(chunks)
    stats.counted = len(fresh) + len(dropped)
    df = Counter(carry.previous.doc_freq)
    df.subtract(document_frequencies(dropped))
    df.update(document_frequencies(fresh))
    return +df  # without the terms no chunk contains any more


def _load_doc_freq(path: Path) -> Counter[str] | None:
    if not path.is_file():  # a format-2 generation
        return None
    return Counter(json.loads(path.read_text(encoding="utf-8")))
