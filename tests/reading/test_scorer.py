"""The learned answer scorer: its generic features, the contrasts, the shipped model file, on the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cityqa import Assistant
from cityqa.answering.answer import NOT_FOUND
from cityqa.errors import ConfigError
from cityqa.evaluation.metrics import calibration
from cityqa.reading.scorer import (
    ANSWERABILITY_FEATURES,
    FEATURES,
    MODELS_DIR,
    Contrast,
    QuestionView,
    ScorerModel,
    alignment,
    answerability_features,
    content_words,
    contrast,
    feature_matrix,
    merge_logits,
    name_share,
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


def test_name_share_tells_a_register_line_from_prose() -> None:
    register = name_share("Jane Roe, Director of Trade for the City of Alder Bay, private interview, May 2, 2023.")
    prose = name_share("Jane Roe said the city of Alder Bay opened a trade office because exporters asked for one.")
    assert register > 0.6 > 0.4 > prose
    assert name_share("Okay.") == 0.0  # no content word after the first


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
    out = answerability_features(np.array([0.1, 2.0, 1.5]), features, align, Contrast(opposite=("rose", "fall")),
                                 reader=2.5)
    assert len(out) == len(ANSWERABILITY_FEATURES)
    assert out[ANSWERABILITY_FEATURES.index("opposite")] == 1.0 and out[ANSWERABILITY_FEATURES.index("negated")] == 0
    assert out[0] == 2.0 and out[1] == pytest.approx(0.5)
    assert out[ANSWERABILITY_FEATURES.index("cos_max")] == pytest.approx(0.8)
    assert out[ANSWERABILITY_FEATURES.index("align_min")] == pytest.approx(0.7)
    assert out[ANSWERABILITY_FEATURES.index("reader")] == pytest.approx(2.5)  # the pair reader's logit for it


@pytest.mark.parametrize(("question", "sentence", "expected"), [
    ("Which mill was not rebuilt?", "The mill was rebuilt in 1820.", (1.0, 0.0)),
    ("Which mill wasn't rebuilt?", "The mill was rebuilt in 1820.", (1.0, 0.0)),
    ("What cannot be rebuilt?", "The mill can be rebuilt.", (1.0, 0.0)),
    ("Which mill was never rebuilt?", "The north mill was never rebuilt.", (0.0, 0.0)),
    ("Which mills were not rebuilt?", "All but the north mill were rebuilt.", (0.0, 0.0)),
    ("Which mills were not rebuilt?", "Every mill except the north mill was rebuilt.", (0.0, 0.0)),
    ("If not the river, what powered the mill?", "A steam engine powered the mill.", (0.0, 0.0)),
    ("When did the river level fall?", "The river level rose in 1820.", (0.0, 1.0)),
    ("What did the council decrease?", "The council increased the budget.", (0.0, 1.0)),
    ("When did the river level rise?", "The river level rose in 1820.", (0.0, 0.0)),
    ("Was the rise or the fall of the river faster?", "The river rose faster than it fell.", (0.0, 0.0)),
])
def test_contrast_finds_a_negated_or_opposite_question(question: str, sentence: str,
                                                      expected: tuple[float, float]) -> None:
    assert contrast(QuestionView.of(question), sentence).features == expected


def test_contrast_reads_the_sentence_before_for_a_negation() -> None:
    """'Which town without a port ...' is answered by the sentence after the one that says 'without'."""
    view = QuestionView.of("Which town without a port still trades abroad?")
    said = "Its mayor still leads trade missions abroad."
    assert contrast(view, said).features == (1.0, 0.0)
    assert contrast(view, said, before="Mill Falls is a town without a port.").features == (0.0, 0.0)


def test_contrast_note_says_which_words_oppose() -> None:
    lower = QuestionView.of("When did the river level fall?")
    assert contrast(lower, "The river level rose in 1820.") == Contrast(opposite=("rose", "fall"))
    assert contrast(lower, "The river level rose in 1820.").note() == (
        "The closest passage says “rose” where the question asks about “fall”.")
    negated = QuestionView.of("Which mill wasn't rebuilt?")
    assert contrast(negated, "The mill was rebuilt in 1820.").note(passage="quoted passage") == (
        "The question is negated (“wasn't”); the quoted passage says nothing of the kind.")
    assert contrast(negated, "The mill was never rebuilt.").note() is None
    assert contrast(QuestionView.of("When did the river level rise?"), "The river level rose in 1820.") == Contrast()


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
    assert set(data["dev"]) == {"squad", "gold", "users"}  # the figures it reached on data it was not fitted on
    confidence = data["answerable"]
    for name in ("negated", "opposite"):  # a sentence that says the opposite of what is asked lowers it
        assert confidence["weights"][confidence["names"].index(name)] < 0


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


@pytest.mark.parametrize(("asked", "contrasting"), [
    ("Where was the most recent Riverbend trade mission?", "Where was the least recent Riverbend trade mission?"),
    ("Which Riverbend sister-city link dates from 1987?", "Which Riverbend sister-city link does not date from 1987?"),
])
def test_a_question_the_sentence_contradicts_gets_a_lower_confidence(assistant: Assistant, asked: str,
                                                                     contrasting: str) -> None:
    """The real pipeline over the shared corpus: "... most recently to Lisbon, Portugal." and "The oldest link, with
    ... Port Alder, dates from 1987." answer the first questions; asked for the least recent mission, or for a link
    that does not date from 1987, the same sentence comes first but the answer is much less sure (`contrast`) and
    says what to check, or is "not found"."""
    plain, contrasted = assistant.ask(asked), assistant.ask(contrasting)
    shown = (contrasted.related if contrasted.abstained else contrasted.citations)[0]
    first = (plain.related if plain.abstained else plain.citations)[0]  # quoted, or the closest passage
    assert first.quote in shown.quote
    assert plain.caution is None and (contrasted.abstained or contrasted.caution)  # an answer says what to check
    print(f"\nconfidence {plain.confidence:.3f} -> {contrasted.confidence:.3f}")
    assert contrasted.confidence < plain.confidence - 0.1


def test_a_refusal_for_a_negated_question_says_why(assistant: Assistant) -> None:
    """'... dates from 1987.' is the closest passage to a question about a link that does *not* date from 1987: the
    answer is "not found", and it says the question was negated and the passage is not."""
    answer = assistant.ask("Which Riverbend sister-city link does not date from 1987?")
    assert answer.abstained and answer.answer == NOT_FOUND
    assert answer.caution == "The question is negated (“not”); the closest passage says nothing of the kind."
    assert "Port Alder" in answer.related[0].quote
