"""Typed records passed between pipeline stages: Document -> Chunk -> Citation -> Answer / Verdict.

Offsets are always character offsets into `Document.text`, which for `.txt` and `.md` files is the file's own
text, so `source_text[citation.start:citation.end] == citation.quote` holds for every citation.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

DocumentKind = Literal["report", "interview"]
INTERVIEW_FIELDS = ("interviewee", "role", "city", "date")


@dataclass(frozen=True)
class Document:
    """One source file, read and decoded."""

    source: str  # path relative to the corpus folder, with forward slashes
    text: str  # the text offsets refer to (the file itself for .txt/.md; extracted text for .pdf/.docx/.html)
    sha256: str  # hash of the file's bytes
    kind: DocumentKind = "report"
    metadata: dict[str, str] = field(default_factory=dict)  # interview fields for interview notes
    body_start: int = 0  # where the text after any front matter begins
    pages: tuple[int, ...] = ()  # paginated formats (PDF): offset in `text` where each page starts, page 1 first
    # a PDF with scanned pages: Tesseract's languages that read them, or "off" when they were left out; else None
    ocr: str | None = None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, or None for a document without pages."""
        if not self.pages:
            return None
        return max(1, bisect_right(self.pages, offset))


@dataclass(frozen=True, slots=True)  # slots: a 100k-chunk build holds ~340k sentences
class Sentence:
    """A sentence inside a chunk: its span in the document and the endnote markers split off its end."""

    start: int
    end: int
    endnotes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of one document: the unit that is embedded, searched and cited."""

    id: str
    source: str
    section: tuple[str, ...]  # heading path, outermost first; () before the first heading
    start: int
    end: int
    text: str  # == document.text[start:end], verbatim
    sentences: tuple[Sentence, ...]
    kind: DocumentKind = "report"
    metadata: dict[str, str] = field(default_factory=dict)
    doc_sha256: str = ""
    page: int | None = None  # 1-based page of `start` in a paginated document (PDF), else None
    page_breaks: tuple[int, ...] = ()  # offsets in (start, end) where a new page begins

    def page_span(self, start: int, end: int) -> tuple[int | None, int | None]:
        """(first page, last page) of the span `start:end` inside this chunk; (None, None) without pages."""
        if self.page is None:
            return None, None
        first = self.page + bisect_right(self.page_breaks, start)
        return first, self.page + bisect_right(self.page_breaks, max(start, end - 1))

    def reading_text(self, start: int, end: int) -> str:
        """`text` from `start` to `end` (document offsets) as it reads: the endnote markers of the sentences inside
        the span are left out ("…to prioritize.114 Given this…" reads "…to prioritize. Given this…")."""
        parts, pos = [], start
        for sentence in self.sentences:
            if sentence.endnotes and start <= sentence.end < end:
                parts.append(self.text[pos - self.start : sentence.end - self.start])
                pos = sentence.end + len(sentence.endnotes[-1])
        parts.append(self.text[pos - self.start : end - self.start])
        return "".join(parts)

    @property
    def endnotes(self) -> tuple[str, ...]:
        return tuple(note for sentence in self.sentences for note in sentence.endnotes)

    @property
    def section_label(self) -> str:
        return " > ".join(self.section) if self.section else "(opening, no heading)"

    def sentence_text(self, sentence: Sentence) -> str:
        return self.text[sentence.start - self.start : sentence.end - self.start]

    def search_text(self) -> str:
        """What BM25 and the embedder see: section path, interview fields and the text without endnote digits."""
        return self.search_layout()[0]

    def search_layout(self) -> tuple[str, tuple[int, int] | None, list[tuple[int, int]]]:
        """`search_text()`, where its head lines are in it (None without) and where each sentence is: the
        character spans the encoder pools a sentence's vectors from, in the chunk's own pass."""
        head = [self.section_label] if self.section else []
        if self.kind == "interview":
            head.append(", ".join(self.metadata.get(key, "") for key in INTERVIEW_FIELDS if self.metadata.get(key)))
        head_text = "\n".join(head)
        pos = len(head_text) + 1 if head else 0
        spans, parts = [], []
        for sentence in self.sentences:
            text = self.sentence_text(sentence)
            spans.append((pos, pos + len(text)))
            parts.append(text)
            pos += len(text) + 1
        body = " ".join(parts)
        return ("\n".join([*head, body]), (0, len(head_text)) if head else None, spans)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        sentences = tuple(
            Sentence(s["start"], s["end"], tuple(s.get("endnotes", ()))) for s in data["sentences"]
        )
        breaks = tuple(data.get("page_breaks", ()))
        return cls(**{**data, "section": tuple(data["section"]), "sentences": sentences, "page_breaks": breaks})


@dataclass
class Hit:
    """One retrieved chunk: its place in the node store, its fused retrieval score and its rank."""

    chunk: Chunk
    index: int  # position in the NodeStore
    score: float
    rank: int


@dataclass
class Citation:
    """One quoted passage an answer or verdict rests on."""

    n: int
    source: str
    section: str
    quote: str  # verbatim: document.text[start:end]
    start: int
    end: int
    score: float
    chunk_id: str
    chunk_start: int  # span of the whole passage the quote sits in, for context
    chunk_end: int
    endnotes: list[str] = field(default_factory=list)
    kind: DocumentKind = "report"
    interviewee: str | None = None
    role: str | None = None
    city: str | None = None
    date: str | None = None
    page: int | None = None  # 1-based PDF page the quote starts on (None for unpaginated formats)
    page_end: int | None = None  # the page it ends on, when the quote crosses a page break
    text: str = ""  # the quote as it reads: endnote markers between its sentences left out (`quote` if none)

    def __post_init__(self) -> None:
        if not self.text:
            self.text = self.quote

    @property
    def pages_label(self) -> str:
        """'p. 12', 'pp. 12–13', or '' for a document without pages."""
        if self.page is None:
            return ""
        if self.page_end and self.page_end != self.page:
            return f"pp. {self.page}–{self.page_end}"
        return f"p. {self.page}"

    @property
    def label(self) -> str:
        """Human-readable origin, e.g. 'Interview with Dana Quill, 2024-03-05' or 'report.pdf, Findings, p. 12'."""
        pages = f", {self.pages_label}" if self.page is not None else ""
        if self.interviewee:
            return f"Interview with {self.interviewee}" + (f", {self.date}" if self.date else "") + pages
        note = f", endnote {', '.join(self.endnotes)}" if self.endnotes else ""
        return f"{self.source}, {self.section}{pages}{note}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = self.label
        return data


@dataclass
class Answer:
    """The answer to one question."""

    question: str
    answer: str
    abstained: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)  # closest passages when abstaining
    resolved_question: str | None = None  # the question as understood after resolving a follow-up
    note: str | None = None  # why the question was not searched (empty, too long, not text…); also the answer
    # what in the passage shown contrasts with the question (it says the opposite of what is asked): the quote of an
    # answer, to be checked; or the closest passage of a "not found", which is then the reason
    caution: str | None = None
    # abstained, but the closest passage (the first of `related`) is near enough to show as "the documents do not
    # say this directly; the closest passage is ..." rather than "not found"
    closest: bool = False

    @property
    def outcome(self) -> Literal["answer", "closest", "not_found"]:
        """Which of the three an answer is: a quote, the closest passage, or not found."""
        if not self.abstained:
            return "answer"
        return "closest" if self.closest and self.related else "not_found"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "outcome": self.outcome,
            "confidence": round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "related": [c.to_dict() for c in self.related],
            "resolved_question": self.resolved_question,
            "note": self.note,
            "caution": self.caution,
        }


@dataclass
class Mismatch:
    """A typed value in a claim that differs from the evidence."""

    claim: str
    source: str
    kind: str  # number, date, name, place, negation, count…


@dataclass(frozen=True)
class Mark:
    """A span of a claim or of an evidence quote (offsets into that text) that lines up with the other side:
    `match` where both say the same, `conflict` where they fill the same slot differently."""

    start: int
    end: int
    kind: Literal["match", "conflict"]


VerdictLabel = Literal["supported", "close", "contradicted", "not_found"]
VERDICT_LABELS: tuple[str, ...] = get_args(VerdictLabel)


@dataclass
class Verdict:
    """The fact-check result for one atomic claim."""

    claim: str
    verdict: VerdictLabel
    confidence: float
    evidence: list[Citation] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    claim_marks: list[Mark] = field(default_factory=list)  # spans of `claim`
    evidence_marks: list[list[Mark]] = field(default_factory=list)  # spans of each evidence quote, in order
    # a close match: the claim's words the evidence does not state, each with what the evidence says in their
    # place ('' when nothing stands there)
    unmatched: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "verdict": self.verdict,
            "confidence": round(self.confidence, 4),
            "evidence": [c.to_dict() for c in self.evidence],
            "mismatches": [asdict(m) for m in self.mismatches],
            "claim_marks": [asdict(m) for m in self.claim_marks],
            "evidence_marks": [[asdict(m) for m in marks] for marks in self.evidence_marks],
            "unmatched": [list(pair) for pair in self.unmatched],
        }


@dataclass
class SkippedFile:
    source: str
    reason: str


@dataclass
class WriteStats:
    """What writing one index generation cost: `IndexStore.write_nodes` returns it, `ingest` reports it
    (`IngestReport.write`) for tests and benchmarks."""

    chunks: int = 0
    counted: int = 0  # chunks whose content terms were counted for the document frequencies (the rest carried)
    tokenized: int = 0  # chunks run through the BM25 tokenizer (the others' tokens were carried over)
    doc_freq_s: float = 0.0
    bm25_s: float = 0.0
    seconds: float = 0.0


@dataclass
class IngestReport:
    """What one `ingest` run did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    chunks_written: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0
    fingerprint: str = ""
    write: WriteStats | None = None  # what writing the new generation cost; None when nothing was written

    @property
    def nothing_to_do(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, skipped {len(self.skipped)} file(s); "
            f"{self.chunks_written} chunk(s) written, {self.chunks_removed} removed in {self.seconds:.2f} s"
        ]
        lines += [f"  + {s}" for s in self.added]
        lines += [f"  ~ {s}" for s in self.changed]
        lines += [f"  - {s}" for s in self.removed]
        lines += [f"  ! skipped {s.source}: {s.reason}" for s in self.skipped]
        return "\n".join(lines)


@dataclass(frozen=True)
class SearchFilters:
    """Restrict retrieval: to kinds of document ('report', 'interview') and to passages naming given cities."""

    kinds: tuple[DocumentKind, ...] = ()
    cities: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.kinds or self.cities)
