"""The extractive answerer's rules, each on a question from the shared corpus where it decides the answer."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from cityqa import Assistant
from cityqa.answering.answer import is_list_question, leans_back, quote_span


def test_one_sentence_unless_the_question_names_a_glossary_entry(quoting: Assistant) -> None:
    assistant = quoting
    plain = assistant.ask("What ceremony was held when Dublin's Lord Mayor came to San José?")
    assert len(plain.citations) == 1 and "flag-raising ceremony" in plain.answer
    entry = assistant.ask("What counts as a City-Led Mission Abroad?")
    assert [c.quote.split(":")[0] for c in entry.citations][:1] == ["City-Led Missions Abroad"]
    assert len({c.chunk_id for c in entry.citations}) == 1  # more sentences only from the same entry


def test_glossary_entry_of_the_named_term_wins(quoting: Assistant) -> None:
    assistant = quoting
    answer = assistant.ask("How does the paper measure Global Universities?")
    assert answer.citations[0].quote.startswith("Global Universities:")


def test_a_sentence_leaning_on_the_one_before_is_quoted_with_it(assistant: Assistant) -> None:
    chunk = next(c for c in assistant.engine.nodes.chunks if "It is a midsized city" in c.text)
    index = next(i for i, s in enumerate(chunk.sentences) if chunk.sentence_text(s).startswith("It is a midsized"))
    start, end = quote_span(chunk, chunk.sentences[index])
    assert (start, end) == (chunk.sentences[index - 1].start, chunk.sentences[index].end)
    assert assistant.engine.nodes.chunks and "Fresno" in chunk.text[start - chunk.start : end - chunk.start]


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        ("In the 1950s, it was a leader in the sister cities movement.", True),
        ("Given this, most of the cities do not have public communications strategies.", True),
        ("It is a midsized city without a major port.", True),
        ("They signed the agreement in 1990.", True),
        ("In 2024, seven of the nine cities had an office.", False),
        ("The city of Fresno lacks many global components.", False),
        ("Italy joined later.", False),
    ],
)
def test_which_sentences_lean_on_the_one_before(sentence: str, leans: bool) -> None:
    """English pronouns and "given this" only: nothing about the report's own wording."""
    assert leans_back(1, sentence) is leans
    assert not leans_back(0, sentence)  # a passage's first sentence has nothing before it to lean on


@pytest.mark.parametrize(
    ("question", "is_list"),
    [
        ("Which countries did San José visit on trade missions?", True),
        ("What cities have an office of international affairs?", True),
        ("List the sister cities of the town.", True),
        ("Which California city lacks a dedicated international affairs role?", False),
        ("What is the annual budget of the office?", False),
        ("What does the mayor's office do?", False),
    ],
)
def test_list_questions(question: str, is_list: bool) -> None:
    assert is_list_question(question) is is_list


def test_a_list_answer_quotes_only_sentences_that_add_names(quoting: Assistant) -> None:
    assistant = quoting
    answer = assistant.ask("Which countries did San José visit on trade missions in the 1990s and early 2000s?")
    assert 1 <= len(answer.citations) <= assistant.settings.max_answer_sentences
    quotes = [c.quote for c in answer.citations]
    assert len(set(quotes)) == len(quotes)


def test_confidence_is_the_probability_shown_and_decides_abstention(assistant: Assistant) -> None:
    answered = assistant.ask("Who is the mayor of San José?")
    assert not answered.abstained and "Matt Mahan" in answered.answer
    threshold = assistant.engine.extractor.threshold
    assert threshold <= answered.confidence <= 1.0
    assert answered.citations[0].score == pytest.approx(answered.confidence, abs=1e-4)
    missing = assistant.ask("What is the GDP of the Los Angeles metropolitan area?")
    assert missing.abstained and 0.0 <= missing.confidence < threshold
    assert all(c.score <= missing.confidence + 1e-4 for c in missing.related)


