"""`make train` (`python -m cityqa.evaluation.train`): fit the answer scorer shipped in
`cityqa/reading/models/scorer.json`.

Data, split before anything is fitted:
* SQuAD 2.0 articles (`../shared/bench/squad-public.json` by default), split **by article** with `SEED`: two
  articles to report on (never fitted or tuned on), one to tune on, the rest to train on. Unanswerable
  questions teach what a confident-looking wrong sentence looks like.
* The gold questions about the shipped report (`tests/gold/questions.jsonl`, follow-ups left out), split by a
  hash of their id: two thirds train, one third dev. `tests/gold/heldout.jsonl` is never read here.

Steps: index each corpus with the current settings; for every question retrieve passages exactly as
`Assistant.ask` does and collect every candidate sentence with its features and label (does it hold the answer);
fit stage 1 (logistic regression on the features) on the train split; align each question with stage 1's best
`TOP_N` sentences (`scorer.alignment`) and fit stage 2 on the dev split; fit the confidence model, which also
reads the best sentence's `contrast` with the question, on the dev split and the report's training questions
(SQuAD and the report weighted alike); choose the abstention threshold as the highest at which every training and
dev document wrongly abstains on at most `TARGET_FALSE_NOT_FOUND` of its answerable questions on average.

To fit it for another corpus, write its questions in the gold format and pass `--gold FILE --corpus DIR`
(SQuAD keeps the scorer general); `--squad` takes any SQuAD 2.0 file. About 2 minutes on 2 cores (1 to mine the
candidates, kept in `WORK/groups.pkl`: delete it after changing a feature).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..reading.scorer import (
    ANSWERABILITY_FEATURES,
    FEATURES,
    MODELS_DIR,
    SCORER_FILE,
    STAGE2_FEATURES,
    Linear,
    QuestionView,
    alignment,
    answerability_features,
    best_candidate,
    contrast,
    feature_matrix,
    merge_logits,
    question_type,
    stage2_features,
)
from ..settings import Settings
from .squad import SquadSet, load_squad, split_articles

SEED = 12
N_DEV_ARTICLES, N_TEST_ARTICLES = 1, 2
TOP_N = Settings.model_fields["align_top_n"].default
TARGET_FALSE_NOT_FOUND = 0.08
GOLD_WEIGHT = 5.0


@dataclass
class Group:
    """One question and its candidate sentences."""

    qid: str
    question: str
    split: str  # train / dev / test
    origin: str  # squad / gold
    source: str  # the document (SQuAD: the article) the question is about
    answerable: bool
    labels: np.ndarray  # per candidate: holds the answer
    features: np.ndarray  # stage-1 feature matrix
    quotes: list[str]  # what each candidate would be quoted as (aligned in stage 2)
    befores: list[str]  # the sentence before each candidate in its passage


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


# ------------------------------------------------------------------ mining candidates


def _assistant(corpus: Path, index: Path) -> Any:
    from ..assistant import Assistant

    assistant = Assistant.open(index_dir=index, settings=Settings(corpus_dir=corpus, index_dir=index))
    assistant.ingest(corpus)
    return assistant


def _mine(assistant: Any, items: list[dict[str, Any]]) -> list[Group]:
    """Candidates of each question, retrieved as `Assistant.ask` retrieves them."""
    engine = assistant.engine
    groups = []
    for item in items:
        vector = assistant.embedder.encode_one(item["question"])
        hits = engine.retriever.retrieve(item["question"], vector, assistant.settings.top_k)
        scored, rows = engine.extractor.candidates(item["question"], vector, hits)
        if scored:
            groups.append(Group(
                item["id"], item["question"], item["split"], item["origin"], item["source"], item["answerable"],
                np.array([item["label"](s) for s in scored], dtype=np.float32),
                feature_matrix(rows, question_type(item["question"])),
                [engine.extractor.quote_text(s) for s in scored],
                [engine.extractor.sentence_before(s) for s in scored],
            ))
    return groups


def squad_split(squad: SquadSet) -> dict[str, list[str]]:
    return split_articles(sorted(set(squad.titles.values())), SEED, N_DEV_ARTICLES, N_TEST_ARTICLES)


def mine_squad(path: Path, work: Path) -> list[Group]:
    squad = load_squad(path)
    split = squad_split(squad)
    log(f"SQuAD split: {split}")
    of_title = {title: name for name, titles in split.items() for title in titles}
    assistant = _assistant(squad.write_corpus(work / "squad-corpus"), work / "squad-index")
    items = []
    for q in squad.questions:
        def label(s: Any, q: Any = q) -> float:
            sentence = s.sentence
            return float(s.hit.chunk.source == q.source and
                         any(sentence.start <= a and b <= sentence.end + 1 for a, b in q.spans))

        items.append({"id": q.id, "question": q.question, "split": of_title[squad.titles[q.source]],
                      "origin": "squad", "source": q.source, "answerable": q.answerable, "label": label})
    return _mine(assistant, items)


def gold_split(qid: str) -> str:
    return "dev" if int(hashlib.sha256(qid.encode()).hexdigest(), 16) % 3 == 0 else "train"


def mine_gold(gold: Path, corpus: Path, work: Path) -> list[Group]:
    assistant = _assistant(corpus, work / "gold-index")
    items = []
    for record in (json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()):
        if record.get("history"):
            continue  # a follow-up needs its conversation
        spans = []
        for evidence in record.get("evidence", []):
            start = (corpus / evidence["source"]).read_text(encoding="utf-8").find(evidence["text"])
            if start >= 0:
                spans.append((evidence["source"], start, start + len(evidence["text"])))

        def label(s: Any, spans: list = spans) -> float:
            sentence = s.sentence
            return float(any(src == s.hit.chunk.source and sentence.start < b and a < sentence.end
                             for src, a, b in spans))

        items.append({"id": record["id"], "question": record["question"], "split": gold_split(record["id"]),
                      "origin": "gold", "source": "gold", "answerable": bool(record["answerable"]), "label": label})
    return _mine(assistant, items)


# ------------------------------------------------------------------ fitting


def fit_linear(
    x: np.ndarray, y: np.ndarray, names: tuple[str, ...], weights: np.ndarray | None = None, c: float = 1.0
) -> Linear:
    """A standardised L2 logistic regression (scikit-learn), stored as plain numbers."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y, sample_weight=weights)
    return Linear(names, mean, scale, model.coef_[0].astype(float), float(model.intercept_[0]))


