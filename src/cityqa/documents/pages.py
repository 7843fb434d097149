"""See a quote on its page: a PDF page rendered with the quoted sentence highlighted.

The page is rendered by `pdfrender` in the sandbox's limited child process (pdfium parses the untrusted file
there, never in the server). Text documents have no pages; their quotes are shown highlighted in their context.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PageImageError
from . import sandbox

if TYPE_CHECKING:
    from .ocr import OcrOptions


@dataclass(frozen=True)
class PageImage:
    """A rendered page: the PNG, and how many characters of the quote are highlighted on it (0: not found)."""

    png: bytes
    marked: int


def page_image(pdf_path: Path, page: int, quote: str, page_end: int | None = None, scale: float = 1.5,
               ocr: OcrOptions | None = None) -> PageImage:
    """Page `page` (1-based) of the PDF at `pdf_path` with `quote` highlighted.

    When the quote runs on to `page_end`, page `page` highlights its opening part. A scanned page (no text layer) is
    OCR'd with `ocr` to find the quote; without it, it is shown without a highlight. Raises `PageImageError` when
    the file is not a PDF, the page does not exist, or the renderer refuses the file; a quote not found on the page
    still gives the page, without a highlight."""
    if pdf_path.suffix.lower() != ".pdf":
        raise PageImageError(f"{pdf_path.name} is not a PDF; only PDF citations have page images.")
    if page < 1:
        raise PageImageError(f"There is no page {page}; pages are numbered from 1.")
    part = "head" if page_end is not None and page_end != page else "whole"
    try:
        png, marked = sandbox.render_page(pdf_path, page, quote, part, scale, ocr=ocr)
    except sandbox.ParseFailure as exc:
        raise PageImageError(f"Page {page} of {pdf_path.name} cannot be shown: {exc.reason}") from None
    return PageImage(png, marked)