def test_the_abstention_threshold_setting_overrides_the_scorers(settings, assistant: Assistant) -> None:
    from cityqa.answering.answer import Extractor

    nodes = assistant.engine.nodes
    strict = Extractor(nodes, settings.model_copy(update={"abstain_threshold": 0.999}), embedder=assistant.embedder)
    assert strict.threshold == 0.999 and assistant.engine.extractor.threshold == strict.model.threshold
    vector = assistant.embedder.encode_one("Who is the mayor of San José?")
    hits = assistant.engine.retriever.retrieve("Who is the mayor of San José?", vector, 6)
    assert strict.answer("q", "Who is the mayor of San José?", vector, hits).abstained


def test_passages_come_in_the_order_the_answer_cites_them(quoting: Assistant) -> None:
    assistant = quoting
    question = "Which city's office helped small businesses develop export markets?"
    answer = assistant.ask(question)
    passages = assistant.passages(question)
    assert passages[0].chunk.id == answer.citations[0].chunk_id
    assert [h.rank for h in passages] == list(range(len(passages)))
    related = [c.chunk_id for c in answer.related]
    order = [h.chunk.id for h in passages]
    assert [order.index(r) for r in related] == sorted(order.index(r) for r in related)


def test_quote_span_of_a_plain_sentence_is_the_sentence(assistant: Assistant) -> None:
    chunk = next(c for c in assistant.engine.nodes.chunks if "Thank you to the cities of Fresno" in c.text)
    sentence = next(s for s in chunk.sentences if chunk.sentence_text(s).startswith("Thank you to the cities"))
    assert quote_span(chunk, sentence) == (sentence.start, sentence.end)


def test_idf_stops_growing_past_one_chunk_in_five_hundred() -> None:
    """A word one chunk in 100k uses must not outweigh a common one by log(100k): the document-frequency floor."""
    import numpy as np

    from cityqa.answering.answer import MIN_DF_SHARE, Extractor
    from cityqa.index.nodes import NodeStore
    from cityqa.settings import Settings

    def idf(n: int, df: dict[str, int]) -> dict[str, float]:
        nodes = NodeStore([], np.zeros((0, 2, 384), np.float16), doc_freq=Counter(df))
        nodes.chunks = [SimpleNamespace(source="one.txt")] * n  # type: ignore[list-item] - only the count matters
        return Extractor(nodes, Settings()).idf

    large = idf(100_000, {"rare": 1, "rarer": 2, "common": 10_000})
    assert large["rare"] < np.log(1 + 1 / MIN_DF_SHARE) + 1e-9
    assert large["rare"] / large["common"] < 3  # without the floor: 11.5 / 2.4
    small = idf(43, {"rare": 1, "common": 10})
    assert small["rare"] == pytest.approx(np.log(1 + 43 / 1), rel=0.03)  # a report-sized index barely notices


def test_word_weights_come_from_the_passages_own_document(tmp_path, assistant: Assistant) -> None:
    """Adding many unrelated documents that all say "mayor" leaves the report's weight for "mayor" nearly as it was:
    the weights of a document's sentences come from that document, with the whole index only as a prior."""
    import shutil

    from cityqa import Settings
    from conftest import REPORT

    extractor = assistant.engine.extractor
    report_alone = extractor.weights(["mayor", "fresno"], REPORT.name)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPORT, corpus / REPORT.name)
    for i in range(40):
        (corpus / f"town-{i}.txt").write_text(
            "\n\n".join(f"Mayor Ana Voss of Town {i}-{j} led a delegation abroad." for j in range(5)), "utf-8"
        )
    crowded = Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index"))
    crowded.embedder = assistant.embedder
    crowded.ingest()
    among_towns = crowded.engine.extractor.weights(["mayor", "fresno"], REPORT.name)
    index_wide = crowded.engine.extractor.idf
    assert index_wide["mayor"] < 0.5 * index_wide["fresno"]  # over the whole index, "mayor" is now common
    ratio_alone = report_alone["mayor"] / report_alone["fresno"]
    assert among_towns["mayor"] / among_towns["fresno"] == pytest.approx(ratio_alone, rel=0.15)
    answer = crowded.ask("Who is the mayor of San José?")
    assert answer.citations and answer.citations[0].source == REPORT.name and "Matt Mahan" in answer.answer


