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
unanswerable / unanswerable questions; false abstention rate = abstentions on answerable / answerable questions;
answered with evidence = answerable questions (with gold evidence) answered with a citation that holds it; evidence
shown = the same, or, when it abstains, the first closest passage shown with the "not found" holds it; wrong
answers = how many quotes were given as the answer and hold none of the gold evidence, or answer an unanswerable
question (the error that ends up in a briefing).

Latency: wall time of each system's answering call (cityqa: `Assistant.ask`), after one warm-up question;
p50 and p95 in milliseconds.

Every metric is given overall and per gold tag; a metric with nothing to average over is None.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..assistant import Assistant
from ..errors import EvalError
from ..types import Verdict
from .baselines import SYSTEM_NAMES, Response, Span, System, build_systems, citation_span
from .metrics import (
    QuestionResult,
    Record,
    aggregate,
    answer_correct,
    by_tag,
    claim_metrics,
    failures,
    final_label,
    percentile,
    ratio,
    token_f1,
)

DEFAULT_GOLD = Path("tests/gold/questions.jsonl")
DEFAULT_CLAIMS = Path("tests/gold/claims.jsonl")
Progress = Callable[[str], None]


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


def covered(spans: Sequence[Span], evidence: Sequence[Span | None]) -> list[bool]:
    """Per span: whether it overlaps some located evidence span."""
    found = [e for e in evidence if e is not None]
    return [any(span.overlaps(e) for e in found) for span in spans]


def score(item: Record, response: Response, evidence: Sequence[Span | None]) -> QuestionResult:
    answer = response.answer
    result = QuestionResult(
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


# ------------------------------------------------------------ running


def run_system(system: System, gold: Sequence[Record], sources: Sources) -> list[QuestionResult]:
    """Ask every gold question (follow-ups with their `history`), after one untimed warm-up."""
    system.ask("warm-up: which cities are discussed?", None)
    results = []
    for item in gold:
        response = system.ask(item["question"], item.get("history"))
        results.append(score(item, response, sources.spans(item["evidence"])))
    return results


def system_report(results: Sequence[QuestionResult]) -> Record:
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
