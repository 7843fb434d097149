"""A generation's BM25 index (`bm25/` in its folder): what `BM25Retriever.persist` writes, so that
`BM25Retriever.from_persist_dir` (in `retrieve`) serves it, plus each chunk's token ids (tokens.ids.npy,
tokens.offsets.npy, numbered as in vocab.index.json) for the next generation to start from.

A new generation tokenizes only chunks new to the index and copies the others' token ids and node-list lines
from the previous one (`nodes.Carry`); the score matrix is rebuilt from the ids with numpy.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..types import Chunk, WriteStats
from .nodes import Carry, carried_lines, previous_lines
from .vectors import to_text_node

TOKEN_IDS, TOKEN_OFFSETS = "tokens.ids.npy", "tokens.offsets.npy"  # ids as numbered in vocab.index.json
BM25_CORPUS = "corpus.jsonl"  # bm25s's name for the BM25Retriever's node list (one JSON object per chunk)
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # BM25Retriever's default


@dataclass
class _Tokens:
    """BM25 token ids of a run of chunks: chunk i's are ids[offsets[i]:offsets[i + 1]], numbered by `vocab`."""

    vocab: list[str]
    ids: np.ndarray
    offsets: np.ndarray

    def of(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i] : self.offsets[i + 1]]


def write_bm25(path: Path, chunks: list[Chunk], carry: Carry | None = None, stats: WriteStats | None = None) -> None:
    """Persist a BM25Retriever over `chunks` at `path` (for `BM25Retriever.from_persist_dir`), identical in its
    results to `BM25Retriever.from_defaults(nodes=..., language="english")`, plus each chunk's token ids.

    Only chunks new to the index are tokenized and serialized; carried chunks' token ids and node-list lines are
    copied from the previous generation. The bm25s score matrix is rebuilt from the ids (every score depends on
    corpus-wide statistics), which is numeric work: no text is read again."""
    stats = stats or WriteStats()
    previous = _previous_bm25(carry)
    rows = carry.rows if carry and previous else [-1] * len(chunks)
    old_tokens, old_lines = previous or (None, [])
    fresh = [chunk for chunk, row in zip(chunks, rows, strict=True) if row < 0]
    stats.tokenized = len(fresh)
    tokens = _merge_tokens(rows, old_tokens, _tokenize(fresh))
    _save_bm25(path, _bm25_index(tokens), tokens, _corpus_lines(rows, old_lines, fresh))


def _previous_bm25(carry: Carry | None) -> tuple[_Tokens, list[bytes]] | None:
    """The previous generation's BM25 token ids and node-list lines; None when it has none (format 2) or they do
    not line up with its chunks (then everything is tokenized again)."""
    lines = previous_lines(carry, f"bm25/{BM25_CORPUS}", _is_node_line)
    if carry is None or carry.gen_dir is None or lines is None:
        return None
    folder = carry.gen_dir / "bm25"
    try:
        vocab: dict[str, int] = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        ids, offsets = np.load(folder / TOKEN_IDS), np.load(folder / TOKEN_OFFSETS)
    except (OSError, ValueError):
        return None
    if len(offsets) != len(lines) + 1 or offsets[-1] != len(ids) or (len(ids) and ids.max() >= len(vocab)):
        return None
    terms = [""] * len(vocab)
    for term, i in vocab.items():
        terms[i] = term
    return _Tokens(terms, ids, offsets), lines


def _is_node_line(line: bytes, chunk: Chunk) -> bool:
    return line.endswith(b'"node_id":"%s"}' % chunk.id.encode())


def _tokenize(chunks: list[Chunk]) -> Any:
    """bm25s token ids of the chunks' node text, as `BM25Retriever.from_defaults(language="english")` tokenizes it
    (its token pattern, English stopwords and Snowball stemmer), so results do not depend on which chunks are
    carried. Each chunk's node is made, read and dropped: 100k llama-index nodes held at once took ~0.3 GB."""
    import bm25s
    import Stemmer
    from llama_index.core.schema import MetadataMode

    texts = [to_text_node(chunk).get_content(metadata_mode=MetadataMode.EMBED) for chunk in chunks]
    return bm25s.tokenize(
        texts, stopwords="english", stemmer=Stemmer.Stemmer("english"), token_pattern=TOKEN_PATTERN,
        show_progress=False,
    )


