"""Which PDF text extractor: pypdf or pypdfium2 (issue 15), by text fidelity and speed on a real multi-page PDF.

The shipped report is typeset into two PDFs by `tests/pdfgen.py` (running header, page-number footer, words
hyphenated at line ends, superscript endnote markers): one places every word on its own, as justified text and many
word processors do; one draws each line as a single run. For each extractor:

- `word_f1`: words recovered (multiset F1 against the report's words; headers, footers and split words count
  against it), and `order`: how much of the report's word sequence comes back in order (difflib ratio);
- `ms_per_page`: median extraction time per page over 5 runs (same process, same file);
- and for cityqa's own pipeline (pypdfium2 characters -> `pdftext`): `paragraphs_exact`, the share of the report's
  paragraphs that come back character for character.

    python benchmarks/pdf_extract.py   -> table on stdout, JSON in benchmarks/out/pdf_extract.json
"""

from __future__ import annotations

import difflib
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from cityqa.documents.corpus import read_document  # noqa: E402
from cityqa.documents.extractors import read_pdf  # noqa: E402
from pdfgen import make_pdf, report_paragraphs  # noqa: E402

REPORT = REPO / "corpus" / "global-engagements-california-cities.txt"
RUNS = 5


def pypdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def pdfium_text(path: Path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        return "\n\n".join(pdf[n].get_textpage().get_text_range() for n in range(len(pdf)))
    finally:
        pdf.close()


def cityqa_text(path: Path) -> str:
    return read_pdf(path.name, path).text


EXTRACTORS: dict[str, Callable[[Path], str]] = {
    "pypdf": pypdf_text, "pypdfium2": pdfium_text, "cityqa (pypdfium2 + pdftext)": cityqa_text,
}


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.replace("\ufffe", "").replace("\x02", "").casefold())


def word_f1(truth: list[str], got: list[str]) -> float:
    common = sum((Counter(truth) & Counter(got)).values())
    return 2 * common / (len(truth) + len(got)) if truth and got else 0.0


def paragraphs_exact(truth: list[str], text: str) -> float:
    got = {re.sub(r"^#+ ", "", " ".join(p.split())) for p in text.split("\n\n")}
    return sum(p in got for p in truth) / len(truth)


def main() -> None:
    report = read_document(REPORT, REPORT.parent)
    paragraphs = report_paragraphs(REPORT)
    truth_words, truth_paragraphs = words(report.text), [text for text, _ in paragraphs]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layout_name, word_by_word in (("word by word", True), ("line runs", False)):
            pdf = Path(tmp) / f"report-{word_by_word}.pdf"
            pages = make_pdf(pdf, paragraphs, word_by_word=word_by_word).pages
            for name, extract in EXTRACTORS.items():
                times = []
                for _ in range(RUNS):
                    start = time.perf_counter()
                    text = extract(pdf)
                    times.append(time.perf_counter() - start)
                got = words(text)
                rows.append({
                    "pdf": layout_name, "pages": pages, "extractor": name,
                    "word_f1": round(word_f1(truth_words, got), 4),
                    "order": round(difflib.SequenceMatcher(None, truth_words, got, autojunk=False).ratio(), 4),
                    "paragraphs_exact": round(paragraphs_exact(truth_paragraphs, text), 4),
                    "ms_per_page": round(1000 * statistics.median(times) / pages, 2),
                })
    print(f"{'pdf':13} {'extractor':30} {'word_f1':>8} {'order':>7} {'para=':>7} {'ms/page':>8}")
    for r in rows:
        print(f"{r['pdf']:13} {r['extractor']:30} {r['word_f1']:8.4f} {r['order']:7.4f} "
              f"{r['paragraphs_exact']:7.4f} {r['ms_per_page']:8.2f}")
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "pdf_extract.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
