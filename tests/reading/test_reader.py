"""The shipped pair reader: it reads a text with a question or a claim, and tells apart what the text says from what
it does not (on fictional text it was never trained on)."""

from __future__ import annotations

import numpy as np
import pytest

from cityqa.reading.reader import READER_DIR, OnnxPairReader, available, default_reader, reader_text

TEXT = ("The Harbor Office opened a trade bureau in Lisbon in 1998. "
        "Its first director, Ana Ruiz, had led the city's chamber of commerce for a decade.")


@pytest.fixture(scope="module")
def reader() -> OnnxPairReader:
    assert available(), f"the pair reader is not shipped in {READER_DIR}"
    found = default_reader()
    assert found is not None
    return found


def test_a_sentence_that_answers_reads_above_one_that_does_not(reader: OnnxPairReader) -> None:
    answering = "The Harbor Office opened a trade bureau in Lisbon in 1998."
    other = "The city's parks department planted four hundred trees along the river last spring."
    logits = reader.logits([answering, other], ["When did the Harbor Office open its Lisbon bureau?"] * 2)
    assert logits[0] > logits[1] + 1.0, logits


def test_a_question_about_an_attribute_the_text_never_states_reads_lower(reader: OnnxPairReader) -> None:
    asked = ["When did the Harbor Office open its Lisbon bureau?", "What was the budget of the Lisbon bureau?"]
    logits = reader.logits([TEXT, TEXT], asked)
    assert logits[0] > logits[1], logits


def test_a_claim_the_text_states_reads_above_the_same_claim_with_a_value_swapped(reader: OnnxPairReader) -> None:
    claims = ["The Harbor Office opened a trade bureau in Lisbon in 1998.",
              "The Harbor Office opened a trade bureau in Lisbon in 2011.",
              "The Harbor Office closed its trade bureau in Lisbon in 1998."]
    logits = reader.logits([TEXT] * 3, claims)
    assert logits[0] > max(logits[1], logits[2]), logits


def test_batches_give_each_pair_the_score_it_gets_alone(reader: OnnxPairReader) -> None:
    texts = [TEXT, "Short.", TEXT + " " + TEXT]
    asked = ["Who was the first director?", "Who was the first director?", "Where is the bureau?"]
    together = reader.logits(texts, asked)
    alone = np.array([reader.logits([t], [q])[0] for t, q in zip(texts, asked, strict=True)])
    # int8 activations are quantised per batch: a pair's score moves a little with its batch, never its sign
    np.testing.assert_allclose(together, alone, atol=0.35)
    assert reader.logits([], []).shape == (0,)


def test_candidates_are_read_with_the_sentence_before_them() -> None:
    assert reader_text("", "It opened in 1998.") == "It opened in 1998."
    before, quote = "The bureau is in Lisbon.", "It opened in 1998."
    assert reader_text(before, quote) == "The bureau is in Lisbon. It opened in 1998."
