"""`make train` (`python -m cityqa.evaluation.train`): fit the answer scorer shipped in
`cityqa/reading/models/scorer.json`.

Data, split before anything is fitted:
* SQuAD 2.0 articles (`../shared/bench/squad-public.json` by default), split **by article** with `SEED`: two
  articles to report on (never fitted or tuned on), one to tune on, the rest to train on. Unanswerable
  questions teach what a confident-looking wrong sentence looks like.
* The gold questions about the shipped report (`tests/gold/questions.jsonl`, follow-ups left out), split by a
  hash of their id: two thirds train, one third dev. `tests/gold/heldout.jsonl` and
  `tests/gold/heldout_users.jsonl` are never read here.
* User-style negatives made from the train and dev questions of both (`user_negatives`): what is asked about,
  a name or a year swapped for one the document never uses. SQuAD's unanswerable questions are all on-topic and
  reuse the paragraph's words; users also ask for attributes never stated and things never mentioned.

Steps: index each corpus with the current settings; for every question retrieve passages exactly as
`Assistant.ask` does and collect every candidate sentence with its features and label (does it hold the answer);
fit stage 1 (logistic regression on the features) on the train split; align each question with stage 1's best
`TOP_N` sentences (`scorer.alignment`) and fit stage 2 on the dev split; fit the confidence model, which also
reads the best sentence's `contrast` with the question, on the dev SQuAD article and the report's training
questions and the negatives made from them (SQuAD and the report weighted alike), then calibrate it on the
questions as asked (`recalibrate`); choose the abstention threshold with the least cost on the report's dev
questions and their negatives (which the confidence model has not seen), a quote that does not answer costing
`COST_WRONG` times a "not found" (`choose_threshold`), and the lower threshold from which the closest passage is
offered at a cost of 1. The dev curve (each threshold's figures) is kept in the scorer file.

To fit it for another corpus, write its questions in the gold format and pass `--gold FILE --corpus DIR`
(SQuAD keeps the scorer general), and questions in your users' own words with `--users FILE` if you have them
(`make train` passes the report's, `tests/gold/dev_users.jsonl`); `--squad` takes any SQuAD 2.0 file. About 3
minutes on 2 cores (1.5 to mine the candidates, kept in `WORK/groups.pkl`: delete it after changing a feature).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..documents.text import STOPWORDS, content_terms
from ..reading.reader import READER_DIR, OnnxPairReader, reader_text
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
# What a quote that does not answer costs against a "not found" (1): staff paste answers into briefings, where a
# wrong quote costs far more than the minute a "not found" with its closest passages costs. The thresholds are
# chosen for this cost, and the one from which the closest passage is offered for a cost of 1.
COST_WRONG = 5.0
GOLD_WEIGHT = 5.0
# where questions come from: public SQuAD articles, the report's gold questions, questions about the report in a
# new user's words (lower case, other words than the report's; `--users`)
ORIGINS = ("squad", "gold", "users")


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
    kind: str = "asked"  # asked as written, or a user-style negative made from it (see `user_negatives`)


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


# ------------------------------------------------------------------ mining candidates


def _assistant(corpus: Path, index: Path) -> Any:
    from ..assistant import Assistant

    assistant = Assistant.open(index_dir=index, settings=Settings(corpus_dir=corpus, index_dir=index))
    assistant.ingest(corpus)
    return assistant


def _mine(assistant: Any, items: list[dict[str, Any]]) -> list[Group]:
    """Candidates of each question, read and retrieved as `Assistant.ask` reads and retrieves it."""
    engine = assistant.engine
    groups = []
    for item in items:
        question = assistant.understand(item["question"])
        vector = assistant.embedder.encode_one(question)
        hits = engine.retriever.retrieve(question, vector, assistant.settings.top_k)
        scored, rows = engine.extractor.candidates(question, vector, hits)
        if scored:
            groups.append(Group(
                item["id"], question, item["split"], item["origin"], item["source"], item["answerable"],
                np.array([item["label"](s) for s in scored], dtype=np.float32),
                feature_matrix(rows, question_type(question)),
                [engine.extractor.quote_text(s) for s in scored],
                [engine.extractor.sentence_before(s) for s in scored],
                item.get("kind", "asked"),
            ))
    return groups


# ------------------------------------------------------------------ negatives of the kind users ask

_NAME = re.compile(r"\b[A-Z][\w’'-]+(?:\s+(?:of\s+|de\s+|the\s+)?[A-Z][\w’'-]+)*")
_VALUE = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_WORD = re.compile(r"\b[a-z][a-z-]{2,}\b")


@dataclass(frozen=True)
class Slots:
    """What a user changes in a question to ask what a document does not say: the word for what is asked about
    (the first lower-case content word: "the *budget* of X"), the names it gives (capitalised runs after its first
    word), and the years it gives."""

    head: tuple[int, int] | None
    names: list[tuple[int, int]]
    years: list[tuple[int, int]]

    @classmethod
    def of(cls, question: str) -> Slots:
        names = [m.span() for m in _NAME.finditer(question) if m.start() > 0]
        head = next((m.span() for m in _WORD.finditer(question) if m.group(0) not in STOPWORDS
                     and not any(a <= m.start() < b for a, b in names)), None)
        return cls(head, names, [m.span() for m in _VALUE.finditer(question)])


def user_negatives(items: list[dict[str, Any]], vocabulary: dict[str, set[str]], texts: dict[str, str],
                   seed: int = SEED) -> list[dict[str, Any]]:
    """One unanswerable question made from each answerable one, of a kind users ask and SQuAD's crowd did not:

    * *attribute*: what is asked about becomes a word its document never uses, taken from a question about another
      document ("the *budget* of X" where the document states no budget);
    * *entity*: a name becomes one its document never mentions, from a question about another document;
    * *value*: a year becomes one its document never gives (the event asked about did not happen then).

    The kind is drawn with `seed` among those the question allows; the new question keeps its parent's document and
    split, and every candidate sentence is labelled as not answering it. Nothing here reads what a document says
    beyond its words, so it works on any corpus."""
    rng = random.Random(seed)
    slots = {item["id"]: Slots.of(item["question"]) for item in items}
    heads = _pool({(item["source"], item["question"][a:b]) for item in items
                   if (span := slots[item["id"]].head) for a, b in [span]})
    names = _pool({(item["source"], item["question"][a:b]) for item in items for a, b in slots[item["id"]].names})
    out = []
    for item in items:
        if not item["answerable"]:
            continue
        source, question, slot = item["source"], item["question"], slots[item["id"]]
        known, text = vocabulary[source], texts[source]
        options: list[tuple[str, tuple[int, int], str]] = []
        if slot.head:
            pool = [w for s, w, terms in heads if s != source and not terms & known]
            options += [("attribute", slot.head, rng.choice(pool))] if pool else []
        if slot.names:
            pool = [w for s, w, terms in names if s != source and not terms & known]
            options += [("entity", rng.choice(slot.names), rng.choice(pool))] if pool else []
        if slot.years:
            a, b = rng.choice(slot.years)
            years = [str(y) for y in range(int(question[a:b]) - 15, int(question[a:b]) + 16) if str(y) not in text]
            options += [("value", (a, b), rng.choice(years))] if years else []
        if not options:
            continue
        kind, (a, b), new = rng.choice(options)
        out.append({**item, "id": f"{item['id']}~{kind}", "question": question[:a] + new + question[b:],
                    "answerable": False, "label": lambda s: 0.0, "kind": kind})
    return out


def _pool(found: set[tuple[str, str]]) -> list[tuple[str, str, frozenset[str]]]:
    """Replacement words or names with their document and content terms, in a fixed order (the terms computed
    once, not once per question they are offered to)."""
    return [(source, word, frozenset(content_terms(word))) for source, word in sorted(found)]


def squad_split(squad: SquadSet) -> dict[str, list[str]]:
    return split_articles(sorted(set(squad.titles.values())), SEED, N_DEV_ARTICLES, N_TEST_ARTICLES)


@dataclass
class Source:
    """One corpus to mine: its assistant, its questions (as `_mine` items) and each document's words and text."""

    assistant: Any
    items: list[dict[str, Any]]
    vocabulary: dict[str, set[str]]
    texts: dict[str, str]


