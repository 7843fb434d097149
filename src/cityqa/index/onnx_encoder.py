"""A torch-free sentence encoder: the sentence-transformers model exported to ONNX, run with onnxruntime.

`export()` (needs torch, run at ingest) writes into a folder:

    model.onnx          the transformer (input_ids, attention_mask, token_type_ids -> last_hidden_state), fp32
    model-int8.onnx     the same, weights quantised to int8 per output channel (only when asked for: it changes
                        the vectors slightly, cosine ~0.993 to fp32, and doubles the texts/s on CPU)
    tokenizer.json      the model's fast tokenizer
    meta.json           model name, dimension, max sequence length, pooling

`OnnxEncoder` then needs only `onnxruntime`, `tokenizers` and numpy: mean pooling over the attention mask and
L2 normalisation happen in numpy, exactly as sentence-transformers does for all-MiniLM-L6-v2 (cosine 1.0 to
within float rounding). A fresh process encodes its first query in ~0.4 s instead of ~6 s for importing torch and
sentence-transformers.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..settings import INT8_SCHEME

META = "meta.json"
FP32, INT8 = "model.onnx", "model-int8.onnx"
EXPORT_VERSION = 1


def model_file(folder: Path, quantized: bool) -> Path:
    return Path(folder) / (INT8 if quantized else FP32)


def is_exported(folder: Path, model_name: str, quantized: bool = False) -> bool:
    """Whether `folder` holds an export of `model_name` (and its int8 variant if `quantized`)."""
    meta = read_meta(folder)
    return (
        meta is not None and meta.get("model") == model_name and meta.get("version") == EXPORT_VERSION
        and model_file(folder, quantized).is_file() and (Path(folder) / "tokenizer.json").is_file()
        and (not quantized or meta.get("int8") == INT8_SCHEME)
    )


def read_meta(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def export(st_model: Any, model_name: str, model_path: str, folder: Path, quantized: bool = False) -> Path:
    """Export a loaded SentenceTransformer's transformer to `folder` (atomically), plus int8 if `quantized`."""
    folder = Path(folder)
    if not is_exported(folder, model_name):
        _export_fp32(st_model, model_name, model_path, folder)
    if quantized and not is_exported(folder, model_name, quantized=True):
        quantize(folder)
    return folder


def export_in_child(model_name: str, model_path: str, folder: Path, quantized: bool) -> None:
    """`export` in a child process (which loads torch and the model, and takes their memory with it when it
    ends); RuntimeError with the child's last words if it fails."""
    import subprocess
    import sys

    code = (
        "import sys; from pathlib import Path; from cityqa.index.embeddings import go_offline, _load; go_offline(); "
        "from cityqa.index.onnx_encoder import export; "
        "export(_load(sys.argv[1]), sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4] == '1')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, model_name, model_path, str(folder), "1" if quantized else "0"],
        capture_output=True, text=True,
    )
    if done.returncode or not is_exported(folder, model_name, quantized):
        raise RuntimeError((done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1])


def quantize(folder: Path) -> None:
    """Write model-int8.onnx from model.onnx, then record the scheme in meta.json (both replaced atomically).

    Per-channel weight scales keep the vectors at cosine ~0.993 to fp32 (one scale per tensor: 0.957) at the same
    speed; on the gold questions that leaves every answer the same but one that sits on the abstention threshold.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = folder / f".{INT8}.{os.getpid()}.tmp"
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint on the root logger
    try:
        quantize_dynamic(str(folder / FP32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)
    os.replace(tmp, folder / INT8)
    meta = (read_meta(folder) or {}) | {"int8": INT8_SCHEME}
    meta_tmp = folder / f".{META}.{os.getpid()}.tmp"
    meta_tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    os.replace(meta_tmp, folder / META)


def _export_fp32(st_model: Any, model_name: str, model_path: str, folder: Path) -> None:
    transformer = st_model[0]
    pooling = st_model[1] if len(st_model) > 1 else None
    if pooling is not None and not getattr(pooling, "pooling_mode_mean_tokens", True):
        raise ValueError(f"{model_name}: only mean pooling can be exported to ONNX")
    meta = {
        "version": EXPORT_VERSION, "model": model_name, "dimension": int(model_dimension(st_model)),
        "max_seq_length": int(st_model.max_seq_length), "pooling": "mean", "normalize": True,
        "do_lower_case": bool(getattr(transformer, "do_lower_case", False)),
    }
    tokenizer = Path(model_path) / "tokenizer.json"
    export_transformer(transformer.auto_model, tokenizer if tokenizer.is_file() else transformer.tokenizer, meta,
                       folder)


def export_transformer(hf_model: Any, tokenizer: Path | Any, meta: dict[str, Any], folder: Path,
                       extra: dict[str, str] | None = None) -> None:
    """Export a Hugging Face transformer (input ids, attention mask, token types -> last hidden state) to
    `folder` atomically, with its tokenizer (a `tokenizer.json` path, or a loaded fast tokenizer), `meta` and any
    `extra` files (name -> text). The sentence encoder and the pair reader are both exported this way."""
    import torch

    class _Wrapper(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids = torch.ones((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent branches: fine for this model
        torch.onnx.export(
            _Wrapper(hf_model.eval()), (), str(tmp / FP32), dynamo=False,
            kwargs={"input_ids": ids, "attention_mask": ids, "token_type_ids": torch.zeros_like(ids)},
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in
                          ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
            opset_version=17,
        )
    if isinstance(tokenizer, Path):
        shutil.copy(tokenizer, tmp / "tokenizer.json")
    else:  # a model folder without tokenizer.json: save the fast tokenizer that was loaded
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    for name, text in (extra or {}).items():
        (tmp / name).write_text(text, encoding="utf-8")
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, folder)


def model_dimension(st_model: Any) -> int:
    """A SentenceTransformer's vector size (its newer and older method names)."""
    getter = getattr(st_model, "get_embedding_dimension", None) or st_model.get_sentence_embedding_dimension
    return int(getter())


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each row's token states averaged over its attention mask (sentence-transformers' mean pooling)."""
    weights = mask[..., None].astype(np.float32)
    return np.asarray((hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row of `x` scaled to unit length (a zero row stays zero)."""
    return np.asarray(x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None))


