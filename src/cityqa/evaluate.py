"""`cityqa eval`: score cityqa and baselines on the gold questions (or the fact-checker on the gold claims).

Everything is deterministic string and span arithmetic; no LLM judges anything.

Evidence. Each gold evidence text is located in its source file at `text.find(evidence)`, giving a character
span. A retrieved passage or a citation *contains* an evidence item when their spans overlap (same source,
at least one character in common).

Retrieval (answerable questions only; ranked passages = the system's retrieved passages, best first; for cityqa
the hybrid retriever's top hits for the question as resolved, the list its answerer picks sentences from, in the
order the answerer ranks them, which is the order its answer cites and lists them: `Assistant.passages`):
  hit@k    1 if one of the first k passages contains some gold evidence
  MRR      1 / rank of the first passage containing gold evidence (0 if none retrieved)
  nDCG@5   binary gain (passage contains gold evidence), log2 discount; the ideal ranking puts
           min(5, number of evidence items) relevant passages first; capped at 1

Answers (answerable questions; an abstention scores 0):
  short-answer recall  the answer contains a short answer (any of `short_answers`; all of `all_of` when given),
                       compared normalised: lower case, accents and punctuation stripped, whole words; a digit
                       also matches its number word ("3" ~ "three") and vice versa; citation markers "[n]" dropped
  token F1             SQuAD-style bag-of-words F1 of the normalised answer against the joined evidence texts
  citation precision   share of all citations given on answered answerable questions that contain gold evidence
  citation recall      share of all gold evidence items (of answerable questions) that some citation contains

Abstention (all questions): precision = abstentions on unanswerable / all abstentions; recall = abstentions on
unanswerable / unanswerable questions; false abstention rate = abstentions on answerable / answerable questions.

Latency: wall time of each system's answering call (cityqa: `Assistant.ask`), after one warm-up question;
p50 and p95 in milliseconds.

Every metric is given overall and per gold tag; a metric with nothing to average over is None.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .assistant import Assistant
from .baselines import SYSTEM_NAMES, Response, Span, System, build_systems, citation_span
from .errors import CityqaError
from .types import VERDICT_LABELS, Verdict

DEFAULT_GOLD = Path("tests/gold/questions.jsonl")
DEFAULT_CLAIMS = Path("tests/gold/claims.jsonl")
DEFAULT_OUT = Path("eval-out")
FILES = {
    "questions": ("report.json", "report.md", "report.png"),
    "squad": ("squad-report.json", "squad-report.md", "squad-report.png"),
    "claims": ("claims-report.json", "claims-report.md", "claims-report.png"),
}
LABELS = VERDICT_LABELS
HEADLINE = (
    "hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "short_answer_recall", "token_f1", "citation_precision",
    "citation_recall", "abstention_precision", "abstention_recall", "false_abstention_rate",
    "ece", "latency_p50_ms", "latency_p95_ms",
)
_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)
NUMBER_WORDS = dict(enumerate(_UNITS)) | {
    30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety", 100: "hundred",
}
_MARKER = re.compile(r"\[\d+\]")

Record = dict[str, Any]
Progress = Callable[[str], None]


class EvalError(CityqaError):
    """The evaluation cannot run as asked (missing gold file, unknown system, no fact-checker)."""

    exit_code = 2


# ------------------------------------------------------------ normalisation and metric functions


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
    words = {word: str(num) for num, word in NUMBER_WORDS.items()}
    if norm.isdigit() and int(norm) in NUMBER_WORDS:
        return [norm, NUMBER_WORDS[int(norm)]]
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
        row = {"lo": float(lo), "hi": float(hi), "n": n, "confidence": None, "accuracy": None}
        if n:
            row["confidence"], row["accuracy"] = float(conf[mask].mean()), float(hits[mask].mean())
            total += n * abs(row["confidence"] - row["accuracy"])
        rows.append(row)
    return {"ece": total / len(conf) if conf.any() else None, "bins": rows}


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


# ------------------------------------------------------------ gold data


def load_jsonl(path: Path | str) -> list[Record]:
    path = Path(path)
    if not path.is_file():
        raise EvalError(f"Gold file {path} not found. Pass one with --gold (default {DEFAULT_GOLD}).")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class Sources:
    """Source texts read from the corpus folder, to locate evidence."""

    def __init__(self, corpus_dir: Path | str) -> None:
        self.dir = Path(corpus_dir)
        self._texts: dict[str, str | None] = {}
        self.missing: list[str] = []

    def text(self, source: str) -> str | None:
        if source not in self._texts:
            path = self.dir / source
            self._texts[source] = path.read_text(encoding="utf-8") if path.is_file() else None
        return self._texts[source]

    def spans(self, evidence: Sequence[Record]) -> list[Span | None]:
        """Each evidence item's span in its source (None, and noted in `missing`, when not found)."""
        spans: list[Span | None] = []
        for item in evidence:
            text = self.text(item["source"])
            start = -1 if text is None else text.find(item["text"])
            if start < 0:
                self.missing.append(f"{item['source']}: {item['text'][:60]}")
            spans.append(Span(item["source"], start, start + len(item["text"])) if start >= 0 else None)
        return spans


