"""A PDF page as a picture, with a quoted sentence highlighted on it (pypdfium2 renders, Pillow paints).

The quote is found on the page by its letters and digits alone, so line breaks, line-end hyphens, running headers
and note markers between its words do not stop the match. It is looked for in the order pdfium holds the characters,
then in the reading order `pdftext` gives the text (a two-column page written row by row holds a right-column
sentence in pieces, between the left column's lines). A quote that crosses a page break is highlighted as far as it
goes on each page: its longest opening part on the first page, its longest closing part on the last.

A scanned page (no text layer: `ocr.is_scanned`) has no characters to match; given `OcrOptions`, the page is read
by Tesseract again, as for indexing, and the quote is highlighted over the OCR'd words' boxes. Without Tesseract,
or when OCR fails, the page is shown without a highlight (0 characters highlighted).

`page_glyphs` reads a page's characters for `extractors.read_pdf` too, so the text indexed and the characters
matched here are the same. The module imports only the leaves `pdftext` and `ocr`: the sandbox child runs it, so a
hostile PDF can hurt only that process. `pages.page_image` is the entry point the rest of cityqa uses.
"""

from __future__ import annotations

import ctypes
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from .pdftext import Glyph, lines_of, reading_order

if TYPE_CHECKING:
    from .ocr import OcrOptions

HIGHLIGHT_RGBA = (255, 214, 0, 110)
OUTLINE_RGBA = (230, 120, 0, 255)
MIN_MATCH = 12  # letters and digits; a shorter partial match across a page break is not trusted
Part = Literal["whole", "head", "tail"]


def match_indices(page_chars: Sequence[str], quote: str, part: Part = "whole",
                  order: Sequence[int] | None = None) -> list[int]:
    """Indices into `page_chars` of the characters that spell `quote` (or, for `head` / `tail`, its longest opening
    or closing part found on the page); [] when it is not there. `order`: the indices in the order to read them
    (default: as they are)."""
    order = range(len(page_chars)) if order is None else order
    keys = [(at, page_chars[i].casefold()) for at, i in enumerate(order) if page_chars[i].isalnum()]
    hay = "".join(ch for _, ch in keys)
    target = "".join(ch.casefold() for ch in quote if ch.isalnum())
    if not target:
        return []
    span = _find(hay, target, part)
    if span is None:
        return []
    start, end = span
    return list(order[keys[start][0] : keys[end - 1][0] + 1])


def page_glyphs(page: Any) -> list[Glyph]:
    """Every character of a pdfium page with its box, baseline, font size and weight (0 size when generated)."""
    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    glyphs = []
    for i in range(textpage.count_chars()):
        code = raw.FPDFText_GetUnicode(textpage, i)
        left, bottom, right, top = textpage.get_charbox(i)
        generated = raw.FPDFText_IsGenerated(textpage, i) == 1
        size = 0.0 if generated else float(raw.FPDFText_GetFontSize(textpage, i))
        glyphs.append(Glyph(chr(code) if code else "", left, bottom, right, top, size,
                            _baseline(raw, textpage, i, bottom), int(raw.FPDFText_GetFontWeight(textpage, i))))
    return glyphs


def _baseline(raw: Any, textpage: Any, index: int, fallback: float) -> float:
    x, y = ctypes.c_double(), ctypes.c_double()
    if raw.FPDFText_GetCharOrigin(textpage, index, ctypes.byref(x), ctypes.byref(y)):
        return float(y.value)
    return fallback


def reading_indices(glyphs: Sequence[Glyph]) -> list[int]:
    """The page's character indices in `pdftext`'s reading order (columns read one after the other)."""
    at = {id(glyph): i for i, glyph in enumerate(glyphs)}
    return [at[id(g)] for line in reading_order(lines_of(glyphs)) for g in line.glyphs if id(g) in at]


def _find(hay: str, target: str, part: Part) -> tuple[int, int] | None:
    at = hay.find(target)
    if at >= 0:
        return at, at + len(target)
    if part == "whole":
        return None
    for size in range(len(target) - 1, MIN_MATCH - 1, -1):
        piece = target[:size] if part == "head" else target[-size:]
        at = hay.rfind(piece) if part == "head" else hay.find(piece)
        if at >= 0:
            return at, at + size
    return None


