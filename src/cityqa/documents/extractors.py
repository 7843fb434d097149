"""The format readers: one function per file type, from a path to an `Extracted` text. A leaf module (it imports
only `errors`, and `pdftext`, `pdfrender` and `ocr` to read a PDF), so the sandbox's child process can import it
without the rest of cityqa.

`FORMATS` is the one list of what cityqa reads: ingest, the sandbox and the upload box all take it from here.
`corpus.read_document` runs PDF, DOCX and HTML through `sandbox.extract`, which calls the format's `read` in a
limited child process; plain text and Markdown are decoded in-process with `decode`.

- PDF (pypdfium2, chosen over pypdf by `benchmarks/pdf_extract.py`): per-page characters with their positions,
  rebuilt into paragraphs by `pdftext` (running headers, footers and page numbers dropped, line-end hyphens
  joined, headings as Markdown heading lines); `Extracted.pages` says where each page starts. A scanned page (no
  text layer, an image: `ocr.is_scanned`) is listed in `Extracted.scanned`; read with `OcrOptions`
  (`Format.read_scanned`), its characters come from Tesseract (`ocr.read_pages`) and go through the same rules.
- DOCX (python-docx): paragraphs and table rows in document order; `Heading N` / `Title` styles become Markdown
  heading lines, so headings make the section path; a leading two-column table or leading "Field: value" lines
  become the document's metadata (interviewee, role, city, date for an interview note), like Markdown front matter.
- HTML (BeautifulSoup): the visible text, one paragraph per block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UnreadableFileError

if TYPE_CHECKING:
    from .ocr import OcrOptions

MAX_FILE_BYTES = 50 * 1024 * 1024  # larger files are refused without being read (by `corpus`)
MAX_DOCX_UNPACKED_BYTES = 10 * MAX_FILE_BYTES  # a DOCX whose parts unpack to more is a zip bomb
_FIELD_LINE = re.compile(r"^([A-Za-z][A-Za-z ]{0,30}):\s+(\S.*)$")
_HEADING_STYLE = re.compile(r"^heading (\d)$", re.I)
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%d %B %Y", "%Y-%m-%d", "%m/%d/%Y")


@dataclass
class Extracted:
    """The text of one file and what else its format tells."""

    text: str
    pages: list[int] = field(default_factory=list)  # where each page starts in `text` (paginated formats)
    metadata: dict[str, str] = field(default_factory=dict)  # fields read from the document itself
    scanned: list[int] = field(default_factory=list)  # pages (1-based) without a text layer; OCR'd when asked for


def decode(source: str, data: bytes) -> str:
    """Strict UTF-8 text of a file's bytes (BOM dropped); a binary or mis-encoded file is unreadable."""
    if b"\x00" in data[:8192]:
        raise UnreadableFileError(source, "looks like a binary file, not text (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            source, f"is not valid UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from exc
    return text[1:] if text.startswith("\ufeff") else text


def read_pdf(source: str, path: Path, ocr: OcrOptions | None = None) -> Extracted:
    """The PDF's text from its text layer; pages without one (`ocr.is_scanned`) are listed in `Extracted.scanned`
    and, with `ocr`, read by Tesseract."""
    import pypdfium2 as pdfium

    from .ocr import OcrError, is_scanned, merged, read_pages
    from .pdfrender import page_glyphs
    from .pdftext import lines_of, page_text, reading_order

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        reason = "PDF is encrypted; save an unprotected copy" if "password" in str(exc).lower() else \
            f"PDF cannot be parsed ({exc})"
        raise UnreadableFileError(source, reason) from exc
    try:
        layers, scanned = [], []
        for n in range(len(pdf)):
            page = pdf[n]
            glyphs = page_glyphs(page)
            layers.append(lines_of(glyphs))
            if is_scanned(page, glyphs):
                scanned.append(n)
        if ocr is not None and scanned:
            try:
                read = read_pages([(n + 1, pdf[n]) for n in scanned], ocr)
            except OcrError as exc:
                raise UnreadableFileError(source, str(exc)) from None
            for n, lines in zip(scanned, read, strict=True):
                layers[n] = merged(layers[n], lines)
        pages = [reading_order(lines) for lines in layers]
    finally:
        pdf.close()
    text, starts = page_text(pages)
    return Extracted(text, starts, scanned=[n + 1 for n in scanned])


def read_docx(source: str, path: Path) -> Extracted:
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
        if size > MAX_DOCX_UNPACKED_BYTES:
            raise UnreadableFileError(source, f"DOCX unpacks to {size >> 20} MiB; refusing (zip bomb?)")
        import docx

        document = docx.Document(str(path))
    except UnreadableFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(source, f"DOCX cannot be opened ({exc.__class__.__name__}: {exc})") from exc
    blocks = list(_docx_blocks(document))
    metadata, blocks = _front_fields(blocks)
    return Extracted("\n\n".join(text for text, _ in blocks), metadata=metadata)


def _docx_blocks(document: Any) -> Iterator[tuple[str, list[str]]]:
    """(text, cells) per paragraph or table row in document order; headings as Markdown heading lines."""
    from docx.table import Table

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells = [" ".join(cell.text.split()) for cell in row.cells]
                cells = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]  # merged cells repeat
                if cells:
                    yield " | ".join(cells), cells
            continue
        text = " ".join(item.text.split())
        if not text:
            continue
        level = _heading_level(item.style.name if item.style is not None else "")
        yield ("#" * level + " " + text if level else text), []