def top1(groups: list[Group], logits: list[np.ndarray]) -> float:
    picks = [g.labels[int(np.argmax(lg))] for g, lg in zip(groups, logits, strict=True) if g.answerable]
    return float(np.mean(picks)) if picks else 0.0


def align(groups: list[Group], stage1: Linear, encoder: Any) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per question, as at inference: stage-1 logits, the indices of its best TOP_N, and their alignment."""
    out = []
    for g in groups:
        first = stage1.logit(g.features)
        top = np.argsort(-first, kind="stable")[:TOP_N]
        vectors = encoder.token_vectors([g.question, *(g.quotes[i] for i in top)])
        out.append((first, top, np.array([alignment(vectors[0], v) for v in vectors[1:]])))
    return out


def choose_threshold(conf: np.ndarray, answerable: np.ndarray, source: np.ndarray) -> float:
    """The highest threshold at which documents (each SQuAD article, and the report) wrongly abstain on at most
    TARGET_FALSE_NOT_FOUND of their answerable questions on average, each document counted once: the threshold
    has to hold on documents it has not seen, and documents differ more than one dev article shows (on the
    public articles from 0.04 to 0.19 at the same threshold)."""
    docs = [o for o in sorted(set(source.tolist())) if ((source == o) & answerable).any()]
    best = 0.0
    for t in np.linspace(0.01, 0.95, 95):
        if np.mean([np.mean(conf[(source == o) & answerable] < t) for o in docs]) <= TARGET_FALSE_NOT_FOUND:
            best = float(t)
    return round(best, 2)


def fit_confidence(
    groups: list[Group], stage1: Linear, encoder: Any, stage2: Linear | None = None
) -> tuple[Linear, np.ndarray, np.ndarray]:
    """Stage 2 (fitted here on `groups` unless given) and, per question, the confidence model's inputs (as at
    question time) and whether its best candidate is right."""
    aligned = align(groups, stage1, encoder)
    if stage2 is None:
        x2 = np.vstack([stage2_features(first[top], a) for first, top, a in aligned])
        y2 = np.concatenate([g.labels[top] for g, (_, top, _) in zip(groups, aligned, strict=True)])
        stage2 = fit_linear(x2, y2, STAGE2_FEATURES)
    rows, correct = [], []
    for g, (first, top, a) in zip(groups, aligned, strict=True):
        logits = merge_logits(first, top, stage2.logit(stage2_features(first[top], a)))
        full = np.zeros((len(first), 3))
        full[top] = a
        best = best_candidate(logits)
        found = contrast(QuestionView.of(g.question), g.quotes[best], g.befores[best])
        rows.append(answerability_features(logits, g.features, full, found))
        correct.append(g.answerable and g.labels[best] > 0)
    return stage2, np.vstack(rows), np.array(correct)


def fit_dev(train: list[Group], dev: list[Group], stage1: Linear, encoder: Any) -> dict[str, Any]:
    """Stage 2 on the dev questions; the confidence model on the dev questions and the report's training
    questions, weighted so that SQuAD and the report count alike (its confidence must be a probability on both
    kinds of document); the threshold over every training and dev document. With the dev figures they reach."""
    from .metrics import calibration

    stage2, x_dev, ok_dev = fit_confidence(dev, stage1, encoder)
    _, x_train, ok_train = fit_confidence(train, stage1, encoder, stage2)
    gold_train = np.array([g.origin == "gold" for g in train])
    fit_groups = [*dev, *(g for g in train if g.origin == "gold")]
    x_fit = np.vstack([x_dev, x_train[gold_train]])
    ok_fit = np.concatenate([ok_dev, ok_train[gold_train]])
    origin = np.array([g.origin for g in fit_groups])
    weights = np.where(origin == "gold", (origin == "squad").sum() / max(1, (origin == "gold").sum()), 1.0)
    confidence = fit_linear(x_fit, ok_fit.astype(float), ANSWERABILITY_FEATURES, weights)
    everything = [*train, *dev]
    conf = 1 / (1 + np.exp(-confidence.logit(np.vstack([x_train, x_dev]))))
    answerable = np.array([g.answerable for g in everything])
    threshold = choose_threshold(conf, answerable, np.array([g.source for g in everything]))
    ok = np.concatenate([ok_train, ok_dev])
    figures = {}
    for name in ("squad", "gold"):
        m = np.array([g.origin == name and g.split == "dev" for g in everything])
        ans, un = m & answerable, m & ~answerable
        figures[name] = {
            "questions": int(m.sum()), "top1": round(float(ok[ans].mean()), 4),
            "evidence_cited": round(float((ok & (conf >= threshold))[ans].mean()), 4),
            "false_not_found": round(float((conf < threshold)[ans].mean()), 4),
            "unanswerable_abstained": round(float((conf < threshold)[un].mean()), 4) if un.any() else None,
            "ece": round(calibration(conf[m].tolist(), ok[m].tolist())["ece"] or 0.0, 4),
        }
    return {"stage2": stage2.to_dict(), "answerable": confidence.to_dict(), "threshold": threshold, "dev": figures}


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cityqa.evaluation.train", description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=Path, default=Path("../shared/bench/squad-public.json"))
    parser.add_argument("--gold", type=Path, default=Path("tests/gold/questions.jsonl"))
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--work", type=Path, default=Path("train-work"), help="indexes and mined candidates")
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    mined = args.work / "groups.pkl"
    if mined.is_file():  # delete it to mine again (after changing features or data)
        groups = pickle.loads(mined.read_bytes())
    else:
        log("mining candidates")
        groups = mine_squad(args.squad, args.work) + mine_gold(args.gold, args.corpus, args.work)
        mined.write_bytes(pickle.dumps(groups))
    train = [g for g in groups if g.split == "train"]
    dev = [g for g in groups if g.split == "dev"]
    log(f"{len(groups)} questions: train {len(train)}, dev {len(dev)}, "
        f"test {sum(g.split == 'test' for g in groups)} (not used)")
    # the report's own questions are few beside SQuAD's: each counts GOLD_WEIGHT times
    weights = np.concatenate([np.full(len(g.labels), GOLD_WEIGHT if g.origin == "gold" else 1.0) for g in train])
    stage1 = fit_linear(np.vstack([g.features for g in train]), np.concatenate([g.labels for g in train]), FEATURES,
                        weights)
    log(f"stage 1 top-1: train {top1(train, [stage1.logit(g.features) for g in train]):.3f}, "
        f"dev {top1(dev, [stage1.logit(g.features) for g in dev]):.3f}")
    from ..index.embeddings import Embedder

    split = squad_split(load_squad(args.squad))
    encoder = Embedder()
    encoder.use_index(args.work / "gold-index", "onnx-int8")  # the int8 encoder every index exports
    fitted = fit_dev(train, dev, stage1, encoder)
    log(f"dev: {json.dumps(fitted['dev'])}; threshold {fitted['threshold']}")
    scorer = {
        "stage1": stage1.to_dict(), **fitted, "top_n": TOP_N, "seed": SEED,
        "data": {"squad": args.squad.name, "squad_split": split, "gold": str(args.gold),
                 "gold_split": "sha256(id) % 3 == 0 -> dev", "questions": {"train": len(train), "dev": len(dev)}},
        "licence": "fitted on SQuAD 2.0 (CC BY-SA 4.0, Rajpurkar, Jia & Liang 2018) and cityqa's gold questions",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / f".{SCORER_FILE}.tmp"
    tmp.write_text(json.dumps(scorer, indent=1), encoding="utf-8")
    os.replace(tmp, args.out / SCORER_FILE)
    log(f"wrote {args.out / SCORER_FILE}")


if __name__ == "__main__":
    main()
