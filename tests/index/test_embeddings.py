"""The ONNX encoder (same vectors as sentence-transformers, no torch on the question path), the embedding cache,
and the embed_backend setting's place in the index fingerprint. Real model, real index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from cityqa import Assistant, Settings
from cityqa.index.embeddings import Embedder, EmbeddingCache, encoder_dir
from cityqa.index.onnx_encoder import OnnxEncoder, is_exported
from cityqa.settings import INT8_SCHEME
from conftest import make_corpus

TEXTS = [
    "Which Japanese city has the relationship with San José that is the third-oldest linkage?",
    "Throughout the 1990s, the international affairs team had broad support from the state-level agency.",
    "Okiyama",
]


def test_ingest_exports_an_onnx_encoder_with_the_same_vectors(assistant: Assistant) -> None:
    folder = encoder_dir(assistant.index_dir)
    assert is_exported(folder, assistant.settings.embed_model)
    torch_vectors = Embedder(backend="torch").encode(TEXTS)
    onnx_vectors = OnnxEncoder(folder).encode(TEXTS)
    assert onnx_vectors.shape == torch_vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert (onnx_vectors * torch_vectors).sum(axis=1).min() > 0.9999


def test_the_default_int8_encoder_is_quantised_per_channel(assistant: Assistant) -> None:
    folder = encoder_dir(assistant.index_dir)
    assert assistant.settings.embed_backend == "onnx-int8"
    assert is_exported(folder, assistant.settings.embed_model, quantized=True)
    assert json.loads((folder / "meta.json").read_text())["int8"] == INT8_SCHEME
    fp32 = OnnxEncoder(folder).encode(TEXTS)
    int8 = OnnxEncoder(folder, quantized=True).encode(TEXTS)
    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.min() > 0.98 and cosines.max() < 0.99999  # close to fp32, but other vectors


QUESTION_PATH = r"""
import json, sys
from cityqa.cli import main
lazy = not any(m in sys.modules for m in ("llama_index.core", "chromadb", "torch"))
code = main(["ask", "--index", sys.argv[1], sys.argv[2]])
heavy = [m for m in ("torch", "sentence_transformers", "transformers", "gradio", "matplotlib") if m in sys.modules]
print(json.dumps({"code": code, "lazy_cli": lazy, "heavy": heavy}))
"""


def test_questions_never_import_torch_gradio_or_matplotlib(assistant: Assistant) -> None:
    assistant.engine  # noqa: B018 - the shared index is built
    out = subprocess.run(
        [sys.executable, "-c", QUESTION_PATH, str(assistant.index_dir),
         "Which Japanese city is the third-oldest linkage with San José?"],
        capture_output=True, text=True, check=True, env={**__import__("os").environ, "CITYQA_CORPUS_DIR": "."},
    )
    lines = out.stdout.strip().splitlines()
    status = json.loads(lines[-1])
    assert status == {"code": 0, "lazy_cli": True, "heavy": []}, out.stderr[-2000:]
    assert "Okiyama" in out.stdout


def test_embedding_cache_reuses_vectors_and_prunes(tmp_path: Path, assistant: Assistant) -> None:
    embedder = Embedder()
    embedder.use_index(assistant.index_dir, "onnx", cache_dir=tmp_path / "cache")
    first = embedder.encode(TEXTS + TEXTS[:1])
    assert embedder.cache is not None and (embedder.cache.hits, embedder.cache.misses) == (1, 3)
    embedder.save_cache(keep=TEXTS[:2])
    assert embedder.cache is None  # detached: questions are not cached
    reloaded = EmbeddingCache(tmp_path / "cache", embedder.model_name, embedder.variant)
    assert len(reloaded.rows) == 2
    again = reloaded.encode(TEXTS[:2], lambda texts: (_ for _ in ()).throw(AssertionError(texts)))
    assert np.array_equal(again, first[:2])
    other = EmbeddingCache(tmp_path / "cache", embedder.model_name, "int8")
    assert not other.rows.keys() & {other.key(t) for t in TEXTS}  # int8 vectors never mix with fp32 ones


def test_reingest_of_a_changed_file_embeds_only_what_changed(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    notes = next(p for p in corpus.iterdir() if p.suffix == ".md")
    for path in corpus.iterdir():  # keep it small: only the interview notes
        if path != notes:
            path.unlink()
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    assistant = Assistant.open(settings=settings)
    assistant.ingest()
    assert (tmp_path / "index" / "embed-cache" / "keys.npy").is_file()
    notes.write_text(notes.read_text(encoding="utf-8") + "\n\nA new closing paragraph about Riverbend.\n", "utf-8")
    embedder = Embedder()
    embedder.use_index(settings.index_dir, settings.embed_backend, cache_dir=settings.index_dir / "embed-cache")
    cache = embedder.cache
    assistant.embedder = embedder
    report = assistant.ingest()
    assert report.changed == [notes.name]
    assert cache is not None and cache.misses <= 4 < cache.hits
    assert "Riverbend" in assistant.ask("What is the new closing paragraph about?").answer


def test_only_int8_changes_the_fingerprint() -> None:
    torch_, onnx, int8 = (Settings(embed_backend=b) for b in ("torch", "onnx", "onnx-int8"))
    assert torch_.fingerprint() == onnx.fingerprint()
    assert int8.fingerprint() != onnx.fingerprint()
    assert int8.index_shape()["embed_backend"] == "onnx-int8"
    assert int8.index_shape()["int8"] == INT8_SCHEME  # per-tensor int8 indexes of earlier versions are rebuilt