def _heading_level(style: str) -> int:
    match = _HEADING_STYLE.match(style.strip())
    if match:
        return max(1, int(match.group(1)))
    return 1 if style.strip().lower() == "title" else 0


def _front_fields(blocks: list[tuple[str, list[str]]]) -> tuple[dict[str, str], list[tuple[str, list[str]]]]:
    """Metadata from a leading two-column table or leading "Field: value" paragraphs (at least two of either);
    the blocks after them."""
    fields: dict[str, str] = {}
    used = 0
    for text, cells in blocks:
        pair = (cells[0].rstrip(":"), cells[1]) if len(cells) == 2 else None
        match = None if cells else _FIELD_LINE.match(text)
        if pair is None and match is None:
            break
        key, value = pair or (match.group(1), match.group(2))  # type: ignore[union-attr]
        fields[_field_name(key)] = _field_value(value)
        used += 1
    if used < 2:
        return {}, blocks
    return fields, blocks[used:]


def _field_name(key: str) -> str:
    return "_".join(key.strip().lower().split())


def _field_value(value: str) -> str:
    """The value as written; a date in a common format becomes ISO (2024-03-05), as YAML front matter gives."""
    value = value.strip()
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    return value


def read_html(source: str, path: Path) -> Extracted:
    from bs4 import BeautifulSoup

    raw = decode(source, path.read_bytes())
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    blocks = [b.strip() for b in soup.get_text("\n").split("\n")]
    return Extracted("\n\n".join(b for b in blocks if b))


@dataclass(frozen=True)
class Format:
    """A file type cityqa reads. `kind` names it in messages ("PDF parser"), `label` in the upload box; `read`
    extracts its text (in the sandbox), None for text decoded as it is. `version` is bumped when the reader's output
    changes for the same bytes: `ingest` then reads again the files an older reader indexed (their offsets, pages
    and sections would not match what the reader gives now). `read_scanned` reads the file with its scanned pages
    OCR'd (`Extracted.scanned`), for the formats that have such pages."""

    kind: str
    label: str
    read: Callable[[str, Path], Extracted] | None = None
    version: int = 1
    read_scanned: Callable[[str, Path, OcrOptions], Extracted] | None = None


FORMATS: dict[str, Format] = {
    ".pdf": Format("PDF", "PDF", read_pdf, version=4, read_scanned=read_pdf),  # 4: scanned pages read by OCR
    ".docx": Format("DOCX", "Word", read_docx, version=2),
    ".md": Format("Markdown", "Markdown"),
    ".markdown": Format("Markdown", "Markdown"),
    ".txt": Format("text", "plain text"),
    ".html": Format("HTML", "HTML", read_html),
    ".htm": Format("HTML", "HTML", read_html),
}
TEXT_SUFFIXES = frozenset(suffix for suffix, fmt in FORMATS.items() if fmt.read is None)
