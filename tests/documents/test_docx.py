"""Word interview notes (issue 15): heading styles make the section path; a front table or leading "Field: value"
lines make the interview metadata that citations carry."""

from __future__ import annotations

import shutil
from pathlib import Path

import docx
import pytest

from cityqa import Assistant, Settings
from cityqa.documents.chunking import chunk_document
from cityqa.documents.corpus import read_document
from cityqa.errors import UnreadableFileError
from conftest import QUOTING_THRESHOLD

NOTE = Path(__file__).parents[1] / "fixtures" / "docx" / "interview-notes-lakeshore-fictional.docx"
FIELDS = {"interviewee": "Marisol Okafor", "role": "Director of International Trade", "city": "Lakeshore",
          "date": "2024-05-14"}


def test_front_table_becomes_interview_metadata_and_headings_the_sections(tmp_path: Path) -> None:
    shutil.copy(NOTE, tmp_path / NOTE.name)
    doc = read_document(tmp_path / NOTE.name, tmp_path)
    assert doc.kind == "interview" and doc.metadata == FIELDS
    assert "Interviewee" not in doc.text and "Marisol Okafor" not in doc.text.split("\n\n")[0]
    sections = [chunk.section for chunk in chunk_document(doc)]
    assert sections == [("Background", "Office history")] * 2 + [("Background", "Trade missions")] * 2 + [
        ("Sister cities",)]


def _note_with_lines(path: Path, lines: list[str]) -> Path:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    document.add_heading("Port", level=1)
    document.add_paragraph("The harbor commission meets twice a year with its partner port.")
    document.save(str(path))
    return path


def test_leading_field_lines_become_metadata(tmp_path: Path) -> None:
    path = _note_with_lines(tmp_path / "note.docx", ["Interviewee: Tomas Reyes", "Role: Harbor Commissioner",
                                                     "City: Bayview", "Date: 3/5/2024"])
    doc = read_document(path, tmp_path)
    assert doc.metadata == {"interviewee": "Tomas Reyes", "role": "Harbor Commissioner", "city": "Bayview",
                            "date": "2024-03-05"}
    assert doc.text == "# Port\n\nThe harbor commission meets twice a year with its partner port."


def test_an_interview_note_missing_fields_is_refused_with_their_names(tmp_path: Path) -> None:
    path = _note_with_lines(tmp_path / "note.docx", ["Interviewee: Tomas Reyes", "City: Bayview"])
    with pytest.raises(UnreadableFileError, match=r"lack leading field\(s\): role, date"):
        read_document(path, tmp_path)


def test_a_single_label_line_is_body_text_not_metadata(tmp_path: Path) -> None:
    path = _note_with_lines(tmp_path / "note.docx", ["Summary: the port grew."])
    doc = read_document(path, tmp_path)
    assert doc.metadata == {} and doc.kind == "report" and doc.text.startswith("Summary: the port grew.")


def test_citations_from_a_word_note_carry_its_metadata(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(NOTE, corpus / NOTE.name)
    assistant = Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                                                 abstain_threshold=QUOTING_THRESHOLD))
    assistant.ingest()
    answer = assistant.ask("Where did Okafor lead a trade mission?")
    assert not answer.abstained
    cited = answer.citations[0]
    assert "Monterrey" in cited.quote
    assert (cited.interviewee, cited.role, cited.city, cited.date) == tuple(FIELDS.values())
    assert cited.section == "Background > Trade missions"
    assert cited.label == "Interview with Marisol Okafor, 2024-05-14" and cited.page is None
