"""The format readers: one function per file type, from a path to its text. A leaf module (it imports only
`errors`), so the sandbox's child process can import it without the rest of cityqa.

`corpus.read_document` runs PDF, DOCX and HTML through `sandbox.extract_text`, which calls `EXTRACTORS[suffix]`
in a limited child process; plain text is decoded in-process with `decode`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import UnreadableFileError

MAX_FILE_BYTES = 50 * 1024 * 1024  # larger files are refused without being read (by `corpus`)
MAX_DOCX_UNPACKED_BYTES = 10 * MAX_FILE_BYTES  # a DOCX whose parts unpack to more is a zip bomb


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


def read_pdf(source: str, path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise UnreadableFileError(source, "PDF is encrypted; save an unprotected copy")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except UnreadableFileError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise UnreadableFileError(source, f"PDF cannot be parsed ({exc.__class__.__name__}: {exc})") from exc


def read_docx(source: str, path: Path) -> str:
    import zipfile
    import zlib

    import docx2txt

    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
        if size > MAX_DOCX_UNPACKED_BYTES:
            raise UnreadableFileError(source, f"DOCX unpacks to {size >> 20} MiB; refusing (zip bomb?)")
        return docx2txt.process(str(path))
    except UnreadableFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, zlib.error) as exc:
        raise UnreadableFileError(source, f"DOCX cannot be opened ({exc.__class__.__name__}: {exc})") from exc


def read_html(source: str, path: Path) -> str:
    from bs4 import BeautifulSoup

    raw = decode(source, path.read_bytes())
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    blocks = [b.strip() for b in soup.get_text("\n").split("\n")]
    return "\n\n".join(b for b in blocks if b)


EXTRACTORS: dict[str, Callable[[str, Path], str]] = {
    ".pdf": read_pdf, ".docx": read_docx, ".html": read_html, ".htm": read_html,
}