def line_boxes(boxes: Sequence[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Character boxes (left, bottom, right, top) merged into one box per line of text."""
    merged: list[list[float]] = []
    for left, bottom, right, top in boxes:
        if right - left <= 0 and top - bottom <= 0:
            continue  # generated characters have empty boxes
        last = merged[-1] if merged else None
        if last and min(top, last[3]) - max(bottom, last[1]) > 0.4 * (top - bottom) and left >= last[0] - 1:
            last[:] = [min(last[0], left), min(last[1], bottom), max(last[2], right), max(last[3], top)]
        else:
            merged.append([left, bottom, right, top])
    return [(a, b, c, d) for a, b, c, d in merged]


def render(path: str, page_number: int, quote: str, part: Part = "whole", scale: float = 1.5,
           ocr: OcrOptions | None = None) -> tuple[bytes, int]:
    """PNG of page `page_number` (1-based) with the quote highlighted, and how many characters were highlighted. A
    scanned page is OCR'd with `ocr` to find the quote (none: it is shown without a highlight)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        if not 1 <= page_number <= len(pdf):
            raise ValueError(f"the PDF has {len(pdf)} pages, not page {page_number}")
        page = pdf[page_number - 1]
        textpage = page.get_textpage()
        glyphs = page_glyphs(page)
        indices = _matched(glyphs, quote, part)
        boxes = line_boxes([textpage.get_charbox(i) for i in indices])
        image = page.render(scale=scale).to_pil().convert("RGBA")
        rects = [_to_device(page, image.size, box) for box in boxes]
        if not indices and ocr is not None:
            indices, rects = _ocr_match(page, page_number, glyphs, quote, part, ocr, image.height / scale, scale)
        _paint(image, rects, scale)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=True)
        return out.getvalue(), len(indices)
    finally:
        pdf.close()


def _matched(glyphs: Sequence[Glyph], quote: str, part: Part) -> list[int]:
    """Indices of the glyphs that spell the quote, in the library's order or else in reading order."""
    chars = [g.char for g in glyphs]
    return match_indices(chars, quote, part) or match_indices(chars, quote, part, reading_indices(glyphs))


def _ocr_match(page: Any, number: int, glyphs: Sequence[Glyph], quote: str, part: Part, ocr: OcrOptions,
               height: float, scale: float) -> tuple[list[int], list[tuple[int, int, int, int]]]:
    """On a scanned page, the OCR'd characters that spell the quote and their line boxes in pixels of the picture
    (`height`: the page's in points, `scale`: pixels per point); nothing when the page is not scanned, Tesseract
    is missing or fails."""
    import shutil

    from .ocr import OcrError, is_scanned, ocr_glyphs

    if not is_scanned(page, glyphs) or shutil.which(ocr.executable) is None:
        return [], []
    try:
        [(read, _)] = ocr_glyphs([(number, page)], ocr)
    except OcrError:
        return [], []
    indices = _matched(read, quote, part)
    boxes = line_boxes([(read[i].left, read[i].bottom, read[i].right, read[i].top) for i in indices])
    return indices, [(round(left * scale), round((height - top) * scale), round(right * scale),
                      round((height - bottom) * scale)) for left, bottom, right, top in boxes]


def _to_device(page: Any, size: tuple[int, int], box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A box in page space as pixels of the rendered image (pdfium does the crop box and rotation)."""
    import pypdfium2.raw as raw

    corners = []
    for x, y in ((box[0], box[1]), (box[2], box[3])):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(page, 0, 0, size[0], size[1], 0, x, y, ctypes.byref(dx), ctypes.byref(dy))
        corners.append((dx.value, dy.value))
    (x0, y0), (x1, y1) = corners
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _paint(image: Any, rects: Sequence[tuple[int, int, int, int]], scale: float) -> None:
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    pad = max(1, round(scale))
    for x0, y0, x1, y1 in rects:
        draw.rectangle((x0 - pad, y0 - pad, x1 + pad, y1 + pad), fill=HIGHLIGHT_RGBA)
    if rects:
        x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
        x1, y1 = max(r[2] for r in rects), max(r[3] for r in rects)
        draw.rectangle((x0 - 4 * pad, y0 - 4 * pad, x1 + 4 * pad, y1 + 4 * pad), outline=OUTLINE_RGBA, width=pad)
    image.alpha_composite(overlay)
