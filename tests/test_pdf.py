"""PDFs as staff have them (issue 15): the shipped report typeset into a real multi-page PDF (running header, page
numbers, words hyphenated at line ends, superscript endnotes), ingested, asked every gold question; plus the
line-level rules of `pdftext` and the quote matching of `pdfrender` on their own."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cityqa import Assistant, Settings, sandbox
from cityqa.answer import citation
from cityqa.chunking import chunk_document
from cityqa.corpus import read_document
from cityqa.errors import PageImageError
from cityqa.extractors import FORMATS
from cityqa.pages import page_image
from cityqa.pdfrender import match_indices
from cityqa.pdftext import Glyph, Line, lines_of, page_text
from cityqa.types import Chunk, Document
from conftest import FIXTURE_CORPUS, REPORT, GoldAnswers
from pdfgen import PdfLayout, make_pdf, report_paragraphs

HEADER = "Policy Paper Series · City Diplomacy"
PDF_NAME = REPORT.with_suffix(".pdf").name


# ---------------------------------------------------------------- the report as a PDF, end to end


@pytest.fixture(scope="session")
def pdf_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PdfLayout]:
    """The shared corpus with the report as a PDF instead of text."""
    folder = tmp_path_factory.mktemp("pdf-corpus")
    layout = make_pdf(folder / PDF_NAME, report_paragraphs(REPORT), header=HEADER)
    for path in FIXTURE_CORPUS.iterdir():
        shutil.copy(path, folder / path.name)
    return folder, layout


@pytest.fixture(scope="session")
def pdf_document(pdf_corpus: tuple[Path, PdfLayout]) -> Document:
    folder, _ = pdf_corpus
    return read_document(folder / PDF_NAME, folder)


@pytest.fixture(scope="session")
def pdf_assistant(pdf_corpus: tuple[Path, PdfLayout], tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    folder, _ = pdf_corpus
    built = Assistant.open(settings=Settings(corpus_dir=folder, index_dir=tmp_path_factory.mktemp("pdf-index")))
    built.ingest()
    return built


@pytest.fixture(scope="session")
def pdf_answers(pdf_assistant: Assistant, gold_questions: list[dict[str, Any]]) -> GoldAnswers:
    return [(item, pdf_assistant.ask(item["question"], history=item.get("history"))) for item in gold_questions]


def test_the_generated_pdf_is_what_the_test_claims(pdf_corpus: tuple[Path, PdfLayout]) -> None:
    _, layout = pdf_corpus
    assert layout.pages >= 4 and len(layout.hyphenated) >= 1


def test_pdf_text_has_no_header_footer_or_split_words(
    pdf_document: Document, pdf_corpus: tuple[Path, PdfLayout]
) -> None:
    _, layout = pdf_corpus
    chunks = chunk_document(pdf_document)
    assert all(HEADER not in chunk.text for chunk in chunks)
    assert all(not paragraph.strip().isdigit() for paragraph in pdf_document.text.split("\n\n"))
    assert "\ufffe" not in pdf_document.text and "\x02" not in pdf_document.text
    for word in layout.hyphenated:
        assert word in pdf_document.text, f"{word!r} hyphenated at a line end was not joined"
    assert len(pdf_document.pages) == layout.pages


def test_pdf_chunks_say_what_the_text_chunks_say(pdf_document: Document) -> None:
    """Same sections, sentences, endnotes and interview entries as the report's .txt."""
    def shape(chunk: Chunk) -> tuple[Any, ...]:
        return (chunk.section, chunk.kind, chunk.metadata, chunk.endnotes,
                tuple(chunk.sentence_text(s) for s in chunk.sentences))

    from_text = [shape(c) for c in chunk_document(read_document(REPORT, REPORT.parent))]
    assert [shape(c) for c in chunk_document(pdf_document)] == from_text


def test_every_pdf_citation_names_the_page_it_is_on(
    pdf_answers: GoldAnswers, pdf_document: Document, pdf_corpus: tuple[Path, PdfLayout]
) -> None:
    _, layout = pdf_corpus
    checked = 0
    for _item, answer in pdf_answers:
        for c in [*answer.citations, *answer.related]:
            if c.source != PDF_NAME:
                assert c.page is None  # the Markdown interview note has no pages
                continue
            assert pdf_document.text[c.start : c.end] == c.quote
            assert layout.page_of(c.quote) == (c.page, c.page_end or c.page), c.quote
            assert c.pages_label in c.label
            checked += 1
    assert checked >= 100


