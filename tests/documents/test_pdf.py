"""PDFs as staff have them (issue 15): the shipped report typeset into a real multi-page PDF (running header, page
numbers, words hyphenated at line ends, superscript endnotes), ingested, asked every gold question; plus the
line-level rules of `pdftext` and the quote matching of `pdfrender` on their own."""

from __future__ import annotations

import io
import itertools
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cityqa import Assistant, Settings
from cityqa.answering.answer import citation
from cityqa.documents import sandbox
from cityqa.documents.chunking import chunk_document
from cityqa.documents.corpus import read_document
from cityqa.documents.extractors import FORMATS, read_pdf
from cityqa.documents.pages import page_image
from cityqa.documents.pdfrender import match_indices
from cityqa.documents.pdftext import SHORT_LINE, Glyph, Line, lines_of, page_text, reading_order
from cityqa.errors import PageImageError
from cityqa.types import Chunk, Document
from conftest import FIXTURE_CORPUS, REPORT, GoldAnswers
from pdfgen import BODY_SIZE, Block, ColumnLayout, PdfLayout, Spanning, make_pdf, make_two_column_pdf, report_paragraphs

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
    detail = {item["id"]: [(a.answer, a.abstained, a.confidence) for a in (pdf, txt)]
              for (item, pdf), (_, txt) in zip(pdf_answers, gold_answers, strict=True) if item["id"] in differ}
    assert differ == [], detail


def _highlighted_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(1 for r, g, b in image.getdata() if r > 235 and 215 < g < 250 and 110 < b < 190)


def test_page_image_highlights_the_quote_on_its_page(pdf_answers: GoldAnswers, pdf_corpus: tuple[Path, PdfLayout]
                                                     ) -> None:
    folder, _ = pdf_corpus
    c = next(c for _, a in pdf_answers for c in a.citations if c.source == PDF_NAME and c.page and not c.page_end)
    image = page_image(folder / PDF_NAME, c.page, c.quote)
    assert image.png.startswith(b"\x89PNG") and _highlighted_pixels(image.png) > 500 and image.marked > 0
    other = 1 if c.page > 1 else 2
    elsewhere = page_image(folder / PDF_NAME, other, c.quote)
    assert _highlighted_pixels(elsewhere.png) == 0 and elsewhere.marked == 0
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


# ---------------------------------------------------------------- two-column pages

TWO_COLUMN_TITLE = "Harbors and Railways: How Two Sister Cities Work Abroad"
RIGHT_COLUMN_SENTENCE = ("Its railway museum partnered with a Japanese transit authority in 1994, and the partnership "
                         "grew into a technical exchange on signalling and station accessibility.")
TWO_COLUMN_PAGES: list[list[Block]] = [
    [Spanning(TWO_COLUMN_TITLE, 1), [
        "Marisol Bay signed its first sister city agreement with a Portuguese harbor town in 1987. The agreement "
        "covered student exchanges and an annual fishing festival. Within a decade the festival drew visitors from "
        "eleven countries, and the harbor commission opened a small representative office in Lisbon.",
        "The office was staffed by a single coordinator. She organized delegations, answered letters from exporters "
        "and kept a register of every agreement the city had signed.",
        "Funding came from harbor fees rather than the general budget. Critics on the council argued that the fees "
        "should pay for dredging instead. The dispute lasted three budget cycles and ended with a compromise: the "
        "office would publish an annual report of its activities.",
        f"Cedar Junction took another path. {RIGHT_COLUMN_SENTENCE}",
        "Engineers from both cities visited each other every spring. They compared maintenance schedules and "
        "published a joint handbook on platform design that several regional railways adopted.",
    ], Spanning("Figure 1. Delegations received by Marisol Bay and Cedar Junction, 1987 to 2020, by year and country "
                "of origin."), [
        "The two cities differ in how they measure success. Marisol Bay counts visitors and trade inquiries, while "
        "Cedar Junction counts the technical standards its partners adopt.",
        "Both cities report that personal relationships matter more than formal agreements. A single retirement can "
        "end a partnership that looked secure on paper.",
    ]],
    [Spanning("Costs and Protocol Across Both Cities and Their Partners", 2), [
        "Neither city employs a full-time protocol officer. Visiting delegations are received by whichever "
        "department invited them, which leads to duplicated effort and occasional embarrassment.",
        "A shared regional protocol desk has been proposed several times. The proposal stalls each year over the "
        "question of which city would host it.",
    ], Spanning("Lessons", 2), [
        "Smaller cities can learn from both approaches. A focused partnership with one clear purpose outlasts a "
        "broad agreement that nobody owns.",
        "Future reports will track both partnerships through the next decade.",
    ]],
]


