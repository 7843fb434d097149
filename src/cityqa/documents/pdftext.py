"""A PDF's text as a reader sees it, from the positioned characters of its pages.

A PDF holds characters at positions, not paragraphs. This module rebuilds the reading text from them, for single-
and two-column documents, with nothing fitted to one report:

- **lines** from the characters (`lines_of`): the line breaks the PDF library reports, line-end hyphens, and
  superscript note markers (a smaller, raised digit). A marker after a sentence's end stays glued to it
  (`harbor.12`), where `chunking` records it as an endnote like in a text file; anywhere else it is dropped so it
  never lands inside a word.
- **columns** (`reading_order`), per page from the characters' positions alone: the gutter is the widest blank
  strip near the middle of the page (at least `GUTTER` type sizes wide) that the most lines leave blank. It counts
  only when both sides read as columns of running text: each a fair share of the page's width, at least
  `COLUMN_LINES` lines side by side with the other, most lines filling their column, no blank strip running down
  inside a side (that is a table), and more column lines than full-width body lines (a small table or form inside
  a single-column page is left alone). A line the library reports across the gutter (a writer that emits the
  page row by row puts a left and a right line on one baseline) is split there, and the page is read block by
  block from the top: the block's left column top to bottom, then its right column. A line that crosses the gutter
  (a title, a caption, a heading across both columns), or a heading on one side with nothing of the other column
  beside it and that column above and below it, ends the block above and keeps its place. Column lines carry their
  column's extent. A page without a gutter keeps the library's order, so a single-column page reads as before; a
  page of three or more columns is left in the library's order.
- **running headers and footers** (`running_lines`): among the two top-most and two bottom-most lines of each
  page, the ones that repeat (digits and punctuation ignored) on at least half the pages, and bare page numbers
  ("7", "Page 7 of 9", "- vii -").
- **paragraphs** (`page_text`): a new paragraph where the gap between lines is wider than the usual line pitch, the
  type size changes, or a sentence ends on a short line ("short" against the line's column, or for a full-width
  line the document's text width); a paragraph continues across a page break, and from one column into the next,
  unless the line before ended a sentence on a short line.
- **headings**: a short paragraph set larger than the body text (or bold and unpunctuated) becomes a Markdown
  heading line (`## Title`), one level per size, so `chunking` reads the section path as it does in Markdown.
- **words hyphenated at line ends** are joined ("interna-" + "tional"), unless the document elsewhere spells the
  word with its hyphen ("self-funding") and never without; a hyphen that ends a column's line is a line end even
  where the library read the row on into the other column.

`page_text` returns the text and the offset where each page begins, so a citation can name its page. A leaf
module (no cityqa imports): the sandbox child runs it.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

SOFT_HYPHENS = ("\ufffe", "\x02")  # what pdfium reports for a hyphen it recognised at a line end
SUPERSCRIPT_RATIO = 0.8  # a character this much smaller than its line, and raised, is a note marker
HEADING_RATIO = 1.15  # a paragraph set this much larger than the body text is a heading
PARAGRAPH_GAP = 1.3  # a gap between lines this many times the usual pitch starts a paragraph
SHORT_LINE = 0.85  # a line ending before this fraction of the column's width ends its paragraph (after a sentence)
BOLD_WEIGHT = 600
GUTTER = 0.8  # a gutter between two columns is a blank strip at least this many times the body type size wide
COLUMN_SHARE = 0.25  # each column is at least this share of the page's text width (so the gutter is near the middle)
COLUMN_LINES = 3  # each column has at least this many lines beside a line of the other one
COLUMN_FILL = 0.75  # a column's median line fills at least this share of its width (running text, not a table)
_SENTENCE_END = re.compile(r"[.!?:][\"”’)\]]*\d{0,3}$")
_NOTE_ANCHOR = re.compile(r"[.!?][\"”’)\]]*$")
_PAGE_NUMBER = re.compile(r"^(?:page|p\.)?\s*[-–—]?\s*(?:#+|[ivxlcdm]+)(?:\s*(?:of|/)\s*#+)?\s*[-–—]?$", re.I)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@dataclass(frozen=True)
class Glyph:
    """One character as the PDF library reports it (PDF points, y upwards)."""

    char: str
    left: float
    bottom: float
    right: float
    top: float
    size: float  # font size; 0 for characters the library generated (spaces, line breaks)
    baseline: float
    weight: int = 400


@dataclass
class Line:
    text: str
    left: float
    right: float
    top: float
    baseline: float
    size: float
    bold: bool = False
    hyphen: bool = False  # ends with a hyphen at the line end (the hyphen is not in `text`)
    column: tuple[float, float] | None = None  # (left, right) of the page's column the line is in; None: full width
    glyphs: tuple[Glyph, ...] = field(default=(), repr=False, compare=False)


@dataclass
class _Paragraph:
    page: int
    lines: list[Line] = field(default_factory=list)
    starts: list[tuple[int, int]] = field(default_factory=list)  # (line index, page) where a new page begins
    level: int = 0


# ---------------------------------------------------------------- characters to lines


def lines_of(glyphs: Sequence[Glyph]) -> list[Line]:
    """The page's lines, in the order the PDF library reads them."""
    lines: list[Line] = []
    run: list[Glyph] = []
    for glyph in glyphs:
        if glyph.char in "\r\n" or glyph.char in SOFT_HYPHENS:
            if run:
                lines.append(_line(run, hyphen=glyph.char in SOFT_HYPHENS))
            run = []
        elif run and _starts_new_line(run, glyph):
            lines.append(_line(run, hyphen=False))
            run = [glyph]
        else:
            run.append(glyph)
    if run:
        lines.append(_line(run, hyphen=False))
    return [line for line in lines if line.text.strip()]