def test_a_sentence_across_a_page_break_cites_both_pages(
    pdf_document: Document, pdf_corpus: tuple[Path, PdfLayout]
) -> None:
    _, layout = pdf_corpus
    crossing = [(chunk, s) for chunk in chunk_document(pdf_document) for s in chunk.sentences
                if any(s.start < b < s.end for b in chunk.page_breaks)]
    assert crossing, "the generated PDF should break at least one sentence across pages"
    chunk, sentence = crossing[0]
    cited = citation(1, chunk, sentence, 1.0)
    assert cited.page_end == cited.page + 1 and cited.pages_label == f"pp. {cited.page}–{cited.page_end}"
    assert layout.page_of(cited.quote) == (cited.page, cited.page_end)


def test_pdf_answers_match_the_text_answers(pdf_answers: GoldAnswers, gold_answers: GoldAnswers) -> None:
    differ = [item["id"] for (item, pdf), (_, txt) in zip(pdf_answers, gold_answers, strict=True)
              if (pdf.answer, pdf.abstained, [c.quote for c in pdf.citations])
              != (txt.answer, txt.abstained, [c.quote for c in txt.citations])]
    assert differ == []


def _highlighted_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 235 and 215 < g < 250 and 110 < b < 190)


def test_page_image_highlights_the_quote_on_its_page(pdf_answers: GoldAnswers, pdf_corpus: tuple[Path, PdfLayout]
                                                     ) -> None:
    folder, _ = pdf_corpus
    c = next(c for _, a in pdf_answers for c in a.citations if c.source == PDF_NAME and c.page and not c.page_end)
    png = page_image(folder / PDF_NAME, c.page, c.quote)
    assert png.startswith(b"\x89PNG") and _highlighted_pixels(png) > 500
    other = 1 if c.page > 1 else 2
    assert _highlighted_pixels(page_image(folder / PDF_NAME, other, c.quote)) == 0
    _, marked = sandbox.render_page(folder / PDF_NAME, c.page, c.quote, scale=0.25)
    assert marked >= len("".join(c.quote.split())) - 5  # every character of the quote, spaces aside


def test_page_image_refuses_what_it_cannot_show(pdf_corpus: tuple[Path, PdfLayout], tmp_path: Path) -> None:
    folder, layout = pdf_corpus
    with pytest.raises(PageImageError, match=f"has {layout.pages} pages, not page 99"):
        page_image(folder / PDF_NAME, 99, "anything")
    with pytest.raises(PageImageError, match="not a PDF"):
        page_image(REPORT, 1, "anything")
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"%PDF-1.4 this is not really a PDF")
    with pytest.raises(PageImageError, match="cannot be shown"):
        page_image(fake, 1, "anything")


# ---------------------------------------------------------------- pdftext: lines to text


def _line(text: str, baseline: float, size: float = 10.0, right: float = 540.0, hyphen: bool = False) -> Line:
    return Line(text, 72.0, right, baseline + size, baseline, size, hyphen=hyphen)


def _page(*lines: Line, number: int, header: str = "Annual Review of Harbor Towns") -> list[Line]:
    return [_line(header, 750, 8), *lines, _line(str(number), 40, 8, right=310)]


def test_running_headers_and_page_numbers_are_dropped() -> None:
    bodies = [("Harbors came first, and with them the", "first trade offices."),
              ("Then the railways arrived and carried the", "goods inland."),
              ("Airports came last of all, with the", "delegations.")]
    pages = [_page(_line(one, 700), _line(two, 686, right=200), number=n) for n, (one, two) in enumerate(bodies, 1)]
    text, starts = page_text(pages)
    assert text == "\n\n".join(f"{one} {two}" for one, two in bodies)
    assert starts == [0, text.index("Then the"), text.index("Airports")]