def _two_column_text() -> str:
    """The text a reader sees: headings and caption in place, each block's paragraphs whole and in order."""
    parts: list[str] = []
    for blocks in TWO_COLUMN_PAGES:
        for block in blocks:
            if isinstance(block, Spanning):
                parts.append(f"{'#' * block.level} {block.text}" if block.level else block.text)
            else:
                parts.extend(block)
    return "\n\n".join(parts)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.replace("\n\n", " ")) if s and not s.startswith("#")]


@pytest.fixture(scope="module", params=[(False, False), (False, True), (True, False), (True, True)],
                ids=["columns-runs", "columns-words", "rows-runs", "rows-words"])
def two_column_pdf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> tuple[Path, ColumnLayout, bool]:
    """The two-column report written column by column or row by row (left and right lines on shared baselines),
    each line as one text run or word by word."""
    rows, word_by_word = request.param
    path = tmp_path_factory.mktemp("two-column") / "sister-cities.pdf"
    return path, make_two_column_pdf(path, TWO_COLUMN_PAGES, rows=rows, word_by_word=word_by_word), rows


def _library_lines(path: Path) -> list[list[Line]]:
    """Each page's lines in the order pdfium reads them, before `reading_order`."""
    import pypdfium2 as pdfium

    from cityqa.documents.pdfrender import page_glyphs  # the characters `read_pdf` reads

    pdf = pdfium.PdfDocument(path)
    try:
        return [lines_of(list(page_glyphs(pdf[n]))) for n in range(len(pdf))]
    finally:
        pdf.close()


def test_the_two_column_pdf_is_what_the_test_claims(two_column_pdf: tuple[Path, ColumnLayout, bool]) -> None:
    path, layout, rows = two_column_pdf
    lines = layout.column_lines
    assert layout.pages == 2 and {line.column for line in lines} == {0, 1}
    assert all(line.share < SHORT_LINE for line in lines if line.ends_paragraph)  # a paragraph ends on a short line
    assert any(line.text.endswith(".") and not line.ends_paragraph for line in lines)  # a sentence ends a full line
    assert any(line.column == 0 and line.text.endswith("-") for line in lines)  # a word hyphenated in the left column
    switch = [n for n, (a, b) in enumerate(itertools.pairwise(lines)) if (a.column, b.column) == (0, 1)]
    assert any(not lines[n].ends_paragraph for n in switch)  # a paragraph runs on from the left column to the right
    gutter = 306.0  # the middle of the page
    straddling = [line for page in _library_lines(path) for line in page if line.left < gutter < line.right
                  and abs(line.size - BODY_SIZE) < 0.5]
    if rows:  # pdfium merges the left and right lines sharing a baseline into one line: the case that interleaves
        assert len(straddling) >= 10
    else:
        assert straddling == []


def test_a_two_column_pdf_reads_each_column_whole_and_in_order(two_column_pdf: tuple[Path, ColumnLayout, bool]
                                                               ) -> None:
    path, layout, _ = two_column_pdf
    text = read_pdf(path.name, path).text
    expected = _two_column_text()
    assert text == expected
    sentences = _sentences(expected)
    assert len(sentences) >= 20 and all(s in text for s in sentences)
    for word in layout.hyphenated:
        assert word in text
    title, first_left = text.index(f"# {TWO_COLUMN_TITLE}"), text.index("Marisol Bay signed")
    assert title == 0 < first_left < text.index("The dispute lasted") < text.index("Figure 1.") < text.index(
        "The two cities differ") < text.index("## Costs and Protocol") < text.index("Neither city") < text.index(
        "## Lessons") < text.index("Smaller cities")