def _starts_new_line(run: list[Glyph], glyph: Glyph) -> bool:
    """A character well below the line so far starts a new line even without a reported break."""
    sized = [g for g in run if g.size > 0 and not g.char.isspace()]
    if not sized or glyph.size <= 0:
        return False
    return glyph.baseline < min(g.baseline for g in sized) - 0.6 * max(g.size for g in sized)


def _line(run: list[Glyph], hyphen: bool) -> Line:
    ink = [g for g in run if not g.char.isspace() and g.size > 0] or run
    size = statistics.median(g.size for g in ink)
    baseline = statistics.median(g.baseline for g in ink if g.size >= SUPERSCRIPT_RATIO * size)
    text = _without_stray_notes(run, size, baseline)
    if text.endswith("-") and not hyphen and len(text) > 1 and text[-2].isalpha():
        text, hyphen = text[:-1], True
    bold = statistics.median(g.weight for g in ink) >= BOLD_WEIGHT
    return Line(text.strip(), min(g.left for g in ink), max(g.right for g in ink), max(g.top for g in ink),
                baseline, size, bold, hyphen, glyphs=tuple(run))


def _without_stray_notes(run: list[Glyph], size: float, baseline: float) -> str:
    """The line's characters; a raised small note marker stays only right after a sentence's end."""
    out: list[str] = []
    i = 0
    while i < len(run):
        j = i
        while j < len(run) and _is_marker(run[j], size, baseline):
            j += 1
        if j > i:
            if _NOTE_ANCHOR.search("".join(out)):
                out.extend(g.char for g in run[i:j])
            i = j
            continue
        out.append(run[i].char)
        i += 1
    return "".join(out)


def _is_marker(glyph: Glyph, size: float, baseline: float) -> bool:
    return (glyph.char.isdigit() and 0 < glyph.size < SUPERSCRIPT_RATIO * size
            and glyph.baseline > baseline + 0.2 * size)


# ---------------------------------------------------------------- columns


def reading_order(lines: Sequence[Line]) -> list[Line]:
    """The page's lines in reading order. A page without a gutter keeps the PDF library's order. On a page with two
    columns, a line straddling the gutter is split into its left and right parts, and the page is read block by
    block from the top: a block's left column top to bottom, then its right column; a full-width line (a title, a
    caption, a heading across both columns) ends the block above it and is read in its place. Column lines carry
    their column's extent, which the paragraph rules measure against."""
    sides = _columns(lines)
    if sides is None:
        return list(lines)
    columns = [[line for line, side in sides if side == n] for n in (0, 1)]
    extents = [(min(line.left for line in column), max(line.right for line in column)) for column in columns]
    size = _body_size([lines])
    spanning = {id(line) for line, side in sides if side < 0 or _spans(line, columns[1 - side], size)}
    ordered: list[Line] = []
    block: tuple[list[Line], list[Line]] = ([], [])
    for line, side in sorted(sides, key=lambda item: -item[0].baseline):
        if id(line) in spanning:
            ordered.extend([*block[0], *block[1], replace(line, column=None)])
            block = ([], [])
        else:
            block[side].append(replace(line, column=extents[side]))
    return [*ordered, *block[0], *block[1]]


