"""The pair reader: does this text answer this question, or state this claim?

all-MiniLM-L6-v2 fine-tuned by `make reader` (`cityqa.evaluation.reader_train`) on public entailment pairs,
claims generated from documents (true rewrites and one-slot swaps of each sentence) and the questions of the
answer scorer's training split. It reads the text and the question or claim together, so it sees what a
sentence-by-sentence comparison cannot: that "the budget of X" is not answered by a sentence about X, or that a
claim rewords its sentence rather than changes it.

Shipped as an int8 ONNX transformer (`models/reader/`, run like the sentence encoder: no torch) with a mean-pooled
linear head in `head.json`. One call reads a batch of pairs; the answer scorer and the fact-checker use it as
one input among theirs, never alone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from ..index.onnx_encoder import OnnxEncoder, mean_pool
from .scorer import MODELS_DIR

READER_DIR = MODELS_DIR / "reader"
MAX_TOKENS = 128  # as trained


class PairReader(Protocol):
    def logits(self, texts: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """One logit per (text, question or claim) pair: positive when the text answers or states it."""
        ...


class OnnxPairReader:
    """The exported reader, run with onnxruntime."""

    def __init__(self, folder: Path = READER_DIR, threads: int | None = None) -> None:
        self._encoder = OnnxEncoder(folder, quantized=True, threads=threads)
        self._encoder.tokenizer.enable_truncation(max_length=MAX_TOKENS, strategy="longest_first")
        head = json.loads((Path(folder) / "head.json").read_text(encoding="utf-8"))
        self._weight = np.asarray(head["weight"], dtype=np.float32)
        self._bias = float(head["bias"])

    def logits(self, texts: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encodings = self._encoder.tokenizer.encode_batch(list(zip(texts, hypotheses, strict=True)))
        return (mean_pool(*self._encoder.hidden_states(encodings)) @ self._weight + self._bias).astype(np.float32)


def reader_text(before: str, quote: str) -> str:
    """What the reader reads a candidate as: the sentence before it, then the quote (as it was trained)."""
    return f"{before} {quote}".strip()


def available(folder: Path = READER_DIR) -> bool:
    return (Path(folder) / "model-int8.onnx").is_file() and (Path(folder) / "head.json").is_file()


_LOADING = threading.Lock()


@lru_cache(maxsize=1)
def default_reader() -> OnnxPairReader | None:
    """The bundled reader, loaded once per process; None when this build ships none."""
    with _LOADING:
        return OnnxPairReader() if available() else None
