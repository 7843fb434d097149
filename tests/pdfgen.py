"""Build a real multi-page PDF from paragraphs, the way a report is typeset, and remember what went on each page.

Used by the PDF tests and the browser test: Letter pages with a running header, a page number in the footer,
words hyphenated across line ends where a long word does not fit, and endnote markers set as superscripts.
`PdfLayout.page_words[n]` holds page n's words (1-based) so a test can tell which page a quote is on.

`make_two_column_pdf` sets a report in two columns (full-width title, headings and captions between blocks of
column text), writing each column as a whole or the page row by row, and records every column line it printed.

`scan_pdf` turns pages of such a PDF into scans: each page rasterised (pypdfium2 renders, in grey) and put back as
a picture alone (Pillow writes the images as a PDF), the way a copier's PDF holds a page: no text layer at all.
"""

from __future__ import annotations

import io
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.pagesizes import LETTER
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

BODY_FONT, BOLD_FONT = "Helvetica", "Helvetica-Bold"
BODY_SIZE, LEADING = 10.5, 14.0
HEADING_SIZES = {1: 15.0, 2: 12.5, 3: 11.5}
MARGIN = 72.0
_ENDNOTE = re.compile(r"^(.*?[.!?][\"”’)\]]*)(\d{1,3})$")

# A small fictional brief for the upload tests: its key sentence lands on page 2, under the heading "The Office".
FILLER = ("The council reviewed budgets, staffing and procurement rules for the coming fiscal year, and the clerk "
          "recorded the minutes of each session in the municipal archive for public inspection. ") * 6
CALLOWAY = [("Harbor Diplomacy in Port Calloway", 1), *[(FILLER, 0)] * 5, ("The Office", 2),
            ("Port Calloway opened its Office of Global Partnerships in 2021. The office is led by director Mireille "
             "Okafor, who reports to the city manager.", 0), (FILLER, 0)]
CALLOWAY_Q = "When did Port Calloway open its Office of Global Partnerships?"


@dataclass
class PdfLayout:
    """What the generator put where."""

    pages: int = 0
    page_words: dict[int, list[str]] = field(default_factory=dict)  # page -> words as printed (hyphen halves joined)
    hyphenated: list[str] = field(default_factory=list)  # words split across a line end
    header: str = ""

    def page_of(self, quote: str) -> tuple[int, int] | None:
        """(first page, last page) of the first place the quote's letters and digits appear, or None."""
        target = alnum(quote)
        pages = sorted(self.page_words)
        flat = [(p, alnum(" ".join(self.page_words[p]))) for p in pages]
        text = "".join(t for _, t in flat)
        at = text.find(target)
        if at < 0:
            return None
        ends, total = [], 0
        for p, t in flat:
            total += len(t)
            ends.append((total, p))
        first = next(p for end, p in ends if at < end)
        last = next(p for end, p in ends if at + len(target) - 1 < end)
        return first, last


