"""Evaluation metrics: pure functions over answers, ranked passages and verdicts (no I/O, no models).

The definitions each metric follows are in `evaluation.evaluate`'s docstring; `evaluation.report` renders them.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..types import VERDICT_LABELS, Verdict

LABELS = VERDICT_LABELS
HEADLINE = (
    "hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "short_answer_recall", "token_f1", "citation_precision",
    "citation_recall", "abstention_precision", "abstention_recall", "false_abstention_rate",
    "answered_with_evidence", "evidence_shown", "wrong_answers", "ece", "latency_p50_ms", "latency_p95_ms",
)
_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)
SPELLED_NUMBERS = dict(enumerate(_UNITS)) | {
    30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety", 100: "hundred",
}
_MARKER = re.compile(r"\[\d+\]")

Record = dict[str, Any]


def normalise(text: str) -> str:
    """Lower case, accents and punctuation stripped, white space collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def tokens(text: str) -> list[str]:
    return normalise(_MARKER.sub(" ", text)).split()


def _variants(needle: str) -> list[str]:
    """The normalised needle, plus its number-word/digit alias when it is a single number."""
    norm = normalise(needle)
    words = {word: str(num) for num, word in SPELLED_NUMBERS.items()}
    if norm.isdigit() and int(norm) in SPELLED_NUMBERS:
        return [norm, SPELLED_NUMBERS[int(norm)]]
    return [norm, words[norm]] if norm in words else [norm]