# ------------------------------------------------------------ scoring one question


@dataclass
class Scored:
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


def covered(spans: Sequence[Span], evidence: Sequence[Span | None]) -> list[bool]:
    """Per span: whether it overlaps some located evidence span."""
    found = [e for e in evidence if e is not None]
    return [any(span.overlaps(e) for e in found) for span in spans]


def score(item: Record, response: Response, evidence: Sequence[Span | None]) -> Scored:
    answer = response.answer
    result = Scored(
        id=item["id"], tags=list(item.get("tags", [])), answerable=bool(item["answerable"]),
        abstained=answer.abstained, answer=answer.answer, seconds=response.seconds, confidence=answer.confidence,
    )
    if not result.answerable:
        return result
    top = (answer.citations or answer.related)[:1]
    result.top_correct = bool(top) and any(covered([citation_span(top[0])], evidence))
    cited = [citation_span(c) for c in answer.citations] if not answer.abstained else []
    result.relevant = covered(response.passages, evidence)
    result.n_evidence = len(evidence)
    text = "" if answer.abstained else answer.answer
    result.correct = answer_correct(text, item["short_answers"], item.get("all_of", ()))
    result.f1 = token_f1(text, " ".join(e["text"] for e in item["evidence"]))
    result.citations, result.citations_relevant = len(cited), sum(covered(cited, evidence))
    result.evidence_cited = sum(e is not None and any(e.overlaps(c) for c in cited) for e in evidence)
    return result


# ------------------------------------------------------------ aggregation


def aggregate(results: Sequence[Scored]) -> dict[str, Any]:
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
        "ece": calib["ece"], "reliability": calib["bins"],
        "latency_p50_ms": None if p50 is None else 1000 * p50,
        "latency_p95_ms": None if p95 is None else 1000 * p95,
    }


def by_tag(results: Sequence[Scored]) -> dict[str, dict[str, Any]]:
    tags = sorted({tag for r in results for tag in r.tags})
    return {tag: aggregate([r for r in results if tag in r.tags]) for tag in tags}


def failure_reasons(result: Scored) -> list[str]:
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


def failures(results: Sequence[Scored]) -> list[Record]:
    out = []
    for result in results:
        reasons = failure_reasons(result)
        if reasons:
            out.append({"id": result.id, "reasons": reasons, "answer": result.answer[:300]})
    return out


# ------------------------------------------------------------ running


def run_system(system: System, gold: Sequence[Record], sources: Sources) -> list[Scored]:
    """Ask every gold question (follow-ups with their `history`), after one untimed warm-up."""
    system.ask("warm-up: which cities are discussed?", None)
    results = []
    for item in gold:
        response = system.ask(item["question"], item.get("history"))
        results.append(score(item, response, sources.spans(item["evidence"])))
    return results


