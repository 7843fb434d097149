"""Fit the answerability reader (`reader.py`) for `make train`: pairs from SQuAD's training articles, a
fine-tuned cross-encoder, exported to int8 ONNX.

Each question of a training article gives one pair: the question with the sentence holding its answer (label 1),
or, for an unanswerable question, the sentence holding its plausible answer (label 0): what a careless reader
would quote. So the reader learns exactly the contrast word overlap misses, not topic similarity. Training starts
from the bundled all-MiniLM-L6-v2 weights with a new one-logit head (binary cross-entropy, AdamW, linear warm-up
and decay, `EPOCHS` passes, seeded); the dev article measures it (ROC AUC of answerable against unanswerable).
Needs torch and transformers (installed with sentence-transformers); the question path never imports them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import split_sentences
from .embeddings import resolve_model_path
from .onnx_encoder import quantize
from .reader import MAX_LENGTH, META_FILE, TOKENIZER_FILE, Reader
from .squad import SquadSet

EPOCHS, BATCH, LEARNING_RATE, WARMUP = 3, 16, 4e-5, 0.1
Pair = tuple[str, str, int]  # question, sentence, answers it (1) or only seems to (0)


def reader_pairs(squad: SquadSet, titles: Sequence[str]) -> list[Pair]:
    """One (question, sentence, label) per question of the named articles that has an answer or a plausible
    one: the sentence holding the answer, or the plausible answer of an unanswerable question."""
    pairs: list[Pair] = []
    sentences = {source: split_sentences(text, 0, len(text)) for source, text in squad.documents.items()}
    for q in squad.of_articles(titles).questions:
        spans = q.spans or q.plausible
        if not spans:
            continue
        text = squad.documents[q.source]
        found = next((s for s in sentences[q.source] if s.start <= spans[0][0] < s.end), None)
        if found is not None:
            pairs.append((q.question, text[found.start : found.end], int(q.answerable)))
    return pairs


def fit_reader(train: list[Pair], dev: list[Pair], base: str, out: Path, seed: int,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fine-tune a cross-encoder from the sentence-transformers model `base` (a name or folder, as
    `Settings.embed_model`) on `train`, export it to `out` (int8 ONNX, replaced atomically) and return its meta
    data, with its ROC AUC on `dev` as exported."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_path = resolve_model_path(base)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1)
    steps = EPOCHS * -(-len(train) // BATCH)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min(1.0, (i + 1) / (WARMUP * steps)) * max(0.0, (steps - i) / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng, order, started = random.Random(seed), list(train), time.monotonic()
    model.eval()  # dropout off while training: on these 1.9k pairs, dropout left the dev AUC at 0.59-0.66, not 0.72
    for epoch in range(EPOCHS):
        rng.shuffle(order)
        for i in range(0, len(order), BATCH):
            batch = order[i : i + BATCH]
            inputs = tokenizer([p[0] for p in batch], [p[1] for p in batch], truncation=True,
                               max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            loss = loss_fn(model(**inputs).logits[:, 0], torch.tensor([float(p[2]) for p in batch]))
            loss.backward()
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
        log(f"reader: epoch {epoch + 1}/{EPOCHS} done, {time.monotonic() - started:.0f} s")
    meta = {"base": base, "seed": seed, "epochs": EPOCHS, "batch": BATCH,
            "learning_rate": LEARNING_RATE, "max_length": MAX_LENGTH, "pairs": len(train),
            "seconds": round(time.monotonic() - started)}
    _export(model.eval(), tokenizer, out, meta)
    meta["dev_auc"] = round(roc_auc(Reader(out), dev), 4)
    (out / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def roc_auc(reader: Reader, pairs: list[Pair]) -> float:
    """How often an answering pair outscores a merely plausible one (0.5: no better than chance)."""
    from sklearn.metrics import roc_auc_score

    scores = np.concatenate([reader.logits(q, [s]) for q, s, _ in pairs])
    return float(roc_auc_score([p[2] for p in pairs], scores))


def _export(model: Any, tokenizer: Any, out: Path, meta: dict[str, Any]) -> None:
    """fp32 ONNX (torch's TorchScript exporter, as the query encoder), then int8 per channel; only int8 is kept."""
    import torch

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids = torch.ones((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (), str(tmp / "model.onnx"), dynamo=False,
            kwargs={"input_ids": ids, "attention_mask": ids, "token_type_ids": torch.zeros_like(ids)},
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"],
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in ("input_ids", "attention_mask", "token_type_ids")}
            | {"logits": {0: "batch"}},
            opset_version=17,
        )
    tokenizer.backend_tokenizer.save(str(tmp / TOKENIZER_FILE))
    (tmp / META_FILE).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    quantize(tmp)
    (tmp / "model.onnx").unlink()
    meta.update(json.loads((tmp / META_FILE).read_text(encoding="utf-8")))  # the int8 scheme quantize records
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
