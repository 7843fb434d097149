"""Fitting the answer scorer: the user-style negatives it is calibrated on, and the cost-based thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from cityqa.documents.text import content_terms
from cityqa.evaluation.train import Slots, choose_threshold, costs, user_negatives

TEXTS = {
    "harbor.txt": "The Harbor Office opened in 2019. Its director, Ana Ruiz, reports to the council on trade.",
    "orchard.txt": "The Orchard Guild was founded by Tomas Berg. Its budget is set by the growers every spring.",
}
ITEMS = [
    {"id": "h1", "question": "When did the Harbor Office open?", "source": "harbor.txt", "answerable": True},
    {"id": "h2", "question": "Who directs the Harbor Office in 2019?", "source": "harbor.txt", "answerable": True},
    {"id": "h3", "question": "Why did the Harbor Office close?", "source": "harbor.txt", "answerable": False},
    {"id": "o1", "question": "Who founded the Orchard Guild?", "source": "orchard.txt", "answerable": True},
    {"id": "o2", "question": "What sets the budget of the Orchard Guild?", "source": "orchard.txt",
     "answerable": True},
]
VOCABULARY = {source: set(content_terms(text)) for source, text in TEXTS.items()}


def test_slots_are_what_is_asked_about_the_names_and_the_years() -> None:
    question = "What sets the budget of the Orchard Guild in 2019?"
    slots = Slots.of(question)
    assert slots.head is not None and question[slice(*slots.head)] == "sets"
    assert [question[a:b] for a, b in slots.names] == ["Orchard Guild"]
    assert [question[a:b] for a, b in slots.years] == ["2019"]


def test_each_answerable_question_gives_one_negative_with_a_word_its_document_never_uses() -> None:
    made = user_negatives(ITEMS, VOCABULARY, TEXTS, seed=3)
    assert [m["id"].split("~")[0] for m in made] == ["h1", "h2", "o1", "o2"]  # not from the unanswerable h3
    for m in made:
        parent = next(i for i in ITEMS if i["id"] == m["id"].split("~")[0])
        assert m["answerable"] is False and m["label"](None) == 0.0 and m["source"] == parent["source"]
        assert m["kind"] in {"attribute", "entity", "value"} and m["question"] != parent["question"]
        new_terms = set(content_terms(m["question"])) - set(content_terms(parent["question"]))
        if m["kind"] == "value":
            assert not any(year in TEXTS[m["source"]] for year in m["question"].split() if year.isdigit())
        else:  # the swapped-in word or name comes from the other document and is unknown to this one
            assert new_terms and not new_terms & VOCABULARY[m["source"]]
    again = user_negatives(ITEMS, VOCABULARY, TEXTS, seed=3)  # the same seed, the same questions
    assert [m["question"] for m in again] == [m["question"] for m in made]


def test_the_threshold_minimises_the_cost_of_wrong_quotes_against_not_found() -> None:
    # five answerable questions answered right at 0.6-0.9, two wrong quotes at 0.5 and 0.7
    conf = np.array([0.6, 0.7, 0.8, 0.9, 0.9, 0.5, 0.7])
    correct = np.array([True, True, True, True, True, False, False])
    answerable = np.array([True, True, True, True, True, False, False])
    assert costs(conf, correct, answerable, 0.0, 5.0) == pytest.approx(10 / 7)  # both wrong quotes given
    cautious = choose_threshold(conf, correct, answerable, cost_wrong=5.0)
    assert 0.7 < cautious <= 0.8  # one "not found" (0.7) is cheaper than one wrong quote
    lenient = choose_threshold(conf, correct, answerable, cost_wrong=1.0)
    assert lenient <= cautious