def _merge_tokens(rows: list[int], old: _Tokens | None, fresh: Any) -> _Tokens:
    """Carried and fresh chunks' ids in one vocabulary, compacted to the terms they use (as a fresh build's is)."""
    index = {term: i for i, term in enumerate(old.vocab)} if old else {}
    fresh_terms = sorted(fresh.vocab, key=fresh.vocab.__getitem__)
    to_merged = np.array([index.setdefault(term, len(index)) for term in fresh_terms], dtype=np.int64)
    fresh_docs = iter(fresh.ids)
    parts = [
        old.of(row) if old is not None and row >= 0 else to_merged[np.asarray(next(fresh_docs), dtype=np.int64)]
        for row in rows
    ]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(part) for part in parts], out=offsets[1:])
    ids = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
    used = np.unique(ids)
    remap = np.zeros(len(index), dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    vocab = list(index)
    return _Tokens([vocab[i] for i in used], remap[ids], offsets)


def _corpus_lines(rows: list[int], old_lines: list[bytes], fresh_chunks: list[Chunk]) -> Iterator[bytes]:
    """BM25Retriever's node list, one JSON line per chunk, as they are written: carried chunks' lines copied, fresh
    ones serialized as `BM25Retriever.persist` does."""
    from bm25s.utils.json_functions import dumps
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    fresh = (dumps(node_to_metadata_dict(node) | {"node_id": node.node_id}, ensure_ascii=False).encode()
             for node in map(to_text_node, fresh_chunks))
    return carried_lines(rows, old_lines, fresh)


def _bm25_index(tokens: _Tokens) -> Any:
    """A bm25s index with BM25Retriever's (default) parameters over the chunks' token ids. For the default "lucene"
    method the score matrix is computed here with numpy, the same float operations as bm25s's per-document loop
    (tests compare the arrays bit for bit): 0.3 s instead of 3 s at 100k chunks."""
    import bm25s
    from bm25s.tokenization import Tokenized

    bm25 = bm25s.BM25()
    vocab = {term: i for i, term in enumerate(tokens.vocab)}
    if bm25.method != "lucene" or bm25.idf_method != "lucene" or not len(tokens.offsets) > 1 or not vocab:
        flat, bounds = tokens.ids.tolist(), tokens.offsets.tolist()
        docs = [flat[start:end] for start, end in itertools.pairwise(bounds)]
        bm25.index(Tokenized(ids=docs, vocab=vocab), show_progress=False)
        return bm25
    bm25.scores = _lucene_scores(tokens, bm25.k1, bm25.b, np.dtype(bm25.dtype), np.dtype(bm25.int_dtype))
    bm25.vocab_dict = vocab | {"": len(vocab)}  # the empty token bm25s adds for queries without known terms
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    bm25.nonoccurrence_array = None
    return bm25


def _lucene_scores(tokens: _Tokens, k1: float, b: float, dtype: np.dtype, int_dtype: np.dtype) -> dict[str, Any]:
    """bm25s's score matrix (CSC: one column per term, one row per chunk) for method="lucene":
    idf = ln(1 + (N - df + 0.5) / (df + 0.5)) in Python floats, stored as `dtype`; tf part tf / (k1 * (1 - b +
    b * len / avg_len) + tf) in float64; their product stored as `dtype`."""
    n_docs, n_terms = len(tokens.offsets) - 1, len(tokens.vocab)
    lengths = np.diff(tokens.offsets)
    pairs, tf = np.unique(np.repeat(np.arange(n_docs), lengths) * n_terms + tokens.ids, return_counts=True)
    docs, terms = np.divmod(pairs, n_terms)
    df = np.bincount(terms, minlength=n_terms)
    idf_of = {d: math.log(1 + (n_docs - d + 0.5) / (d + 0.5)) for d in np.unique(df).tolist()}
    idf = np.array([idf_of[d] for d in df.tolist()], dtype=dtype)
    length_part = k1 * ((1 - b) + b * lengths / lengths.mean())  # float64, per chunk
    tf = tf.astype(dtype)
    scores = (idf[terms] * (tf / (length_part[docs] + tf))).astype(dtype)
    order = np.argsort(terms, kind="stable")  # column-major; pairs are sorted by chunk, so rows stay ascending
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    return {"data": scores[order], "indices": docs[order].astype(int_dtype), "indptr": indptr, "num_docs": n_docs}


def _save_bm25(path: Path, bm25: Any, tokens: _Tokens, lines: Iterable[bytes]) -> None:
    """Write what `BM25Retriever.persist` writes (the node list, written line by line as the lines come, and its
    line index), plus the token ids the next generation starts from."""
    from bm25s.utils.corpus import save_mmindex
    from llama_index.retrievers.bm25 import BM25Retriever

    path.mkdir(parents=True)
    starts, at = [], 0
    with (path / BM25_CORPUS).open("wb") as handle:
        for line in lines:
            starts.append(at)
            handle.write(line + b"\n")
            at += len(line) + 1
    save_mmindex(starts, path=str(path / BM25_CORPUS))
    np.save(path / TOKEN_IDS, tokens.ids)
    np.save(path / TOKEN_OFFSETS, tokens.offsets)
    retriever = BM25Retriever(existing_bm25=bm25, similarity_top_k=min(10, len(starts)))
    retriever.persist(str(path))  # bm25.corpus is None: writes the score matrix, vocabulary and parameters only