def test_without_reading_order_the_rows_interleave(two_column_pdf: tuple[Path, ColumnLayout, bool]) -> None:
    """What the reader gave before it read columns: for the row-by-row PDF most sentences came out broken."""
    path, _, rows = two_column_pdf
    before, _ = page_text(_library_lines(path))
    whole = sum(1 for s in _sentences(_two_column_text()) if s in before)
    if rows:
        assert whole < len(_sentences(_two_column_text())) / 2
    else:
        assert before != _two_column_text()  # paragraph breaks measured against the page's width


def test_column_paragraphs_break_where_the_column_says(two_column_pdf: tuple[Path, ColumnLayout, bool]) -> None:
    path, _, _ = two_column_pdf
    pages = [reading_order(lines) for lines in _library_lines(path)]
    assert all(len({line.column for line in page} - {None}) == 2 for page in pages)  # a left and a right column
    text, starts = page_text(pages)
    paragraphs = text.split("\n\n")
    assert "in 1987. The agreement covered" in text  # a sentence ending a full line of the column
    assert "The office was staffed by a single coordinator. She organized delegations" in text
    assert "pay for dredging instead." in text  # across the column switch
    assert paragraphs.index("## Costs and Protocol Across Both Cities and Their Partners") > 0
    assert starts == [0, text.index("## Costs and Protocol")]


def test_single_column_pages_keep_the_library_order(pdf_corpus: tuple[Path, PdfLayout]) -> None:
    folder, _ = pdf_corpus
    pages = _library_lines(folder / PDF_NAME)
    assert len(pages) >= 4
    for lines in pages:
        assert reading_order(lines) == lines


def test_a_table_or_form_on_a_single_column_page_is_not_read_as_columns() -> None:
    prose = "The council reviewed budgets, staffing and procurement rules for the coming fiscal year."

    def row(cells: list[tuple[float, str]], baseline: float) -> list[Glyph]:
        return [*[g for x, cell in cells for g in _glyphs(cell, x, baseline, 10)],
                Glyph("\n", 0, 0, 0, 0, 0, baseline)]
    table = [row([(72, prose)], 720)]
    table += [row([(72, f"Harbor {n}"), (180, f"{1000 + 37 * n}"), (288, f"{2000 + 41 * n}"),
                   (396, f"{3000 + 43 * n}"), (504, f"{4000 + 47 * n}")], 700 - 14 * n) for n in range(8)]
    form = [row([(72, prose)], 720 - 14 * n) for n in range(3)]
    form += [row([(72, f"Field number {n} of the form"), (320, f"the value given for field {n} here")],
                 670 - 14 * n) for n in range(4)]
    form += [row([(72, prose)], 600 - 14 * n) for n in range(5)]
    for page in (table, form):
        lines = lines_of([g for line in page for g in line])
        assert len(lines) == len(page) and reading_order(lines) == lines


def test_a_right_column_sentence_is_retrieved_whole(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    layout = make_two_column_pdf(corpus / "sister-cities.pdf", TWO_COLUMN_PAGES, rows=True)
    right = [line.text for line in layout.column_lines if line.column == 1]
    assert RIGHT_COLUMN_SENTENCE in " ".join(right)  # printed over several lines of the right column
    assistant = Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index"))
    assert assistant.ingest().added == ["sister-cities.pdf"]
    question = "When did the Cedar Junction railway museum partner with a Japanese transit authority?"
    sentences = [hit.chunk.sentence_text(s) for hit in assistant.passages(question) for s in hit.chunk.sentences]
    assert RIGHT_COLUMN_SENTENCE in sentences
    answer = assistant.ask(question)
    assert not answer.abstained and "1994" in answer.answer
    cited = next(c for c in answer.citations if RIGHT_COLUMN_SENTENCE in c.quote and c.page == 1)
    # pdfium holds the sentence in pieces between the left column's lines; it is highlighted in reading order
    _, marked = sandbox.render_page(corpus / "sister-cities.pdf", 1, cited.quote, scale=0.25)
    assert marked >= len("".join(cited.quote.split())) - 5