def _unit_tokens(enc: Any, hidden: np.ndarray) -> tuple[list[str], np.ndarray]:
    """One text's word pieces without [CLS]/[SEP] and their states at unit length (`OnnxEncoder.token_vectors`)."""
    n = len(enc.ids)
    return list(enc.tokens[1 : n - 1]), unit_rows(hidden[1 : n - 1]).astype(np.float32)


class OnnxEncoder:
    """Encodes texts to unit-length float32 vectors with an exported model (no torch)."""

    def __init__(self, folder: Path, quantized: bool = False, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        meta = read_meta(self.folder) or {}
        self.dimension = int(meta.get("dimension", 384))
        self.do_lower_case = bool(meta.get("do_lower_case", False))
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(meta.get("max_seq_length", 256)))
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(model_file(self.folder, quantized)), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def hidden_states(self, encodings: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """The model's last hidden state for a batch of tokenizer encodings, padded to the longest, and the
        attention mask."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for r, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[r, :n], mask[r, :n], types[r, :n] = enc.ids, enc.attention_mask, enc.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0], mask

    def _longest_first(
        self, encodings: list[Any], batch_size: int
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(the encodings' indices, last hidden state, attention mask) batch by batch, longest texts first, so each
        batch pads to similar lengths (sentence-transformers does the same)."""
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            hidden, mask = self.hidden_states([encodings[i] for i in rows])
            yield rows, hidden, mask

    def token_vectors(self, texts: list[str]) -> list[tuple[list[str], np.ndarray]]:
        """Each text's word pieces (without [CLS]/[SEP]) and their contextual vectors, unit length: what
        `scorer.alignment` compares token by token.

        Each text runs alone: the int8 model quantises activations per run, so in a shared batch a text's
        vectors would depend on its neighbours (and their padding); alone they depend on the text only, which is
        what lets `Embedder.token_vectors` keep them. Alone is also faster here (22.6 against 27.3 ms for a
        question and its four candidates: no padding)."""
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        return [_unit_tokens(enc, self.hidden_states([enc])[0][0]) for enc in self.tokenizer.encode_batch(list(texts))]

    def encode_with_tokens(self, text: str) -> tuple[np.ndarray, tuple[list[str], np.ndarray]]:
        """`encode([text])[0]` and `token_vectors([text])[0]` from one run: both run the text alone, so both come
        out exactly as from their own runs (a question is embedded and then aligned word by word)."""
        enc = self.tokenizer.encode(text.lower() if self.do_lower_case else text)
        hidden, mask = self.hidden_states([enc])
        return unit_rows(mean_pool(hidden, mask))[0].astype(np.float32), _unit_tokens(enc, hidden[0])

    def token_states(self, texts: list[str], batch_size: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's token states (the last hidden state, [CLS] and [SEP] included, not normalised) and each
        token's character span in the text ((0, 0) for the special tokens): what `Embedder.encode_pooled` pools
        a passage's vector and its sentences' vectors from, in one pass."""
        if self.do_lower_case:  # keeping each character's place, so the offsets stay the text's
            texts = ["".join(c.lower() if len(c.lower()) == 1 else c for c in t) for t in texts]
        encodings = self.tokenizer.encode_batch(list(texts))
        out: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros((0, 2), np.int64), np.zeros((0, 0), np.float32))] * len(
            texts
        )
        for rows, hidden, _ in self._longest_first(encodings, batch_size):
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                offsets = np.asarray(encodings[i].offsets, dtype=np.int64).reshape(n, 2)
                out[i] = (offsets, np.asarray(hidden[r, :n], dtype=np.float32))
        return out

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows, hidden, mask in self._longest_first(encodings, batch_size):
            out[rows] = unit_rows(mean_pool(hidden, mask))
        return out
