"""Uploading and removing documents (`cityqa.documents.uploads`): every refusal names its reason and changes nothing
(no file in the corpus folder, the index as it was); an accepted file is saved under a safe name and indexed; a
removed one moves to `.removed/` and its passages leave the index.

The index is a private copy of the session's (see `indexed_copy`): nothing here embeds the shared corpus again."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cityqa import Assistant, IngestReport, Settings
from cityqa.documents.corpus import iter_corpus
from cityqa.documents.extractors import FORMATS
from cityqa.documents.uploads import (
    ACCEPTED_LIST,
    REMOVED_DIR,
    add_and_index,
    check_content,
    file_format,
    remove_and_index,
    remove_document,
    safe_name,
    save_upload,
    upload_limit,
)
from cityqa.errors import CorpusError, IndexLockedError, UploadError
from cityqa.types import SkippedFile
from conftest import QUOTING_THRESHOLD

REPORT_NAME = "global-engagements-california-cities.txt"
NOTES_MD = """# Lakemont trade desk

Lakemont opened a trade desk in Osaka in 2019 to court battery makers.

The desk has two staff members and reports to the economic development director.
"""
LAKEMONT = "Where did Lakemont open a trade desk?"
VERDANT = "Which city did Verdant Falls sign a water technology pact with?"
VERDANT_SENTENCE = "Verdant Falls signed a water technology pact with Haifa in 2022."


# ------------------------------------------------------------------ helpers


def indexed_copy(settings: Settings, folder: Path, **overrides: Any) -> Assistant:
    """An assistant over a private copy of the session's corpus and index in `folder`, which a test may change.
    The ONNX encoder files (100+ MiB, never written in place) are hard-linked; everything else is copied."""
    corpus = folder / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    shutil.copytree(settings.index_dir, folder / "index", copy_function=_link_encoder)
    fields = {"corpus_dir": corpus, "index_dir": folder / "index", **overrides}
    return Assistant.open(settings=settings.model_copy(update=fields))


def _link_encoder(src: str, dst: str) -> None:
    if src.endswith(".onnx"):
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


def state(assistant: Assistant) -> tuple[dict[str, str], bytes]:
    """Every file under the corpus folder (hidden ones too) with its hash, and the index manifest's bytes."""
    corpus = Path(assistant.settings.corpus_dir)
    files = {p.relative_to(corpus).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(corpus.rglob("*")) if p.is_file()}
    return files, (Path(assistant.settings.index_dir) / "manifest.json").read_bytes()


def docx_bytes(paragraphs: list[tuple[str, int]]) -> bytes:
    """A real Word file: (text, heading level) paragraphs, 0 = body."""
    import docx

    document = docx.Document()
    for text, level in paragraphs:
        if level:
            document.add_heading(text, level)
        else:
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def minimal_pdf() -> bytes:
    """A one-page PDF with one sentence, from reportlab."""
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out)
    canvas.drawString(72, 720, "Harbor City keeps a register of its sister cities.")
    canvas.save()
    return out.getvalue()


def write(folder: Path, name: str, data: bytes | str) -> Path:
    """An "uploaded" file, as Gradio would hand it over: somewhere outside the corpus folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "upload.bin"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture(scope="module")
def library(settings: Settings, assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A private copy of the indexed corpus, shared by the refusal tests (a refusal never changes it) and with a
    small upload limit."""
    return indexed_copy(settings, tmp_path_factory.mktemp("library"), max_upload_bytes=64 * 1024)


@pytest.fixture
def fresh(settings: Settings, assistant: Assistant, tmp_path: Path) -> Assistant:
    """A private copy of the indexed corpus for one test that changes it."""
    return indexed_copy(settings, tmp_path / "library")


# ------------------------------------------------------------------ refusals change nothing

NOT_A_PDF = "Just a note, saved with the wrong extension.\n"
ZIP = io.BytesIO()
with zipfile.ZipFile(ZIP, "w") as _archive:
    _archive.writestr("notes.txt", "not a Word file")

