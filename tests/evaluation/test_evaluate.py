"""`cityqa eval`: metric functions on hand-made inputs, and a regression gate on the gold questions."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cityqa import cli
from cityqa.evaluation import evaluate as ev
from cityqa.evaluation import metrics
from cityqa.evaluation import report as reports
from cityqa.evaluation.baselines import Response, Span
from cityqa.types import Answer, Citation, Verdict
from conftest import GOLD, REPORT

FLOORS = json.loads((GOLD / "floors.json").read_text(encoding="utf-8"))
SOURCE = REPORT.name


# ------------------------------------------------------------ normalisation and matching


def test_normalise_strips_case_accents_and_punctuation() -> None:
    assert metrics.normalise("San José’s  Sister-Cities, Inc.!") == "san jose s sister cities inc"


@pytest.mark.parametrize(
    ("haystack", "needle", "expected"),
    [
        ("The mayor of San José.", "San Jose", True),
        ("Fresnos are trees", "Fresno", False),  # whole words only
        ("three of the nine cities", "3", True),  # digit alias
        ("in 7 cities", "seven", True),  # number word alias
        ("in 70 cities", "7", False),
        ("a flag-raising ceremony [1]", "flag raising ceremony", True),
        ("a quoted sentence [1]", "1", False),  # citation markers are not answers
        ("", "Okiyama", False),
    ],
)
def test_contains(haystack: str, needle: str, expected: bool) -> None:
    assert metrics.contains(haystack, needle) is expected


def test_answer_correct_needs_every_all_of_item() -> None:
    text = "Trade missions went to the United Kingdom, Finland and Japan."
    assert metrics.answer_correct(text, ["Japan", "Peru"])
    assert metrics.answer_correct(text, ["Peru"], ["United Kingdom", "Japan"])
    assert not metrics.answer_correct(text, ["Japan"], ["United Kingdom", "Taiwan"])


def test_token_f1() -> None:
    assert ev.token_f1("a b c", "a b d") == pytest.approx(2 / 3)
    assert ev.token_f1("The Okiyama link.", "okiyama link the") == pytest.approx(1.0)
    assert ev.token_f1("", "anything") == 0.0
    assert ev.token_f1("x y", "a b") == 0.0


# ------------------------------------------------------------ ranking metrics


def test_hit_at_k_and_reciprocal_rank() -> None:
    ranked = [False, False, True, False]
    assert metrics.hit_at_k(ranked, 1) == 0.0
    assert metrics.hit_at_k(ranked, 3) == 1.0
    assert metrics.reciprocal_rank(ranked) == pytest.approx(1 / 3)
    assert metrics.reciprocal_rank([False, False]) == 0.0
    assert metrics.reciprocal_rank([]) == 0.0


def test_ndcg() -> None:
    assert metrics.ndcg_at_k([True, False], 5, 1) == pytest.approx(1.0)
    assert metrics.ndcg_at_k([False, True], 5, 1) == pytest.approx(1 / math.log2(3))
    assert metrics.ndcg_at_k([True, False, True], 5, 2) == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
    assert metrics.ndcg_at_k([False] * 6 + [True], 5, 1) == 0.0
    assert metrics.ndcg_at_k([True, True, True], 5, 1) == 1.0  # capped
    assert metrics.ndcg_at_k([True], 5, 0) == 0.0


def test_spans_overlap_only_in_the_same_source() -> None:
    assert Span("a", 0, 10).overlaps(Span("a", 9, 20))
    assert not Span("a", 0, 10).overlaps(Span("a", 10, 20))
    assert not Span("a", 0, 10).overlaps(Span("b", 0, 10))


def test_percentile_and_ratio() -> None:
    assert metrics.percentile([1, 2, 3, 4, 5], 50) == 3
    assert metrics.percentile([], 95) is None
    assert metrics.ratio(1, 0) is None
    assert metrics.mean([None, 1.0, 0.0]) == 0.5


# ------------------------------------------------------------ scoring one question and aggregating


def _citation(start: int, end: int, n: int = 1) -> Citation:
    return Citation(n=n, source=SOURCE, section="", quote="", start=start, end=end, score=1.0, chunk_id="c",
                    chunk_start=start, chunk_end=end)


def _item(answerable: bool = True, **extra: Any) -> dict[str, Any]:
    evidence = [{"source": SOURCE, "text": "Okiyama is the third-oldest linkage."}] if answerable else []
    base = {"id": "q1", "question": "?", "short_answers": ["Okiyama"] if answerable else [], "evidence": evidence,
            "answerable": answerable, "tags": ["lookup"]}
    return base | extra


def test_score_answerable_question() -> None:
    evidence = [Span(SOURCE, 100, 136)]
    answer = Answer("?", "Okiyama is the third-oldest linkage. [1] Other. [2]", False, 0.9,
                    citations=[_citation(100, 136), _citation(300, 320, 2)])
    passages = [Span(SOURCE, 0, 50), Span(SOURCE, 90, 200)]
    scored = ev.score(_item(), Response(answer, passages, 0.01), evidence)
    assert scored.relevant == [False, True]
    assert scored.correct is True
    assert 0 < scored.f1 < 1  # type: ignore[operator]
    assert (scored.citations, scored.citations_relevant, scored.evidence_cited) == (2, 1, 1)
    assert metrics.failure_reasons(scored) == []


def test_score_abstention_on_answerable_question() -> None:
    answer = Answer("?", "Not found: Okiyama", True, 0.1, related=[_citation(100, 136)])
    scored = ev.score(_item(), Response(answer, [Span(SOURCE, 90, 200)]), [Span(SOURCE, 100, 136)])
    assert scored.correct is False and scored.f1 == 0.0 and scored.evidence_cited == 0
    assert metrics.failure_reasons(scored) == ["abstained"]


def test_aggregate_abstention_metrics() -> None:
    def row(answerable: bool, abstained: bool) -> metrics.QuestionResult:
        return metrics.QuestionResult("q", ["t"], answerable, abstained, "", 0.01, [True], 1, not abstained, 1.0,
                                      1, 1, 1)

    rows = [row(False, True), row(False, True), row(False, False), row(True, True), row(True, False)]
    overall = metrics.aggregate(rows)
    assert overall["abstention_precision"] == pytest.approx(2 / 3)
    assert overall["abstention_recall"] == pytest.approx(2 / 3)
    assert overall["false_abstention_rate"] == pytest.approx(1 / 2)
    assert overall["short_answer_recall"] == pytest.approx(1 / 2)
    assert overall["latency_p50_ms"] == pytest.approx(10.0)
    assert metrics.by_tag(rows)["t"]["n"] == 5


# ------------------------------------------------------------ claims


def _verdict(label: str) -> Verdict:
    return Verdict(claim="c", verdict=label, confidence=1.0)  # type: ignore[arg-type]


def test_final_label_combines_parts() -> None:
    assert metrics.final_label(_verdict("supported")) == "supported"
    assert metrics.final_label([_verdict("supported"), _verdict("contradicted")]) == "contradicted"
    assert metrics.final_label([_verdict("supported"), _verdict("not_found")]) == "not_found"
    assert metrics.final_label([]) == "not_found"


def test_claim_metrics() -> None:
    gold = ["supported", "supported", "contradicted", "contradicted", "not_found"]
    predicted = ["supported", "not_found", "supported", "contradicted", "not_found"]
    scores = metrics.claim_metrics(gold, predicted)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    assert scores["confusion"]["contradicted"]["supported"] == 1
    assert scores["false_supported_on_contradicted"] == pytest.approx(1 / 2)
    assert (scores["false_supported"], scores["false_supported_rate"]) == (1, pytest.approx(1 / 3))
    assert scores["per_class"]["supported"] == {"precision": 0.5, "recall": 0.5, "n": 2}
    assert scores["per_class"]["not_found"]["precision"] == pytest.approx(1 / 2)


def _stub_assistant(tmp_path: Path, check: Any = None) -> Any:
    settings = SimpleNamespace(corpus_dir=tmp_path, embed_model="stub")
    stub = SimpleNamespace(settings=settings, index_dir=tmp_path / "index", fingerprint="0123456789abcdef")
    if check is not None:
        stub.check = check
    return stub


def test_claims_report_round_trip(tmp_path: Path) -> None:
    def check(claim: str) -> list[Verdict]:
        if "San José" in claim:  # cites the whole report: finds any gold evidence
            return [Verdict(claim, "supported", 1.0, evidence=[_citation(0, 10**7)])]
        return [_verdict("not_found")]

    stub = _stub_assistant(REPORT.parent, check)
    report = ev.evaluate_claims(stub, GOLD / "claims.jsonl", limit=12)
    assert report["n_claims"] == 12 and report["overall"]["n"] == 12
    assert report["missing_evidence"] == []
    assert 0 < report["overall"]["evidence_recall"] <= 1
    assert "Confusion matrix" in reports.render_markdown(report)
    assert reports.latest_report(tmp_path / "out", kind="claims") is None
    reports.write_report(report, tmp_path / "out")
    assert reports.latest_report(tmp_path / "out", kind="claims")["overall"] == report["overall"]  # type: ignore[index]
    assert reports.chart_path(tmp_path / "out", kind="claims") is not None


def test_claims_without_a_fact_checker_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(ev.EvalError, match="fact-checker"):
        ev.evaluate_claims(_stub_assistant(tmp_path))


# ------------------------------------------------------------ the regression gate (real assistant)


@pytest.fixture(scope="module")
def cityqa_report(gold_run: tuple[dict[str, Any], Any]) -> dict[str, Any]:
    """`evaluate(assistant, gold questions, systems=["cityqa"])`, run once per session (conftest `gold_run`)."""
    return gold_run[0]


def test_gold_evidence_is_located(cityqa_report: dict[str, Any]) -> None:
    assert cityqa_report["missing_evidence"] == []
    assert cityqa_report["systems"]["cityqa"]["overall"]["n"] == cityqa_report["n_questions"]


@pytest.mark.parametrize("metric", sorted(FLOORS["cityqa"]["min"]))
def test_metric_above_floor(cityqa_report: dict[str, Any], metric: str) -> None:
    overall = cityqa_report["systems"]["cityqa"]["overall"]
    failed = [f["id"] for f in cityqa_report["systems"]["cityqa"]["failures"]]
    assert overall[metric] >= FLOORS["cityqa"]["min"][metric], f"{metric} = {overall[metric]:.3f}; failed: {failed}"


@pytest.mark.parametrize("metric", sorted(FLOORS["cityqa"]["max"]))
def test_metric_below_ceiling(cityqa_report: dict[str, Any], metric: str) -> None:
    overall = cityqa_report["systems"]["cityqa"]["overall"]
    assert overall[metric] <= FLOORS["cityqa"]["max"][metric], f"{metric} = {overall[metric]:.3f}"


def test_report_files(cityqa_report: dict[str, Any], tmp_path: Path) -> None:
    paths = reports.write_report(cityqa_report, tmp_path)
    assert {p.name for p in paths.values()} == {"report.json", "report.md", "report.png"}
    assert "| hit@5 |" in paths["markdown"].read_text(encoding="utf-8")
    assert reports.latest_report(tmp_path)["systems"].keys() == {"cityqa"}  # type: ignore[index]
    assert reports.chart_path(tmp_path) == paths["chart"]
    assert "questions" not in reports.summary(cityqa_report)["systems"]["cityqa"]


def test_llama_index_baseline_produces_metrics(assistant: Any) -> None:
    report = ev.evaluate(assistant, GOLD / "questions.jsonl", systems=["llama-index"], limit=8)
    overall = report["systems"]["llama-index"]["overall"]
    assert overall["n"] == 8
    assert overall["hit@5"] > 0 and overall["citation_recall"] > 0
    assert overall["false_abstention_rate"] == 0.0


def test_cli_eval_json(assistant: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("".join(json.dumps(q) + "\n" for q in ev.load_jsonl(GOLD / "questions.jsonl")[:6]))
    code = cli.main([
        "eval", "--gold", str(gold), "--index", str(assistant.index_dir), "--corpus",
        str(assistant.settings.corpus_dir), "--out", str(tmp_path / "out"), "--systems", "cityqa,bm25", "--json",
    ])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(summary["systems"]) == {"cityqa", "bm25"}
    assert "questions" not in summary["systems"]["cityqa"]
    assert (tmp_path / "out" / "report.png").is_file()


def test_cli_eval_rejects_unknown_system(assistant: Any, tmp_path: Path) -> None:
    code = cli.main(["eval", "--index", str(assistant.index_dir), "--systems", "gpt", "--out", str(tmp_path)])
    assert code == ev.EvalError.exit_code



def test_a_wrong_answer_is_a_quote_that_does_not_answer() -> None:
    def result(answerable: bool, abstained: bool, n_evidence: int = 1, cited: int = 0) -> metrics.QuestionResult:
        return metrics.QuestionResult(id="x", answerable=answerable, abstained=abstained, answer="", tags=[],
                                      seconds=0.0, n_evidence=n_evidence, evidence_cited=cited)

    assert metrics.is_wrong_answer(result(False, abstained=False))  # answered an unanswerable question
    assert metrics.is_wrong_answer(result(True, abstained=False, cited=0))  # quoted without the evidence
    assert not metrics.is_wrong_answer(result(True, abstained=False, cited=1))
    assert not metrics.is_wrong_answer(result(False, abstained=True))
    assert not metrics.is_wrong_answer(result(True, abstained=True))  # a false "not found" is counted elsewhere
    shown = result(True, True)
    shown.top_correct = True  # abstained, but the first closest passage it shows holds the evidence
    overall = metrics.aggregate([result(False, False), result(True, False, cited=1), result(True, True), shown])
    assert overall["wrong_answers"] == 1 and overall["answered_with_evidence"] == pytest.approx(1 / 3)
    assert overall["evidence_shown"] == pytest.approx(2 / 3)
