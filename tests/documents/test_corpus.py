"""Reading every supported format, and specific reasons for files that cannot be read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from cityqa.documents.corpus import iter_corpus, read_document
from cityqa.errors import CorpusError, UnreadableFileError
from hostile import pdf_bytes

SENTENCE = "Riverbend signed a memorandum of understanding with Port Alder in 1987."


def _pdf_bytes(text: str) -> bytes:
    """A minimal valid one-page PDF with `text` (built by hand: no PDF writer needed)."""
    return pdf_bytes(text)


def _read(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return read_document(tmp_path / name, tmp_path).text


def test_pdf(tmp_path: Path) -> None:
    assert SENTENCE in _read(tmp_path, "notes.pdf", _pdf_bytes(SENTENCE))


def test_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Sister cities", level=1)
    document.add_paragraph(SENTENCE)
    document.save(tmp_path / "notes.docx")
    text = read_document(tmp_path / "notes.docx", tmp_path).text
    assert "Sister cities" in text and SENTENCE in text


def test_html_drops_scripts_and_keeps_text(tmp_path: Path) -> None:
    html = f"<html><head><script>alert('x')</script><style>p{{}}</style></head><body><h1>Notes</h1><p>{SENTENCE}</p>"
    text = _read(tmp_path, "notes.html", html.encode())
    assert SENTENCE in text and "alert" not in text and "Notes" in text


def test_text_keeps_exact_characters(tmp_path: Path) -> None:
    raw = "Curly ’quotes’ and\r\nWindows line ends — kept.\n"
    assert _read(tmp_path, "a.txt", raw.encode()) == raw


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.txt", b"", "file is empty"),
        ("blank.md", b"  \n\n ", "file is empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00", "binary"),
        ("latin1.txt", "café".encode("latin-1") + b" more text", "not valid UTF-8"),
        ("broken.pdf", b"%PDF-1.4\n this is not really a pdf", "PDF cannot be parsed"),
        ("broken.docx", b"PK\x03\x04 not a zip", "DOCX cannot be opened"),
        ("bad-front.md", b"---\ninterviewee: [unclosed\n---\nbody", "front matter is not valid YAML"),
        ("partial.md", b"---\ninterviewee: Someone\ncity: X\n---\nbody", "lack front-matter field(s): role, date"),
    ],
)
def test_unreadable_files_give_specific_reasons(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(UnreadableFileError) as info:
        read_document(tmp_path / name, tmp_path)
    assert reason in info.value.reason
    assert info.value.source == name


def test_encrypted_pdf_is_refused(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    (tmp_path / "plain.pdf").write_bytes(_pdf_bytes(SENTENCE))
    writer = PdfWriter(clone_from=PdfReader(tmp_path / "plain.pdf"))
    writer.encrypt("secret")
    writer.write(tmp_path / "locked.pdf")
    with pytest.raises(UnreadableFileError, match="encrypted"):
        read_document(tmp_path / "locked.pdf", tmp_path)


def test_docx_zip_bomb_is_refused_without_unpacking(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.docx", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"0" * (600 * 1024 * 1024))
    with pytest.raises(UnreadableFileError, match="zip bomb"):
        read_document(tmp_path / "bomb.docx", tmp_path)


def test_iter_corpus_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", ".hidden.txt", "c.exe", "sub/d.html", ".git/e.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_corpus(tmp_path)] == ["a.txt", "b.md", "sub/d.html"]
    with pytest.raises(CorpusError, match="does not exist"):
        list(iter_corpus(tmp_path / "missing"))
