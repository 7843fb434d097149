"""Checking a whole draft: every factual sentence of a briefing memo (.docx, .md, .txt or .pdf) checked against the
indexed documents, and a Word draft given back with a comment on each checked sentence.

The draft is read through the same sandboxed readers as the corpus (`documents.corpus.read_document`: type by
content, size limit, refusals with a reason), so a hostile file is refused before anything else opens it; only a
Word file that passed them is opened again, here, to be annotated. Sentences that state nothing to check (a
question, a heading, a recommendation, a sentence without a name, number, date or place) are listed as not
checked, with the reason. The annotated copy never changes the draft's text: runs are split at sentence
boundaries (keeping their formatting), each checked sentence is shaded by verdict and carries a Word comment with
the verdict, what differs or what to check, and the verbatim quote with its source. A summary page comes first
(inserted before the draft's first paragraph, then a page break): the draft's name and SHA-256, counts by verdict,
and the contradicted sentences first, then close matches and those not in the sources, each with what differs and
its source.
"""

from __future__ import annotations

import copy
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..documents.chunking import split_sentences
from ..errors import UnreadableFileError
from ..types import Verdict
from .briefing import VERDICT_WORDS, DraftRef, code_text, mismatch_text, unmatched_text, when_text
from .factcheck import Checkable, check_claims, extract_values

if TYPE_CHECKING:
    from ..settings import Settings

DRAFT_SUFFIXES = frozenset({".docx", ".md", ".txt", ".pdf"})
MIN_WORDS = 4  # shorter ones are labels or fragments ("The port reopened in 2021." has five words; "Trade, 2021." two)
# A sentence that recommends or judges states no fact a source could confirm (English modal and opinion cues)
_OPINION = re.compile(r"\b(should|ought to|recommend\w*|we propose|in (?:my|our) view|I think|we believe|must)\b", re.I)
_HEADING_STYLE = re.compile(r"^(heading|title|subtitle)", re.I)
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # lxml refuses these in text
SHADE = {"supported": "BRIGHT_GREEN", "close": "YELLOW", "contradicted": "PINK", "not_found": "GRAY_25"}
AUTHOR = "cityqa"
SUMMARY_TITLE = "Fact-check summary"
DraftProgress = Callable[[int, int, str], None]  # (done, total, what is being done)


@dataclass(frozen=True)
class DraftSentence:
    """One sentence of the draft: where it stands (paragraph number, character span in that paragraph's text) and
    why it is not checked (None when it is)."""

    paragraph: int
    start: int
    end: int
    text: str
    skipped: str | None = None


@dataclass
class DraftCheck:
    """A checked draft: its file name and SHA-256, its sentences in order, the verdict of each checked one (by its
    index), and when it was checked."""

    name: str
    sha256: str
    sentences: list[DraftSentence]
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ref(self) -> DraftRef:
        return DraftRef(self.name, self.sha256)

    def counts(self) -> Counter[str]:
        return Counter(v.verdict for v in self.verdicts.values())

    def by_verdict(self, label: str) -> list[tuple[DraftSentence, Verdict]]:
        """The checked sentences with verdict `label`, in the draft's order."""
        return [(self.sentences[i], v) for i, v in sorted(self.verdicts.items()) if v.verdict == label]

    def summary_markdown(self) -> str:
        """One page: counts by verdict, then the contradicted sentences first, the close matches and the rest,
        then what was not checked and why."""
        counts = self.counts()
        lines = [f"# Fact-check of {' '.join(self.name.split())}", "",
                 f"Draft `{code_text(self.name)}` · SHA-256 `{self.sha256}` · checked {when_text(self.checked_at)} "
                 f"with cityqa · {len(self.verdicts)} sentences checked, {len(self.sentences) - len(self.verdicts)} "
                 "not checked", "", "| Verdict | Sentences |", "|---|---|"]
        lines += [f"| {VERDICT_WORDS[label]} | {counts.get(label, 0)} |" for label in _ORDER]
        for label in _ORDER:
            chosen = self.by_verdict(label)
            if chosen:
                lines += ["", f"## {VERDICT_WORDS[label]}", ""]
                lines += [f"- {s.text} — {comment_text(v)}" for s, v in chosen]
        skipped = [s for s in self.sentences if s.skipped]
        if skipped:
            lines += ["", "## Not checked", ""] + [f"- {s.text} ({s.skipped})" for s in skipped]
        return "\n".join(lines) + "\n"


_ORDER = ("contradicted", "close", "not_found", "supported")


def skip_reason(sentence: str, heading: bool = False) -> str | None:
    """Why a sentence of a draft is not checked, in words; None when it states something to check."""
    if heading:
        return "a heading"
    if sentence.rstrip().endswith("?"):
        return "a question"
    if len(sentence.split()) < MIN_WORDS:
        return "too short to state a fact"
    if _OPINION.search(sentence):
        return "an opinion or recommendation"
    if not extract_values(sentence):
        return "no name, number, date or place to check"
    return None


