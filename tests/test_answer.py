"""The extractive answerer's rules, each on a question from the shared corpus where it decides the answer."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from cityqa import Assistant
from cityqa.answer import Focus, _counts, answer_type, quote_span
from cityqa.text import content_terms


def test_one_sentence_unless_the_question_names_a_glossary_entry(assistant: Assistant) -> None:
    plain = assistant.ask("What ceremony was held when Dublin's Lord Mayor came to San José?")
    assert len(plain.citations) == 1 and "flag-raising ceremony" in plain.answer
    entry = assistant.ask("What counts as a City-Led Mission Abroad?")
    assert [c.quote.split(":")[0] for c in entry.citations][:1] == ["City-Led Missions Abroad"]
    assert len(entry.citations) == 2 and "World Trade Centers" in entry.answer
    assert len({c.chunk_id for c in entry.citations}) == 1


def test_glossary_entry_of_the_named_term_wins(assistant: Assistant) -> None:
    answer = assistant.ask("How does the paper measure Global Universities?")
    assert answer.citations[0].quote.startswith("Global Universities:")


def test_a_sentence_leaning_on_the_one_before_is_quoted_with_it(assistant: Assistant) -> None:
    answer = assistant.ask("Which California city was among the founding members of the sister cities movement?")
    quote = answer.citations[0].quote
    assert quote.startswith("San José’s record of global engagement") and "charter member" in quote
    size = assistant.ask("How does the paper describe Fresno's size?")
    assert "Fresno, on the other hand" in size.answer and "midsized city" in size.answer


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        ("In the 1950s, the city was a leader in the sister cities movement.", True),
        ("Given this, most of the cities do not have public communications strategies.", True),
        ("It is a midsized city without a major port.", True),
        ("In 2024, seven of the nine cities had an office.", False),
        ("The city of Fresno lacks many global components.", False),
    ],
)
def test_which_sentences_lean_on_the_one_before(assistant: Assistant, sentence: str, leans: bool) -> None:
    from cityqa.answer import _ANAPHORA

    assert bool(_ANAPHORA.match(sentence)) is leans


def test_which_city_wants_a_sentence_naming_a_city() -> None:
    assert Focus.of("Which city lacks a dedicated international affairs role?").wants_place == "city"
    assert Focus.of("Which California city was a charter member?").wants_place == "city"
    assert Focus.of("Which city networks is Oakland a member of?").wants_place is None
    assert Focus.of("Which countries did the mayor visit?").wants_place == "country"
    assert Focus.of("How many cities had an office in 2024?").wants_place is None  # a count answers it


def test_who_holds_a_role_wants_a_name_not_another_role(assistant: Assistant) -> None:
    assert answer_type("Who is San José's International Programs Manager?") == "person-name"
    assert answer_type("Who joins the international affairs manager?") == "person"
    answer = assistant.ask("Who is the Director of International Trade and Commerce for the City of San Francisco?")
    assert "Mark Chandler" in answer.citations[0].quote and len(answer.citations) == 1


def test_how_many_needs_a_number_counting_the_thing_asked() -> None:
    staff = frozenset(content_terms("staff"))
    assert not _counts("In 2010, three out of the nine cities studied had offices or staff members.", staff)
    assert _counts("The office grew to a director and three contracted staff.", staff)
    assert _counts("a nine-day trip to Singapore", frozenset(content_terms("days")))
    assert not _counts("In 2019 the staff travelled.", staff)  # a year is not a count


def test_count_of_something_else_abstains(assistant: Assistant) -> None:
    answer = assistant.ask("How many staff work in the Los Angeles international affairs office?")
    assert answer.abstained, answer.answer


def test_passages_come_in_the_order_the_answer_cites_them(assistant: Assistant) -> None:
    question = "Which city's government helped small firms find overseas customers and attract foreign businesses?"
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

    from cityqa.answer import MIN_DF_SHARE, Extractor
    from cityqa.settings import Settings
    from cityqa.store import NodeStore

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
    answer = crowded.ask("Who is the mayor of Fresno?")
    assert answer.citations and answer.citations[0].source == REPORT.name and "Dyer" in answer.answer
