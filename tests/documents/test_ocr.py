"""Scanned PDFs (no text layer) read by OCR: Tesseract's TSV to `pdftext` lines, a typeset report rasterised into
a copier-style PDF and read back, answered from with the right page cited and highlighted, a PDF mixing text and
scanned pages, and the reason a scanned PDF is skipped when OCR cannot run. Uses Debian's Tesseract (`make ocr`,
part of `make test`) and fails if it is missing."""

from __future__ import annotations

import shutil
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import pytest

from cityqa import Assistant, CorpusError, Settings, UnreadableFileError
from cityqa.documents import corpus as corpus_module
from cityqa.documents import sandbox
from cityqa.documents.corpus import read_document
from cityqa.documents.ocr import OcrError, OcrOptions, lines_from_tsv, parse_tsv, run_tesseract
from cityqa.documents.pages import page_image
from cityqa.documents.pdftext import page_text
from conftest import QUOTING_THRESHOLD, REPORT
from pdfgen import PdfLayout, alnum, make_pdf, report_paragraphs, scan_pdf

# ---------------------------------------------------------------- Tesseract's TSV, by hand

HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def _tsv(*words: tuple[int, int, int, int, int, int, int, float, str]) -> str:
    """TSV rows for words (block, par, line, left, top, width, height, conf, text), with the page, block and line
    rows Tesseract writes around them."""
    rows = [HEADER, "1\t1\t0\t0\t0\t0\t0\t0\t2550\t3300\t-1\t"]
    for block, par, line, left, top, width, height, conf, text in words:
        rows.append(f"4\t1\t{block}\t{par}\t{line}\t0\t{left}\t{top}\t{width}\t{height}\t-1\t")
        rows.append(f"5\t1\t{block}\t{par}\t{line}\t1\t{left}\t{top}\t{width}\t{height}\t{conf}\t{text}")
    return "\n".join(rows) + "\n"


def test_the_tsv_parser_makes_lines_of_words_and_drops_the_doubtful_ones() -> None:
    scale = 300 / 72  # pixels per point
    tsv = _tsv(  # a 14 pt heading, then 10 pt body text: capitals 0.7 * size * scale pixels above the baseline
        (1, 1, 1, 300, 300, 260, 41, 95.1, "Harbor"),
        (1, 1, 1, 590, 300, 230, 41, 93.0, "Towns"),
        (2, 1, 1, 300, 500, 120, 29, 96.0, "The"),  # the baseline at y = 529
        (2, 1, 1, 440, 500, 130, 38, 91.5, "city"),  # its y descends below the baseline
        (2, 1, 1, 590, 508, 20, 21, 4.0, "ee"),  # a speck read as letters: dropped
        (2, 1, 1, 630, 508, 150, 21, 96.3, "was"),  # x-height only
        (2, 1, 1, 800, 500, 300, 29, 89.0, "inter-"),
        (2, 1, 2, 300, 558, 210, 29, 90.0, "national."),  # the next line, 58 px (13.9 pt) lower
        (2, 1, 3, 300, 616, 5, 5, 95.0, " "),  # an empty word: no line
    )
    lines = parse_tsv(tsv)
    assert [[w.text for w in line] for line in lines] == [["Harbor", "Towns"], ["The", "city", "was", "inter-"],
                                                          ["national."]]
    assert lines[1][1].right == 570 and lines[1][1].bottom == 538 and lines[1][1].confidence == 91.5
    heading, body, last = lines_from_tsv(tsv, scale, 3300 / scale)
    assert (heading.text, body.text, last.text) == ("Harbor Towns", "The city was inter", "national.")
    assert body.hyphen and not last.hyphen
    assert abs(body.size - 10) < 0.3 and abs(last.size - 10) < 0.3 and heading.size > 1.3 * body.size
    assert abs(body.baseline - (3300 - 529) / scale) < 0.1 and body.baseline - last.baseline == pytest.approx(
        58 / scale, abs=0.1)
    text, starts = page_text([[heading, body, last]])
    assert text == "# Harbor Towns\n\nThe city was international." and starts == [0]


def test_a_tsv_parser_refuses_what_is_not_tsv() -> None:
    with pytest.raises(ValueError, match="not Tesseract TSV"):
        parse_tsv("Harbor Towns\nThe city was international.\n")
    assert parse_tsv("") == [] and parse_tsv(HEADER + "\n") == []


