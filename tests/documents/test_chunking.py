"""Chunking of the real report: exact spans, section paths, whole definitions, endnotes, interview register."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from cityqa.documents.chunking import chunk_document, split_sentences
from cityqa.documents.corpus import read_document
from cityqa.types import Chunk, Document
from conftest import FIXTURE_CORPUS, REPORT


@pytest.fixture(scope="module")
def report() -> Document:
    return read_document(REPORT, REPORT.parent)


@pytest.fixture(scope="module")
def chunks(report: Document) -> list[Chunk]:
    return chunk_document(report)


def test_every_chunk_and_sentence_is_a_verbatim_span(report: Document, chunks: list[Chunk]) -> None:
    for chunk in chunks:
        assert report.text[chunk.start : chunk.end] == chunk.text
        for sentence in chunk.sentences:
            assert chunk.start <= sentence.start < sentence.end <= chunk.end
            assert chunk.sentence_text(sentence) == report.text[sentence.start : sentence.end]


def test_sentences_are_never_cut(chunks: list[Chunk]) -> None:
    for chunk in chunks:
        for sentence in chunk.sentences:
            assert chunk.sentence_text(sentence).rstrip("”’\")")[-1] in ".?!", chunk.sentence_text(sentence)


def test_headings_become_section_paths(chunks: list[Chunk]) -> None:
    def section_of(opening: str) -> tuple[str, ...]:
        return next(c.section for c in chunks if c.text.startswith(opening))

    assert section_of("At the time of writing")[-1] == "Cities Have Staffed Up for International Affairs"
    assert section_of("Container Port:") == ("Terms of Reference", "Global Components")
    assert section_of("Tourism Association:") == ("Terms of Reference", "Global Engagements")
    assert section_of("While the state of California") == ("Conclusion",)
    assert chunks[0].section == ()  # the San José case opens the excerpt before any heading


def test_terms_of_reference_definitions_stay_whole(report: Document, chunks: list[Chunk]) -> None:
    definitions = [c for c in chunks if c.section[:1] == ("Terms of Reference",)]
    assert len(definitions) == 19  # 12 global components + 7 global engagements, one chunk each
    paragraphs = {p.strip() for p in report.text.split("\n\n")}
    for chunk in definitions:
        assert chunk.text in paragraphs
        assert ":" in chunk.text.split(".")[0]


def test_endnote_markers_are_split_off_not_lost(chunks: list[Chunk]) -> None:
    first = chunks[0]
    last = first.sentences[-1]
    assert first.sentence_text(last).endswith("and Stanford.")
    assert last.endnotes == ("107",)
    notes = [n for c in chunks for n in c.endnotes]
    assert notes == [str(n) for n in range(107, 127)]  # all twenty markers, in order, none invented
    assert "Stanford.107" not in first.search_text()


def test_paragraph_broken_by_a_blank_line_is_rejoined(chunks: list[Chunk]) -> None:
    joined = [c for c in chunks if "scholars for\n\ndecades." in c.text]
    assert len(joined) == 1
    assert any("scholars for\n\ndecades." in joined[0].sentence_text(s) for s in joined[0].sentences)


def test_interview_register_entries_are_chunks_with_fields(chunks: list[Chunk]) -> None:
    interviews = [c for c in chunks if c.kind == "interview"]
    assert len(interviews) == 8
    by_name = {c.metadata["interviewee"]: c.metadata for c in interviews}
    assert by_name["Erin Bromaghim"] == {
        "interviewee": "Erin Bromaghim",
        "role": "Deputy Mayor of International Affairs for the City of Los Angeles",
        "city": "Los Angeles",
        "date": "2023-10-16",
    }
    assert by_name["Joe Hedges"]["date"] == "2023-12-01"  # the entry wraps over a blank line
    assert by_name["Sarah Stewart"]["city"] == "Sacramento"  # no "City of": found from the gazetteer


def test_interview_notes_front_matter_and_markdown_headings() -> None:
    path = next(FIXTURE_CORPUS.glob("*.md"))
    doc = read_document(path, FIXTURE_CORPUS)
    assert doc.kind == "interview"
    assert doc.metadata == {
        "interviewee": "Dana Quill", "role": "International Relations Coordinator (fictional test persona)",
        "city": "Riverbend", "date": "2023-10-16",
    }
    chunks = chunk_document(doc)
    assert all(c.kind == "interview" and c.metadata["interviewee"] == "Dana Quill" for c in chunks)
    assert chunks[-1].section[-1] == "Sister cities"
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
    assert all(c.start >= doc.body_start for c in chunks)


def test_long_paragraphs_split_between_sentences_with_overlap(report: Document) -> None:
    small = chunk_document(report, max_words=40, overlap=1)
    assert all(report.text[c.start : c.end] == c.text for c in small)
    assert max(len(c.text.split()) for c in small if len(c.sentences) > 1) <= 40
    overlaps = [
        (a, b) for a, b in itertools.pairwise(small)
        if len(a.sentences) > 1 and a.sentences[-1].start >= b.start and a.section == b.section
    ]
    assert overlaps, "a long paragraph should have been split into overlapping windows"
    for before, after in overlaps:
        assert after.sentences[0] == before.sentences[-1]  # one sentence of overlap


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Data from the U.S. Federal Reserve. Next one.", ["Data from the U.S. Federal Reserve.", "Next one."]),
        ("It grew 3.5 percent. Then it fell.", ["It grew 3.5 percent.", "Then it fell."]),
        ("Attacked in 2023.111 The San Francisco board", ["Attacked in 2023.", "The San Francisco board"]),
        ("He said “yes.”12 Then left.", ["He said “yes.”", "Then left."]),
        ("e.g. this stays whole. Done.", ["e.g. this stays whole.", "Done."]),
    ],
)
def test_sentence_splitter(text: str, expected: list[str]) -> None:
    assert [text[s.start : s.end] for s in split_sentences(text, 0, len(text))] == expected


def test_chunk_ids_are_stable(report: Document) -> None:
    assert [c.id for c in chunk_document(report)] == [c.id for c in chunk_document(report)]
    assert Path(REPORT).name == chunk_document(report)[0].source
