"""Reading source files into `Document`s: .txt, .md, .pdf, .docx and .html.

Plain text and Markdown keep their exact characters so citation offsets index the file itself. PDF, DOCX and
HTML are converted by `cityqa.documents.extractors` (pypdfium2, python-docx, BeautifulSoup); their offsets index the
extracted text, which `read_document` reproduces deterministically. A PDF's document also records where each page
starts (`Document.pages`), so citations name their page; a DOCX's leading field table or "Field: value" lines are
its metadata, as front matter is for Markdown.

A scanned PDF page (no text layer) is read by OCR (`documents.ocr`, Tesseract) when `Settings.ocr` is on and Tesseract
with the `ocr_languages` is installed: the sandbox's first run lists the scanned pages, a second reads the file with
them OCR'd. Otherwise a wholly scanned PDF is skipped with a reason that says what to install or set, and a partly
scanned one keeps its text pages. The last few OCR'd texts are kept in memory, so the upload check, the ingest
and the source view after it OCR a file once.

Untrusted input: a file larger than `MAX_FILE_BYTES` is refused before it is read; PDF, DOCX and HTML are parsed
in a child process under the time, memory and output limits of `cityqa.documents.sandbox` (`PARSE_TIMEOUT_SECONDS`,
`PARSE_MEMORY_BYTES`, `MAX_EXTRACTED_CHARS`), so a parser that loops or explodes costs one skipped file with a
reason, never a hung or crashed ingest. Text and Markdown are decoded in-process (strict UTF-8, no NUL bytes).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import CorpusError, UnreadableFileError
from ..settings import Settings
from ..types import INTERVIEW_FIELDS, Document, DocumentKind
from . import sandbox
from .extractors import FORMATS, MAX_FILE_BYTES, TEXT_SUFFIXES, Extracted, decode
from .ocr import OcrOptions, unavailable

log = logging.getLogger(__name__)
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_OCR_READS: OrderedDict[tuple[str, str, int, str], Extracted] = OrderedDict()  # (sha256, suffix, version, languages)
_OCR_READS_KEPT = 8
_OCR_READS_LOCK = threading.Lock()  # the UI reads documents from several threads


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


def ocr_options(settings: Settings) -> OcrOptions | None:
    """How the settings say to OCR scanned pages; None when OCR is off."""
    return OcrOptions(settings.ocr_languages) if settings.ocr else None


def ocr_state(settings: Settings) -> str:
    """How scanned pages would be read now: Tesseract's languages, or "off" when OCR is off or cannot run here
    (what `Document.ocr` records, so a file read another way is read again)."""
    options = ocr_options(settings)
    return "off" if options is None or unavailable(options) else options.languages


def read_document(path: Path, corpus_dir: Path, settings: Settings | None = None) -> Document:
    """Read one file. Raises `UnreadableFileError` with a specific reason when it cannot be indexed. `settings` say
    whether and in which languages scanned pages are OCR'd (default: `Settings()`, from the environment)."""
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
    settings = settings or Settings()
    extracted, unread = _extract(suffix, path, source, data, sha, settings)
    if not extracted.text.strip():
        if unread:
            raise UnreadableFileError(source, f"scanned {FORMATS[suffix].kind} (no text layer): {unread}")
        if extracted.scanned:
            raise UnreadableFileError(source, f"no text could be extracted (OCR found no words on its "
                                              f"{len(extracted.scanned)} scanned page(s))")
        raise UnreadableFileError(source, "no text could be extracted (no text layer, and no page image to OCR)")
    if unread:
        log.warning("%s: %d scanned page(s) left out: %s", source, len(extracted.scanned), unread)
    meta = _checked_metadata(source, extracted.metadata)
    ocr = None if not extracted.scanned else "off" if unread else settings.ocr_languages
    return Document(source=source, text=extracted.text, sha256=sha, kind=_kind(meta), metadata=meta,
                    pages=tuple(extracted.pages), ocr=ocr)


def _extract(suffix: str, path: Path, source: str, data: bytes, sha: str, settings: Settings
             ) -> tuple[Extracted, str | None]:
    """Run the format's extractor in the sandbox, on a private copy of the bytes just hashed (so the text always
    matches `sha256`, even if the file changes or vanishes meanwhile); again with OCR when it has scanned pages.
    Also says why scanned pages were not read (OCR off, Tesseract or a language missing), or None."""
    import tempfile

    version = FORMATS[suffix].version
    key = (sha, suffix, version, settings.ocr_languages)
    with _OCR_READS_LOCK:
        if settings.ocr and key in _OCR_READS:
            _OCR_READS.move_to_end(key)
            return _OCR_READS[key], None
    with tempfile.TemporaryDirectory(prefix="cityqa-parse-") as tmp:
        copy = Path(tmp) / f"document{suffix}"
        copy.write_bytes(data)
        try:
            extracted = sandbox.extract(suffix, copy, source)
            if not extracted.scanned:
                return extracted, None
            options = ocr_options(settings)
            if options is None:
                return extracted, "OCR is off (CITYQA_OCR=false); set CITYQA_OCR=true to read it"
            missing = unavailable(options)
            if missing:
                return extracted, missing
            extracted = sandbox.extract(suffix, copy, source, ocr=options, scanned=len(extracted.scanned))
        except sandbox.ParseFailure as exc:
            raise UnreadableFileError(source, exc.reason) from None
    with _OCR_READS_LOCK:
        _OCR_READS[key] = extracted
        while len(_OCR_READS) > _OCR_READS_KEPT:
            _OCR_READS.popitem(last=False)
    return extracted, None


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
        raw = yaml.load(block, Loader=_front_matter_loader())  # a SafeLoader without aliases
    except _AliasInFrontMatter:
        raise UnreadableFileError(source, "front matter uses YAML aliases (*name); write each value out") from None
    except yaml.YAMLError as exc:
        raise UnreadableFileError(source, f"front matter is not valid YAML ({exc.__class__.__name__})") from exc
    except RecursionError:  # PyYAML composes nested collections recursively
        raise UnreadableFileError(source, "front matter is nested too deeply") from None
    if not isinstance(raw, dict):
        raise UnreadableFileError(source, "front matter must be 'key: value' lines")
    meta = {str(k): _scalar(v) for k, v in raw.items() if v is not None}
    return _checked_metadata(source, meta, "front-matter field")


class _AliasInFrontMatter(Exception):
    """A YAML alias in front matter: a few lines of `*name` can stand for gigabytes once the values become text."""


@functools.cache
def _front_matter_loader() -> Any:
    """PyYAML's SafeLoader, refusing aliases (read in-process: the file is not sandboxed like PDF or DOCX)."""
    import yaml

    class FrontMatterLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise _AliasInFrontMatter
            return super().compose_node(parent, index)

    return FrontMatterLoader


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