# ---------------------------------------------------------------- a scanned report, read back

QUESTION = "What shortages do cities face in doing international relations work?"  # gold q058, answered on page 2
PARAGRAPHS = (6, 7, 8, 10, 11, 12, 13, 14, 15, 18, 19, 20, 21, 22)  # of the report: two pages, no endnote markers


@dataclass
class Scans:
    folder: Path
    layout: PdfLayout
    typeset: Path  # the report typeset with a text layer
    scanned: Path  # every page a picture
    mixed: Path  # page 1 a picture, page 2 text


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    assert shutil.which("tesseract"), "Tesseract is missing: `make ocr` installs Debian's tesseract-ocr"
    folder = tmp_path_factory.mktemp("scans")
    paragraphs = report_paragraphs(REPORT)
    layout = make_pdf(folder / "typeset.pdf", [paragraphs[n] for n in PARAGRAPHS])
    scan_pdf(folder / "typeset.pdf", folder / "scanned.pdf")
    scan_pdf(folder / "typeset.pdf", folder / "mixed.pdf", pages=[1])
    return Scans(folder, layout, folder / "typeset.pdf", folder / "scanned.pdf", folder / "mixed.pdf")


def _words_in_order(expected: list[str], got: list[str]) -> float:
    """Share of `expected` words found in `got` in the same order (longest common subsequence)."""
    previous = [0] * (len(got) + 1)
    for word in expected:
        current = [0]
        for n, other in enumerate(got):
            current.append(previous[n] + 1 if word == other else max(previous[n + 1], current[n]))
        previous = current
    return previous[-1] / len(expected)


def _words(text: str) -> list[str]:
    return [w for w in (alnum(word) for word in text.split()) if w]


def test_the_fixture_is_scanned(scans: Scans) -> None:
    import pypdfium2 as pdfium

    assert scans.layout.pages == 2
    for path, pictures in ((scans.scanned, 2), (scans.mixed, 1)):
        pdf = pdfium.PdfDocument(path)
        empty = sum(1 for n in range(len(pdf)) if pdf[n].get_textpage().count_chars() == 0)
        pdf.close()
        assert empty == pictures


def test_a_scanned_pdf_is_read_by_ocr(scans: Scans) -> None:
    started = time.perf_counter()
    document = read_document(scans.scanned, scans.folder)
    seconds = time.perf_counter() - started
    printed = [w for page in sorted(scans.layout.page_words) for w in _words(" ".join(scans.layout.page_words[page]))]
    typeset = read_document(scans.typeset, scans.folder).text  # the same report read from its text layer
    read = _words(document.text.replace("#", " "))
    share, same = _words_in_order(printed, read), _words_in_order(_words(typeset.replace("#", " ")), read)
    print(f"\nOCR: {share:.3f} of the {len(printed)} printed words in order ({same:.3f} of the text layer's), "
          f"{seconds / 2:.1f} s per page")  # "strategic-" / "ally" across the page break are one word in the text
    assert share >= 0.95 and same >= 0.95
    assert len(document.pages) == 2 and document.pages[0] == 0
    first, second = document.text[: document.pages[1]], document.text[document.pages[1]:]
    assert "different approaches" in second and "different approaches" not in first
    assert "# Conclusion" in second and "## Globally Oriented Leadership" in first  # headings by type size
    assert "Policy Paper Series" not in document.text  # the running header is dropped, as from a text layer
    assert len(document.text.split("\n\n")) == len(typeset.split("\n\n"))  # the same paragraphs