def system_report(results: Sequence[Scored]) -> Record:
    return {
        "overall": aggregate(results), "by_tag": by_tag(results), "failures": failures(results),
        "questions": [asdict(r) for r in results],
    }


def evaluate(
    assistant: Assistant,
    gold_path: Path | str = DEFAULT_GOLD,
    systems: Sequence[str] = SYSTEM_NAMES,
    corpus_dir: Path | str | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> Record:
    """Score each named system on the gold questions; the report `write_report` saves and `summary` shortens."""
    unknown = [name for name in systems if name not in SYSTEM_NAMES]
    if unknown or not systems:
        raise EvalError(f"Unknown system(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(SYSTEM_NAMES)}.")
    gold = load_jsonl(gold_path)[:limit]
    corpus = Path(corpus_dir or assistant.settings.corpus_dir)
    sources = Sources(corpus)
    report: Record = _header("questions", assistant, gold_path, corpus) | {"n_questions": len(gold), "systems": {}}
    for system in build_systems(assistant, systems, corpus):
        if progress:
            progress(f"evaluating {system.name} on {len(gold)} questions…")
        try:
            report["systems"][system.name] = system_report(run_system(system, gold, sources))
        finally:
            getattr(system, "close", lambda: None)()
    report["missing_evidence"] = sorted(set(sources.missing))
    return report


def _header(kind: str, assistant: Assistant, gold_path: Path | str, corpus: Path) -> Record:
    return {
        "kind": kind, "created": datetime.now(UTC).isoformat(timespec="seconds"), "gold": str(gold_path),
        "index": str(assistant.index_dir), "fingerprint": assistant.fingerprint, "corpus": str(corpus),
        "embed_model": assistant.settings.embed_model,
    }


# ------------------------------------------------------------ claims (fact-checking)


def final_label(result: Verdict | Sequence[Verdict]) -> str:
    """One label for a gold claim: contradicted if any part is, supported if every part is, else not_found."""
    verdicts = [result] if isinstance(result, Verdict) else list(result)
    labels = [v.verdict for v in verdicts]
    if "contradicted" in labels:
        return "contradicted"
    return "supported" if labels and all(label == "supported" for label in labels) else "not_found"


def claim_metrics(gold: Sequence[str], predicted: Sequence[str]) -> Record:
    """Accuracy, per-class precision/recall, confusion matrix (gold -> predicted), false-supported rate."""
    pairs = list(zip(gold, predicted, strict=True))
    confusion = {g: {p: sum(1 for a, b in pairs if (a, b) == (g, p)) for p in LABELS} for g in LABELS}
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
        "n": len(pairs), "accuracy": ratio(sum(a == b for a, b in pairs), len(pairs)),
        "false_supported": wrong_supported,  # the error that ends up in a briefing: counted on its own
        "false_supported_rate": ratio(wrong_supported, len(pairs) - per_class["supported"]["n"]),
        "false_supported_on_contradicted": ratio(confusion["contradicted"]["supported"],
                                                 sum(confusion["contradicted"].values())),
        "per_class": per_class, "confusion": confusion,
    }


