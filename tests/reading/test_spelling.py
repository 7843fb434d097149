"""Mistyped question words, corrected to the documents' words, and a lower-case question given its names' capitals:
each alone, then through a real index."""

from __future__ import annotations

import pytest

from cityqa.assistant import Assistant
from cityqa.reading.align import lexicon
from cityqa.reading.spelling import Speller, Truecaser

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


CASED = [
    "OFFICES AND PORTS\n"  # a heading in capitals names nothing
    "The Port of Alder Bay signed an agreement with Riverbend in 1987. Riverbend has sister cities.\n"
    "Cities Engage the World\n"  # a title-case heading: a whole line, not a name
    "How long did the mission last? A long one: the Office of Trade and Protocol led it, and Long Beach joined.",
    "Its trade office in San Marco opened in 2001; the mayor of San Marco and the Office of Trade and Protocol met.",
]


@pytest.fixture(scope="module")
def truecaser() -> Truecaser:
    return Truecaser(lambda: CASED)


@pytest.mark.parametrize(
    ("typed", "cased"),
    [
        ("who signed with riverbend?", "who signed with Riverbend?"),
        ("what did the port of alder bay sign", "what did the Port of Alder Bay sign"),
        ("who led the office of trade and protocol's mission", "who led the Office of Trade and Protocol's mission"),
        ("how long was the mission", "how long was the mission"),  # "Long" only ever opens a sentence or a name
        ("how do cities engage the world", "how do cities engage the world"),  # a heading's words are not names
        ("riverbend sister cities", "Riverbend sister cities"),
    ],
)
def test_a_lower_case_question_gets_its_names_capitals(truecaser: Truecaser, typed: str, cased: str) -> None:
    assert truecaser.restore(typed) == cased


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("when did sm open a trade office", "when did San Marco open a trade office"),
        ("who runs the otp in long beach", "who runs the Office of Trade and Protocol in Long Beach"),
        ("Who runs the OTP?", "Who runs the Office of Trade and Protocol?"),
        ("what did lb tell us", "what did Long Beach tell us"),  # "us" is English: initials only in capitals
        ("what is the gdp of sm", "what is the gdp of San Marco"),  # no name has the initials "gdp"
    ],
)
def test_initials_of_a_document_name_are_written_out(typed: str, meant: str) -> None:
    known = {"us", "is", "the", "what"}.__contains__
    assert Truecaser(lambda: CASED, known).restore(typed) == meant


def test_a_question_typed_with_capitals_is_left_as_typed() -> None:
    def texts() -> list[str]:
        raise AssertionError("read the documents for a question its writer capitalised")

    typed = "who signed with riverbend in Alder Bay?"  # "Bay": English, not typed in capitals, so not initials
    assert Truecaser(texts, lambda word: lexicon().knows(word)).restore(typed) == typed


def test_a_lower_case_question_is_answered_like_the_capitalised_one(assistant: Assistant) -> None:
    cased = assistant.ask("Which city is Okiyama a sister city of?")
    lower = assistant.ask("which city is okiyama a sister city of?")
    assert lower.resolved_question is None  # capitals alone are not shown as a change
    assert lower.confidence == pytest.approx(cased.confidence, abs=1e-6)
    off = Assistant(assistant.settings.model_copy(update={"restore_capitals": False}), assistant.index_dir,
                    embedder=assistant.embedder)
    assert off.ask("which city is okiyama a sister city of?").confidence != pytest.approx(cased.confidence, abs=1e-6)