REFUSALS: list[tuple[str, str, Callable[[], bytes], str]] = [
    ("wrong type by content", "notes.pdf", lambda: NOT_A_PDF.encode(),
     "its content is plain text, which does not match its '.pdf' extension (a PDF file begins with '%PDF-')"),
    ("a PDF named .txt", "notes.txt", minimal_pdf,
     "its content is a PDF, which does not match its '.txt' extension"),
    ("a zip named .docx", "notes.docx", lambda: ZIP.getvalue(),
     "its content is a zip archive that is not a Word file, which does not match its '.docx' extension"),
    ("a Word file named .md", "notes.md", lambda: docx_bytes([("Hello.", 0)]),
     "rename it to end in .docx"),
    ("not UTF-8", "notes.txt", lambda: b"caf\xe9 au lait\n", "is not valid UTF-8 (bad byte at offset 3)"),
    ("NUL bytes in text", "notes.md", lambda: b"# a\n\n" + b"b" * 9000 + b"\x00c\n", "it contains NUL bytes"),
    ("empty", "notes.md", lambda: b"  \n", "the file is empty"),
    ("not accepted type", "tool.exe", lambda: b"MZ\x90\x00", "'.exe' files are not accepted"),
    ("too large", "big.txt", lambda: b"word " * 20_000, "the file is 98 KiB; the upload limit is 64 KiB"),
    ("path traversal", "../x.pdf", minimal_pdf, "the file name contains a path separator"),
    ("a folder in the name", "a/b.txt", lambda: b"text", "the file name contains a path separator"),
    ("a Windows path", "a\\b.txt", lambda: b"text", "the file name contains a path separator"),
    ("dot dot", "notes..pdf", minimal_pdf, "the file name contains '..'"),
    ("hidden name", ".notes.md", lambda: b"text", "the file name starts with a dot (a hidden file)"),
    ("NUL in name", "a\x00b.txt", lambda: b"text", "the file name contains a NUL or control character"),
    ("newline in name", "a\nb.txt", lambda: b"text", "the file name contains a NUL or control character"),
    ("nothing left of the name", "###.md", lambda: b"text", "no letters or digits before its extension"),
    ("existing name without replace", REPORT_NAME, lambda: b"A new version.\n",
     "a document of that name is already in the corpus; tick “Replace a document with the same name”"),
    ("unreadable by the parser", "broken.pdf", lambda: b"%PDF-1.7\n" + b"\x00garbage" * 50, "it cannot be read: "),
]