def evaluate_claims(
    assistant: Assistant, claims_path: Path | str = DEFAULT_CLAIMS, limit: int | None = None,
    corpus_dir: Path | str | None = None,
) -> Record:
    """Fact-check every gold claim with `assistant.check` and score the verdicts.

    Besides the labels: `evidence_recall` = share of gold evidence items (supported and contradicted claims)
    that some cited evidence passage of the verdict overlaps, so a right label on the wrong passage shows;
    `evidence_shown` = share of those claims whose shown evidence holds at least one of their gold sentences
    (the one the verdict should rest on).
    """
    check = getattr(assistant, "check", None)
    if not callable(check):
        raise EvalError("This cityqa has no fact-checker (Assistant.check); `cityqa eval --claims` needs it.")
    gold = load_jsonl(claims_path)[:limit]
    corpus = Path(corpus_dir or assistant.settings.corpus_dir)
    sources = Sources(corpus)
    rows = [_check_one(check, item, sources.spans(item["evidence"])) for item in gold]
    report = _header("claims", assistant, claims_path, corpus) | {"n_claims": len(gold)}
    report["overall"] = claims_overall(rows)
    report["by_tag"] = {t: claims_overall([r for r in rows if t in r["tags"]]) for t in _tags(rows)}
    report["claims"] = rows
    report["failures"] = [r for r in rows if r["label"] != r["predicted"]]
    report["missing_evidence"] = sorted(set(sources.missing))
    return report


def _tags(rows: Sequence[Record]) -> list[str]:
    return sorted({t for r in rows for t in r["tags"]})


def claims_overall(rows: Sequence[Record]) -> Record:
    seconds = [r["seconds"] for r in rows]
    metrics = claim_metrics([r["label"] for r in rows], [r["predicted"] for r in rows])
    metrics["evidence_recall"] = ratio(sum(r["evidence_found"] for r in rows), sum(r["n_evidence"] for r in rows))
    with_evidence = [r for r in rows if r["n_evidence"]]
    metrics["evidence_shown"] = ratio(sum(r["evidence_found"] > 0 for r in with_evidence), len(with_evidence))
    metrics["latency_p50_ms"] = 1000 * (percentile(seconds, 50) or 0.0)
    metrics["latency_p95_ms"] = 1000 * (percentile(seconds, 95) or 0.0)
    return metrics


def _check_one(check: Callable[[str], Any], item: Record, evidence: Sequence[Span | None]) -> Record:
    start = time.perf_counter()
    try:
        result = check(item["claim"])
    except ImportError as exc:
        raise EvalError(f"The fact-checker is not available yet ({exc}); `cityqa eval --claims` needs it.") from exc
    seconds = time.perf_counter() - start
    verdicts = [result] if isinstance(result, Verdict) else list(result)
    cited = [citation_span(c) for v in verdicts for c in v.evidence]
    return {
        "id": item["id"], "tags": item.get("tags", []), "label": item["label"], "predicted": final_label(verdicts),
        "n_evidence": len(evidence), "evidence_found": sum(e is not None and any(e.overlaps(c) for c in cited)
                                                           for e in evidence),
        "seconds": seconds,
    }


# ------------------------------------------------------------ reports


def summary(report: Record) -> Record:
    """The report without per-question (per-claim) rows."""
    out = {key: value for key, value in report.items() if key != "claims"}
    if "systems" in report:
        out["systems"] = {
            name: {k: v for k, v in data.items() if k != "questions"} for name, data in report["systems"].items()
        }
    return out