def contains(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack` as whole words, after normalisation (digits ~ number words)."""
    padded = " " + " ".join(tokens(haystack)) + " "
    return any(v and f" {v} " in padded for v in _variants(needle))


def answer_correct(answer: str, short_answers: Sequence[str], all_of: Sequence[str] = ()) -> bool:
    """All of `all_of` when given, else any of `short_answers`, present in `answer`."""
    if all_of:
        return all(contains(answer, item) for item in all_of)
    return any(contains(answer, item) for item in short_answers)


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = tokens(prediction), tokens(reference)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    return float(any(relevant[:k]))


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    return next((1.0 / rank for rank, rel in enumerate(relevant, 1) if rel), 0.0)


def ndcg_at_k(relevant: Sequence[bool], k: int, n_relevant: int) -> float:
    """Binary-gain nDCG@k; the ideal ranking has min(k, n_relevant) relevant passages first."""
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(k, n_relevant)))
    if ideal == 0:
        return 0.0
    dcg = sum(1.0 / np.log2(i + 2) for i, rel in enumerate(relevant[:k]) if rel)
    return float(min(1.0, dcg / ideal))


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def calibration(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> Record:
    """Expected calibration error over `bins` equal-width confidence bins, and each bin's mean confidence and
    accuracy (the reliability curve). The error is None when there is nothing to calibrate: no confidences, or a
    system that gives none (the baselines say 0 throughout)."""
    conf = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    rows, total = [], 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        mask = (conf >= lo) & ((conf < hi) if i < bins - 1 else (conf <= hi))
        n = int(mask.sum())
        row: Record = {"lo": float(lo), "hi": float(hi), "n": n, "confidence": None, "accuracy": None}
        if n:
            confidence, accuracy = float(conf[mask].mean()), float(hits[mask].mean())
            row["confidence"], row["accuracy"] = confidence, accuracy
            total += n * abs(confidence - accuracy)
        rows.append(row)
    return {"ece": total / len(conf) if conf.any() else None, "bins": rows}


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None



@dataclass
class QuestionResult:
    """One system's result on one gold question."""

    id: str
    tags: list[str]
    answerable: bool
    abstained: bool
    answer: str
    seconds: float
    relevant: list[bool] = field(default_factory=list)  # per ranked passage: contains gold evidence
    n_evidence: int = 0
    correct: bool | None = None  # short-answer match (answerable only)
    f1: float | None = None
    citations: int = 0
    citations_relevant: int = 0
    evidence_cited: int = 0
    confidence: float = 0.0
    top_correct: bool = False  # the top sentence (first citation, or first related passage) holds gold evidence


def aggregate(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """All metrics over `results` (see the module docstring)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    ranked = [r for r in answerable if r.n_evidence]
    abstained = [r for r in results if r.abstained]
    seconds = [r.seconds for r in results]
    p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
    calib = calibration([r.confidence for r in results], [r.top_correct for r in results])
    return {
        "n": len(results), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "hit@1": mean(hit_at_k(r.relevant, 1) for r in ranked),
        "hit@3": mean(hit_at_k(r.relevant, 3) for r in ranked),
        "hit@5": mean(hit_at_k(r.relevant, 5) for r in ranked),
        "mrr": mean(reciprocal_rank(r.relevant) for r in ranked),
        "ndcg@5": mean(ndcg_at_k(r.relevant, 5, r.n_evidence) for r in ranked),
        "short_answer_recall": mean(float(bool(r.correct)) for r in answerable),
        "token_f1": mean(r.f1 for r in answerable),
        "citation_precision": ratio(
            sum(r.citations_relevant for r in answerable), sum(r.citations for r in answerable)
        ),
        "citation_recall": ratio(sum(r.evidence_cited for r in answerable), sum(r.n_evidence for r in answerable)),
        "abstention_precision": ratio(sum(not r.answerable for r in abstained), len(abstained)),
        "abstention_recall": ratio(sum(r.abstained for r in unanswerable), len(unanswerable)),
        "false_abstention_rate": ratio(sum(r.abstained for r in answerable), len(answerable)),
        "answered_with_evidence": ratio(sum(not r.abstained and r.evidence_cited > 0 for r in ranked), len(ranked)),
        "evidence_shown": ratio(sum(shows_evidence(r) for r in ranked), len(ranked)),
        "wrong_answers": sum(is_wrong_answer(r) for r in results),
        "ece": calib["ece"], "reliability": calib["bins"],
        "latency_p50_ms": None if p50 is None else 1000 * p50,
        "latency_p95_ms": None if p95 is None else 1000 * p95,
    }


def shows_evidence(result: QuestionResult) -> bool:
    """The reader sees the evidence: quoted as the answer, or, when cityqa abstains, as the first of the closest
    passages it shows with its "not found" (what a "not found" costs the reader: a minute, not the answer)."""
    return result.evidence_cited > 0 if not result.abstained else result.top_correct


def is_wrong_answer(result: QuestionResult) -> bool:
    """A quote given as the answer that does not answer: to an unanswerable question, or one whose citations hold
    none of the gold evidence (the error that ends up in a briefing)."""
    if result.abstained:
        return False
    return not result.answerable or bool(result.n_evidence and not result.evidence_cited)


def by_tag(results: Sequence[QuestionResult]) -> dict[str, dict[str, Any]]:
    tags = sorted({tag for r in results for tag in r.tags})
    return {tag: aggregate([r for r in results if tag in r.tags]) for tag in tags}


def failure_reasons(result: QuestionResult) -> list[str]:
    """Why a question counts as failed: wrong abstention, missed short answer, evidence not retrieved/cited."""
    if not result.answerable:
        return [] if result.abstained else ["answered an unanswerable question"]
    if result.abstained:
        return ["abstained"] + ([] if hit_at_k(result.relevant, 5) else ["evidence not in top 5"])
    reasons = [] if result.correct else ["short answer missing"]
    if result.n_evidence and not hit_at_k(result.relevant, 5):
        reasons.append("evidence not in top 5")
    if result.n_evidence and not result.evidence_cited:
        reasons.append("no citation contains the evidence")
    return reasons


def failures(results: Sequence[QuestionResult]) -> list[Record]:
    out = []
    for result in results:
        reasons = failure_reasons(result)
        if reasons:
            out.append({"id": result.id, "reasons": reasons, "answer": result.answer[:300]})
    return out



def final_label(result: Verdict | Sequence[Verdict]) -> str:
    """One label for a gold claim: contradicted if any part is, supported if every part is, close if every part is
    supported or close, else not_found."""
    verdicts = [result] if isinstance(result, Verdict) else list(result)
    labels = [v.verdict for v in verdicts]
    if "contradicted" in labels:
        return "contradicted"
    if labels and all(label == "supported" for label in labels):
        return "supported"
    return "close" if labels and all(label in {"supported", "close"} for label in labels) else "not_found"


def verdict_right(gold: str, predicted: str) -> bool:
    """A verdict is right when it is the gold label, or "close" for a true claim (a person checks the words)."""
    return gold == predicted or (gold == "supported" and predicted == "close")


def claim_metrics(gold: Sequence[str], predicted: Sequence[str]) -> Record:
    """Accuracy, per-class precision/recall, confusion matrix (gold -> predicted), false-supported rate."""
    pairs = list(zip(gold, predicted, strict=True))
    confusion = {g: {p: sum(1 for a, b in pairs if (a, b) == (g, p)) for p in LABELS} for g in LABELS}
    true = [b for a, b in pairs if a == "supported"]
    altered = [b for a, b in pairs if a != "supported"]
    per_class = {
        label: {
            "precision": ratio(confusion[label][label], sum(confusion[g][label] for g in LABELS)),
            "recall": ratio(confusion[label][label], sum(confusion[label].values())),
            "n": sum(confusion[label].values()),
        }
        for label in LABELS
    }
    wrong_supported = confusion["contradicted"]["supported"] + confusion["not_found"]["supported"]
    return {
        "n": len(pairs), "accuracy": ratio(sum(verdict_right(a, b) for a, b in pairs), len(pairs)),
        "true_supported": ratio(sum(b == "supported" for b in true), len(true)),
        "true_supported_or_close": ratio(sum(b in {"supported", "close"} for b in true), len(true)),
        "altered_close": ratio(sum(b == "close" for b in altered), len(altered)),  # a person is asked to check
        "false_supported": wrong_supported,  # the error that ends up in a briefing: counted on its own
        "false_supported_rate": ratio(wrong_supported, len(pairs) - sum(confusion["supported"].values())),
        "false_supported_on_contradicted": ratio(confusion["contradicted"]["supported"],
                                                 sum(confusion["contradicted"].values())),
        "per_class": per_class, "confusion": confusion,
    }
