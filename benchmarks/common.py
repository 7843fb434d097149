"""Shared helpers for the benchmarks: work folders, the small shipped-corpus index, percentiles."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "out"  # git-ignored; not a dot-folder: SimpleDirectoryReader skips paths with hidden parts
CORPUS = REPO / "corpus"
GOLD = REPO / "tests" / "gold" / "questions.jsonl"
QUESTION = "Which Japanese city has the third-oldest sister-city linkage in the United States with San José?"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def stage_seconds(assistant: object, question: str) -> tuple[float, float, float]:
    """Seconds to embed `question`, retrieve its passages and extract the answer, each timed on its own."""
    engine = assistant.engine  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    vector = assistant.embedder.encode_one(question)  # type: ignore[attr-defined]
    t1 = time.perf_counter()
    hits = engine.retriever.retrieve(question, vector, assistant.settings.top_k)  # type: ignore[attr-defined]
    t2 = time.perf_counter()
    engine.extractor.answer(question, question, vector, hits)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2


def median(values: list[float]) -> float:
    return statistics.median(values)


def small_index(backend: str | None = None) -> Path:
    """The shipped corpus indexed with `backend` (default: the default backend), built once and reused after;
    rebuilt when an earlier run left it built with other settings."""
    from cityqa import Assistant, Settings
    from cityqa.errors import IndexMismatchError

    backend = backend or Settings().embed_backend
    index = WORK / f"index-{backend}"
    settings = Settings(corpus_dir=CORPUS, index_dir=index, embed_backend=backend, embed_cache=False)
    try:
        Assistant.open(settings=settings).ingest()
    except IndexMismatchError:
        Assistant.open(settings=settings).ingest(rebuild=True)
    return index
