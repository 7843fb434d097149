"""Reading source files into `Document`s: .txt, .md, .pdf, .docx and .html.

Plain text and Markdown keep their exact characters so citation offsets index the file itself. The other
formats are converted with the libraries llama-index's own file readers wrap (pypdf, docx2txt, BeautifulSoup);
their offsets index the extracted text, which `read_document` reproduces deterministically.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from .errors import CorpusError, UnreadableFileError
from .types import INTERVIEW_FIELDS, Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
SUFFIXES = TEXT_SUFFIXES | {".pdf", ".docx", ".html", ".htm"}
MAX_FILE_BYTES = 50 * 1024 * 1024
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def iter_corpus(corpus_dir: Path) -> Iterator[Path]:
    """Every file under `corpus_dir` with a supported suffix, sorted, skipping hidden files and folders."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder {corpus_dir} does not exist. Create it and put the documents in it.")
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in SUFFIXES:
            yield path


def source_name(path: Path, corpus_dir: Path) -> str:
    return path.relative_to(corpus_dir).as_posix()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_document(path: Path, corpus_dir: Path) -> Document:
    """Read one file. Raises `UnreadableFileError` with a specific reason when it cannot be indexed."""
    source = source_name(path, corpus_dir)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFileError(source, f"cannot be read ({exc.strerror or exc})") from exc
    if not data.strip():
        raise UnreadableFileError(source, "file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFileError(source, f"file is {len(data) / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES >> 20} MiB")
    sha = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return _text_document(source, _decode(source, data), sha)
    text = _EXTRACTORS[suffix](source, path)
    if not text.strip():
        raise UnreadableFileError(source, "no text could be extracted (scanned or image-only file?)")
    return Document(source=source, text=text, sha256=sha)


def _decode(source: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise UnreadableFileError(source, "looks like a binary file, not text (it contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFileError(
            source, f"is not valid UTF-8 (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from exc
    return text[1:] if text.startswith("\ufeff") else text


def _text_document(source: str, text: str, sha: str) -> Document:
    match = _FRONT_MATTER.match(text)
    if not match:
        return Document(source=source, text=text, sha256=sha)
    meta = _parse_front_matter(source, match.group(1))
    kind = "interview" if meta.get("interviewee") else "report"
    return Document(source=source, text=text, sha256=sha, kind=kind, metadata=meta, body_start=match.end())


def _parse_front_matter(source: str, block: str) -> dict[str, str]:
    import yaml

    try:
        raw = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise UnreadableFileError(source, f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict):
        raise UnreadableFileError(source, "front matter must be 'key: value' lines")
    meta = {str(k): _scalar(v) for k, v in raw.items() if v is not None}
    if "interviewee" in meta:
        missing = [key for key in INTERVIEW_FIELDS if not meta.get(key)]
        if missing:
            raise UnreadableFileError(source, f"interview notes lack front-matter field(s): {', '.join(missing)}")
    return meta


def _scalar(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)


def _read_pdf(source: str, path: Path) -> str:
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


def _read_docx(source: str, path: Path) -> str:
    import zipfile

    import docx2txt

    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
        if size > 10 * MAX_FILE_BYTES:
            raise UnreadableFileError(source, f"DOCX unpacks to {size >> 20} MiB; refusing (zip bomb?)")
        return docx2txt.process(str(path))
    except UnreadableFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise UnreadableFileError(source, f"DOCX cannot be opened ({exc.__class__.__name__}: {exc})") from exc


def _read_html(source: str, path: Path) -> str:
    from bs4 import BeautifulSoup

    raw = _decode(source, path.read_bytes())
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    blocks = [b.strip() for b in soup.get_text("\n").split("\n")]
    return "\n\n".join(b for b in blocks if b)


_EXTRACTORS = {".pdf": _read_pdf, ".docx": _read_docx, ".html": _read_html, ".htm": _read_html}
