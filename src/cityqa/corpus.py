"""Reading source files into `Document`s: .txt, .md, .pdf, .docx and .html.

Plain text and Markdown keep their exact characters so citation offsets index the file itself. PDF, DOCX and
HTML are converted by `cityqa.extractors` (pypdfium2, python-docx, BeautifulSoup); their offsets index the
extracted text, which `read_document` reproduces deterministically. A PDF's document also records where each page
starts (`Document.pages`), so citations name their page; a DOCX's leading field table or "Field: value" lines are
its metadata, as front matter is for Markdown.

Untrusted input: a file larger than `MAX_FILE_BYTES` is refused before it is read; PDF, DOCX and HTML are parsed
in a child process under the time, memory and output limits of `cityqa.sandbox` (`PARSE_TIMEOUT_SECONDS`,
`PARSE_MEMORY_BYTES`, `MAX_EXTRACTED_CHARS`), so a parser that loops or explodes costs one skipped file with a
reason, never a hung or crashed ingest. Text and Markdown are decoded in-process (strict UTF-8, no NUL bytes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from . import sandbox
from .errors import CorpusError, UnreadableFileError
from .extractors import FORMATS, MAX_FILE_BYTES, TEXT_SUFFIXES, Extracted, decode
from .types import INTERVIEW_FIELDS, Document, DocumentKind

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def iter_corpus(corpus_dir: Path) -> Iterator[Path]:
    """Every file under `corpus_dir` with a supported suffix, sorted, skipping hidden files and folders."""
    if not corpus_dir.is_dir():
        raise CorpusError(f"Corpus folder {corpus_dir} does not exist. Create it and put the documents in it.")
    for path in sorted(corpus_dir.rglob("*")):
        rel = path.relative_to(corpus_dir)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() in FORMATS:
            yield path


def source_name(path: Path, corpus_dir: Path) -> str:
    return path.relative_to(corpus_dir).as_posix()


def reader_version(path: Path) -> int:
    """The version of the reader for `path`'s format (`extractors.Format.version`)."""
    return FORMATS[path.suffix.lower()].version


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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES >> 20
            raise UnreadableFileError(source, f"file is {size / 2**20:.0f} MiB; the limit is {limit} MiB")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:  # includes a file that vanished since it was listed
        raise UnreadableFileError(source, f"cannot be read ({exc.strerror or exc})") from exc
    if len(data) > MAX_FILE_BYTES:  # grew while being read
        raise UnreadableFileError(source, f"file is larger than the limit of {MAX_FILE_BYTES >> 20} MiB")
    if not data.strip():
        raise UnreadableFileError(source, "file is empty")
    sha = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        text = decode(source, data)
        if not text.strip():  # Unicode white space and separators (\x1c-\x1f) that bytes.strip() keeps
            raise UnreadableFileError(source, "file is empty (only white space)")
        return _text_document(source, text, sha)
    extracted = _extract(suffix, path, source, data)
    if not extracted.text.strip():
        raise UnreadableFileError(source, "no text could be extracted (scanned or image-only file?)")
    meta = _checked_metadata(source, extracted.metadata)
    return Document(source=source, text=extracted.text, sha256=sha, kind=_kind(meta), metadata=meta,
                    pages=tuple(extracted.pages))


def _extract(suffix: str, path: Path, source: str, data: bytes) -> Extracted:
    """Run the format's extractor in the sandbox, on a private copy of the bytes just hashed (so the text always
    matches `sha256`, even if the file changes or vanishes meanwhile)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cityqa-parse-") as tmp:
        copy = Path(tmp) / f"document{suffix}"
        copy.write_bytes(data)
        try:
            return sandbox.extract(suffix, copy, source)
        except sandbox.ParseFailure as exc:
            raise UnreadableFileError(source, exc.reason) from None


def _text_document(source: str, text: str, sha: str) -> Document:
    match = _FRONT_MATTER.match(text)
    if not match:
        return Document(source=source, text=text, sha256=sha)
    meta = _parse_front_matter(source, match.group(1))
    return Document(source=source, text=text, sha256=sha, kind=_kind(meta), metadata=meta, body_start=match.end())


def _kind(meta: dict[str, str]) -> DocumentKind:
    return "interview" if meta.get("interviewee") else "report"


def _parse_front_matter(source: str, block: str) -> dict[str, str]:
    import yaml

    try:
        raw = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        raise UnreadableFileError(source, f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(raw, dict):
        raise UnreadableFileError(source, "front matter must be 'key: value' lines")
    meta = {str(k): _scalar(v) for k, v in raw.items() if v is not None}
    return _checked_metadata(source, meta, "front-matter field")


def _checked_metadata(source: str, meta: dict[str, str], where: str = "leading field") -> dict[str, str]:
    """An interview note (one naming its interviewee) must name all `INTERVIEW_FIELDS`."""
    if "interviewee" in meta:
        missing = [key for key in INTERVIEW_FIELDS if not meta.get(key)]
        if missing:
            raise UnreadableFileError(source, f"interview notes lack {where}(s): {', '.join(missing)}")
    return meta


def _scalar(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)
