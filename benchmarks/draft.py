"""Checking a whole draft, warm: a memo of about 60 sentences over three pages (tests/draftgen.py's memo six times,
a page break between copies) checked against the shipped corpus and annotated; and one claim at a time, p50/p95.
Warm means the model and index are loaded (one unrelated claim is checked first); the memo repeats its own
sentences, so copies after the first reuse the comparisons cached for it, as a memo that repeats a figure would.

    python benchmarks/draft.py      # prints one JSON object
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path

from common import CORPUS, REPO, percentile, small_index

sys.path.insert(0, str(REPO / "tests"))

from draftgen import make_draft

COPIES = 6  # copies of the fixture memo (11 sentences, 5 of them factual): 66 sentences, about three pages


def three_pages(folder: Path) -> Path:
    import docx
    from docx.enum.text import WD_BREAK

    one = make_draft(folder / "one.docx")
    memo = docx.Document(str(one))
    body = memo.element.body
    parts = [e for e in body if not e.tag.endswith("sectPr")]
    for _ in range(COPIES - 1):
        memo.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        for element in parts:
            body.insert(len(body) - 1, copy.deepcopy(element))
    path = folder / "memo.docx"
    memo.save(str(path))
    return path


def main() -> None:
    from cityqa import Assistant, Settings
    from cityqa.checking.draft import annotate_docx, check_draft
    from cityqa.checking.factcheck import check_claims

    settings = Settings(corpus_dir=CORPUS, index_dir=small_index())
    assistant = Assistant.open(settings=settings)
    with tempfile.TemporaryDirectory() as work:
        draft = three_pages(Path(work))
        check_claims(assistant, ["A delegation from another country visited the port in 1999."])  # warm: model, index
        start = time.perf_counter()
        result = check_draft(assistant, draft, settings)
        checked_s = time.perf_counter() - start
        start = time.perf_counter()
        comments = annotate_docx(draft, result, Path(work) / "checked.docx")
        annotate_s = time.perf_counter() - start
        claims = [result.sentences[i].text for i in result.verdicts]
        times = []
        for claim in claims:
            start = time.perf_counter()
            check_claims(assistant, [claim])
            times.append(time.perf_counter() - start)
    print(json.dumps({
        "sentences": len(result.sentences), "checked": len(result.verdicts), "comments": comments,
        "check_s": round(checked_s, 2), "annotate_s": round(annotate_s, 3),
        "claim_p50_ms": round(1000 * percentile(times, 50), 1), "claim_p95_ms": round(1000 * percentile(times, 95), 1),
    }))


if __name__ == "__main__":
    main()