def mine(sources: list[Source]) -> list[Group]:
    """Every question of every source, and the user-style negatives made from the training and dev questions (the
    replacement words and names come from questions about the other documents, of any source)."""
    vocabulary = {k: v for s in sources for k, v in s.vocabulary.items()}
    texts = {k: v for s in sources for k, v in s.texts.items()}
    fit = [item for s in sources for item in s.items if item["split"] != "test"]
    made = user_negatives(fit, vocabulary, texts)
    log(f"{len(made)} user-style negatives: " + ", ".join(
        f"{kind} {sum(m['kind'] == kind for m in made)}" for kind in ("attribute", "entity", "value")))
    groups = []
    for s in sources:
        ids = {item["id"] for item in s.items}
        groups += _mine(s.assistant, [*s.items, *(m for m in made if m["id"].split("~")[0] in ids)])
    return groups


def squad_source(path: Path, work: Path) -> Source:
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
    vocabulary = {source: set(content_terms(text)) for source, text in squad.documents.items()}
    return Source(assistant, items, vocabulary, dict(squad.documents))


def gold_split(qid: str) -> str:
    return "dev" if int(hashlib.sha256(qid.encode()).hexdigest(), 16) % 3 == 0 else "train"


def gold_source(files: dict[str, Path], corpus: Path, work: Path) -> Source:
    """The report's questions: `files` maps an origin ("gold": the project's gold questions, "users": questions
    in a new user's words) to its file; each file split by `gold_split`."""
    assistant = _assistant(corpus, work / "gold-index")
    items = []
    records = [({**json.loads(line), "origin": origin}) for origin, path in files.items()
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for record in records:
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
                      "origin": record["origin"], "source": "gold", "answerable": bool(record["answerable"]),
                      "label": label})
    text = "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in sorted(corpus.iterdir())
                     if path.is_file())
    return Source(assistant, items, {"gold": set(content_terms(text))}, {"gold": text})


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


