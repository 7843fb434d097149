"""Regenerate docs/draft-checked.png: the fictional two-page memo of tests/draftgen.py, checked against
the shipped corpus (indexed into a temporary folder), annotated, and rendered as Word users see it: LibreOffice
headless turns the annotated .docx into a PDF, pdftoppm the draft's first page into a PNG (page 2: page 1 is the
summary page the annotated copy opens on; `--summary-page` renders that one instead). LibreOffice 7.4 (Debian 12) prints
the shading but not the comments (margin comments need 7.6), so the README quotes the comments beside the picture.

    .venv/bin/python docs/make_draft_image.py [OUT_PNG] [--summary-page]

Needs Debian's libreoffice-writer-nogui and poppler-utils; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from cityqa import Assistant, Settings  # noqa: E402
from cityqa.checking.draft import annotate_docx, check_draft  # noqa: E402
from draftgen import make_draft  # noqa: E402

PDF_OPTIONS = {"ExportNotes": {"type": "boolean", "value": "false"},
               "ExportNotesInMargin": {"type": "boolean", "value": "true"}}


OUT = REPO / "docs" / "draft-checked.png"


def main(out: Path = OUT, page: int = 2) -> None:
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        settings = Settings(corpus_dir=REPO / "corpus", index_dir=folder / "index")
        assistant = Assistant.open(settings=settings)
        assistant.ingest()
        draft = make_draft(folder / "memo.docx")
        annotate_docx(draft, check_draft(assistant, draft, settings), folder / "memo-checked.docx")
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{folder}/lo", "--convert-to",
                        f"pdf:writer_pdf_Export:{json.dumps(PDF_OPTIONS)}", "--outdir", str(folder),
                        str(folder / "memo-checked.docx")], check=True, capture_output=True, timeout=180)
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
                        str(folder / "memo-checked.pdf"), str(out.with_suffix(""))], check=True, timeout=60)
    print(f"wrote {out}")


if __name__ == "__main__":
    paths = [Path(arg) for arg in sys.argv[1:] if not arg.startswith("--")]
    main(paths[0] if paths else OUT, page=1 if "--summary-page" in sys.argv else 2)