def _columns(lines: Sequence[Line]) -> list[tuple[Line, int]] | None:
    """The page's lines split at the gutter between two columns of running text (see `_sides`), or None when there
    is none. The gutter is the middle of the widest blank strip (at least `GUTTER` type sizes wide) near the middle
    of the page that the most lines leave blank, when both sides of it read as columns."""
    inks = [ink for ink in map(_ink, lines) if ink]
    if len(inks) < COLUMN_LINES:
        return None
    size = _body_size([lines])
    reach = GUTTER * size / 2  # a point at least this far from every character of a line is in a gap that wide
    x0 = min(left for ink in inks for left, _ in ink)
    x1 = max(right for ink in inks for _, right in ink)
    lo, hi = math.ceil(x0 + COLUMN_SHARE * (x1 - x0)), math.floor(x1 - COLUMN_SHARE * (x1 - x0))
    if hi <= lo:
        return None
    blank = _blank(inks, lo, hi, reach, between=False)
    most = max(blank)
    runs = [list(group) for key, group in itertools.groupby(range(len(blank)), key=lambda i: blank[i] == most) if key]
    widest = max(runs, key=len)
    sides = _sides(lines, lo + (widest[0] + widest[-1]) / 2, reach)
    return sides if _read_as_columns(sides, x1 - x0, size, reach) else None


def _blank(inks: Sequence[Sequence[tuple[float, float]]], lo: int, hi: int, reach: float, between: bool) -> list[int]:
    """For each x from `lo` to `hi`, how many lines have no character within `reach` of it (`between`: and have
    characters both left and right of it)."""
    blank = [0] * (hi - lo + 1)
    for ink in inks:
        covered = [False] * len(blank)
        for left, right in ink:
            for x in range(max(lo, math.ceil(left - reach)), min(hi, math.floor(right + reach)) + 1):
                covered[x - lo] = True
        if between:
            first, last = min(left for left, _ in ink), max(right for _, right in ink)
            for i in range(len(covered)):
                covered[i] = covered[i] or not first < lo + i < last
        for i, hit in enumerate(covered):
            blank[i] += not hit
    return blank


def _ink(line: Line) -> list[tuple[float, float]]:
    """The horizontal extents of the line's printed characters."""
    return [(g.left, g.right) for g in line.glyphs if g.size > 0 and g.right > g.left and not g.char.isspace()]


def _sides(lines: Sequence[Line], x: float, reach: float) -> list[tuple[Line, int]]:
    """Each line, or each part of a line split at the gutter `x`, with its side: 0 left, 1 right, -1 across (a
    character within `reach` of the gutter)."""
    out: list[tuple[Line, int]] = []
    for line in lines:
        ink = _ink(line)
        if not ink or any(left - reach <= x <= right + reach for left, right in ink):
            out.append((line, -1))
            continue
        parts = ([g for g in line.glyphs if g.left + g.right < 2 * x],
                 [g for g in line.glyphs if g.left + g.right >= 2 * x])
        inked = [run for run in parts if any(g.size > 0 and not g.char.isspace() for g in run)]
        if len(inked) == 1:
            out.append((line, 0 if inked[0] is parts[0] else 1))
            continue
        head = parts[0][: max(i for i, g in enumerate(parts[0]) if not g.char.isspace()) + 1]  # "agree-" ends it
        left, right = _line(head, hyphen=False), _line(parts[1], hyphen=False)
        right.hyphen = right.hyphen or line.hyphen  # a soft hyphen the library reported at the line's end
        out.extend([(left, 0), (right, 1)])
    return out


def _read_as_columns(sides: list[tuple[Line, int]], width: float, size: float, reach: float) -> bool:
    """Do the lines either side of a gutter read as two columns of running text? Each side has enough lines beside
    lines of the other and is a fair share of the page's width; most of its lines fill its width, and no blank strip
    runs down inside it (that would be a table); and the columns hold more lines than the full-width body text
    around them (a small table or form in a single-column page is not read as columns)."""
    columns = [[line for line, side in sides if side == n] for n in (0, 1)]
    if min(len(column) for column in columns) < COLUMN_LINES:
        return False
    beside = sum(1 for line in columns[0] if any(_level(line, other) for other in columns[1]))
    across = sum(1 for line, side in sides if side < 0 and abs(line.size - size) < 0.5)
    if beside < COLUMN_LINES or len(columns[0]) + len(columns[1]) - beside <= across:
        return False
    for column in columns:
        left, right = min(line.left for line in column), max(line.right for line in column)
        if right - left < COLUMN_SHARE * width:
            return False
        if statistics.median(line.right - line.left for line in column) < COLUMN_FILL * (right - left):
            return False
        inside = _blank([_ink(line) for line in column], math.ceil(left), math.floor(right), reach, between=True)
        if max(inside) >= max(COLUMN_LINES, len(column) / 2):
            return False
    return True


