"""The learned answer scorer: its generic features, the shipped model files, and the real cross-encoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cityqa import Assistant
from cityqa.errors import ConfigError
from cityqa.metrics import calibration
from cityqa.reader import READER_DIR, Reader
from cityqa.scorer import (
    ANSWERABILITY_FEATURES,
    FEATURES,
    MODELS_DIR,
    QuestionView,
    ScorerModel,
    alignment,
    answerability_features,
    content_words,
    feature_matrix,
    merge_logits,
    question_type,
    sentence_types,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("When did the war end?", "date"),
        ("In what year was the treaty signed?", "date"),
        ("How many soldiers died?", "number"),
        ("What percentage of voters agreed?", "number"),
        ("Who commanded the fleet?", "person"),
        ("Where is the river's source?", "place"),
        ("Why did the engine fail?", "reason"),
        ("How does a valve work?", "manner"),
        ("What is a steam engine?", "entity"),
        ("Is the bridge still open?", "yesno"),
        ("Tell me about the lake", "other"),
    ],
)
def test_question_types_come_from_english_question_words(question: str, kind: str) -> None:
    assert question_type(question) == kind


def test_sentence_types_see_years_numbers_new_names_and_percentages() -> None:
    asked = QuestionView.of("Who surveyed Lake Varn?").asked
    year, number, new_name, percent = sentence_types("It was surveyed in 1871 by Ilse Marrow, 40% of it.", asked)
    assert (year, number, new_name, percent) == (1.0, 1.0, 1.0, 1.0)
    assert sentence_types("The lake of Varn is deep.", asked).tolist() == [0.0, 0.0, 0.0, 0.0]  # "Varn" is asked


def test_feature_matrix_crosses_question_type_with_sentence_values() -> None:
    rows = [{"cos_max": 0.5, "coverage_near": 0.2, "types": np.array([1.0, 0, 0, 0])},
            {"cos_max": 0.7, "coverage_near": 0.9, "types": np.array([0.0, 1, 0, 0])}]
    x = feature_matrix(rows, "date")
    assert x.shape == (2, len(FEATURES))
    assert x[0, FEATURES.index("date*year")] == 1.0 and x[1, FEATURES.index("date*number")] == 1.0
    assert x[:, FEATURES.index("q_date")].tolist() == [1.0, 1.0]
    assert x[:, FEATURES.index("d_cos")].tolist() == pytest.approx([-0.2, 0.0])  # relative to the question's best


def test_merge_logits_keeps_the_reranked_few_on_top() -> None:
    first = np.array([3.0, 2.0, 1.0, 0.5])
    merged = merge_logits(first, np.array([0, 1]), np.array([-1.0, 2.0]))
    assert list(np.argsort(-merged)) == [1, 0, 2, 3]


def test_answerability_features_use_the_best_candidate() -> None:
    features = np.zeros((3, len(FEATURES)), dtype=np.float32)
    features[1, FEATURES.index("cos_max")] = 0.8
    align = np.array([[0.0, 0.0, 0.0], [0.9, 0.7, 0.0], [0.5, 0.2, 0.5]])
    out = answerability_features(np.array([0.1, 2.0, 1.5]), features, align, -1.25)
    assert len(out) == len(ANSWERABILITY_FEATURES) and out[ANSWERABILITY_FEATURES.index("reader")] == -1.25
    assert out[0] == 2.0 and out[1] == pytest.approx(0.5)
    assert out[ANSWERABILITY_FEATURES.index("cos_max")] == pytest.approx(0.8)
    assert out[ANSWERABILITY_FEATURES.index("align_min")] == pytest.approx(0.7)


def test_content_words_join_word_pieces_and_drop_stop_words() -> None:
    pieces = ["who", "drained", "the", "lake", "##side", "pond", "?"]
    assert content_words(pieces) == [[1], [3, 4], [5]]


def test_alignment_finds_the_question_word_a_sentence_lacks(assistant: Assistant) -> None:
    """The real bundled model's token vectors: a sentence with the question's predicate aligns better than one
    that shares only its topic."""
    embedder = assistant.embedder
    question, right, wrong = embedder.token_vectors([
        "Who drained the lake?", "Engineers drained the lake in 1900.", "A geographer surveyed the lake in 1871.",
    ])
    good, bad = alignment(question, right), alignment(question, wrong)
    assert good[0] > bad[0] and good[1] > bad[1]
    assert good[2] <= bad[2]


def test_calibration_error_and_bins() -> None:
    result = calibration([0.9, 0.9, 0.1, 0.1], [True, True, False, False])
    assert result["ece"] == pytest.approx(0.1)
    assert sum(b["n"] for b in result["bins"]) == 4 and len(result["bins"]) == 10
    assert calibration([], [])["ece"] is None


def test_shipped_scorer_is_complete_and_documented() -> None:
    data = json.loads((MODELS_DIR / "scorer.json").read_text(encoding="utf-8"))
    assert tuple(data["stage1"]["names"]) == FEATURES
    assert 0.0 < data["threshold"] < 1.0 and data["seed"] and data["data"]["squad_split"]["test"]
    assert set(data["data"]["squad_split"]["test"]).isdisjoint(data["data"]["squad_split"]["train"])
    assert set(data["dev"]) == {"squad", "gold"}  # the figures it reached on data it was not fitted on
    confidence = data["answerable"]
    assert confidence["weights"][confidence["names"].index("reader")] > 0  # the reader's "answers" raises it


# ------------------------------------------------------------------ the answerability reader (real model)

DEV_PAIRS = Path(__file__).parent / "fixtures" / "reader_dev_pairs.jsonl"


@pytest.fixture(scope="module")
def reader() -> Reader:
    return ScorerModel().reader


def test_the_reader_tells_answers_from_plausible_sentences_on_an_article_it_never_saw(reader: Reader) -> None:
    """80 pairs of the SQuAD dev article (40 answer sentences, 40 plausible-answer sentences of unanswerable
    questions, drawn with seed 7; never trained on): the shipped reader ranks an answer sentence above a merely
    plausible one well above chance, where the question's word overlap cannot (both kinds share its words)."""
    rows = [json.loads(line) for line in DEV_PAIRS.read_text(encoding="utf-8").splitlines()]
    scores = np.concatenate([reader.logits(r["question"], [r["sentence"]]) for r in rows])
    answers = np.array([r["answers"] for r in rows])
    auc = float(np.mean([p > n for p in scores[answers] for n in scores[~answers]]))
    overlap = np.array([len(set(r["question"].lower().split()) & set(r["sentence"].lower().split())) for r in rows])
    auc_overlap = float(np.mean([p > n for p in overlap[answers] for n in overlap[~answers]]))
    print(f"\nreader AUC {auc:.3f} on 80 dev pairs; word overlap {auc_overlap:.3f}")
    assert auc >= 0.65 and auc > auc_overlap + 0.1