def costs(conf: np.ndarray, correct: np.ndarray, answerable: np.ndarray, t: float, cost_wrong: float) -> float:
    """The mean cost per question of abstaining below `t`: `cost_wrong` for each quote that does not answer (an
    unanswerable question answered, or an answerable one answered with a sentence that does not hold the answer),
    1 for each answerable question left "not found"."""
    answered = conf >= t
    return float(np.mean(cost_wrong * (answered & ~correct) + (~answered & answerable)))


def choose_threshold(conf: np.ndarray, correct: np.ndarray, answerable: np.ndarray, cost_wrong: float) -> float:
    """The threshold with the least cost (`costs`) on the questions given (the lowest of equals)."""
    grid = np.round(np.linspace(0.01, 0.99, 99), 2)
    return float(min(grid, key=lambda t: (round(costs(conf, correct, answerable, float(t), cost_wrong), 9), t)))


def break_even(cost_wrong: float = COST_WRONG) -> float:
    """The probability above which quoting costs less than abstaining, for a calibrated confidence: 5/6 at a cost
    of 5 (rounded to the threshold grid)."""
    return round(cost_wrong / (1.0 + cost_wrong), 2)


def curve(conf: np.ndarray, correct: np.ndarray, groups: list[Group]) -> dict[str, list[dict[str, float]]]:
    """What each threshold gives on the dev questions of each origin: evidence cited and false "not found" on the
    answerable ones, abstained on the unanswerable ones asked and on the made ones, wrong quotes per question."""
    out: dict[str, list[dict[str, float]]] = {}
    for origin in ORIGINS:
        m = np.array([g.origin == origin and g.split == "dev" for g in groups])
        if not m.any():
            continue
        asked = np.array([g.kind == "asked" for g in groups])
        ans = m & np.array([g.answerable for g in groups])
        rows = []
        for t in np.round(np.arange(0.05, 1.0, 0.05), 2):
            answered = conf >= t
            rows.append({
                "threshold": float(t), "evidence_cited": round(float((answered & correct)[ans].mean()), 3),
                "false_not_found": round(float((~answered)[ans].mean()), 3),
                "unanswerable_abstained": round(float((~answered)[m & asked & ~ans].mean()), 3),
                "made_abstained": round(float((~answered)[m & ~asked].mean()), 3),
                "wrong_quotes": round(float((answered & ~correct)[m].mean()), 3),
                "cost": round(costs(conf[m], correct[m], ans[m], float(t), COST_WRONG), 3),
            })
        out[origin] = rows
    return out


