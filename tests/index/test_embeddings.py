"""The ONNX encoder (same vectors as sentence-transformers, no torch on the question path), the embedding cache,
and the embed_backend setting's place in the index fingerprint. Real model, real index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from cityqa import Assistant, Settings
from cityqa.index.embeddings import Embedder, EmbeddingCache, TokenVectorCache, encoder_dir
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
    assert (tmp_path / "index" / "embed-cache" / "cache.npz").is_file()
    notes.write_text(notes.read_text(encoding="utf-8") + "\n\nA new closing paragraph about Riverbend.\n", "utf-8")
    embedder = Embedder()
    embedder.use_index(settings.index_dir, settings.embed_backend, cache_dir=settings.index_dir / "embed-cache")
    cache = embedder.cache
    assistant.embedder = embedder
    report = assistant.ingest()
    assert report.changed == [notes.name]
    assert cache is not None and (cache.hits, cache.misses) == (2, 1), (cache.hits, cache.misses)  # passages
    assert "Riverbend" in assistant.ask("What is the new closing paragraph about?").answer


def test_only_int8_changes_the_fingerprint() -> None:
    torch_, onnx, int8 = (Settings(embed_backend=b) for b in ("torch", "onnx", "onnx-int8"))
    assert torch_.fingerprint() == onnx.fingerprint()
    assert int8.fingerprint() != onnx.fingerprint()
    assert int8.index_shape()["embed_backend"] == "onnx-int8"
    assert int8.index_shape()["int8"] == INT8_SCHEME  # per-tensor int8 indexes of earlier versions are rebuilt


PASSAGE = (
    "Sister Cities\nThe harbor office opened in 1990 with two staff. "
    "The city museum hosts a yearly print exhibition. It was founded by a retired sea captain."
)


def _spans(text: str, *sentences: str) -> list[tuple[int, int]]:
    return [(text.index(s), text.index(s) + len(s)) for s in sentences]


def test_pooled_vectors_come_from_one_pass_and_point_at_their_sentence(assistant: Assistant) -> None:
    embedder = Embedder()
    embedder.use_index(assistant.index_dir, "onnx")
    harbor, museum, captain = _spans(
        PASSAGE, "The harbor office opened in 1990 with two staff.", "The city museum hosts a yearly print exhibition.",
        "It was founded by a retired sea captain.",
    )
    groups = [[harbor], [museum], [captain], [(0, 13), museum, captain]]
    calls = []
    inner = embedder._onnx.token_states
    embedder._onnx.token_states = lambda texts, size: calls.append(list(texts)) or inner(texts, size)
    vectors, pooled = embedder.encode_pooled([PASSAGE], [groups])
    assert calls == [[PASSAGE]]  # one encoder pass for the passage and all four groups
    assert (vectors[0] @ embedder.encode([PASSAGE])[0]) > 0.9999  # the passage's vector is encode()'s
    assert pooled[0].shape == (4, 384) and pooled[0].dtype == np.float16  # as the node store keeps them
    assert np.allclose(np.linalg.norm(pooled[0].astype(np.float32), axis=1), 1.0, atol=2e-3)
    question = embedder.encode_one("When did the harbor office open?")
    assert int(np.argmax(pooled[0][:3] @ question)) == 0
    founder = embedder.encode_one("Who founded the museum?")
    assert pooled[0][3] @ founder > pooled[0][2] @ founder  # "It was founded…" names the museum only in context
    alone = embedder.encode([PASSAGE[a:b] for a, b in (harbor, museum, captain)])
    assert (alone * pooled[0][:3]).sum(axis=1).min() > 0.6  # close to each sentence encoded on its own


def test_pooled_groups_past_the_encoders_reach_are_encoded_on_their_own(assistant: Assistant) -> None:
    embedder = Embedder()
    embedder.use_index(assistant.index_dir, "onnx")
    filler = " ".join(f"Paragraph {i} says the committee met on a weekday." for i in range(60))  # > 256 pieces
    text = f"{filler} The last sentence names Port Alder."
    tail = _spans(text, "The last sentence names Port Alder.")
    _, pooled = embedder.encode_pooled([text], [[tail, _spans(text, "Paragraph 1 says")]])
    own = embedder.encode(["The last sentence names Port Alder.", "Paragraph 1 says"])
    assert (pooled[0][0].astype(np.float32) @ own[0]) > 0.999  # spilled: encoded on its own
    assert (pooled[0][1].astype(np.float32) @ own[1]) < 0.99  # pooled from the passage's pass


def test_pooled_vectors_are_cached_per_passage(tmp_path: Path, assistant: Assistant) -> None:
    embedder = Embedder()
    embedder.use_index(assistant.index_dir, "onnx", cache_dir=tmp_path / "cache")
    groups = [[span] for span in _spans(PASSAGE, "The harbor office opened in 1990 with two staff.")]
    first = embedder.encode_pooled([PASSAGE], [groups])
    embedder._onnx.token_states = lambda texts, size: (_ for _ in ()).throw(AssertionError(texts))
    again = embedder.encode_pooled([PASSAGE], [groups])
    assert np.array_equal(first[0], again[0])  # the passage's vector exactly; its pooled ones in float16, as stored
    assert np.array_equal(first[1][0].astype(np.float16), again[1][0].astype(np.float16))
    assert embedder.cache is not None and (embedder.cache.hits, embedder.cache.misses) == (1, 1)


def test_token_vectors_depend_on_the_text_alone_and_are_kept_within_bounds(assistant: Assistant) -> None:
    """The int8 encoder quantises per run: each text runs alone, so its vectors are the same in any company and
    whether kept or fresh (an answer never depends on the questions asked before it); the cache stays bounded."""
    embedder = Embedder(backend="onnx-int8")
    embedder.use_index(assistant.index_dir)
    assert embedder.onnx_active
    embedder.token_cache = TokenVectorCache(2)
    alone = embedder.token_vectors([TEXTS[1]])[0]
    embedder.token_cache.clear()
    in_company = embedder.token_vectors([TEXTS[0], TEXTS[1], TEXTS[2]])
    kept = embedder.token_vectors([TEXTS[1]])[0]  # from the cache now
    for tokens, vectors in (in_company[1], kept):
        assert tokens == alone[0] and np.array_equal(vectors, alone[1])
    assert alone[1].dtype == np.float32 and np.allclose(np.linalg.norm(alone[1], axis=1), 1.0, atol=2e-3)
    assert len(embedder.token_cache) == 2 and TEXTS[0] not in embedder.token_cache  # the least recent went first


def test_a_questions_vector_and_token_vectors_come_from_one_run(assistant: Assistant) -> None:
    """Asking embeds the question and then aligns its words: one encoder run gives both, each exactly as its own
    run gives it (the int8 model runs the text alone either way)."""
    embedder = Embedder(backend="onnx-int8")
    embedder.use_index(assistant.index_dir)
    question = "When did the harbor office open?"
    own_vector = embedder.encode([question])[0]
    own_tokens = embedder._onnx.token_vectors([question])[0]
    runs = []
    inner = embedder._onnx.hidden_states
    embedder._onnx.hidden_states = lambda encodings: runs.append(len(encodings)) or inner(encodings)
    vector = embedder.encode_one(question)
    tokens = embedder.token_vectors([question])[0]
    assert runs == [1]  # the token vectors came from the embedding's run
    assert np.array_equal(vector, own_vector)
    assert tokens[0] == own_tokens[0]
    assert np.array_equal(tokens[1], own_tokens[1].astype(np.float16).astype(np.float32))  # the cache's rounding