def test_reader_scores_are_repeatable_and_independent_of_order(reader: Reader) -> None:
    question = "Who drained the lake in 1900?"
    texts = ["Engineers from the valley drained the lake in 1900 to make farmland.", "The lake is deep."]
    alone = reader.logits(question, texts[:1])
    assert np.array_equal(alone, reader.logits(question, texts[:1]))
    together = reader.logits(question, texts)
    assert together.shape == (2,) and np.allclose(together, reader.logits(question, texts[::-1])[::-1], atol=1e-5)
    assert reader.logits(question, []).shape == (0,)


def test_a_missing_reader_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / READER_DIR).mkdir()
    with pytest.raises(ConfigError, match=r"lacks model-int8\.onnx, tokenizer\.json, meta\.json\..*make train"):
        Reader(tmp_path / READER_DIR)


def test_a_missing_or_stale_scorer_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make train"):
        ScorerModel(tmp_path)
    data = json.loads((MODELS_DIR / "scorer.json").read_text(encoding="utf-8"))
    data["stage1"]["names"] = ["cos"]
    (tmp_path / "scorer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="other features"):
        ScorerModel(tmp_path)
    del data["answerable"]
    (tmp_path / "scorer.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="not a complete answer scorer"):
        ScorerModel(tmp_path)