def alnum(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def paragraphs_of(text: str, headings: dict[str, int]) -> list[tuple[str, int]]:
    """Blank-line separated paragraphs of a plain text, each with its heading level (0 = body) from `headings`."""
    blocks = [" ".join(b.split()) for b in re.split(r"\n\s*\n", text) if b.strip()]
    return [(b, headings.get(b, 0)) for b in blocks]


def report_paragraphs(path: Path) -> list[tuple[str, int]]:
    """A text document's paragraphs with the heading levels cityqa's chunker gives them (so a PDF typeset from
    them has the same sections as the text)."""
    from cityqa.documents.chunking import chunk_document
    from cityqa.documents.corpus import read_document

    report = read_document(path, path.parent)
    headings = {title: level for chunk in chunk_document(report) for level, title in enumerate(chunk.section, 1)}
    return paragraphs_of(report.text, headings)


def make_pdf(path: Path, paragraphs: list[tuple[str, int]], header: str = "Policy Paper Series · City Diplomacy",
             footer: bool = True, word_by_word: bool = True) -> PdfLayout:
    """Typeset `paragraphs` ((text, heading level), 0 = body) into a PDF at `path`. `word_by_word` positions each
    word on its own (as justified text and many word processors do); otherwise each line is one text run."""
    writer = _Writer(Canvas(str(path), pagesize=LETTER), header, footer, word_by_word)
    for text, level in paragraphs:
        if level:
            writer.heading(text, level)
        else:
            writer.paragraph(text)
    writer.finish()
    return writer.layout


class _Writer:
    def __init__(self, canvas: Canvas, header: str, footer: bool, word_by_word: bool) -> None:
        self.canvas, self.footer, self.word_by_word = canvas, footer, word_by_word
        self.width, self.height = LETTER
        self.layout = PdfLayout(header=header)
        self.y = 0.0
        self._new_page()

    def _new_page(self) -> None:
        if self.layout.pages:
            self.canvas.showPage()
        self.layout.pages += 1
        self.layout.page_words[self.layout.pages] = []
        self.canvas.setFont(BODY_FONT, 8.5)
        self.canvas.drawString(MARGIN, self.height - 40, self.layout.header)
        if self.footer:
            self.canvas.drawCentredString(self.width / 2, 36, str(self.layout.pages))
        self.y = self.height - MARGIN

    def _room(self, needed: float) -> None:
        if self.y - needed < MARGIN:
            self._new_page()

    def heading(self, text: str, level: int) -> None:
        size = HEADING_SIZES.get(level, 11.0)
        lines: list[list[str]] = [[]]
        for word in text.split():
            if lines[-1] and stringWidth(" ".join([*lines[-1], word]), BOLD_FONT, size) > self.width - 2 * MARGIN:
                lines.append([])
            lines[-1].append(word)
        self._room(size * (2 + len(lines)))
        self.y -= size * 0.5
        self.canvas.setFont(BOLD_FONT, size)
        for line in lines:
            self.y -= size * 1.2
            self.canvas.drawString(MARGIN, self.y, " ".join(line))
            self.layout.page_words[self.layout.pages].extend(line)
        self.y -= size * 0.6

    def paragraph(self, text: str) -> None:
        line: list[str] = []
        room = self.width - 2 * MARGIN
        for word in text.split():
            trial = " ".join([*line, word])
            if stringWidth(trial, BODY_FONT, BODY_SIZE) <= room:
                line.append(word)
                continue
            head, tail = self._hyphenate(line, word, room)
            if head:
                line.append(head + "-")
            self._line(line)
            line = [tail]
        if line:
            self._line(line)
        self.y -= LEADING * 0.6

    def _hyphenate(self, line: list[str], word: str, room: float) -> tuple[str, str]:
        """Split a long plain word so its first part still fits the line ('interna-' / 'tional')."""
        if len(word) < 9 or not word.isalpha():
            return "", word
        for cut in range(len(word) - 4, 3, -1):
            trial = " ".join([*line, word[:cut] + "-"])
            if stringWidth(trial, BODY_FONT, BODY_SIZE) <= room:
                self.layout.hyphenated.append(word)
                return word[:cut], word[cut:]
        return "", word

    def _line(self, words: list[str]) -> None:
        self._room(LEADING)
        self.y -= LEADING
        x = MARGIN
        page = self.layout.page_words[self.layout.pages]
        run = ""  # words not yet drawn, when lines are drawn as runs
        for i, word in enumerate(words):
            gap = " " if i else ""
            if self.word_by_word:  # a positioned gap, no space character
                x = self._word(word, x + stringWidth(gap, BODY_FONT, BODY_SIZE))
            else:
                run += gap + word
                if _ENDNOTE.match(word) or i == len(words) - 1:
                    x, run = self._word(run, x), ""
            if page and page[-1].endswith("-") and i == 0:
                page[-1] = page[-1][:-1] + word  # the two halves of a hyphenated word are one word
            else:
                page.append(word)

    def _word(self, word: str, x: float) -> float:
        """Draw one word; a trailing endnote number ('Stanford.107') is set as a superscript."""
        match = _ENDNOTE.match(word)
        body, note = (match.group(1), match.group(2)) if match else (word, "")
        self.canvas.setFont(BODY_FONT, BODY_SIZE)
        self.canvas.drawString(x, self.y, body)
        x += stringWidth(body, BODY_FONT, BODY_SIZE)
        if note:
            self.canvas.setFont(BODY_FONT, BODY_SIZE * 0.6)
            self.canvas.drawString(x, self.y + 4, note)
            x += stringWidth(note, BODY_FONT, BODY_SIZE * 0.6)
        return x

    def finish(self) -> None:
        self.canvas.save()


# ---------------------------------------------------------------- two-column pages

COLUMN_GAP = 18.0  # the gutter between the two columns
CAPTION_FONT, CAPTION_SIZE = "Helvetica-Oblique", 9.0


@dataclass(frozen=True)
class Spanning:
    """A full-width element of a two-column page: a heading (level >= 1) or a caption (level 0)."""

    text: str
    level: int = 0


Block = Spanning | list[str]  # a full-width element, or paragraphs flowing through the two columns


@dataclass(frozen=True)
class ColumnLine:
    """One printed line of a column block."""

    column: int  # 0 left, 1 right
    text: str  # as printed (a hyphenated word's first half ends with "-")
    ends_paragraph: bool
    share: float  # how much of the column's width the line fills (1.0 when justified)


@dataclass
class ColumnLayout(PdfLayout):
    column_lines: list[ColumnLine] = field(default_factory=list)  # in reading order


def make_two_column_pdf(path: Path, pages: list[list[Block]], rows: bool,
                        header: str = "Policy Paper Series · City Diplomacy", word_by_word: bool = False
                        ) -> ColumnLayout:
    """Typeset `pages` as a two-column report: full-width headings and captions, and blocks of paragraphs flowing
    down the left column and on into the right one (balanced, justified, first lines indented, long words
    hyphenated). `rows=False` writes each column as a whole, top to bottom; `rows=True` writes the page row by row,
    a left line then the right line on the same baseline, as some layout programs emit text."""
    canvas = Canvas(str(path), pagesize=LETTER)
    width, height = LETTER
    layout = ColumnLayout(header=header)
    column_width = (width - 2 * MARGIN - COLUMN_GAP) / 2
    for number, blocks in enumerate(pages, 1):
        if number > 1:
            canvas.showPage()
        layout.pages = number
        words = layout.page_words[number] = []
        canvas.setFont(BODY_FONT, 8.5)
        canvas.drawString(MARGIN, height - 40, header)
        canvas.drawCentredString(width / 2, 36, str(number))
        y = height - MARGIN
        for block in blocks:
            if isinstance(block, Spanning):
                font, size = (BOLD_FONT, HEADING_SIZES.get(block.level, 11.0)) if block.level else \
                    (CAPTION_FONT, CAPTION_SIZE)
                y -= size * 0.5
                canvas.setFont(font, size)
                for line in _wrap(block.text, font, size, width - 2 * MARGIN, layout=None):
                    y -= size * 1.2
                    canvas.drawString(MARGIN, y, line.text)
                y -= size * 0.6
                words.extend(block.text.split())
                continue
            lines = [line for text in block for line in _wrap(text, BODY_FONT, BODY_SIZE, column_width, layout)]
            words.extend(word for text in block for word in text.split())
            left = lines[: (len(lines) + 1) // 2]
            columns = [left, lines[len(left):]]
            for column, part in enumerate(columns):
                layout.column_lines.extend(ColumnLine(column, line.text, line.last, _share(line, column_width))
                                           for line in part)
            x = [MARGIN, MARGIN + column_width + COLUMN_GAP]
            order = [(i, c) for i in range(len(left)) for c in (0, 1)] if rows else \
                [(i, c) for c in (0, 1) for i in range(len(left))]
            for i, c in order:
                if i < len(columns[c]):
                    _draw_justified(canvas, columns[c][i], x[c], y - LEADING * (i + 1), column_width, word_by_word)
            y -= LEADING * (len(left) + 0.6)
        if y < MARGIN:
            raise ValueError(f"page {number} overflows its bottom margin")
    canvas.save()
    return layout


@dataclass(frozen=True)
class _Set:
    text: str
    indent: bool  # the first line of a paragraph
    last: bool  # the last line of a paragraph (not justified)


def _wrap(text: str, font: str, size: float, room: float, layout: PdfLayout | None) -> list[_Set]:
    """A paragraph's lines at width `room`; body paragraphs (with a layout to record hyphenations in) get an indented
    first line and long plain words hyphenated like `_Writer`."""
    indent = size if layout is not None else 0.0
    lines: list[list[str]] = [[]]
    for word in text.split():
        space = room - (indent if len(lines) == 1 else 0.0)
        if stringWidth(" ".join([*lines[-1], word]), font, size) <= space:
            lines[-1].append(word)
            continue
        if layout is not None and len(word) >= 9 and word.isalpha():
            cut = next((cut for cut in range(len(word) - 4, 3, -1)
                        if stringWidth(" ".join([*lines[-1], word[:cut] + "-"]), font, size) <= space), 0)
            if cut:
                layout.hyphenated.append(word)
                lines[-1].append(word[:cut] + "-")
                lines.append([word[cut:]])
                continue
        lines.append([word])
    return [_Set(" ".join(line), n == 0 and indent > 0, n == len(lines) - 1) for n, line in enumerate(lines)]


def _share(line: _Set, room: float) -> float:
    if not line.last:
        return 1.0
    return (stringWidth(line.text, BODY_FONT, BODY_SIZE) + (BODY_SIZE if line.indent else 0.0)) / room


def _draw_justified(canvas: Canvas, line: _Set, x: float, y: float, room: float, word_by_word: bool) -> None:
    """Draw a column line, stretched to the column's width unless it ends its paragraph."""
    if line.indent:
        x, room = x + BODY_SIZE, room - BODY_SIZE
    words = line.text.split()
    slack = room - stringWidth(line.text, BODY_FONT, BODY_SIZE)
    extra = 0.0 if line.last or len(words) < 2 else slack / (len(words) - 1)
    canvas.setFont(BODY_FONT, BODY_SIZE)
    if not word_by_word:
        text = canvas.beginText(x, y)
        text.setFont(BODY_FONT, BODY_SIZE)
        text.setWordSpace(extra)
        text.textOut(line.text)
        canvas.drawText(text)
        return
    space = stringWidth(" ", BODY_FONT, BODY_SIZE) + extra
    for word in words:
        canvas.drawString(x, y, word)
        x += stringWidth(word, BODY_FONT, BODY_SIZE) + space



# ---------------------------------------------------------------- scanned pages


def scan_pdf(source: Path, out: Path, pages: Collection[int] | None = None, dpi: int = 200) -> None:
    """Write `source` to `out` with `pages` (1-based; default all) replaced by grey pictures of themselves at `dpi`,
    as a scanner gives them (no text layer); the other pages keep their text."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(source)
    try:
        numbers = sorted(pages or range(1, len(pdf) + 1))
        images = [pdf[n - 1].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for n in numbers]
        buffer = io.BytesIO()
        images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
        scans = pdfium.PdfDocument(buffer.getvalue())
        for i, n in enumerate(numbers):
            pdf.del_page(n - 1)
            pdf.import_pages(scans, [i], n - 1)
        pdf.save(out)
        scans.close()
    finally:
        pdf.close()
