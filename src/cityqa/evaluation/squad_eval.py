"""`cityqa eval --squad FILE`: cityqa and baselines on any SQuAD 2.0-format file, in a temporary index.

Each article becomes one document (`squad.SquadSet.write_corpus`); the index is built from them with the current
settings; every question (or `--sample N --seed S` of them) is asked of every system. Metrics:

  evidence cited        answerable questions whose answer cites, from the question's own article, a quote that
                        contains one of the answers (its character span covers the answer's)
  short-answer recall   answerable questions whose answer text contains one of the answers (normalised words)
  false not found       answerable questions answered "not found"
  unanswerable abstained  unanswerable questions answered "not found"
  calibration           `Answer.confidence` against whether the top sentence (the first citation, or the first
                        related passage of a "not found") holds an answer: expected calibration error over 10
                        equal-width bins, and the reliability curve in the chart

Baselines, in the same index: the plain llama-index pipeline (its top chunk is the answer), and the single best
sentence of the whole index by BM25 alone and by MiniLM cosine alone (both always answer).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..assistant import Assistant
from ..errors import EvalError, IndexMismatchError
from ..settings import Settings
from ..types import Answer, Citation
from .baselines import CityqaSystem, llama_index_baseline, top_sentence_baseline
from .metrics import calibration, contains, mean, percentile
from .squad import SquadQuestion, SquadSet, load_squad

SQUAD_SYSTEMS = ("cityqa", "llama-index", "bm25-sentence", "dense-sentence")
Progress = Callable[[str], None]


@dataclass
class SquadResult:
    id: str
    answerable: bool
    abstained: bool
    evidence_cited: bool
    short_answer: bool
    confidence: float
    top_correct: bool
    seconds: float


def _covers(citation: Citation, question: SquadQuestion) -> bool:
    return citation.source == question.source and any(
        citation.start <= a and b <= citation.end for a, b in question.spans
    )


def score(question: SquadQuestion, answer: Answer, seconds: float) -> SquadResult:
    cited = [] if answer.abstained else answer.citations
    shown = answer.citations or answer.related
    top = shown[0] if shown else None
    return SquadResult(
        id=question.id, answerable=question.answerable, abstained=answer.abstained,
        evidence_cited=question.answerable and any(_covers(c, question) for c in cited),
        short_answer=question.answerable and not answer.abstained and any(
            contains(answer.answer, text) for text in question.answers),
        confidence=float(answer.confidence), top_correct=top is not None and _covers(top, question),
        seconds=seconds,
    )


def aggregate(results: Sequence[SquadResult]) -> dict[str, Any]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]

    def share(rows: Sequence[SquadResult], key: Callable[[SquadResult], bool]) -> float | None:
        return mean(float(key(r)) for r in rows)

    seconds = [r.seconds for r in results]
    calib = calibration([r.confidence for r in results], [r.top_correct for r in results])
    return {
        "n": len(results), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "evidence_cited": share(answerable, lambda r: r.evidence_cited),
        "short_answer_recall": share(answerable, lambda r: r.short_answer),
        "false_not_found": share(answerable, lambda r: r.abstained),
        "unanswerable_abstained": share(unanswerable, lambda r: r.abstained),
        "ece": calib["ece"], "reliability": calib["bins"],
        "latency_p50_ms": None if not seconds else 1000 * (percentile(seconds, 50) or 0.0),
        "latency_p95_ms": None if not seconds else 1000 * (percentile(seconds, 95) or 0.0),
    }


def _systems(names: Sequence[str], assistant: Assistant, corpus: Path) -> list[Any]:
    systems: list[Any] = []
    for name in names:
        if name == "cityqa":
            systems.append(CityqaSystem(assistant, passages=False))
        elif name == "llama-index":
            systems.append(llama_index_baseline(assistant, corpus))
        elif name in ("bm25-sentence", "dense-sentence"):
            systems.append(top_sentence_baseline(assistant, "bm25" if name == "bm25-sentence" else "dense"))
        else:

            raise EvalError(f"Unknown system {name!r}; choose from {', '.join(SQUAD_SYSTEMS)}.")
    return systems


def evaluate_squad(
    path: Path | str, settings: Settings | None = None, systems: Sequence[str] = SQUAD_SYSTEMS,
    sample: int | None = None, seed: int = 0, articles: Sequence[str] | None = None, work_dir: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Index the file's articles in a temporary folder (or `work_dir`, reused when it already holds them) and
    score each named system on their questions."""
    squad = load_squad(path)
    if articles:
        squad = squad.of_articles(articles)
    if sample is not None and sample < len(squad.questions):
        import random

        squad.questions = sorted(random.Random(seed).sample(squad.questions, sample), key=squad.questions.index)
    with tempfile.TemporaryDirectory(prefix="cityqa-squad-") as tmp:
        folder = Path(work_dir or tmp)
        return _run(squad, folder, settings or Settings(), systems, progress) | {
            "file": str(path), "sample": sample, "seed": seed, "articles": sorted(squad.titles.values()),
        }


def _run(squad: SquadSet, folder: Path, settings: Settings, names: Sequence[str],
         progress: Progress | None) -> dict[str, Any]:
    corpus, index = folder / "corpus", folder / "index"
    squad.write_corpus(corpus)
    settings = settings.model_copy(update={"corpus_dir": corpus, "index_dir": index})
    assistant = Assistant(settings, index)
    if progress:
        progress(f"indexing {len(squad.documents)} article(s)…")
    try:
        assistant.ingest(corpus)
    except IndexMismatchError:  # a kept work folder indexed with other settings
        assistant.ingest(corpus, rebuild=True)
    report: dict[str, Any] = {
        "kind": "squad", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "fingerprint": assistant.fingerprint, "embed_model": settings.embed_model,
        "n_questions": len(squad.questions), "systems": {},
    }
    for system in _systems(names, assistant, corpus):
        if progress:
            progress(f"evaluating {system.name} on {len(squad.questions)} questions…")
        try:
            system.ask("warm-up question", None)
            results = []
            for q in squad.questions:
                response = system.ask(q.question, None)
                results.append(score(q, response.answer, response.seconds))
        finally:
            getattr(system, "close", lambda: None)()
        report["systems"][system.name] = {"overall": aggregate(results), "questions": [asdict(r) for r in results]}
    return report
