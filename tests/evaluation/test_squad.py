"""SQuAD 2.0-format files as a corpus, and `cityqa eval --squad` end to end on a tiny fictional file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityqa import cli
from cityqa.evaluation.report import SQUAD_METRICS
from cityqa.evaluation.squad import SquadFormatError, load_squad, split_articles
from cityqa.evaluation.squad_eval import evaluate_squad
from cityqa.settings import Settings
from conftest import QUOTING_THRESHOLD

TINY = Path(__file__).parents[1] / "fixtures" / "squad" / "tiny.json"


def test_answers_map_to_exact_spans_of_the_article_document() -> None:
    squad = load_squad(TINY)
    assert sorted(squad.documents) == ["Lake_Varn.md", "Orrin_Bridge.md"]
    assert squad.documents["Lake_Varn.md"].startswith("# Lake Varn\n\n")
    for q in squad.questions:
        text = squad.documents[q.source]
        if q.answerable:
            assert q.spans and all(text[a:b] in q.answers for a, b in q.spans)
        else:
            assert not q.spans and q.plausible and all(text[a:b] for a, b in q.plausible)
    assert sum(q.answerable for q in squad.questions) == 4


def test_sampling_and_article_subsets() -> None:
    squad = load_squad(TINY, sample=3, seed=1)
    assert len(squad.questions) == 3
    assert load_squad(TINY, sample=3, seed=1).questions == squad.questions  # the seed decides
    bridge = load_squad(TINY).of_articles(["Orrin_Bridge"])
    assert list(bridge.documents) == ["Orrin_Bridge.md"] and {q.id for q in bridge.questions} == {"o1", "o2"}


def test_split_by_article_is_disjoint_and_seeded() -> None:
    titles = [f"A{i}" for i in range(8)]
    split = split_articles(titles, seed=12, n_dev=1, n_test=2)
    assert sorted(split["train"] + split["dev"] + split["test"]) == sorted(titles)
    assert len(split["test"]) == 2 and len(split["dev"]) == 1
    assert split == split_articles(list(reversed(titles)), seed=12, n_dev=1, n_test=2)


@pytest.mark.parametrize("content", ["not json", json.dumps({"nodata": []}), json.dumps({"data": [{"title": "x"}]}),
                                     json.dumps({"data": []})])
def test_malformed_files_are_refused_with_a_message(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SquadFormatError, match=r"bad\.json"):
        load_squad(path)


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("squad")
    return evaluate_squad(TINY, Settings(abstain_threshold=QUOTING_THRESHOLD), work_dir=work)  # it quotes


def test_eval_squad_scores_every_system(tiny_report: dict) -> None:
    assert set(tiny_report["systems"]) == {"cityqa", "llama-index", "bm25-sentence", "dense-sentence"}
    for data in tiny_report["systems"].values():
        overall = data["overall"]
        assert overall["n"] == 6 and overall["answerable"] == 4 and overall["unanswerable"] == 2
        assert set(SQUAD_METRICS) <= set(overall)
    cityqa = tiny_report["systems"]["cityqa"]["overall"]
    assert cityqa["evidence_cited"] >= 0.75  # four plain look-ups in two short articles
    assert cityqa["ece"] is not None and 0 <= cityqa["ece"] <= 1
    sentence = tiny_report["systems"]["bm25-sentence"]["overall"]
    assert sentence["false_not_found"] == 0.0 and sentence["unanswerable_abstained"] == 0.0  # always answers


def test_cited_evidence_must_cover_the_answer_span(tiny_report: dict) -> None:
    rows = {r["id"]: r for r in tiny_report["systems"]["cityqa"]["questions"]}
    assert rows["o1"]["evidence_cited"] and rows["o1"]["short_answer"]  # "completed in 1803"
    assert not rows["o2"]["evidence_cited"]  # unanswerable: never counts as evidence


def test_cli_eval_squad_writes_the_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = cli.main(["eval", "--squad", str(TINY), "--systems", "cityqa,bm25-sentence", "--sample", "4",
                     "--seed", "3", "--out", str(out), "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "squad" and summary["n_questions"] == 4
    assert {p.name for p in out.iterdir()} == {"squad-report.json", "squad-report.md", "squad-report.png"}


def test_cli_eval_squad_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    assert cli.main(["eval", "--squad", str(bad)]) == 2
    assert "SQuAD 2.0" in capsys.readouterr().err