def test_a_scanned_pdf_answers_and_cites_its_page(scans: Scans, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(scans.scanned, corpus / "scanned-report.pdf")
    assistant = Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                                                 abstain_threshold=QUOTING_THRESHOLD))
    assert assistant.ingest().added == ["scanned-report.pdf"]
    answer = assistant.ask(QUESTION)
    assert not answer.abstained and "funding" in answer.answer
    cited = answer.citations[0]
    assert cited.source == "scanned-report.pdf" and cited.page == 2 and "lack of funding" in cited.quote
    assert scans.layout.page_of(cited.quote) == (2, 2)
    # without OCR the page has no characters to match: it is shown without a highlight
    unread = page_image(corpus / "scanned-report.pdf", cited.page, cited.quote)
    assert unread.png.startswith(b"\x89PNG") and unread.marked == 0
    png, marked = sandbox.render_page(corpus / "scanned-report.pdf", cited.page, cited.quote, scale=0.5)
    assert png.startswith(b"\x89PNG") and marked == 0
    started = time.perf_counter()  # with OCR, highlighted over the words' boxes
    png, marked = sandbox.render_page(corpus / "scanned-report.pdf", cited.page, cited.quote, scale=0.5,
                                      ocr=OcrOptions())
    print(f"\nhighlighted on the scanned page: {marked} characters in {time.perf_counter() - started:.1f} s")
    assert marked >= len("".join(cited.quote.split())) - 5
    # the index records how the scanned pages were read, and reads the file again when that would change
    assert assistant.manifest["files"]["scanned-report.pdf"]["ocr"] == "eng"
    assert assistant.ingest().unchanged == ["scanned-report.pdf"]
    off = Assistant(assistant.settings.model_copy(update={"ocr": False}), assistant.index_dir,
                    embedder=assistant.embedder)
    [skipped] = off.ingest().skipped
    assert "OCR is off" in skipped.reason and "the previously indexed version is kept" in skipped.reason


def test_a_mixed_pdf_keeps_its_text_pages_exact(scans: Scans) -> None:
    typeset = read_document(scans.typeset, scans.folder)
    mixed = read_document(scans.mixed, scans.folder)
    assert mixed.text[mixed.pages[1]:] == typeset.text[typeset.pages[1]:]
    share = _words_in_order(_words(typeset.text[: typeset.pages[1]]), _words(mixed.text[: mixed.pages[1]]))
    assert share >= 0.95


# ---------------------------------------------------------------- when OCR cannot run


@pytest.fixture
def no_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH without Tesseract, and no OCR'd text kept from the tests before."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(corpus_module, "_OCR_READS", OrderedDict())


@pytest.mark.usefixtures("no_tesseract")
def test_without_tesseract_a_scanned_pdf_is_skipped_with_what_to_do(scans: Scans, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(scans.scanned, corpus / "scanned.pdf")
    with pytest.raises(CorpusError) as refused:  # the ingest report's lines for skipped files, before any embedding
        Assistant.open(settings=Settings(corpus_dir=corpus, index_dir=tmp_path / "index")).ingest()
    assert ("\n  ! skipped scanned.pdf: scanned PDF (no text layer): install tesseract-ocr to read it (apt-get install "
            "tesseract-ocr)") in str(refused.value)
    mixed, typeset = read_document(scans.mixed, scans.folder), read_document(scans.typeset, scans.folder)
    assert mixed.text.endswith(typeset.text[typeset.pages[1]:]) and mixed.pages == (0, 0)  # its text page as before
    # (with its running header: one page does not make it a running one)


@pytest.mark.usefixtures("no_tesseract")
def test_with_ocr_off_the_reason_says_so(scans: Scans) -> None:
    with pytest.raises(UnreadableFileError, match=r"scanned PDF \(no text layer\): OCR is off \(CITYQA_OCR=false\)"):
        read_document(scans.scanned, scans.folder, Settings(ocr=False))


def test_a_missing_language_is_named(scans: Scans, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus_module, "_OCR_READS", OrderedDict())
    with pytest.raises(UnreadableFileError, match=r"no language data for xyz .*install tesseract-ocr-xyz"):
        read_document(scans.scanned, scans.folder, Settings(ocr_languages="eng+xyz"))


def test_ocr_limits(scans: Scans, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(corpus_module, "_OCR_READS", OrderedDict())
    monkeypatch.setattr(sandbox, "MAX_OCR_PAGES", 1)
    with pytest.raises(UnreadableFileError, match=r"has 2 scanned pages .* OCR reads at most 1 per file"):
        read_document(scans.scanned, scans.folder)
    from PIL import Image

    Image.new("L", (2000, 2000), 255).save(tmp_path / "blank.png")
    with pytest.raises(OcrError, match=r"took longer than 0\.001 s"):
        run_tesseract(tmp_path / "blank.png", OcrOptions(), timeout=0.001)