def test_a_paragraph_runs_on_across_a_page_break_with_its_hyphenated_word() -> None:
    pages = [
        _page(_line("The port authority signed an agreement on inter", 700, hyphen=True), number=1),
        _page(_line("national shipping with its partner port.", 700, right=300), number=2),
    ]
    text, starts = page_text(pages)
    assert text == "The port authority signed an agreement on international shipping with its partner port."
    assert starts == [0, text.index("national")]


def test_a_hyphen_the_document_spells_elsewhere_is_kept() -> None:
    body = [_line("Most towns keep self", 700, hyphen=True), _line("funding tourism boards.", 686, right=300),
            _line("A self-funding board is common.", 660, right=300)]
    text, _ = page_text([body])
    assert text.startswith("Most towns keep self-funding tourism boards.")


def test_paragraphs_break_at_wide_gaps_and_short_sentence_ends() -> None:
    body = [_line("First paragraph runs over the full width of the column and", 700),
            _line("ends here.", 686, right=200),
            _line("Second paragraph starts after a short last line and no gap.", 672),
            _line("Third one after a wide gap.", 640, right=300)]
    text, _ = page_text([body])
    assert text.split("\n\n") == [
        "First paragraph runs over the full width of the column and ends here.",
        "Second paragraph starts after a short last line and no gap.",
        "Third one after a wide gap.",
    ]


def test_larger_type_becomes_markdown_headings_by_size() -> None:
    body = [_line("Harbor Towns Today", 720, size=16), _line("Their Ports", 690, size=13),
            _line("Body text under the headings, long enough to be the body size.", 670, right=400)]
    text, _ = page_text([body])
    assert text.split("\n\n") == [
        "# Harbor Towns Today", "## Their Ports", "Body text under the headings, long enough to be the body size.",
    ]


def _glyphs(text: str, x: float, baseline: float, size: float) -> list[Glyph]:
    out = []
    for ch in text:
        out.append(Glyph(ch, x, baseline, x + size * 0.5, baseline + size, size, baseline))
        x += size * 0.5
    return out


def test_superscript_markers_stay_after_a_sentence_and_leave_words() -> None:
    glyphs = [*_glyphs("Ports grew.", 72, 700, 10), *_glyphs("12", 128, 704, 6), *_glyphs(" Some cities", 135, 700, 10),
              *_glyphs("3", 195, 704, 6), *_glyphs(" did not.", 198, 700, 10)]
    [line] = lines_of(glyphs)
    assert line.text == "Ports grew.12 Some cities did not."


# ---------------------------------------------------------------- pdfrender: finding the quote on the page


def test_a_quote_is_found_across_line_breaks_hyphens_and_markers() -> None:
    page = list("Header 3\r\nThe city signed inter\ufffenational agree-\r\nments.12 Then")
    found = match_indices(page, "The city signed international agreements.")
    assert "".join(page[i] for i in found) == "The city signed inter\ufffenational agree-\r\nments"


def test_a_quote_crossing_a_page_break_matches_its_part_on_each_page() -> None:
    quote = "The council approved the twinning agreement with its partner city after two years of talks."
    first, second = list("Earlier text. The council approved the twinning agreement"), list("with its partner city "
                                                                                           "after two years of talks.")
    assert match_indices(first, quote) == []
    head = match_indices(first, quote, "head")
    tail = match_indices(second, quote, "tail")
    assert "".join(first[i] for i in head) == "The council approved the twinning agreement"
    assert "".join(second[i] for i in tail) == "with its partner city after two years of talks"


def test_a_pdf_read_by_an_older_reader_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bytes give other text when the PDF reader changes: such files are re-read, not kept."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_pdf(corpus / "note.pdf", [("Harbor Notes", 1), ("The harbor board met twice in spring.", 0)])
    assistant = Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index"))
    assert assistant.ingest().added == ["note.pdf"]
    assert assistant.ingest().unchanged == ["note.pdf"]
    newer = FORMATS[".pdf"].version + 1
    monkeypatch.setitem(FORMATS, ".pdf", replace(FORMATS[".pdf"], version=newer))
    report = assistant.ingest()
    assert report.changed == ["note.pdf"] and assistant.manifest["files"]["note.pdf"]["reader"] == newer