def _level(a: Line, b: Line) -> bool:
    """Are the two lines side by side (their heights overlap)?"""
    return a.baseline - 0.3 * a.size < b.top and b.baseline - 0.3 * b.size < a.top


def _spans(line: Line, other: list[Line], body_size: float) -> bool:
    """Is a heading on one side of the gutter a heading across the page: nothing of the other column beside it, and
    the other column both above and below it?"""
    if line.size < HEADING_RATIO * body_size and not line.bold:
        return False
    return (not any(_level(line, o) for o in other) and any(o.baseline > line.baseline for o in other)
            and any(o.baseline < line.baseline for o in other))


# ---------------------------------------------------------------- running headers, footers, page numbers


def running_lines(pages: Sequence[Sequence[Line]]) -> set[tuple[int, int]]:
    """(page, line) indices of running headers, footers and page numbers: lines at a page's top or bottom that are
    a bare page number, or whose text (digits aside) recurs at the same height on at least half the pages."""
    candidates = [(p, i, _furniture_key(pages[p][i].text)) for p, lines in enumerate(pages) for i in _edge_lines(lines)]
    heights: dict[str, list[float]] = {}
    for p, i, key in candidates:
        heights.setdefault(_words_only(key), []).append(pages[p][i].baseline)
    needed = max(2, math.ceil(len(pages) / 2))
    found: set[tuple[int, int]] = set()
    for p, i, key in candidates:
        line = pages[p][i]
        if _PAGE_NUMBER.match(key):
            found.add((p, i))
        elif re.search(r"[^\W\d_]", key):
            same = heights[_words_only(key)]
            same_place = [h for h in same if abs(h - line.baseline) <= max(3.0, 0.3 * line.size)]
            if len(same_place) >= needed:
                found.add((p, i))
    return found


def _edge_lines(lines: Sequence[Line]) -> list[int]:
    order = sorted(range(len(lines)), key=lambda i: -lines[i].baseline)
    return sorted(set(order[:2] + order[-2:]))


def _furniture_key(text: str) -> str:
    return " ".join(re.sub(r"\d+", "#", text.casefold()).split())


def _words_only(key: str) -> str:
    """The key without its punctuation: a header read by OCR on a scanned page ("Series - City") repeats the one
    printed on the text pages ("Series · City")."""
    return " ".join(re.sub(r"[^\w#]+", " ", key).split())


# ---------------------------------------------------------------- lines to paragraphs and text


def page_text(pages: Sequence[Sequence[Line]]) -> tuple[str, list[int]]:
    """The document's text (paragraphs separated by a blank line, headings as Markdown heading lines) and the
    offset in it where each page begins."""
    furniture = running_lines(pages)
    body = [[line for i, line in enumerate(lines) if (p, i) not in furniture] for p, lines in enumerate(pages)]
    paragraphs = _paragraphs(body)
    vocabulary = _vocabulary(body)
    parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    for para in paragraphs:
        if parts:
            offset += 2  # the blank line between paragraphs
        text, starts = _paragraph_text(para, vocabulary)
        while len(page_starts) < para.page:  # pages before this one without text start here
            page_starts.append(offset)
        for at, page in starts:
            while len(page_starts) < page:
                page_starts.append(offset + at)
        parts.append(text)
        offset += len(text)
    while len(page_starts) < len(pages):
        page_starts.append(offset)
    return "\n\n".join(parts), page_starts