def test_a_question_with_words_no_document_uses_abstains_and_says_which(assistant: Assistant) -> None:
    """'median' and 'income' occur nowhere in the shared corpus: no quote is given as the answer, the reason names
    them, and the closest passages are still shown."""
    from cityqa.answering.answer import NOT_DIRECT, NOT_FOUND

    answer = assistant.ask("What is the median income in San José?")
    assert answer.abstained and answer.outcome in {"closest", "not_found"}
    assert answer.answer == {"closest": NOT_DIRECT, "not_found": NOT_FOUND}[answer.outcome]
    assert answer.caution is not None and "“median”" in answer.caution and "“income”" in answer.caution
    assert answer.related
    assert answer.to_dict()["outcome"] == answer.outcome
    assert assistant.engine.extractor.unknown_words("median income of San José") == ["median", "income"]


def test_between_the_two_thresholds_the_closest_passage_is_offered(settings, assistant: Assistant) -> None:
    """Above the lower threshold but below the answer threshold, the answer abstains and offers its closest
    passage ("the documents do not say this directly"), which is the sentence it would have quoted."""
    from cityqa.answering.answer import NOT_DIRECT, Extractor

    question = "Who is the mayor of San José?"
    quoted = assistant.ask(question)
    strict = Extractor(assistant.engine.nodes, settings.model_copy(update={"abstain_threshold": 0.999}),
                       embedder=assistant.embedder)
    assert strict.closest_threshold <= quoted.confidence < 0.999
    vector = assistant.embedder.encode_one(question)
    hits = assistant.engine.retriever.retrieve(question, vector, settings.top_k)
    answer = strict.answer(question, question, vector, hits)
    assert answer.abstained and answer.outcome == "closest" and answer.answer == NOT_DIRECT
    assert answer.related[0].text == quoted.citations[0].text


def test_names_of_a_question_are_its_capitalised_runs() -> None:
    from cityqa.reading.scorer import names_of

    assert names_of("Since when has the Long Beach mayor met Ada Lind's envoy?") == ["Long Beach", "Ada Lind"]
    assert names_of("Who leads the office?") == []  # the first word is not a name


def test_a_passage_that_does_not_mention_a_name_of_the_question_says_so() -> None:
    from cityqa.answering.answer import _absent_note

    fresno = "Fresno. Mayor Jerry Dyer has been active in engaging with global partners since 2022."
    assert _absent_note("Since when has the Long Beach mayor engaged global partners?", fresno,
                        passage="quoted passage") == "The quoted passage does not mention “Long Beach”."
    assert _absent_note("Since when has the Fresno mayor engaged global partners?", fresno) is None


def test_a_quote_from_a_passage_about_other_places_carries_a_check(quoting: Assistant) -> None:
    """The quoted passage (Long Beach's and Fresno's leadership) names Sacramento nowhere: the answer says so, and
    says nothing of the kind for the place the passage does name."""
    answer = quoting.ask("Since what year has the Sacramento mayor been active with global partners?")
    assert not answer.abstained and "Jerry Dyer" in answer.citations[0].quote
    assert answer.caution == "The quoted passage does not mention “Sacramento”."
    assert quoting.ask("Since what year has the Fresno mayor been active with global partners?").caution is None


def test_the_reason_names_the_things_asked_about_not_the_users_verbs() -> None:
    from cityqa.answering.answer import _unknown_note

    assert _unknown_note(["get", "ever", "don't", "income"]) == "The documents never use the word “income”."
    assert _unknown_note(["get", "ever"]) is None  # the predicate in other words: no sign the topic is missing