def comment_text(verdict: Verdict) -> str:
    """What a Word comment says about one checked sentence: the verdict, what differs or what to check, and the
    quote it rests on with its source."""
    parts = [f"{VERDICT_WORDS[verdict.verdict]} ({verdict.confidence:.0%})."]
    parts += [f"Differs: {mismatch_text(m)}." for m in verdict.mismatches]
    if verdict.unmatched:
        parts.append(unmatched_text(verdict) + ".")
    if verdict.evidence:
        shown = "Closest passage" if verdict.verdict == "not_found" else "Source"
        parts += [f"{shown}: “{' '.join(c.quote.split())}” — {c.label}" for c in verdict.evidence]
    else:
        parts.append("No passage of the documents came close.")
    return " ".join(parts)


# ------------------------------------------------------------------ reading


def draft_paragraphs(path: Path, settings: Settings | None = None) -> tuple[list[tuple[str, bool]], str]:
    """The draft's paragraphs in order, each with whether it is a heading, and the SHA-256 of its bytes. Refuses
    (UnreadableFileError) what the corpus readers refuse, and any other type."""
    from ..documents.corpus import read_document

    if path.suffix.lower() not in DRAFT_SUFFIXES:
        raise UnreadableFileError(path.name, f"a draft must be {', '.join(sorted(DRAFT_SUFFIXES))}")
    document = read_document(path, path.parent, settings)  # sandboxed for Word and PDF
    if path.suffix.lower() == ".docx":
        paragraphs = [(p.text, bool(_HEADING_STYLE.match(p.style.name or "")))
                      for p in _docx_paragraphs(_open_docx(path))]
    else:
        blocks = [b.strip() for b in re.split(r"\n\s*\n", document.text)]
        paragraphs = [(b.lstrip("#").strip(), b.startswith("#")) for b in blocks if b]
    return paragraphs, document.sha256


def _open_docx(path: Path) -> Any:  # python-docx ships no type information
    """The Word file, opened in this process: only after the sandboxed reader accepted it; whatever python-docx
    still objects to becomes a refusal with its reason."""
    import docx

    try:
        return docx.Document(str(path))
    except Exception as exc:  # lxml and zipfile errors of a file crafted to pass the reader
        raise UnreadableFileError(path.name, f"cannot be opened as a Word document ({type(exc).__name__})") from exc


def _docx_paragraphs(document: Any) -> Iterator[Any]:
    """Body paragraphs, then the paragraphs of each table cell, in order."""
    yield from document.paragraphs
    for table in document.tables:
        for row in table.rows:
            seen: set[int] = set()
            for cell in row.cells:
                if id(cell._tc) not in seen:  # a merged cell is listed once per column it spans
                    seen.add(id(cell._tc))
                    yield from cell.paragraphs


def draft_sentences(paragraphs: Sequence[tuple[str, bool]]) -> list[DraftSentence]:
    out = []
    for n, (text, heading) in enumerate(paragraphs):
        for span in split_sentences(text, 0, len(text)):
            sentence = text[span.start : span.end]
            if sentence.strip():
                out.append(DraftSentence(n, span.start, span.end, sentence, skip_reason(sentence, heading)))
    return out


def check_draft(
    assistant: Checkable, path: Path, settings: Settings | None = None, progress: DraftProgress | None = None
) -> DraftCheck:
    """Read the draft at `path`, check every factual sentence against the indexed documents (one batch).
    `progress(done, total, what)` hears of the reading, then of each sentence before it is checked."""
    report = progress or _silent
    report(0, 1, f"Reading {display_name(path)}")
    paragraphs, sha = draft_paragraphs(path, settings)
    sentences = draft_sentences(paragraphs)
    checked = [i for i, s in enumerate(sentences) if s.skipped is None]
    verdicts = check_claims(assistant, [sentences[i].text for i in checked],
                            lambda done, total: report(done, total, f"Checking sentence {done + 1} of {total}"))
    return DraftCheck(display_name(path), sha, sentences, dict(zip(checked, verdicts, strict=True)))


def display_name(path: Path) -> str:
    """The draft's file name as text that can be written out: a byte that is not UTF-8 (kept by Python as a lone
    surrogate in a Linux file name) becomes U+FFFD instead of failing the UTF-8 summary later."""
    return os.fsencode(path.name).decode("utf-8", "replace")


def _silent(done: int, total: int, what: str) -> None:
    """No progress to report to."""


# ------------------------------------------------------------------ annotating a Word draft


def annotate_docx(path: Path, result: DraftCheck, out: Path, summary: bool = True) -> int:
    """Write `path` to `out` with a comment anchored on each checked sentence and the sentence shaded by its
    verdict, after a summary page (`summary`); the draft's own text is unchanged. Returns the number of comments."""
    from docx.enum.text import WD_COLOR_INDEX

    document = _open_docx(path)
    paragraphs = list(_docx_paragraphs(document))  # before the summary goes in: sentences index these
    comments = 0
    for index, verdict in result.verdicts.items():
        sentence = result.sentences[index]
        runs = _runs_of(paragraphs[sentence.paragraph], sentence.start, sentence.end)
        if not runs:
            continue
        for run in runs:
            run.font.highlight_color = getattr(WD_COLOR_INDEX, SHADE[verdict.verdict])
        document.add_comment(runs, text=comment_text(verdict), author=AUTHOR, initials="cq")
        comments += 1
    if summary:
        insert_summary(document, result)
    tmp = out.with_name(f".{out.name}.tmp")
    document.save(str(tmp))
    tmp.replace(out)
    return comments