def write_report(report: Record, out_dir: Path | str = DEFAULT_OUT) -> dict[str, Path]:
    """Write the JSON report, the Markdown tables and the chart into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_name, md_name, png_name = FILES[report["kind"]]
    paths = {"json": out / json_name, "markdown": out / md_name, "chart": out / png_name}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    plot(report, paths["chart"])
    return paths


def latest_report(out_dir: Path | str = DEFAULT_OUT, kind: str = "questions") -> Record | None:
    """The last report `cityqa eval` wrote to `out_dir` (for the UI's Evaluation tab); None if there is none."""
    path = Path(out_dir) / FILES[kind][0]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def chart_path(out_dir: Path | str = DEFAULT_OUT, kind: str = "questions") -> Path | None:
    """The chart of the last report in `out_dir`, or None."""
    path = Path(out_dir) / FILES[kind][2]
    return path if path.is_file() else None


def fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric.startswith("latency"):
        return f"{value:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# The table builders below serve the CLI and Markdown reports (plain) and the UI's Evaluation tab, which passes
# `cell` and `label` functions that escape whatever the report file holds.
Cell = Callable[..., str]  # (value, metric name="") -> text
Label = Callable[[Any], str]


def side_by_side(report: Record, cell: Cell = fmt, label: Label = str) -> str:
    """Metrics as rows, systems as columns (Markdown)."""
    systems = report["systems"]
    rows = [[label(m), *(cell(data["overall"].get(m), m) for data in systems.values())] for m in HEADLINE]
    return table(["metric", *(label(name) for name in systems)], rows)


TAG_COLUMNS = ("n", "hit@5", "mrr", "short_answer_recall", "token_f1", "citation_precision", "citation_recall",
               "abstention_recall", "false_abstention_rate")


def tag_table(tags: dict[str, Record], cell: Cell = fmt, label: Label = str) -> str:
    rows = [[label(tag), *(cell(data.get(m), m) for m in TAG_COLUMNS)] for tag, data in tags.items()]
    return table(["tag", *(label(m) for m in TAG_COLUMNS)], rows)


def render_table(report: Record) -> str:
    """The headline table for a terminal: systems side by side, or the verdict metrics and confusion matrix."""
    if report["kind"] == "questions":
        return side_by_side(report)
    if report["kind"] == "squad":
        from .squad_eval import render_table as squad_table

        return squad_table(report)
    return claims_table(report["overall"]) + "\n\n" + confusion_table(report["overall"]["confusion"])


def render_markdown(report: Record) -> str:
    if report["kind"] == "squad":
        return "# cityqa on SQuAD-format questions\n\n" + render_table(report) + "\n"
    return (_questions_markdown if report["kind"] == "questions" else _claims_markdown)(report)


def _meta(report: Record) -> str:
    return (f"Gold: `{report['gold']}` · index: `{report['index']}` · corpus: `{report['corpus']}` · "
            f"model: `{report['embed_model']}` · {report['created']}")


def _questions_markdown(report: Record) -> str:
    parts = [f"# cityqa evaluation: {report['n_questions']} questions", _meta(report), "## Systems side by side",
             side_by_side(report)]
    name, data = next(iter(report["systems"].items()))  # cityqa when it was evaluated
    parts += [f"## {name} by tag", tag_table(data["by_tag"]), f"## {name}: failed questions ({len(data['failures'])})"]
    parts.append("\n".join(f"- **{f['id']}** ({'; '.join(f['reasons'])}): {f['answer'][:160]}"
                           for f in data["failures"]) or "none")
    if report.get("missing_evidence"):
        parts += ["## Evidence not found in the corpus", "\n".join(f"- {m}" for m in report["missing_evidence"])]
    return "\n\n".join(parts) + "\n"


def claims_table(metrics: Record, cell: Cell = fmt, label: Label = str) -> str:
    per_class = metrics["per_class"]
    rows = [["accuracy", cell(metrics["accuracy"])]]
    if "false_supported" in metrics:  # reports written before it was counted on its own lack it
        rows.append(["false supported (any claim not supported)",
                     f"{cell(metrics['false_supported'])} ({cell(metrics['false_supported_rate'])})"])
    rows.append(["false supported on contradicted", cell(metrics["false_supported_on_contradicted"])])
    rows += [[f"{name} precision / recall (n={cell(per_class[name]['n'])})",
              f"{cell(per_class[name]['precision'])} / {cell(per_class[name]['recall'])}"] for name in LABELS]
    rows += [[label(m), cell(metrics[m], m)]
             for m in ("evidence_recall", "evidence_shown", "latency_p50_ms", "latency_p95_ms") if m in metrics]
    return table(["metric", "value"], rows)


def confusion_table(confusion: dict[str, dict[str, int]], cell: Cell = fmt, label: Label = str) -> str:
    rows = [[label(g), *(cell(confusion[g][p]) for p in LABELS)] for g in LABELS]
    return table([label("gold \\ predicted"), *(label(p) for p in LABELS)], rows)


def claims_tag_table(by_tag: dict[str, Record], cell: Cell = fmt, label: Label = str) -> str:
    rows = [[label(t), cell(m.get("n")), cell(m.get("accuracy")), cell(m.get("false_supported_on_contradicted"))]
            for t, m in by_tag.items()]
    return table(["tag", "n", "accuracy", "false supported on contradicted"], rows)


def _claims_markdown(report: Record) -> str:
    matrix = confusion_table(report["overall"]["confusion"])
    tags = claims_tag_table(report["by_tag"])
    failed = "\n".join(f"- **{r['id']}**: gold {r['label']}, predicted {r['predicted']}" for r in report["failures"])
    return "\n\n".join([
        f"# cityqa fact-check evaluation: {report['n_claims']} claims", _meta(report), "## Overall",
        claims_table(report["overall"]), "## Confusion matrix", matrix, "## By tag", tags,
        f"## Wrong verdicts ({len(report['failures'])})", failed or "none",
    ]) + "\n"


# ------------------------------------------------------------ chart

CHART_METRICS = ("hit@1", "hit@5", "mrr", "ndcg@5", "short_answer_recall", "token_f1", "citation_precision",
                 "citation_recall", "abstention_precision", "abstention_recall")
TAG_CHART_METRICS = ("hit@5", "short_answer_recall", "citation_recall", "abstention_recall")


def plot(report: Record, path: Path) -> None:
    """Metrics by system, then by tag (questions) or the reliability curve (SQuAD), or verdict metrics; one PNG.
    Question reports end with each system's reliability curve: mean confidence against accuracy per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 3 if report["kind"] == "questions" else 2
    fig, axes = plt.subplots(rows, 1, figsize=(12, 5 * rows))
    if report["kind"] == "questions":
        series = {name: [d["overall"][m] for m in CHART_METRICS] for name, d in report["systems"].items()}
        _bars(axes[0], list(CHART_METRICS), series, "Metrics by system")
        first = next(iter(report["systems"]))
        tags = report["systems"][first]["by_tag"]
        _bars(axes[1], list(tags), {m: [tags[t][m] for t in tags] for m in TAG_CHART_METRICS}, f"{first} by tag")
        _reliability(axes[2], report["systems"])
    elif report["kind"] == "squad":
        from .squad_eval import SQUAD_METRICS

        metrics = [m for m in SQUAD_METRICS if not m.startswith("latency")]
        series = {name: [d["overall"][m] for m in metrics] for name, d in report["systems"].items()}
        _bars(axes[0], metrics, series, f"SQuAD-format evaluation, {report['n_questions']} questions")
        _reliability(axes[1], report["systems"])
    else:
        per_class = report["overall"]["per_class"]
        _bars(axes[0], list(LABELS), {k: [per_class[label][k] for label in LABELS] for k in ("precision", "recall")},
              f"Verdicts: accuracy {fmt(report['overall']['accuracy'])}")
        tags = report["by_tag"]
        _bars(axes[1], list(tags), {"accuracy": [tags[t]["accuracy"] for t in tags]}, "Accuracy by tag")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _reliability(ax: Any, systems: Record) -> None:
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, data in systems.items():
        bins = [b for b in data["overall"].get("reliability") or [] if b["n"]]
        if bins and any(b["confidence"] for b in bins):  # systems without a confidence have nothing to draw
            ece = data["overall"].get("ece")
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
                    label=f"{name} (ECE {fmt(ece)})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence (mean per bin)")
    ax.set_ylabel("share whose top sentence holds the answer")
    ax.set_title("Reliability: is the confidence a probability?")
    ax.legend(fontsize=8, loc="upper left")


def _bars(ax: Any, labels: list[str], series: dict[str, list[float | None]], title: str) -> None:
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, [v or 0.0 for v in values], width, label=name)
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.25)
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=min(4, len(series)), loc="upper center")