def _paragraphs(body: Sequence[Sequence[Line]]) -> list[_Paragraph]:
    size = _body_size(body)
    pitch = _line_pitch(body, size)
    right = max((line.right for lines in body for line in lines if abs(line.size - size) < 0.5), default=0.0)
    left = min((line.left for lines in body for line in lines if abs(line.size - size) < 0.5), default=0.0)
    short_before = right - (1 - SHORT_LINE) * max(right - left, 1.0)
    paragraphs: list[_Paragraph] = []
    previous: Line | None = None
    for page, lines in enumerate(body, 1):
        for n, line in enumerate(lines):
            same_page = n > 0
            if previous is None or _breaks(previous, line, same_page, pitch, short_before):
                paragraphs.append(_Paragraph(page))
            para = paragraphs[-1]
            if para.lines and not same_page:
                para.starts.append((len(para.lines), page))
            elif not para.lines:
                para.starts.append((0, page))
            para.lines.append(line)
            previous = line
    _mark_headings(paragraphs, size)
    return paragraphs


def _breaks(previous: Line, line: Line, same_page: bool, pitch: float, short_before: float) -> bool:
    """Does `line` start a new paragraph after `previous`? (`short_before`: where a short full-width line ends.)"""
    if abs(line.size - previous.size) > 0.1 * previous.size or line.bold != previous.bold:
        return True
    ended = bool(_SENTENCE_END.search(previous.text)) and not previous.hyphen
    if previous.column is not None:  # measured against its column
        left, right = previous.column
        short_before = right - (1 - SHORT_LINE) * max(right - left, 1.0)
    short = previous.right < short_before
    next_column = previous.column is not None and line.column is not None and previous.column != line.column
    if not same_page or next_column:
        return ended and short
    gap = previous.baseline - line.baseline
    if gap > PARAGRAPH_GAP * pitch * (previous.size / max(line.size, 1.0)) or gap < -pitch:
        return True
    return ended and short


def _body_size(body: Sequence[Sequence[Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in body:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def _line_pitch(body: Sequence[Sequence[Line]], size: float) -> float:
    """The usual distance between consecutive body lines."""
    gaps = [a.baseline - b.baseline for lines in body for a, b in itertools.pairwise(lines)
            if abs(a.size - size) < 0.5 and abs(b.size - size) < 0.5 and 0 < a.baseline - b.baseline < 3 * size]
    return statistics.median(gaps) if gaps else 1.2 * size


def _mark_headings(paragraphs: list[_Paragraph], body_size: float) -> None:
    """Short paragraphs set large (or bold, unpunctuated) become headings, one level per size, largest first."""
    def is_heading(para: _Paragraph) -> bool:
        text = " ".join(line.text for line in para.lines)
        if len(para.lines) > 2 or len(text) > 150 or not any(ch.isalpha() for ch in text):
            return False
        large = para.lines[0].size >= HEADING_RATIO * body_size
        return large or (para.lines[0].bold and not _SENTENCE_END.search(text))

    headings = [para for para in paragraphs if is_heading(para)]
    sizes = sorted({round(para.lines[0].size) for para in headings}, reverse=True)
    for para in headings:
        para.level = min(6, sizes.index(round(para.lines[0].size)) + 1)


def _vocabulary(body: Sequence[Sequence[Line]]) -> Counter[str]:
    """How often each word is spelled in full on a line (hyphen fragments at line ends excluded)."""
    words: Counter[str] = Counter()
    for lines in body:
        for line in lines:
            found = _WORD.findall(line.text.casefold())
            words.update(found[:-1] if line.hyphen else found)
    return words


def _paragraph_text(para: _Paragraph, vocabulary: Counter[str]) -> tuple[str, list[tuple[int, int]]]:
    """The paragraph's text and (offset, page) for each page it starts on."""
    text = ""
    starts: list[tuple[int, int]] = []
    pending = dict(para.starts)
    for n, line in enumerate(para.lines):
        if n:
            text += _joint(para.lines[n - 1], line, vocabulary)
        if n in pending:
            starts.append((len(text), pending[n]))
        text += line.text
    if para.level:
        text = "#" * para.level + " " + text.replace("\n", " ")
        starts = [(0 if at == 0 else at + para.level + 1, page) for at, page in starts]
    return text, starts


def _joint(previous: Line, line: Line, vocabulary: Counter[str]) -> str:
    """What goes between two lines of a paragraph: a space, nothing (a hyphenated word) or a kept hyphen."""
    if not previous.hyphen:
        return " "
    head = _WORD.findall(previous.text.casefold())
    tail = _WORD.findall(line.text.casefold())
    if not head or not tail or not line.text[:1].islower():
        return "-"
    joined, hyphenated = head[-1] + tail[0], f"{head[-1]}-{tail[0]}"
    if vocabulary[hyphenated] and not vocabulary[joined]:
        return "-"
    return ""
