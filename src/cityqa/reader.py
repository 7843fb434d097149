"""The answerability reader: does this sentence answer this question, read together?

A cross-encoder: the bundled all-MiniLM-L6-v2 weights with a one-logit head, fine-tuned by `make train`
(`train.fit_reader`) on the SQuAD 2.0 training articles to tell the sentence that answers a question from the
sentence holding the plausible but wrong answer to an unanswerable one. Those are SQuAD's adversarial questions: a
swapped entity or predicate in a question that otherwise matches a sentence word for word, which word overlap and
sentence cosine cannot see. Its logit for the quote the scorer ranks first is one input of the confidence model
(`scorer.ANSWERABILITY_FEATURES`).

Shipped as int8 ONNX in `models/reader/` beside `scorer.json` (a scorer fitted for another corpus carries its
own), run with onnxruntime and `tokenizers`: no torch at question time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

READER_DIR = "reader"  # inside the scorer's folder
MODEL_FILE, TOKENIZER_FILE, META_FILE = "model-int8.onnx", "tokenizer.json", "meta.json"
MAX_LENGTH = 160  # word pieces of question and sentence together (longer sentences are cut, question kept)


class Reader:
    """The exported reader in `folder`: `logits(question, texts)` scores each text as an answer to `question`."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        missing = [name for name in (MODEL_FILE, TOKENIZER_FILE, META_FILE) if not (self.folder / name).is_file()]
        if missing:
            raise ConfigError(
                f"The answerability reader in {self.folder} lacks {', '.join(missing)}. Reinstall cityqa, or run "
                "`make train` to fit the scorer and its reader again."
            )
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.meta: dict[str, Any] = json.loads((self.folder / META_FILE).read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length=int(self.meta.get("max_length", MAX_LENGTH)))
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(self.folder / MODEL_FILE), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """One logit per text: higher means the text answers `question` (as SQuAD's answer sentences do), lower
        that it only looks as if it did. The int8 model scales its activations per call, so texts scored together
        get slightly other logits than each alone: training and the answerer both score one text per call."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        encodings = self.tokenizer.encode_batch([(question, text) for text in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask, types = np.zeros_like(ids), np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = enc.ids, enc.attention_mask, enc.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)[:, 0]