def fit_confidence(
    groups: list[Group], stage1: Linear, encoder: Any, reader: Any, stage2: Linear | None = None
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
        read = 0.0
        if reader is not None:  # as `Extractor.read`: the question against the best candidate and the one before it
            read = float(reader.logits([reader_text(g.befores[best], g.quotes[best])], [g.question])[0])
        rows.append(answerability_features(logits, g.features, full, found, read))
        correct.append(g.answerable and g.labels[best] > 0)
    return stage2, np.vstack(rows), np.array(correct)


def recalibrate(model: Linear, x: np.ndarray, ok: np.ndarray, weights: np.ndarray) -> Linear:
    """`model` with its logit rescaled and shifted (Platt scaling) to be a probability on the questions as asked
    (`x`, `ok`). The made negatives teach which signs mark a question the documents do not answer, but they also
    make "not answered" more common than it is among questions people ask, which would leave every confidence too
    low."""
    from sklearn.linear_model import LogisticRegression

    z = model.logit(x).reshape(-1, 1)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(z, ok.astype(float), sample_weight=weights)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return Linear(model.names, model.mean, model.scale, model.weights * a, model.bias * a + b)


def fit_dev(train: list[Group], dev: list[Group], stage1: Linear, encoder: Any, reader: Any) -> dict[str, Any]:
    """Stage 2 on the dev questions as asked; the confidence model on the dev SQuAD article's questions and the
    report's training questions, with the user-style negatives made from them, weighted so that SQuAD and the
    report count alike (its confidence must be a probability on both kinds of document); the two thresholds by cost
    (`choose_threshold`) on the report's dev questions and the negatives made from them, which the confidence model
    has not seen: report-like questions, as staff ask them. With the dev figures they reach and the dev curve."""
    from .metrics import calibration

    # only stage 2 is kept from this pass, so the reader (which only feeds the confidence's rows) is not run in it
    stage2, _, _ = fit_confidence([g for g in dev if g.kind == "asked"], stage1, encoder, None)
    _, x_dev, ok_dev = fit_confidence(dev, stage1, encoder, reader, stage2)
    _, x_train, ok_train = fit_confidence(train, stage1, encoder, reader, stage2)
    report_train = np.array([g.origin != "squad" for g in train])
    squad_dev = np.array([g.origin == "squad" for g in dev])
    fit_groups = [*(g for g in dev if g.origin == "squad"), *(g for g in train if g.origin != "squad")]
    x_fit = np.vstack([x_dev[squad_dev], x_train[report_train]])
    ok_fit = np.concatenate([ok_dev[squad_dev], ok_train[report_train]])
    squad = np.array([g.origin == "squad" for g in fit_groups])
    weights = np.where(squad, 1.0, squad.sum() / max(1, (~squad).sum()))
    confidence = fit_linear(x_fit, ok_fit.astype(float), ANSWERABILITY_FEATURES, weights)
    asked_fit = np.array([g.kind == "asked" for g in fit_groups])
    confidence = recalibrate(confidence, x_fit[asked_fit], ok_fit[asked_fit], weights[asked_fit])
    everything = [*train, *dev]
    conf = 1 / (1 + np.exp(-confidence.logit(np.vstack([x_train, x_dev]))))
    answerable = np.array([g.answerable for g in everything])
    ok = np.concatenate([ok_train, ok_dev])
    report = np.array([g.origin != "squad" and g.split == "dev" for g in everything])
    # never below the break-even of a calibrated probability: quoting at p costs COST_WRONG * (1 - p) against p for
    # abstaining; a dev minimum below it comes from a flat curve over a few dozen questions, not from the model
    threshold = max(choose_threshold(conf[report], ok[report], answerable[report], COST_WRONG), break_even())
    closest = choose_threshold(conf[report], ok[report], answerable[report], 1.0)
    asked = np.array([g.kind == "asked" for g in everything])
    figures = {}
    for name in ORIGINS:
        m = np.array([g.origin == name and g.split == "dev" for g in everything])
        if not m.any():
            continue
        ans, un = m & answerable, m & ~answerable & asked
        figures[name] = {
            "questions": int(m.sum()), "top1": round(float(ok[ans].mean()), 4),
            "evidence_cited": round(float((ok & (conf >= threshold))[ans].mean()), 4),
            "false_not_found": round(float((conf < threshold)[ans].mean()), 4),
            "unanswerable_abstained": round(float((conf < threshold)[un].mean()), 4) if un.any() else None,
            "made_abstained": round(float((conf < threshold)[m & ~asked].mean()), 4),
            "ece": round(calibration(conf[m].tolist(), ok[m].tolist())["ece"] or 0.0, 4),
        }
    return {"stage2": stage2.to_dict(), "answerable": confidence.to_dict(), "threshold": threshold,
            "closest_threshold": min(closest, threshold), "cost_wrong": COST_WRONG, "dev": figures,
            "curve": curve(conf, ok, everything)}


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cityqa.evaluation.train", description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=Path, default=Path("../shared/bench/squad-public.json"))
    parser.add_argument("--gold", type=Path, default=Path("tests/gold/questions.jsonl"))
    parser.add_argument("--users", default="none",
                        help="questions about the same corpus in a new user's words (gold format; `make train` passes "
                             "tests/gold/dev_users.jsonl), or 'none'")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--work", type=Path, default=Path("train-work"), help="indexes and mined candidates")
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--reader", default=str(READER_DIR),
                        help="the pair reader's folder (`make reader`), or 'none' to fit without it")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    mined = args.work / "groups.pkl"
    files = {"gold": args.gold, **({} if args.users == "none" else {"users": Path(args.users)})}
    if mined.is_file():  # delete it to mine again (after changing features or data)
        groups = pickle.loads(mined.read_bytes())
    else:
        log("mining candidates")
        groups = mine([squad_source(args.squad, args.work), gold_source(files, args.corpus, args.work)])
        mined.write_bytes(pickle.dumps(groups))
    train = [g for g in groups if g.split == "train"]
    asked = [g for g in train if g.kind == "asked"]  # stage 1 ranks sentences: the made negatives add nothing
    dev = [g for g in groups if g.split == "dev"]
    log(f"{len(groups)} questions: train {len(train)}, dev {len(dev)}, "
        f"test {sum(g.split == 'test' for g in groups)} (not used)")
    # the report's own questions are few beside SQuAD's: each counts GOLD_WEIGHT times
    weights = np.concatenate([np.full(len(g.labels), 1.0 if g.origin == "squad" else GOLD_WEIGHT) for g in asked])
    stage1 = fit_linear(np.vstack([g.features for g in asked]), np.concatenate([g.labels for g in asked]), FEATURES,
                        weights)
    log(f"stage 1 top-1: train {top1(train, [stage1.logit(g.features) for g in train]):.3f}, "
        f"dev {top1(dev, [stage1.logit(g.features) for g in dev]):.3f}")
    from ..index.embeddings import Embedder

    split = squad_split(load_squad(args.squad))
    encoder = Embedder()
    encoder.use_index(args.work / "gold-index", "onnx-int8")  # the int8 encoder every index exports
    reader = None if args.reader == "none" else OnnxPairReader(Path(args.reader))
    fitted = fit_dev(train, dev, stage1, encoder, reader)
    log(f"dev: {json.dumps(fitted['dev'])}; threshold {fitted['threshold']}")
    scorer = {
        "stage1": stage1.to_dict(), **fitted, "top_n": TOP_N, "seed": SEED,
        "data": {"squad": args.squad.name, "squad_split": split, "gold": {k: str(v) for k, v in files.items()},
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