@pytest.mark.parametrize(("case", "name", "data", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusal_names_why_and_changes_nothing(
    library: Assistant, tmp_path: Path, case: str, name: str, data: Callable[[], bytes], message: str
) -> None:
    before = state(library)
    src = write(tmp_path / "uploads", name, data())
    with pytest.raises(UploadError) as refused:
        add_and_index(library, src, name)
    assert message in str(refused.value), case
    assert state(library) == before  # no file written (not even a temporary one), index untouched
    assert not (Path(library.settings.corpus_dir) / REMOVED_DIR).exists()


def test_upload_limit_is_the_settings_one_but_never_beyond_what_ingest_reads(settings: Settings) -> None:
    assert upload_limit(settings) == 20 * 2**20  # the default
    assert upload_limit(settings.model_copy(update={"max_upload_bytes": 5})) == 5
    with pytest.raises(ValueError, match="less than or equal"):
        Settings(max_upload_bytes=51 * 2**20)


def test_uploads_take_every_format_ingest_reads_and_no_other(tmp_path: Path) -> None:
    for suffix in [*FORMATS, ".rtf", ".doc", ".exe"]:
        (tmp_path / f"file{suffix}").write_bytes(b"text")
    assert {path.suffix for path in iter_corpus(tmp_path)} == set(FORMATS)
    for suffix, fmt in FORMATS.items():
        assert file_format(f"notes{suffix.upper()}") == fmt.label and f"{fmt.label} (" in ACCEPTED_LIST
    with pytest.raises(UploadError, match=r"'\.rtf' files are not accepted; upload a PDF \(\.pdf\), .* or HTML"):
        file_format("notes.rtf")


def test_safe_names() -> None:
    assert safe_name("Report (final) été.PDF") == "Report final été.PDF"
    assert safe_name("  notes  v2.md ") == "notes v2.md"
    assert safe_name("a#b$c.txt") == "abc.txt"
    for name in ["..", "../../etc/passwd", "/etc/passwd", "C:\\x.txt", ".env", "", " ", "x\x1b.md"]:
        with pytest.raises(UploadError, match="the file name"):
            safe_name(name)


def test_check_content_accepts_what_the_extension_says() -> None:
    check_content("a.pdf", minimal_pdf())
    check_content("a.docx", docx_bytes([("Hi.", 0)]))
    for name in ["a.md", "a.txt", "a.html", "a.htm", "a.markdown"]:
        check_content(name, "<p>Caf\u00e9</p>\n".encode())


def test_save_never_overwrites_without_replace(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.md").write_text("old\n", encoding="utf-8")
    src = write(tmp_path / "up", "notes.md", "new text\n")
    with pytest.raises(UploadError, match="already in the corpus"):
        save_upload(src, "notes.md", corpus, 1000)
    assert (corpus / "notes.md").read_text(encoding="utf-8") == "old\n"
    when = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    saved = save_upload(src, "notes.md", corpus, 1000, replace=True, now=when)
    assert (corpus / "notes.md").read_text(encoding="utf-8") == "new text\n"
    assert saved.previous == corpus / REMOVED_DIR / "20240501T093000Z-notes.md"
    assert saved.previous.read_text(encoding="utf-8") == "old\n"  # the replaced version is kept, not destroyed
    assert sorted(p.name for p in corpus.iterdir()) == [REMOVED_DIR, "notes.md"]  # no temporary file left


class FakeIndexer:
    """An indexer whose ingest returns `result` (or raises it), over `corpus`, with `files` in its index."""

    def __init__(self, corpus: Path, result: IngestReport | Exception, files: tuple[str, ...] = ()) -> None:
        self.settings = Settings(corpus_dir=corpus, index_dir=corpus.parent / "index")
        self.manifest: dict[str, Any] = {"files": {source: {} for source in files}}
        self.result = result

    def ingest(self, corpus_dir: Any = None, rebuild: bool = False, progress: Any = None) -> IngestReport:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_a_failed_ingest_undoes_the_save(tmp_path: Path) -> None:
    """If the index cannot be updated (another writer holds it), the uploaded file is taken out again."""
    busy = FakeIndexer(tmp_path / "corpus", IndexLockedError("index", "pid 4242"))
    src = write(tmp_path / "up", "notes.md", NOTES_MD)
    with pytest.raises(UploadError, match="it was not added, because the index could not be updated: Another"):
        add_and_index(busy, src, "notes.md")
    assert list((tmp_path / "corpus").iterdir()) == []


def test_a_file_ingest_skips_is_taken_out_again(tmp_path: Path) -> None:
    skipping = FakeIndexer(tmp_path / "corpus", IngestReport(skipped=[SkippedFile("notes.md", "no text to index")]))
    with pytest.raises(UploadError, match=r"notes\.md: it was not added: no text to index"):
        add_and_index(skipping, write(tmp_path / "up", "notes.md", NOTES_MD), "notes.md")
    assert list((tmp_path / "corpus").iterdir()) == []


# ------------------------------------------------------------------ accepted uploads


def test_upload_markdown_and_docx_then_ask(settings: Settings, assistant: Assistant, tmp_path: Path) -> None:
    fresh = indexed_copy(settings, tmp_path / "library", abstain_threshold=QUOTING_THRESHOLD)  # it quotes
    before = fresh.ask(LAKEMONT)
    assert all(c.source != "lakemont notes.md" for c in before.citations)
    steps: list[tuple[int, int, str]] = []
    md = add_and_index(fresh, write(tmp_path / "up", "x", NOTES_MD), "lakemont notes.md",
                       progress=lambda done, total, what: steps.append((done, total, what)))
    assert md.saved.source == "lakemont notes.md" and md.report.added == ["lakemont notes.md"]
    assert md.passages >= 1 and steps[0] == (0, 2, "Checking the file") and len(steps) > 2
    word = docx_bytes([("Verdant Falls water diplomacy", 1), (VERDANT_SENTENCE, 0),
                       ("The pact covers drip irrigation and desalination research.", 0)])
    docx = add_and_index(fresh, write(tmp_path / "up", "y", word), "Verdant Falls (2022).docx")
    assert docx.saved.source == "Verdant Falls 2022.docx" and docx.saved.format == "Word"
    files = fresh.manifest["files"]
    assert {"lakemont notes.md", "Verdant Falls 2022.docx", REPORT_NAME} <= set(files)
    assert (Path(fresh.settings.corpus_dir) / "Verdant Falls 2022.docx").read_bytes() == word
    lakemont = fresh.ask(LAKEMONT)
    assert "Osaka" in lakemont.answer and lakemont.citations[0].source == "lakemont notes.md"
    verdant = fresh.ask(VERDANT)
    assert "Haifa" in verdant.answer and verdant.citations[0].source == "Verdant Falls 2022.docx"
    assert "Finland" in fresh.ask("Which countries did San José visit on trade missions in the 1990s and early "
                                  "2000s?").answer  # the rest of the index is still there


def test_replace_keeps_the_previous_version(fresh: Assistant, tmp_path: Path) -> None:
    add_and_index(fresh, write(tmp_path / "up", "x", NOTES_MD), "lakemont.md")
    newer = NOTES_MD.replace("Osaka", "Nagoya")
    with pytest.raises(UploadError, match="Replace a document with the same name"):
        add_and_index(fresh, write(tmp_path / "up", "x", newer), "lakemont.md")
    outcome = add_and_index(fresh, write(tmp_path / "up", "x", newer), "lakemont.md", replace=True)
    assert outcome.report.changed == ["lakemont.md"] and outcome.saved.previous is not None
    assert "Osaka" in outcome.saved.previous.read_text(encoding="utf-8")
    assert "Nagoya" in fresh.ask(LAKEMONT).answer


# ------------------------------------------------------------------ removal


def test_remove_moves_the_file_aside_and_drops_its_chunks(fresh: Assistant, tmp_path: Path) -> None:
    add_and_index(fresh, write(tmp_path / "up", "x", NOTES_MD), "lakemont.md")
    chunks = set(fresh.manifest["files"]["lakemont.md"]["chunks"])
    corpus = Path(fresh.settings.corpus_dir)
    outcome = remove_and_index(fresh, "lakemont.md")
    assert outcome.report.removed == ["lakemont.md"] and outcome.report.chunks_removed == len(chunks)
    assert not (corpus / "lakemont.md").exists()
    moved = outcome.removed.moved_to
    assert moved is not None and moved.parent == corpus / REMOVED_DIR and moved.name.endswith("Z-lakemont.md")
    assert moved.read_text(encoding="utf-8") == NOTES_MD  # kept, not destroyed
    assert "lakemont.md" not in fresh.manifest["files"]
    assert not chunks & {c.id for c in fresh.engine.nodes.chunks}
    assert all(c.source != "lakemont.md" for c in fresh.ask(LAKEMONT).citations)


@pytest.mark.parametrize(("source", "message"), [
    ("nothing-like-this.md", "is not a document in the index"),
    ("../corpus/" + REPORT_NAME, "is not a document in the index"),
    ("", "is not a document in the index"),
])
def test_remove_refuses_what_is_not_indexed(library: Assistant, source: str, message: str) -> None:
    before = state(library)
    with pytest.raises(UploadError, match=message):
        remove_and_index(library, source)
    assert state(library) == before


def test_remove_refuses_a_path_outside_the_corpus(tmp_path: Path) -> None:
    corpus, outside = tmp_path / "corpus", tmp_path / "secret.txt"
    corpus.mkdir()
    outside.write_text("secret\n", encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    for source in ["link.txt", "../secret.txt", ".removed/x.txt"]:
        with pytest.raises(UploadError, match="outside the corpus folder"):
            remove_document(source, corpus, {source})
    assert outside.exists() and (corpus / "link.txt").is_symlink()


def test_removing_the_last_document_is_refused_and_undone(tmp_path: Path) -> None:
    """Ingest refuses an empty corpus; the document is put back where it was."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "only.md").write_text(NOTES_MD, encoding="utf-8")
    last = FakeIndexer(corpus, CorpusError("Nothing to index: the corpus holds no readable document."), ("only.md",))
    with pytest.raises(UploadError, match="it was not removed, because the index could not be updated: Nothing"):
        remove_and_index(last, "only.md")
    assert (corpus / "only.md").read_text(encoding="utf-8") == NOTES_MD
    assert list((corpus / REMOVED_DIR).iterdir()) == []