def _runs_of(paragraph: Any, start: int, end: int) -> list[Any]:
    """The runs covering characters start..end of the paragraph, split at those two offsets so that they cover
    exactly that span (each piece keeps its run's formatting). Empty when the paragraph's runs do not spell its
    text (text inside hyperlinks or fields): such a sentence is not annotated rather than annotated wrongly."""
    if "".join(r.text for r in paragraph.runs) != paragraph.text:
        return []
    _split_at(paragraph, start)
    _split_at(paragraph, end)
    chosen, position = [], 0
    for run in paragraph.runs:
        if start <= position < end and run.text:
            chosen.append(run)
        position += len(run.text)
    return chosen


def _split_at(paragraph: Any, offset: int) -> None:
    """Split the run that spans `offset` into two runs with the same formatting (nothing when a run starts there)."""
    from docx.text.run import Run

    position = 0
    for run in paragraph.runs:
        length = len(run.text)
        if position < offset < position + length:
            text = run.text
            twin = copy.deepcopy(run._r)
            run._r.addnext(twin)
            run.text = text[: offset - position]
            Run(twin, paragraph).text = text[offset - position :]
            return
        position += length


# ------------------------------------------------------------------ the summary page of an annotated draft


def summary_rows(result: DraftCheck) -> list[tuple[str, str]]:
    """The summary page as (kind, text) rows, kind one of 'title', 'line', 'heading', 'item': the draft's name,
    SHA-256 and when it was checked, the counts by verdict, then the contradicted sentences, the close matches and
    those not in the sources (each with what differs and its source). Supported ones are only counted."""
    counts = result.counts()
    rows = [("title", SUMMARY_TITLE), ("line", f"Draft: {result.name}"), ("line", f"SHA-256: {result.sha256}"),
            ("line", f"Checked {when_text(result.checked_at)} with cityqa against the indexed documents: "
                     f"{len(result.verdicts)} sentences checked, {len(result.sentences) - len(result.verdicts)} not "
                     "checked (headings, questions, opinions, sentences without a name, number, date or place).")]
    rows += [("item", f"{VERDICT_WORDS[label]}: {counts.get(label, 0)}") for label in _ORDER]
    for label in _ORDER[:-1]:
        chosen = result.by_verdict(label)
        if chosen:
            rows.append(("heading", f"{VERDICT_WORDS[label]} ({len(chosen)})"))
            rows += [("item", f"“{s.text}” — {short_finding(v)}") for s, v in chosen]
    rows.append(("line", "Each checked sentence of the draft, from the next page on, carries a comment with the "
                         "verdict and the quote, and is shaded: pink contradicted, yellow close match, grey not in "
                         "the sources, green supported."))
    return rows


def short_finding(verdict: Verdict) -> str:
    """One line of the summary page about a checked sentence: what differs (or the words to check, or that no
    passage states it), then where the source passage is."""
    if verdict.verdict == "contradicted" and verdict.mismatches:
        found = "; ".join(mismatch_text(m) for m in verdict.mismatches)
    elif verdict.verdict == "close" and verdict.unmatched:
        found = unmatched_text(verdict)
    elif verdict.verdict == "not_found":
        found = "no passage of the documents states this"
    else:
        found = VERDICT_WORDS[verdict.verdict].lower()
    if not verdict.evidence:
        return f"{found}. No passage came close."
    shown = "Closest passage" if verdict.verdict == "not_found" else "Source"
    return f"{found}. {shown}: {verdict.evidence[0].label}"


def insert_summary(document: Any, result: DraftCheck) -> None:
    """Put the summary page before the draft's first paragraph or table, ending with a page break. Formatting is
    set on the runs (bold, size) rather than by style name: a draft need not define 'Heading 1' or 'List Bullet'."""
    from docx.enum.text import WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    body = document.element.body
    first = next((e for e in body if e.tag != qn("w:sectPr")), None)
    added = []
    for kind, text in summary_rows(result):
        paragraph = document.add_paragraph()
        run = paragraph.add_run(_NOT_XML.sub("\N{REPLACEMENT CHARACTER}", f"• {text}" if kind == "item" else text))
        run.bold = kind in {"title", "heading"}
        run.font.size = Pt({"title": 16, "heading": 12}.get(kind, 10))
        if kind == "item":
            paragraph.paragraph_format.left_indent = Cm(0.6)
        added.append(paragraph)
    pause = document.add_paragraph()
    pause.add_run().add_break(WD_BREAK.PAGE)
    added.append(pause)
    if first is not None:  # add_paragraph appends at the end of the body: move the page before the draft
        for paragraph in added:
            first.addprevious(paragraph._p)
