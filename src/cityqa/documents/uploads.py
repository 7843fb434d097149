"""Adding a document to the corpus folder, and taking one out, from the UI: checked, saved safely, then indexed.

An upload is refused, with a reason in words, unless every check passes; a refused file changes nothing (nothing
is written to the corpus folder and the index is not touched):

- **name**: the base name only, NFC-normalised; a name with `/`, `\\`, `..`, a NUL or control character, or a
  leading dot is refused outright; other characters than letters, digits, space, `-`, `_` and `.` are dropped,
  and a name left without a stem is refused. An existing document is never overwritten unless `replace=True`.
- **type by content**, agreeing with the extension: a PDF begins with `%PDF-`; a DOCX is a zip holding
  `word/document.xml` and `[Content_Types].xml`; TXT, MD and HTML are strict UTF-8 text without NUL bytes.
- **size**: at most `Settings.max_upload_bytes` (never more than `extractors.MAX_FILE_BYTES`).
- **parse**: the file is read by the same sandboxed parser ingest uses (`corpus.read_document`, on a private copy)
  before it is saved; an `UnreadableFileError` becomes the refusal.

The file is then written atomically (a hidden temporary file in the corpus folder, then a rename), and the index is
updated incrementally by the caller's `Indexer` (an `Assistant`), which keeps answering from the loaded index
meanwhile. If indexing fails or skips the file, the save is undone.

Removing never destroys a file: it is moved to `corpus_dir/.removed/<UTC time>-<name>` (hidden folders are not
indexed) and the index is updated, which drops its passages. A replaced document's previous version is kept there
too. No Gradio here: the UI calls these functions and shows their messages.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ..errors import CityqaError, UnreadableFileError, UploadError
from ..settings import Settings
from ..types import Document, IngestReport
from .corpus import file_sha256, read_document
from .extractors import FORMATS, MAX_FILE_BYTES, decode

Progress = Callable[[int, int, str], None]  # (done, total, what), as `ingest` reports it



def _accepted_list() -> str:
    """'PDF (.pdf), Word (.docx), … or HTML (.html)': every format ingest reads, each label once."""
    first_suffix = {fmt.label: suffix for suffix, fmt in reversed(FORMATS.items())}
    parts = [f"{label} ({suffix})" for label, suffix in reversed(first_suffix.items())]
    return f"{', '.join(parts[:-1])} or {parts[-1]}"


ACCEPTED_LIST = _accepted_list()
REMOVED_DIR = ".removed"  # hidden: `corpus.iter_corpus` never indexes it
MAX_NAME_CHARS = 120
DOCX_PARTS = ("word/document.xml", "[Content_Types].xml")
_DROPPED = re.compile(r"[^\w .-]")  # \w: letters and digits of any script, and "_"
_SPACES = re.compile(r"\s+")
_DOTS = re.compile(r"\.{2,}")


class Indexer(Protocol):
    """What uploads need from the assistant: its settings, the loaded index's manifest, and incremental ingest."""

    settings: Settings

    @property
    def manifest(self) -> dict[str, Any]: ...

    def ingest(
        self, corpus_dir: Path | str | None = None, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport: ...


@dataclass(frozen=True)
class SavedUpload:
    """A file written to the corpus folder (not yet indexed)."""

    source: str  # its name in the corpus folder, as the index will know it
    path: Path
    size: int
    sha256: str
    format: str  # "PDF", "Word", … (`extractors.Format.label`)
    previous: Path | None = None  # where the version it replaced was kept (in .removed/), if it replaced one


@dataclass(frozen=True)
class RemovedDocument:
    """A document taken out of the corpus folder (not yet dropped from the index)."""

    source: str
    path: Path  # where it was
    moved_to: Path | None  # where it is kept now; None when it was already gone from the folder


@dataclass(frozen=True)
class UploadOutcome:
    saved: SavedUpload
    report: IngestReport
    passages: int  # passages of the document now in the index


@dataclass(frozen=True)
class RemovalOutcome:
    removed: RemovedDocument
    report: IngestReport


# ------------------------------------------------------------------ checks (pure)


def upload_limit(settings: Settings) -> int:
    """The largest upload accepted, in bytes: the setting, never beyond what ingest reads at all."""
    return min(settings.max_upload_bytes, MAX_FILE_BYTES)


def safe_name(raw: str) -> str:
    """The name a file is saved under, or `UploadError` saying why the name is refused."""
    name = unicodedata.normalize("NFC", str(raw))
    shown = "".join(repr(ch)[1:-1] if unicodedata.category(ch) == "Cc" else ch for ch in name.strip())[:80]
    shown = shown or "(no name)"
    reason = _name_problem(name)
    if reason:
        raise UploadError(shown, f"the file name {reason}; rename the file and upload it again")
    cleaned = _DOTS.sub(".", _SPACES.sub(" ", _DROPPED.sub("", name))).strip()
    stem, suffix = os.path.splitext(cleaned)
    if cleaned.startswith(".") or not any(ch.isalnum() for ch in stem):
        raise UploadError(shown, "the file name has no letters or digits before its extension once unsafe "
                                 "characters are removed; rename the file and upload it again")
    if len(cleaned) > MAX_NAME_CHARS:
        raise UploadError(shown, f"the file name is longer than {MAX_NAME_CHARS} characters; rename it shorter")
    return stem.strip() + suffix


def _name_problem(name: str) -> str | None:
    if not name.strip():
        return "is empty"
    if "/" in name or "\\" in name:
        return "contains a path separator ('/' or '\\'); only a plain file name is accepted"
    if ".." in name:
        return "contains '..'"
    if any(unicodedata.category(ch) == "Cc" for ch in name):  # NUL, newline, escape and other controls
        return "contains a NUL or control character"
    if name.startswith("."):
        return "starts with a dot (a hidden file)"
    return None


def file_format(name: str) -> str:
    """The format an extension stands for, or `UploadError` when the type is not accepted."""
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        what = f"'{suffix}' files" if suffix else "files without an extension"
        raise UploadError(name, f"{what} are not accepted; upload a {ACCEPTED_LIST} file")
    return FORMATS[suffix].label


def detect_content(data: bytes) -> str:
    """What the bytes are, whatever the name says: 'pdf', 'docx', 'zip', 'text', 'binary' or 'empty'."""
    if not data.strip():
        return "empty"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx" if _is_docx(data) else "zip"
    if b"\x00" in data:
        return "binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False
    return all(part in names for part in DOCX_PARTS)


_CONTENT_WORDS = {
    "pdf": "a PDF", "docx": "a Word (DOCX) file", "zip": "a zip archive that is not a Word file",
    "text": "plain text", "binary": "a binary file (not UTF-8 text)", "empty": "empty",
}
_RULES = {
    ".pdf": ("pdf", "a PDF file begins with '%PDF-'"),
    ".docx": ("docx", "a .docx file is a zip holding word/document.xml and [Content_Types].xml"),
}
_TEXT_RULE = ("text", "a text, Markdown or HTML file must be UTF-8 text without NUL bytes")
_RIGHT_SUFFIX = {"pdf": ".pdf", "docx": ".docx"}


def check_content(name: str, data: bytes) -> None:
    """`UploadError` unless the bytes are what the extension says (and, for text formats, strict UTF-8)."""
    found = detect_content(data)
    if found == "empty":
        raise UploadError(name, "the file is empty")
    suffix = Path(name).suffix.lower()
    expected, rule = _RULES.get(suffix, _TEXT_RULE)
    if expected == "text" and found in ("text", "binary"):
        _check_text(name, data)
        return
    if found != expected:
        fix = (f"; if it really is {_CONTENT_WORDS[found]}, rename it to end in {_RIGHT_SUFFIX[found]}"
               if found in _RIGHT_SUFFIX else "")
        raise UploadError(name, f"its content is {_CONTENT_WORDS[found]}, which does not match its '{suffix}' "
                                f"extension ({rule}){fix}")


def _check_text(name: str, data: bytes) -> None:
    """Strict UTF-8 without NUL bytes anywhere (`extractors.decode` looks for NULs at the start only)."""
    if b"\x00" in data:
        raise UploadError(name, "it contains NUL bytes, so it is a binary file, not text")
    try:
        decode(name, data)
    except UnreadableFileError as exc:
        raise UploadError(name, exc.reason) from None


def check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise UploadError(name, f"the file is {size_text(size)}; the upload limit is {size_text(limit)} "
                                "(CITYQA_MAX_UPLOAD_BYTES)")


def size_text(n: int) -> str:
    """'9 KiB', '20.0 MiB', '512 bytes'."""
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


def parse_check(name: str, data: bytes, settings: Settings | None = None) -> Document:
    """Read the file with ingest's own sandboxed parser (and `settings`' OCR), on a private copy, before anything is
    saved."""
    with tempfile.TemporaryDirectory(prefix="cityqa-upload-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return read_document(path, Path(tmp), settings)
        except UnreadableFileError as exc:
            raise UploadError(name, f"it cannot be read: {exc.reason}") from None


def read_upload(src: Path, name: str, limit: int) -> bytes:
    """The uploaded file's bytes, refused when larger than `limit` (checked before and while reading)."""
    try:
        check_size(name, src.stat().st_size, limit)
        with src.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UploadError(name, f"the uploaded file cannot be read ({exc.strerror or exc}); upload it again") from None
    check_size(name, len(data), limit)
    return data


# ------------------------------------------------------------------ saving and removing files


def save_upload(
    src: Path, name: str, corpus_dir: Path, limit: int, replace: bool = False, now: datetime | None = None,
    settings: Settings | None = None,
) -> SavedUpload:
    """Check `src` (uploaded as `name`) and save it into `corpus_dir` atomically; `UploadError` on any refusal, in
    which case nothing was written. With `replace`, an existing document of that name is replaced and its previous
    version kept in `.removed/`. `settings`: how the check reads it (OCR)."""
    clean = safe_name(name)
    kind = file_format(clean)
    data = read_upload(src, clean, limit)
    check_content(clean, data)
    target = Path(corpus_dir) / clean
    _check_free(target, clean, replace)
    parse_check(clean, data, settings)
    Path(corpus_dir).mkdir(parents=True, exist_ok=True)
    previous = _write(target, data, clean, replace, now)
    return SavedUpload(clean, target, len(data), hashlib.sha256(data).hexdigest(), kind, previous)


def _check_free(target: Path, name: str, replace: bool) -> None:
    if target.is_dir():
        raise UploadError(name, "a folder of that name is in the corpus folder; rename the file")
    if (target.exists() or target.is_symlink()) and not replace:
        raise UploadError(name, "a document of that name is already in the corpus; tick “Replace a document with "
                                "the same name” to replace it (its current version is kept in .removed/), or "
                                "rename the file")


def _write(target: Path, data: bytes, name: str, replace: bool, now: datetime | None) -> Path | None:
    """Write `data` to `target` through a hidden temporary file in the same folder; returns where a replaced
    version was kept. Without `replace`, a file that appeared meanwhile is not overwritten (hard link, not rename)."""
    handle, temp = tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=target.parent)
    tmp = Path(temp)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        if not replace:
            _link_new(tmp, target, name)
            return None
        previous = _keep_copy(target, now) if target.exists() else None
        os.replace(tmp, target)
        return previous
    finally:
        tmp.unlink(missing_ok=True)


def _link_new(tmp: Path, target: Path, name: str) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise UploadError(name, "a document of that name was added meanwhile; tick “Replace a document with the "
                                "same name” to replace it, or rename the file") from None
    except OSError:  # a file system without hard links: the check above is the guard
        if target.exists():
            raise UploadError(name, "a document of that name was added meanwhile; rename the file") from None
        os.replace(tmp, target)


def removed_path(corpus_dir: Path, name: str, now: datetime | None = None) -> Path:
    """A fresh `corpus_dir/.removed/<UTC time>-<name>` (a counter is added if that name is taken)."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(corpus_dir) / REMOVED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path, n = folder / f"{stamp}-{name}", 1
    while path.exists() or path.is_symlink():
        n += 1
        path = folder / f"{stamp}-{n}-{name}"
    return path


def _keep_copy(target: Path, now: datetime | None) -> Path:
    """A copy of `target` in `.removed/` (a hard link where possible), before it is replaced."""
    kept = removed_path(target.parent, target.name, now)
    try:
        os.link(target, kept)
    except OSError:
        shutil.copy2(target, kept)
    return kept


def remove_document(
    source: str, corpus_dir: Path, indexed: Collection[str], now: datetime | None = None
) -> RemovedDocument:
    """Move indexed document `source` out of the corpus into `.removed/`; `UploadError` when `source` is not an
    indexed document or lies outside the corpus folder. Nothing is deleted."""
    if source not in indexed:
        raise UploadError(str(source)[:120] or "(no name)", "is not a document in the index; pick one from the list")
    corpus = Path(corpus_dir).resolve()
    path = Path(corpus_dir) / source
    if not path.resolve().is_relative_to(corpus) or any(part.startswith(".") for part in Path(source).parts):
        raise UploadError(source, "is outside the corpus folder (or hidden); it cannot be removed from here")
    if not (path.exists() or path.is_symlink()):
        return RemovedDocument(source, path, None)
    if path.is_dir():
        raise UploadError(source, "is a folder now, not a document; fix the corpus folder and re-index")
    moved = removed_path(corpus, Path(source).name, now)
    os.replace(path, moved)
    return RemovedDocument(source, path, moved)


def undo_save(saved: SavedUpload) -> None:
    """Put the corpus folder back as it was before `saved`: the replaced version back, or the new file out."""
    if saved.previous is not None and saved.previous.exists():
        os.replace(saved.previous, saved.path)
        return
    try:
        same = file_sha256(saved.path) == saved.sha256
    except OSError:
        return
    if same:  # never delete a file someone else wrote there since
        saved.path.unlink(missing_ok=True)


def undo_remove(removed: RemovedDocument) -> None:
    """Move a removed document back where it was (unless something else took its place meanwhile)."""
    if removed.moved_to is not None and not removed.path.exists():
        os.replace(removed.moved_to, removed.path)


# ------------------------------------------------------------------ with the index


def add_and_index(
    indexer: Indexer, src: Path, name: str, replace: bool = False, progress: Progress | None = None
) -> UploadOutcome:
    """Check and save an upload into the indexer's corpus folder, then index it incrementally. On any refusal or
    indexing failure, `UploadError` and the corpus folder is as it was (the index is only ever changed by a
    successful ingest)."""
    settings = indexer.settings
    _step(progress, 0, "Checking the file")
    saved = save_upload(src, name, Path(settings.corpus_dir), upload_limit(settings), replace, settings=settings)
    _step(progress, 1, "Indexing")
    try:
        report = indexer.ingest(progress=progress)
    except CityqaError as exc:
        undo_save(saved)
        raise UploadError(saved.source, f"it was not added, because the index could not be updated: {exc}") from exc
    except BaseException:
        undo_save(saved)
        raise
    skipped = next((s.reason for s in report.skipped if s.source == saved.source), None)
    if skipped is not None:
        undo_save(saved)
        raise UploadError(saved.source, f"it was not added: {skipped}")
    entry = indexer.manifest["files"].get(saved.source, {})
    return UploadOutcome(saved, report, len(entry.get("chunks", ())))


def remove_and_index(indexer: Indexer, source: str, progress: Progress | None = None) -> RemovalOutcome:
    """Move indexed document `source` to `.removed/` and update the index, which drops its passages. On failure,
    `UploadError` and the document is put back."""
    settings = indexer.settings
    removed = remove_document(source, Path(settings.corpus_dir), indexed_sources(indexer))
    _step(progress, 1, "Updating the index")
    try:
        report = indexer.ingest(progress=progress)
    except CityqaError as exc:
        undo_remove(removed)
        raise UploadError(source, f"it was not removed, because the index could not be updated: {exc}") from exc
    except BaseException:
        undo_remove(removed)
        raise
    return RemovalOutcome(removed, report)


def indexed_sources(indexer: Indexer) -> list[str]:
    """The documents in the index, sorted; `UploadError` when there is no readable index."""
    try:
        return sorted(indexer.manifest["files"])
    except CityqaError as exc:
        raise UploadError("index", str(exc)) from exc


def _step(progress: Progress | None, done: int, what: str) -> None:
    if progress is not None:
        progress(done, 2, what)


# ------------------------------------------------------------------ messages


def upload_message(outcome: UploadOutcome, corpus_dir: Path) -> str:
    """One plain-text line saying what an upload did."""
    s = outcome.saved
    verb = "Replaced" if s.previous else "Added"
    kept = f" The previous version is kept in {_shown(s.previous, corpus_dir)}." if s.previous else ""
    return (f"{verb} {s.source} ({s.format}, {size_text(s.size)}): {outcome.passages} passages indexed in "
            f"{outcome.report.seconds:.1f} s.{kept}")


def removal_message(outcome: RemovalOutcome, corpus_dir: Path) -> str:
    """One plain-text line saying what a removal did and how to undo it."""
    r = outcome.removed
    dropped = f"{outcome.report.chunks_removed} passages dropped from the index"
    if r.moved_to is None:
        return f"Removed {r.source} from the index ({dropped}); the file was already gone from the corpus folder."
    return (f"Removed {r.source}: {dropped}. The file was moved to {_shown(r.moved_to, corpus_dir)}; to restore it, "
            "move it back into the corpus folder and press “Re-index changed files”.")


def _shown(path: Path | None, corpus_dir: Path) -> str:
    if path is None:
        return ""
    try:
        return (Path(corpus_dir).name + "/" + path.resolve().relative_to(Path(corpus_dir).resolve()).as_posix())
    except ValueError:
        return str(path)
