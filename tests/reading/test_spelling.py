"""Mistyped question words, corrected to the documents' words: the speller alone, then through a real index."""

from __future__ import annotations

import pytest

from cityqa.assistant import Assistant
from cityqa.reading.align import lexicon
from cityqa.reading.spelling import Speller

TEXTS = [
    "Riverbend has sister cities in Japan and Peru. The mayor signed the agreement.",
    "Port Alder's mayor led a trade mission. Sister cities exchange students.",
]


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller(lambda: TEXTS, lambda word: lexicon().knows(word))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("sistr", "sister"),  # a letter dropped
        ("sisterr", "sister"),  # a letter added
        ("sixter", "sister"),  # a letter changed
        ("sitser", "sister"),  # two neighbours swapped
        ("Riverbnd", "riverbend"),  # a name only the documents use
        ("agreemnet", "agreement"),
    ],
)
def test_one_edit_away_is_corrected(speller: Speller, typed: str, meant: str) -> None:
    assert speller.correction(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "sister",  # a document word
        "weather",  # English, though no document uses it
        "Bratislava",  # a name WordNet lists
        "Zyxwvut",  # nothing one edit away
        "Pru",  # too short to correct safely
        "sisters",  # an inflection WordNet knows
    ],
)
def test_words_right_as_typed_are_left_alone(speller: Speller, typed: str) -> None:
    assert speller.correction(typed) is None


def test_two_equally_likely_words_leave_it_as_typed() -> None:
    assert Speller(lambda: ["bank bank band band bang"]).correction("banx") is None
    assert Speller(lambda: ["bank bank bank band band"]).correction("banx") == "bank"


def test_questions_typed_right_never_read_the_documents() -> None:
    def texts() -> list[str]:
        raise AssertionError("read the documents for a question with no unknown word")

    speller = Speller(texts, lambda word: lexicon().knows(word))
    assert speller.correct("Which sister cities signed the agreement?") == "Which sister cities signed the agreement?"


def test_a_question_keeps_its_shape(speller: Speller) -> None:
    question = "Which sistr cities did Riverbnd's mayr sign, in 1987? SISTR"
    assert speller.correct(question) == "Which sister cities did Riverbend's mayor sign, in 1987? SISTER"


def test_a_mistyped_question_is_answered_and_says_how_it_was_read(assistant: Assistant) -> None:
    right = assistant.ask("Which city is Okiyama a sister city of?")
    typed = assistant.ask("Which city is Okiyamma a sistr city of?")
    assert typed.resolved_question == "Which city is Okiyama a sister city of?"
    assert not typed.abstained and typed.citations[0].quote == right.citations[0].quote
    assert assistant.ask(right.question).resolved_question is None  # nothing to correct: nothing shown


def test_correction_can_be_switched_off(assistant: Assistant) -> None:
    settings = assistant.settings.model_copy(update={"correct_spelling": False})
    as_typed = Assistant(settings, assistant.index_dir, embedder=assistant.embedder)
    assert as_typed.ask("Which city is Okiyamma a sistr city of?").resolved_question is None
