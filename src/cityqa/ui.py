"""Gradio chat UI: ask, read each quote in its context (a PDF quote on its page too), filter, export a briefing note,
fact-check claims (one card per claim, its evidence openable in context, a note of the checked claims), add, remove
and re-index documents (checked and saved by `cityqa.uploads`), and read the latest `cityqa eval` report.

`build_app(assistant)` builds the `gr.Blocks`; `serve(settings)` launches it hardened (localhost, optional
login, blocked paths, bounded queue). The rendering helpers at the top are pure and unit-tested: every piece of
text that comes from a user or a document goes through `html.escape` (and Markdown escaping in the chat), so
nothing typed or indexed can become live HTML.
"""

from __future__ import annotations

import base64
import html
import logging
import os
import re
import shlex
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from . import report as reports
from .answer import NOT_FOUND
from .assistant import Assistant
from .briefing import (
    VERDICT_WORDS,
    ClaimCheck,
    Exchange,
    briefing_filename,
    briefing_markdown,
    claims_markdown,
    describe_search,
    evidence_heading,
    mismatch_text,
)
from .corpus import file_sha256, read_document
from .entities import Gazetteer, gazetteer_for
from .errors import CityqaError, ConfigError, UploadError
from .extractors import FORMATS
from .pages import page_image
from .settings import Settings
from .text import fold
from .types import Answer, Chunk, Citation, DocumentKind, Mark, SearchFilters, Verdict
from .uploads import (
    add_and_index,
    removal_message,
    remove_and_index,
    size_text,
    upload_limit,
    upload_message,
)

log = logging.getLogger(__name__)

TITLE = "cityqa: California cities' international affairs"
KIND_CHOICES: dict[str, tuple[DocumentKind, ...]] = {
    "All documents": (), "Report only": ("report",), "Interviews only": ("interview",)
}
CONTEXT_CHARS = 600
PAGE_CACHE = 16  # page images kept per app (a few hundred KB each)
PANEL_HINT = '<div class="cq-hint">Click a source under an answer to read the quote in its context.</div>'
CHECK_PANEL_HINT = '<div class="cq-hint">Click an evidence quote on a card to read it in its context.</div>'
BADGE_CLASSES = {"supported": "cq-supported", "contradicted": "cq-contradicted", "not_found": "cq-not-found"}
MARK_TITLES = {"match": "in both the claim and the source", "conflict": "the claim and the source differ here"}
CHECK_LEGEND = (
    '<div class="cq-legend"><mark class="cq-match">word</mark> also in the other text · '
    '<mark class="cq-conflict">word</mark> differs between claim and source · click a quote to read it in context'
    "</div>"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~$])")
_MARK = re.compile(r"\[(\d+)\]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


# ------------------------------------------------------------------ pure renderers


def escape_md(text: str) -> str:
    """Text shown verbatim inside Markdown: HTML-escaped, Markdown punctuation backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False))


def chip_label(c: Citation) -> str:
    """Short button text: mark, origin (interviewee and date, or document and section), page, endnotes."""
    if c.interviewee:
        origin = f"Interview: {c.interviewee}" + (f", {c.date}" if c.date else "")
    else:
        section = c.section.split(" > ")[-1]
        origin = f"{c.source} · {section[:60] + '…' if len(section) > 60 else section}"
    page = f" · {c.pages_label}" if c.pages_label else ""
    notes = f" · endnote {', '.join(c.endnotes)}" if c.endnotes else ""
    return " ".join(f"[{c.n}] {origin}{page}{notes}".split())


def render_answer_markdown(answer: Answer, number: int | None = None) -> str:
    """Chat Markdown for one answer: quoted sentences with citation marks, then its sources as chips (or, when the
    documents do not answer, a visible 'Not found' with the closest passages). `number`: the answer's place in the
    conversation (1-based), which makes its chips open the source panel (see `CHIP_JS`)."""
    lines: list[str] = []
    if answer.resolved_question:
        lines += [f"_Understood as: {escape_md(answer.resolved_question)}_", ""]
    if answer.abstained and not answer.related and not answer.answer.startswith("Not found"):
        return "\n".join([*lines, f"**Note:** {escape_md(answer.answer)}"])
    if answer.abstained:
        why = answer.answer.removeprefix(NOT_FOUND).strip() if answer.answer.startswith(NOT_FOUND) else ""
        head = NOT_FOUND if why else answer.answer  # the verdict in bold, the reason for it (if any) after it
        lines += [f"**{escape_md(head)}**" + (f" {escape_md(why)}" if why else ""), ""]
        if answer.related:
            lines += ["**Closest passages** (they do not answer the question):", ""]
            lines += [_related_html(answer.related, number)]
        return "\n".join(lines)
    lines += [_with_marks(answer.answer), ""]
    if answer.caution:
        lines += [f"**Check:** {escape_md(answer.caution)}", ""]
    lines += ["**Sources**", "", chips_html(answer.citations, number)]
    sure = f"confidence {answer.confidence:.0%} that the quote answers the question"
    lines += ["", f"<sub>{sure} · click a source to see it in context</sub>"]
    return "\n".join(lines)


def chip_html(c: Citation, number: int | None) -> str:
    """One citation chip inside a chat message: escaped label; with `number`, clickable. The chat's sanitiser drops
    data attributes, so the answer and citation numbers travel in class names (`cq-answer-2 cq-cite-1`)."""
    label = html.escape(chip_label(c))
    if number is None:
        return f'<span class="cq-inline-chip">{label}</span>'
    return (f'<span class="cq-inline-chip cq-answer-{int(number)} cq-cite-{int(c.n)}" role="button" tabindex="0" '
            f'title="Show this passage in context">{label}</span>')


def chips_html(citations: Sequence[Citation], number: int | None) -> str:
    """An answer's chips as one HTML block (no blank line inside, so Markdown leaves it whole)."""
    return f'<div class="cq-inline-chips">{"".join(chip_html(c, number) for c in citations)}</div>'


def _related_html(related: Sequence[Citation], number: int | None) -> str:
    """The closest passages of an abstention: each chip followed by the start of its quote."""
    items = "".join(f'<li>{chip_html(c, number)} “{html.escape(_short(c.text))}”</li>' for c in related)
    return f'<ul class="cq-related">{items}</ul>'


def _with_marks(text: str) -> str:
    """Escape answer text, turning its '[n]' citation marks into superscripts."""
    pieces = _MARK.split(text)
    out = [escape_md(p) if i % 2 == 0 else f"<sup>[{p}]</sup>" for i, p in enumerate(pieces)]
    return "".join(out)


def _short(text: str, limit: int = 220) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit].rsplit(" ", 1)[0] + " …"


def context_span(text: str, start: int, end: int, context: int = CONTEXT_CHARS) -> tuple[int, int]:
    """The span to show around [start, end): whole paragraphs within `context` characters either side, at
    least the paragraph holding the quote, cut at a word when that paragraph is very long."""
    breaks = [(m.start(), m.end()) for m in _PARAGRAPH_BREAK.finditer(text)]
    starts = [0, *(b for _, b in breaks)]
    ends = [*(a for a, _ in breaks), len(text)]
    own_start = max((s for s in starts if s <= start), default=0)
    own_end = min((e for e in ends if e >= end), default=len(text))
    lo = min((s for s in starts if start - context <= s <= own_start), default=own_start)
    hi = max((e for e in ends if own_end <= e <= end + context), default=own_end)
    if lo < start - 3 * context:
        lo = text.find(" ", start - context, start) + 1 or start - context
    if hi > end + 3 * context:
        cut = text.rfind(" ", end, end + context)
        hi = cut if cut > end else end + context
    return lo, hi


def render_source_html(
    text: str, c: Citation, context: int = CONTEXT_CHARS, marks: Sequence[Mark] = (), page: str = ""
) -> str:
    """The cited passage highlighted (<mark>) inside its surrounding text; everything escaped. `marks` (spans of
    the quote, from a fact-check) are shown inside the highlight as on the verdict's card. `page`: HTML of the page
    image (`page_figure`), shown between the heading and the text."""
    head, quote = _source_head(c) + page, marked_html(c.quote, marks)
    if text[c.start : c.end] != c.quote:
        return (
            f'{head}<div class="cq-warn">This document has changed since it was indexed, so the quote can no '
            f"longer be shown in context. Re-index from the Corpus tab. The stored quote:</div>"
            f'<div class="cq-passage"><mark>{quote}</mark></div>'
        )
    lo, hi = context_span(text, c.start, c.end, context)
    before = ("… " if lo > 0 else "") + _context_html(text[lo : c.start])
    after = _context_html(text[c.end : hi]) + (" …" if hi < len(text) else "")
    return f'{head}<div class="cq-passage">{before}<mark>{quote}</mark>{after}</div>'


_HEADING_LINE = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _context_html(text: str) -> str:
    """Surrounding text, escaped; a Markdown heading line (as Markdown files and PDF and Word headings have) shows
    as its title in bold, not with its `#` marks."""
    return _HEADING_LINE.sub(r'<strong class="cq-heading">\1</strong>', html.escape(text))


def marked_html(text: str, marks: Sequence[Mark]) -> str:
    """`text` escaped, each mark wrapped in <mark class="cq-match"> or <mark class="cq-conflict">. A mark outside
    the text, empty, or overlapping an earlier one is left out: the text itself is always shown whole."""
    pieces: list[str] = []
    at = 0
    for m in sorted(marks, key=lambda m: (m.start, m.end)):
        if m.start < at or m.end > len(text) or m.start >= m.end:
            continue
        kind = "conflict" if m.kind == "conflict" else "match"
        pieces += [html.escape(text[at : m.start]),
                   f'<mark class="cq-{kind}" title="{MARK_TITLES[kind]}">{html.escape(text[m.start : m.end])}</mark>']
        at = m.end
    return "".join([*pieces, html.escape(text[at:])])


def render_verdict_card(v: Verdict, number: int, in_note: bool = False) -> str:
    """One claim's card: verdict badge (colour and word) and confidence, the claim with its matching and differing
    words marked, each differing value in words, then the evidence quotes (clickable, see `QUOTE_JS`) with their
    origin. Everything escaped."""
    kind = BADGE_CLASSES.get(v.verdict, "cq-not-found")
    word = VERDICT_WORDS.get(v.verdict, str(v.verdict))
    noted = '<span class="cq-noted">in the briefing note</span>' if in_note else ""
    head = (f'<div class="cq-card-head"><span class="cq-badge {kind}">{html.escape(word)}</span>'
            f'<span class="cq-conf">confidence {v.confidence:.0%}</span>{noted}'
            f'<span class="cq-card-no">claim {number}</span></div>')
    claim = f'<div class="cq-claim">{marked_html(v.claim, v.claim_marks)}</div>'
    differ = "".join(f"<li>{html.escape(mismatch_text(m))}</li>" for m in v.mismatches)
    mismatches = f'<ul class="cq-mismatches">{differ}</ul>' if differ else ""
    return f'<article class="cq-card {kind}">{head}{claim}{mismatches}{_evidence_html(v)}</article>'


def _quote_marks(v: Verdict, index: int) -> Sequence[Mark]:
    """The marks of evidence quote `index` (none for a verdict written without them)."""
    return v.evidence_marks[index] if index < len(v.evidence_marks) else []


def _evidence_html(v: Verdict) -> str:
    if not v.evidence:
        return '<div class="cq-evidence-head">No passage of the documents came close to this claim.</div>'
    quotes = []
    for i, c in enumerate(v.evidence):
        marks = _quote_marks(v, i)
        quotes.append(
            f'<blockquote class="cq-quote" data-evidence="{i}" role="button" tabindex="0" '
            f'title="Read this passage in its context">{marked_html(c.quote, marks)}</blockquote>'
            f'<div class="cq-quote-src">{html.escape(chip_label(c))}</div>'
        )
    heading = html.escape(evidence_heading(v))
    return f'<div class="cq-evidence"><div class="cq-evidence-head">{heading}</div>{"".join(quotes)}</div>'


def check_problem(text: str, limit: int) -> str | None:
    """Why a text cannot be fact-checked as it is, in words for the user; None when it can."""
    if not text.strip():
        return "Please type a claim to check."
    if len(text) > limit:  # each sentence is a claim: unbounded text would pin the server's CPU
        return (f"This text is {len(text):,} characters long; the Fact-check tab takes at most {limit:,} at a time "
                "(CITYQA_MAX_CHECK_CHARS). Please check it in smaller parts.")
    return None


def check_summary(verdicts: Sequence[Verdict]) -> str:
    """One line over a check's verdicts, e.g. '2 claims checked: 1 Supported, 1 Contradicted.'"""
    if not verdicts:
        return "No claim to check was found in this text."
    counts = [(VERDICT_WORDS[label], sum(v.verdict == label for v in verdicts)) for label in VERDICT_WORDS]
    shown = ", ".join(f"{n} {word}" for word, n in counts if n)
    return f"{len(verdicts)} claim{'s' if len(verdicts) != 1 else ''} checked: {shown}."


def note_summary(note: Sequence[ClaimCheck]) -> str:
    """Markdown list of the claims in the Fact-check briefing note."""
    if not note:
        return "No claims in the note yet: press **Add to briefing note** on a card."
    lines = [f"**{len(note)} claim{'s' if len(note) != 1 else ''} in the note**", ""]
    lines += [f"{n}. {VERDICT_WORDS.get(c.verdict.verdict, '?')}: {escape_md(_short(c.verdict.claim, 90))}"
              for n, c in enumerate(note, 1)]
    return "\n".join(lines)


def toggle_note(note: Sequence[ClaimCheck], check: ClaimCheck) -> list[ClaimCheck]:
    """The note with `check` added at the end, or taken out if it was already in."""
    return [c for c in note if c != check] if check in note else [*note, check]


def _source_head(c: Citation) -> str:
    rows = [("Document", c.source), ("Page", c.pages_label), ("Section", c.section)]
    if c.interviewee:
        rows += [("Interviewee", c.interviewee), ("Role", c.role or ""), ("Date", c.date or "")]
    rows += [("Endnote", ", ".join(c.endnotes) or "none"), ("Characters", f"{c.start}–{c.end}")]
    cells = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows if v)
    return f'<div class="cq-source"><div class="cq-label">[{c.n}] {html.escape(c.label)}</div><dl>{cells}</dl></div>'


def page_figure(png: bytes, c: Citation) -> str:
    """The cited PDF page as an inline PNG (a data URI: no file is served), the quote highlighted on it."""
    data = base64.b64encode(png).decode("ascii")
    where = html.escape(f"{c.pages_label.replace('p. ', 'Page ').replace('pp. ', 'Pages ')} of {c.source}")
    return (f'<figure class="cq-page"><figcaption>{where}, the quote highlighted</figcaption>'
            f'<img src="data:image/png;base64,{data}" alt="{where} with the quoted sentence highlighted"></figure>')


def render_error(message: str) -> str:
    return f'<div class="cq-warn">{html.escape(message)}</div>'


def chat_messages(exchanges: Sequence[Exchange]) -> list[dict[str, str]]:
    """The chatbot's messages, rebuilt from the conversation so every turn is rendered the same way."""
    messages: list[dict[str, str]] = []
    for number, e in enumerate(exchanges, 1):
        messages.append({"role": "user", "content": escape_md(e.question)})
        body = (render_answer_markdown(e.answer, number) if e.answer
                else f"**Error:** {escape_md(e.error or 'No answer.')}")
        if e.filters:
            body += f"\n\n<sub>searched {escape_md(describe_search(e.filters, None))}</sub>"
        messages.append({"role": "assistant", "content": body})
    return messages


def corpus_rows(files: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    """One table row per indexed document: name, type, size, chunks, last indexed, short hash."""
    return [
        [source, entry.get("kind", "?"), human_size(int(entry.get("bytes", 0))), len(entry.get("chunks", ())),
         str(entry.get("indexed_at", "")).replace("T", " "), str(entry.get("sha256", ""))[:12]]
        for source, entry in sorted(files.items())
    ]


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} MB"


def cities_in(chunks: Iterable[Chunk], gazetteer: Gazetteer | None = None) -> list[str]:
    """Cities named in the indexed passages (or an interview's city), for the filter list. `gazetteer`: the
    places known, by default the general gazetteer plus the places these passages name."""
    chunks = list(chunks)
    places = gazetteer if gazetteer is not None else gazetteer_for(chunks)
    found: dict[str, str] = {}
    for chunk in chunks:
        city = chunk.metadata.get("city", "")
        names = [text for text, kind in _named_places(chunk.text, places) if kind == "city"] + [city]
        for name in names:
            if not name:
                continue
            key = fold(name)
            if key not in found or (found[key].isascii() and not name.isascii()):  # prefer "Bogotá"
                found[key] = name
    return sorted(found.values(), key=fold)


def _named_places(text: str, places: Gazetteer) -> list[tuple[str, str]]:
    return [(text[start:end], kind) for start, end, kind in places.spans(text)]


def search_filters(kind: str | None, cities: Sequence[str] | None) -> SearchFilters | None:
    filters = SearchFilters(kinds=tuple(KIND_CHOICES.get(kind or "", ())), cities=tuple(cities or ()))
    return filters or None


def parse_auth(spec: str | None) -> list[tuple[str, str]] | None:
    """'user:password,user2:pw2' -> [(user, password), ...]; None when unset."""
    if not spec or not spec.strip():
        return None
    pairs = []
    for item in spec.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ConfigError("CITYQA_AUTH must be 'user:password' pairs separated by commas, e.g. 'ana:s3cret'.")
        pairs.append((user, password))
    return pairs


# ------------------------------------------------------------------ the app

# Gradio re-renders into one session-wide registry of blocks without a lock: two `gr.render`s of one session running
# at once can fail with "dictionary changed size during iteration". Renders are quick, so they take turns.
RENDER_OPTIONS: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "render"}


class _Handlers:
    """Event handlers bound to one assistant; each turns engine errors into messages, never tracebacks."""

    def __init__(self, assistant: Assistant, eval_dir: Path | str = reports.DEFAULT_OUT) -> None:
        self.assistant = assistant
        self.eval_dir = Path(eval_dir)
        self._documents: dict[tuple[str, str], str] = {}
        self._pages: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()  # the latest page images shown
        self._pages_lock = threading.Lock()  # handlers run in several threads

    def ask(
        self, question: str, kind: str, cities: list[str], k: float, exchanges: list[Exchange]
    ) -> tuple[Any, ...]:
        """Answer with the earlier answers as history; returns chat, cleared box, state, selection, panel."""
        exchanges = list(exchanges or [])
        filters, k_int = search_filters(kind, cities), int(k) if k else None
        history = [e.answer for e in exchanges if e.answer is not None]
        asked_at = datetime.now(UTC)
        try:
            answer = self.assistant.ask(question or "", history=history, k=k_int, filters=filters)
            exchange = Exchange(question or "", asked_at, answer=answer, k=k_int, filters=filters)
        except CityqaError as exc:
            exchange = Exchange(question or "", asked_at, error=str(exc), k=k_int, filters=filters)
        except Exception as exc:  # keep the chat alive; the details go to the server log only
            log.exception("question failed")
            exchange = Exchange(question or "", asked_at, error=f"Something went wrong ({type(exc).__name__}).")
        exchanges.append(exchange)
        return chat_messages(exchanges), "", exchanges, len(exchanges) - 1, PANEL_HINT

    def source(self, exchanges: list[Exchange], answer_no: float | None, cite_no: float | None) -> str:
        """Panel HTML for citation `cite_no` (its mark, 1-based) of answer `answer_no` (1-based)."""
        try:
            number = int(answer_no or 0)
            if number < 1:
                raise IndexError(number)
            c = next(c for c in _cited(exchanges[number - 1]) if c.n == int(cite_no or 0))
        except (IndexError, StopIteration, TypeError, ValueError):
            return render_error("There is no such citation in this conversation.")
        return self.source_html(c)

    def source_html(self, c: Citation, marks: Sequence[Mark] = ()) -> str:
        """The source panel for one citation: its heading, the PDF page with the quote highlighted (for a PDF),
        and the quote highlighted in its context."""
        try:
            text = self.document_text(c.source)
        except CityqaError as exc:
            return render_error(str(exc))
        return render_source_html(text, c, marks=marks, page=self.page_html(c))

    def document_text(self, source: str) -> str:
        """The text citation offsets index, for an indexed document only (never an arbitrary path)."""
        path, sha = self.indexed_path(source)
        key = (source, sha)
        if key not in self._documents:
            corpus = Path(self.assistant.settings.corpus_dir).resolve()
            self._documents[key] = read_document(path, corpus).text
        return self._documents[key]

    def indexed_path(self, source: str) -> tuple[Path, str]:
        """The file of indexed document `source`, inside the corpus folder, and its indexed SHA-256."""
        files = self.assistant.manifest["files"]
        if source not in files:
            raise CityqaError(f"{source} is no longer in the index; re-index from the Corpus tab.")
        corpus = Path(self.assistant.settings.corpus_dir).resolve()
        path = (corpus / source).resolve()
        if not path.is_relative_to(corpus):
            raise CityqaError(f"{source} is outside the corpus folder.")
        return path, str(files[source]["sha256"])

    def page_html(self, c: Citation) -> str:
        """The cited PDF page with the quote highlighted, or '' for a citation without a page (or a message
        saying why the page cannot be shown)."""
        if c.page is None or not c.source.lower().endswith(".pdf"):
            return ""
        try:
            return page_figure(self.page_png(c), c)
        except CityqaError as exc:
            return render_error(f"The page cannot be shown: {exc}")
        except Exception as exc:  # the text view still shows; details go to the server log only
            log.exception("page image of %s failed", c.source)
            return render_error(f"The page cannot be shown ({type(exc).__name__}).")

    def page_png(self, c: Citation) -> bytes:
        """PNG of the cited page, rendered from the indexed file (refused if the file changed since indexing)."""
        path, sha = self.indexed_path(c.source)
        try:
            current = file_sha256(path)  # every time: the page shown must be the page indexed
        except OSError as exc:
            raise CityqaError(f"{c.source} cannot be read ({exc.strerror or exc}).") from None
        if current != sha:
            raise CityqaError(f"{c.source} has changed since it was indexed; re-index from the Corpus tab.")
        key = (c.source, sha, c.page, c.page_end, c.quote)
        with self._pages_lock:
            png = self._pages.get(key)
            if png is not None:
                self._pages.move_to_end(key)
                return png
        png = page_image(path, int(c.page or 1), c.quote, c.page_end)  # a second or so, in the sandbox
        with self._pages_lock:
            self._pages[key] = png
            while len(self._pages) > PAGE_CACHE:
                self._pages.popitem(last=False)
        return png

    def export(self, exchanges: list[Exchange]) -> tuple[Any, Any]:
        """The conversation's briefing note: shown, and written to a fresh temporary file to download."""
        return self._note(partial(briefing_markdown, exchanges or []), "briefing")

    def export_checks(self, note: list[ClaimCheck]) -> tuple[Any, Any]:
        """The Fact-check tab's briefing note (the claims added to it), shown and offered as a download."""
        return self._note(partial(claims_markdown, note or []), "factcheck")

    def _note(self, render: Callable[[Any, str, datetime], str], what: str) -> tuple[Any, Any]:
        """`render(files, fingerprint, now)` with the index manifest's document hashes and fingerprint."""
        now = datetime.now(UTC)
        try:
            files, fingerprint = self.assistant.manifest["files"], self.assistant.fingerprint
        except CityqaError as exc:
            return gr.Code(value=f"Error: {exc}", visible=True), gr.DownloadButton(visible=False)
        markdown = render(files, fingerprint, now)
        path = Path(tempfile.mkdtemp(prefix="cityqa-")) / briefing_filename(now, what)
        path.write_text(markdown, encoding="utf-8")
        return gr.Code(value=markdown, visible=True), gr.DownloadButton(value=str(path), visible=True)

    def corpus(self) -> tuple[str, list[list[Any]]]:
        try:
            manifest = self.assistant.manifest
        except CityqaError as exc:
            return f"**Error:** {escape_md(str(exc))}", []
        files = manifest["files"]
        summary = (
            f"**{len(files)} documents**, {sum(len(f.get('chunks', ())) for f in files.values())} passages · "
            f"index generation {manifest.get('generation')} · updated {escape_md(str(manifest.get('updated')))} · "
            f"fingerprint `{escape_md(self.assistant.fingerprint)}`"
        )
        return summary, corpus_rows(files)

    def reindex(self, progress: Callable[..., Any]) -> tuple[str, str, list[list[Any]]]:
        """Incremental ingest; the chat keeps answering from the loaded generation until it finishes."""
        try:
            result = self.assistant.ingest(progress=_ingest_progress(progress))
            message = "Re-indexed: " + escape_md(result.summary().replace("\n", "; "))
        except CityqaError as exc:
            message = f"**Error:** {escape_md(str(exc))}"
        return (message, *self.corpus())

    def documents(self) -> Any:
        """The remove list: every indexed document (none when there is no index)."""
        try:
            sources = sorted(self.assistant.manifest["files"])
        except CityqaError:
            sources = []
        return gr.Dropdown(choices=sources, value=None)

    def upload(self, file: str | None, replace: bool, progress: Callable[..., Any]) -> tuple[Any, ...]:
        """Check, save and index one uploaded file (see `cityqa.uploads`): status, summary, table, the remove list
        and the file box (emptied once the file is in)."""
        if not file:
            return (NO_FILE, *self.corpus(), self.documents(), gr.File())
        path = Path(file)
        corpus_dir = Path(self.assistant.settings.corpus_dir)
        try:
            outcome = add_and_index(self.assistant, path, path.name, bool(replace), _ingest_progress(progress))
        except UploadError as exc:
            return (_refused("Not added", exc), *self.corpus(), self.documents(), gr.File())
        except Exception as exc:  # the save was undone; details go to the server log only
            log.exception("upload of %s failed", path.name)
            return (_failed("Not added", exc), *self.corpus(), self.documents(), gr.File())
        _discard_upload(path)  # the corpus holds it now; a refused file stays, so it can be added again
        return (_done(upload_message(outcome, corpus_dir)), *self.corpus(), self.documents(), gr.File(value=None))

    @staticmethod
    def confirm_removal(source: str | None) -> tuple[Any, str, str]:
        """The first step of a removal: the question asking to confirm it (shown with its two buttons), or why
        there is nothing to remove. Nothing changes until "Yes, remove it"."""
        if not source:
            return gr.Row(visible=False), "", NO_DOCUMENT
        question = (f"**Remove {escape_md(source)}?** Its passages leave the index; the file moves to the corpus "
                    "folder's `.removed` folder, from where it can be moved back.")
        return gr.Row(visible=True), question, ""

    def remove(self, source: str | None, progress: Callable[..., Any]) -> tuple[Any, ...]:
        """Move an indexed document to the corpus folder's .removed/ and drop its passages from the index."""
        if not source:
            return (NO_DOCUMENT, *self.corpus(), self.documents())
        corpus_dir = Path(self.assistant.settings.corpus_dir)
        try:
            outcome = remove_and_index(self.assistant, str(source), _ingest_progress(progress))
        except UploadError as exc:
            return (_refused("Not removed", exc), *self.corpus(), self.documents())
        except Exception as exc:  # the move was undone; details go to the server log only
            log.exception("removal of %s failed", source)
            return (_failed("Not removed", exc), *self.corpus(), self.documents())
        return (_done(removal_message(outcome, corpus_dir)), *self.corpus(), self.documents())

    def check(self, text: str) -> tuple[list[ClaimCheck], str, str]:
        """Fact-check `text`: the checked claims (one card each), a status line (or why nothing was checked), and
        the evidence panel reset."""
        text = str(text or "")
        problem = check_problem(text, self.assistant.settings.max_check_chars)
        if problem:
            return [], render_error(problem), CHECK_PANEL_HINT
        checked_at = datetime.now(UTC)
        try:
            verdicts = list(self.assistant.check(text))
        except CityqaError as exc:
            return [], render_error(str(exc)), CHECK_PANEL_HINT
        except Exception as exc:  # keep the app up whatever the checker does; details go to the server log
            log.exception("fact-check failed")
            return [], render_error(f"Something went wrong ({type(exc).__name__})."), CHECK_PANEL_HINT
        checks = [ClaimCheck(v, checked_at, n) for n, v in enumerate(verdicts, 1)]
        return checks, f'<div class="cq-status">{html.escape(check_summary(verdicts))}</div>', CHECK_PANEL_HINT

    def check_source(self, checks: list[ClaimCheck], claim_no: float | None, evidence_no: float | None) -> str:
        """Panel HTML for evidence quote `evidence_no` of claim `claim_no` of the latest check (both 1-based)."""
        try:
            number = int(claim_no or 0)
            if number < 1:
                raise IndexError(number)
            return self.evidence_html(checks[number - 1], int(evidence_no or 0) - 1)
        except (IndexError, TypeError, ValueError):
            return render_error("There is no such evidence in this check.")

    def evidence_html(self, check: ClaimCheck, index: int) -> str:
        """Evidence quote `index` (0-based) of a checked claim, highlighted in its context with the card's marks."""
        v = check.verdict
        if not 0 <= index < len(v.evidence):
            return render_error("There is no such evidence in this check.")
        c = v.evidence[index]
        marks = _quote_marks(v, index)
        what = "closest passage looked at" if v.verdict == "not_found" else "evidence"
        caption = (f'<div class="cq-caption">Claim {check.number} ({html.escape(VERDICT_WORDS.get(v.verdict, "?"))}):'
                   f" {html.escape(what)} [{index + 1}] in its context</div>")
        return caption + self.source_html(c, marks)

    def evaluation(self) -> tuple[str, Any, str, Any]:
        """The latest question and claims reports in `eval_dir`, re-read on each call: Markdown and chart each."""
        questions, questions_chart = self.report_view("questions")
        claims, claims_chart = self.report_view("claims")
        return questions, questions_chart, claims, claims_chart

    def report_view(self, kind: str) -> tuple[str, Any]:
        """One report's Markdown and its chart (hidden when there is no valid report or no chart)."""
        hidden = gr.Image(value=None, visible=False)
        try:
            report, problem = read_report(self.eval_dir, kind)
            if report is None:
                return problem, hidden
            text = render_eval_report(report, kind, report_notes(report, self.assistant))
        except Exception as exc:  # valid JSON of the wrong shape (or absurdly nested): a message, not a traceback
            log.warning("evaluation report in %s not shown: %r", self.eval_dir, exc)
            return not_a_report(self.eval_dir, kind, _shape_problem(exc)), hidden
        chart = load_chart(self.eval_dir, kind)
        return text, gr.Image(value=chart, visible=chart is not None)


NO_FILE = "**No file yet.** Drag a file onto the box (or click it to browse), then press **Add and index**."
NO_DOCUMENT = "**No document chosen.** Pick the document to remove from the list first."


def _done(message: str) -> str:
    return f'<div class="cq-ok">{html.escape(message)}</div>'


def _refused(what: str, exc: UploadError) -> str:
    return f'<div class="cq-warn"><b>{what}.</b> {html.escape(str(exc))}. Nothing was changed.</div>'


def _failed(what: str, exc: Exception) -> str:
    return (f'<div class="cq-warn"><b>{what}.</b> Something went wrong ({html.escape(type(exc).__name__)}); the '
            "corpus folder was left as it was. The server log has the details.</div>")


def _discard_upload(path: Path) -> None:
    """Delete Gradio's temporary copy of an upload (only ever a file inside Gradio's upload folder)."""
    folder = Path(gr.utils.get_upload_folder()).resolve()
    try:
        if path.resolve().is_relative_to(folder):
            path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not delete the temporary upload %s", path)


def _ingest_progress(progress: Callable[..., Any]) -> Callable[[int, int, str], None]:
    """Ingest's (done, total, what) reports as a Gradio progress bar."""
    def report(done: int, total: int, what: str) -> None:
        progress((done, total), desc=what)

    return report


def _cited(entry: Exchange) -> list[Citation]:
    """The passages an answer's chips point at: its citations, or the closest passages when it abstained."""
    if entry.answer is None:
        return []
    return list(entry.answer.citations or entry.answer.related)


def build_app(assistant: Assistant, eval_dir: Path | str = reports.DEFAULT_OUT) -> gr.Blocks:
    """The chat app (a `gr.Blocks`, queue configured), for `serve` or for tests to launch; the Evaluation tab
    shows the reports `cityqa eval --out <eval_dir>` wrote."""
    h = _Handlers(assistant, eval_dir)
    # delete_cache: uploads and notes left in Gradio's temporary folder go after a day (and when the server stops)
    with gr.Blocks(title="cityqa", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        gr.Markdown(
            f"## {TITLE}\nAnswers are **quoted word for word** from the indexed documents, each with its source. "
            "When the documents do not say, you get *Not found* and the closest passages: never a guess."
        )
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                _ask_tab(h, app)
            _check_tab(h)
            with gr.Tab("Corpus", id="corpus"):
                _corpus_tab(h, app)
            with gr.Tab("Evaluation", id="evaluation") as evaluation:
                _evaluation_tab(h, evaluation)
    return app.queue(max_size=64, default_concurrency_limit=4)


def _ask_tab(h: _Handlers, app: gr.Blocks) -> None:
    exchanges = gr.State([])
    selected = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            chatbot = gr.Chatbot(
                label="Conversation", height=460, latex_delimiters=[], feedback_options=None,
                group_consecutive_messages=False, sanitize_html=True, buttons=["copy"], elem_id="cq-chat",
                placeholder="Ask about California cities' international affairs: offices, sister cities, trade "
                "missions, interviews.",
            )
            with gr.Row():
                question = gr.Textbox(
                    placeholder="Type a question and press Enter", show_label=False, scale=5, max_lines=4,
                    max_length=2000, elem_id="cq-question", autofocus=True,
                )
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="cq-ask")
            with gr.Accordion("Filters", open=False), gr.Row():
                kind = gr.Radio(list(KIND_CHOICES), value="All documents", label="Documents", scale=2)
                cities = gr.Dropdown(
                    [], multiselect=True, allow_custom_value=True, scale=2,
                    label="Only passages naming these cities",
                )
                # filled on page load, not at build time: Gradio embeds the API schema (with any choices) in the
                # login page it serves to anonymous visitors, and the city list comes from the indexed documents
                app.load(lambda: gr.Dropdown(choices=_city_choices(h.assistant)), None, [cities],
                         api_visibility="private")
                k = gr.Slider(1, 20, value=h.assistant.settings.top_k, step=1, label="Passages searched", scale=1)
            with gr.Row():
                clear = gr.Button("New conversation", size="sm")
                export = gr.Button("Briefing note (Markdown)", size="sm", elem_id="cq-export")
                download = gr.DownloadButton("Download .md", visible=False, size="sm")
            note = gr.Code(label="Briefing note: copy or download", language="markdown", visible=False, lines=6,
                           max_lines=16, interactive=False, elem_id="cq-note", buttons=["copy"])
        with gr.Column(scale=2, min_width=340):
            gr.Markdown("### Sources")
            panel = gr.HTML(PANEL_HINT, elem_id="cq-panel", render=False)  # placed below the chips
            _chips(h, app, exchanges, selected, panel)
            panel.render()
    ask_inputs = [question, kind, cities, k, exchanges]
    ask_outputs = [chatbot, question, exchanges, selected, panel]
    ask.click(h.ask, ask_inputs, ask_outputs, api_name="ask", concurrency_id="ask")
    question.submit(h.ask, ask_inputs, ask_outputs, api_visibility="private", concurrency_id="ask")
    chatbot.select(_select_answer, [exchanges], [selected, panel], api_visibility="private")
    clear.click(_clear, None, [chatbot, exchanges, selected, panel, note, download], api_name="clear")
    export.click(h.export, [exchanges], [note, download], api_name="export")
    answer_no, cite_no = gr.Number(visible=False, precision=0), gr.Number(visible=False, precision=0)
    gr.Button(visible=False).click(h.source, [exchanges, answer_no, cite_no], [panel], api_name="source")
    _inline_chips(h, exchanges, selected, panel)


CHIP_JS = r"""
window.cqOpenChip = (chip) => {
  const number = (pattern) => Number((chip.className.match(pattern) || [])[1]);
  trigger('click', {answer: number(/cq-answer-(\d+)/), cite: number(/cq-cite-(\d+)/)});
};
if (!window.cqChipsWired) {
  window.cqChipsWired = true;
  const chipOf = (e) => (
    e.target instanceof Element ? e.target.closest('#cq-chat .cq-inline-chip[role=button]') : null);
  const open = (e, chip) => { e.preventDefault(); e.stopPropagation(); window.cqOpenChip(chip); };
  document.addEventListener('click', (e) => { const chip = chipOf(e); if (chip) open(e, chip); }, true);
  document.addEventListener('keydown', (e) => {
    const chip = chipOf(e);
    if (chip && (e.key === 'Enter' || e.key === ' ')) open(e, chip);
  }, true);
}
"""  # a click on a chip under an answer (captured before the chat's own select) opens it in the source panel


def _inline_chips(h: _Handlers, exchanges: Any, selected: Any, panel: Any) -> None:
    """The chips under each answer in the chat: a click (see `CHIP_JS`) selects that answer and shows the passage in
    the source panel, as its chip in the side column does."""
    bridge = gr.HTML("", js_on_load=CHIP_JS, elem_id="cq-chip-bridge", padding=False)

    def open_chip(entries: list[Exchange], evt: gr.EventData) -> tuple[Any, str]:  # Gradio reads the hint
        answer_no = _position(getattr(evt, "answer", None))
        shown = h.source(entries, answer_no, _position(getattr(evt, "cite", None)))
        chosen = answer_no - 1 if 1 <= answer_no <= len(entries or []) else gr.skip()
        return chosen, shown

    bridge.click(open_chip, [exchanges], [selected, panel], api_visibility="private")


def _chips(h: _Handlers, app: gr.Blocks, exchanges: Any, selected: Any, panel: Any) -> None:
    """A button per citation of the selected answer (the latest by default); clicking shows it in context.

    Rendered on page load and when the selection changes, which every question and "New conversation" do: a render
    on `exchanges.change` as well would run twice per question, and the second drops the buttons' handlers of the
    first, so a chip clicked in between fails."""

    @gr.render(inputs=[exchanges, selected], triggers=[app.load, selected.change], **RENDER_OPTIONS)
    def chips(entries: list[Exchange], chosen: int | None) -> None:
        if not entries or chosen is None or chosen >= len(entries):
            gr.Markdown("Sources of the answer appear here.", elem_classes="cq-hint")
            return
        cites = _cited(entries[chosen])
        answer = entries[chosen].answer
        abstained = bool(answer and answer.abstained)
        label = "Closest passages (not an answer)" if abstained else "Cited passages"
        heading = f"**Answer {chosen + 1}: {label}**" if cites else f"Answer {chosen + 1} cites no passage."
        gr.Markdown(heading, elem_classes="cq-chips-head")
        with gr.Column(elem_classes="cq-chips"):
            for c in cites:
                button = gr.Button(chip_label(c), size="sm", elem_classes="cq-chip")
                button.click(partial(h.source_html, c), None, [panel], api_visibility="private")


def _clear() -> tuple[Any, ...]:
    return [], [], None, PANEL_HINT, gr.Code(value="", visible=False), gr.DownloadButton(visible=False)


def _select_answer(exchanges: list[Exchange], evt: gr.SelectData) -> tuple[int | None, str]:
    """Clicking a message in the chat selects its answer, whose sources then show as chips."""
    index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    if not exchanges or index is None:
        return None, PANEL_HINT
    return min(int(index) // 2, len(exchanges) - 1), PANEL_HINT


def _city_choices(assistant: Assistant) -> list[str]:
    try:
        engine = assistant.engine
        return cities_in(engine.nodes.chunks, getattr(engine, "places", None))
    except CityqaError:  # no index yet: the user can still type a city
        return []


def _check_tab(h: _Handlers) -> None:
    """HOOK (fact-check): shown only once `Assistant.check` exists. A claim box; one card per claim with its
    evidence, each quote opening in context in the panel on the right; a briefing note of the cards added to it."""
    if not hasattr(h.assistant, "check"):
        return
    limit = h.assistant.settings.max_check_chars
    with gr.Tab("Fact-check", id="check"):
        checks, note = gr.State([]), gr.State([])  # inside the tab: a State directly in gr.Tabs mislabels a tab
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                claims = gr.Textbox(label="Claims to check", lines=4, elem_id="cq-claims",
                                    placeholder="Paste a sentence or paragraph: every sentence is checked as a claim",
                                    info=f"At most {limit:,} characters at a time.")
                run = gr.Button("Check", variant="primary", elem_id="cq-check")
                status = gr.HTML(elem_id="cq-check-status")
                gr.HTML(CHECK_LEGEND)
                panel = gr.HTML(CHECK_PANEL_HINT, elem_id="cq-check-panel", render=False)  # placed on the right
                _cards(h, checks, note, panel)
            with gr.Column(scale=2, min_width=340, elem_id="cq-check-side"):
                gr.Markdown("### Evidence in context")
                panel.render()
                _note_box(h, note)
        claim_no, evidence_no = gr.Number(visible=False, precision=0), gr.Number(visible=False, precision=0)
        open_api, add_api = gr.Button(visible=False), gr.Button(visible=False)
    run.click(h.check, [claims], [checks, status, panel], api_name="check", concurrency_id="check")
    open_api.click(h.check_source, [checks, claim_no, evidence_no], [panel], api_name="check_source")
    add_api.click(_add_numbered, [checks, note, claim_no], [note], api_name="add_to_note")


def _note_box(h: _Handlers, note: Any) -> None:
    """The Fact-check briefing note: what it holds, export (shown and downloadable) and clear."""
    gr.Markdown("### Briefing note")
    listing = gr.Markdown(note_summary([]), elem_id="cq-check-note-list")
    with gr.Row():
        export = gr.Button("Briefing note (Markdown)", size="sm", elem_id="cq-check-export")
        download = gr.DownloadButton("Download .md", visible=False, size="sm", elem_id="cq-check-download")
        clear = gr.Button("Clear note", size="sm")
    shown = gr.Code(label="Fact-check note: copy or download", language="markdown", visible=False, lines=6,
                    max_lines=16, interactive=False, elem_id="cq-check-note", buttons=["copy"])
    # once the note changes, an earlier export no longer matches it: hide it
    note.change(lambda n: (note_summary(n), gr.Code(visible=False), gr.DownloadButton(visible=False)),
                [note], [listing, shown, download], api_visibility="private")
    export.click(h.export_checks, [note], [shown, download], api_name="check_export")
    clear.click(lambda: [], None, [note], api_visibility="private")


def _cards(h: _Handlers, checks: Any, note: Any, panel: Any) -> None:
    """One card per claim of the latest check, each with its 'Add to briefing note' button."""

    @gr.render(inputs=[checks, note], triggers=[checks.change, note.change], **RENDER_OPTIONS)  # none on load
    def cards(current: list[ClaimCheck], noted: list[ClaimCheck]) -> None:
        for check in current or []:
            _card(h, check, check in (noted or []), note, panel)


QUOTE_JS = """
element.querySelectorAll('[data-evidence]').forEach((quote) => {
  const open = () => trigger('click', {evidence: Number(quote.dataset.evidence)});
  quote.addEventListener('click', open);
  quote.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } });
});
"""  # a click on a quote (not elsewhere on the card) asks the server for that quote in its context


def _card(h: _Handlers, check: ClaimCheck, in_note: bool, note: Any, panel: Any) -> None:
    with gr.Column(elem_classes="cq-card-box"):
        card = gr.HTML(render_verdict_card(check.verdict, check.number, in_note), js_on_load=QUOTE_JS)

        def open_quote(evt: gr.EventData) -> str:  # a closure, not a partial: Gradio reads the EventData hint
            return h.evidence_html(check, _position(getattr(evt, "evidence", None)))

        card.click(open_quote, None, [panel], api_visibility="private")
        label = "Remove from briefing note" if in_note else "Add to briefing note"
        button = gr.Button(label, size="sm", elem_classes="cq-note-toggle")
        button.click(partial(toggle_note, check=check), [note], [note], api_visibility="private")


def _position(value: Any) -> int:
    """The quote number a click sent (0-based), or -1 when it is not one (the browser is not trusted)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return -1


def _add_numbered(checks: list[ClaimCheck], note: list[ClaimCheck], claim_no: float | None) -> list[ClaimCheck]:
    """API: add claim `claim_no` (1-based) of the latest check to the note; anything else leaves it as it was."""
    number = int(claim_no or 0)
    if not 1 <= number <= len(checks or []) or checks[number - 1] in (note or []):
        return list(note or [])
    return [*(note or []), checks[number - 1]]


def _corpus_tab(h: _Handlers, app: gr.Blocks) -> None:
    """The indexed documents, re-indexing, and adding (upload) or removing a document. Every change to the corpus
    folder and the index takes turns (one concurrency group); questions keep being answered meanwhile."""
    summary = gr.Markdown(elem_id="cq-corpus-summary")
    with gr.Row(equal_height=False):
        upload, replace, add = _upload_box(h)
        remove_doc, remove, (confirm, question, yes, no) = _remove_box()
    status = gr.Markdown(elem_id="cq-corpus-status")
    table = gr.Dataframe(
        headers=["Document", "Type", "Size", "Chunks", "Last indexed (UTC)", "SHA-256"], interactive=False,
        wrap=True, elem_id="cq-corpus",
    )
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm")
        reindex = gr.Button("Re-index changed files", variant="primary", size="sm")

    def run_reindex(progress: Any = gr.Progress()) -> tuple[str, str, list[list[Any]]]:  # noqa: B008
        return h.reindex(progress)

    def run_upload(file: str | None, replace: bool, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return h.upload(file, replace, progress)

    def run_remove(source: str | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return h.remove(source, progress)

    writes: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "reindex"}
    app.load(h.corpus, None, [summary, table], api_name="load_corpus", api_visibility="private")
    app.load(h.documents, None, [remove_doc], api_visibility="private")
    refresh.click(h.corpus, None, [summary, table], api_name="corpus").then(
        h.documents, None, [remove_doc], api_visibility="private")
    reindex.click(run_reindex, None, [status, summary, table], api_name="reindex", **writes)
    add.click(run_upload, [upload, replace], [status, summary, table, remove_doc, upload], api_name="upload",
              **writes)
    hide_confirm: dict[str, Any] = {"fn": lambda: gr.Row(visible=False), "inputs": None, "outputs": [confirm],
                                    "api_visibility": "private"}
    remove.click(h.confirm_removal, [remove_doc], [confirm, question, status], api_visibility="private")
    remove_doc.change(**hide_confirm)  # a question about one document never confirms the removal of another
    yes.click(**hide_confirm).then(run_remove, [remove_doc], [status, summary, table, remove_doc],
                                   api_name="remove", **writes)
    no.click(lambda: (gr.Row(visible=False), "Nothing was removed."), None, [confirm, status],
             api_visibility="private")


def _upload_box(h: _Handlers) -> tuple[Any, Any, Any]:
    limit = upload_limit(h.assistant.settings)
    with gr.Column(scale=3, min_width=360, elem_id="cq-upload-box"):
        gr.Markdown("### Add a document")
        upload = gr.File(
            label="Drop a PDF, Word (.docx), Markdown, text or HTML file here", file_count="single",
            file_types=list(FORMATS), type="filepath", height=120, elem_id="cq-upload",
        )
        replace = gr.Checkbox(label="Replace a document with the same name", value=False, elem_id="cq-replace")
        add = gr.Button("Add and index", variant="primary", size="sm", elem_id="cq-add")
        gr.Markdown(
            f"Up to {size_text(limit)} (CITYQA_MAX_UPLOAD_BYTES). The file is checked (type by its content, size, "
            "the parser) before it is saved in the corpus folder, then indexed; questions keep being answered "
            "meanwhile.",
            elem_classes="cq-hint",
        )
    return upload, replace, add


def _remove_box() -> tuple[Any, Any, tuple[Any, Any, Any, Any]]:
    """The remove list and button, and the confirmation (a question, "Yes, remove it", "Cancel") it shows first."""
    with gr.Column(scale=2, min_width=300, elem_id="cq-remove-box"):
        gr.Markdown("### Remove a document")
        # choices are filled on page load: the login page must not list the documents (see `_ask_tab`)
        remove_doc = gr.Dropdown([], label="Indexed document", elem_id="cq-remove-doc")
        remove = gr.Button("Remove and re-index", variant="stop", size="sm", elem_id="cq-remove")
        with gr.Row(visible=False, elem_id="cq-remove-confirm") as confirm:
            question = gr.Markdown(elem_id="cq-remove-question")
            yes = gr.Button("Yes, remove it", variant="stop", size="sm", elem_id="cq-remove-yes")
            no = gr.Button("Cancel", size="sm", elem_id="cq-remove-no")
        gr.Markdown(
            "Its passages leave the index. The file is not deleted: it moves to the hidden `.removed` folder inside "
            "the corpus folder, from where it can be moved back.", elem_classes="cq-hint",
        )
    return remove_doc, remove, (confirm, question, yes, no)


def _evaluation_tab(h: _Handlers, tab: gr.Tab) -> None:
    """The latest `cityqa eval` reports (questions, then claims), each with its chart; re-read whenever the tab is
    opened or Refresh is pressed (not on page load: most visitors only chat)."""
    with gr.Row():
        gr.Markdown(f"The latest reports `cityqa eval` wrote to {_md(h.eval_dir)}.", elem_classes="cq-hint")
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=110, elem_id="cq-eval-refresh")
    questions = gr.Markdown(label="Question report", elem_id="cq-eval")
    chart = gr.Image(label="Metrics by system and by tag", type="pil", format="png", interactive=False,
                     visible=False, buttons=["download", "fullscreen"], elem_id="cq-eval-chart")
    claims = gr.Markdown(label="Fact-check report", elem_id="cq-eval-claims")
    claims_chart = gr.Image(label="Fact-check verdicts", type="pil", format="png", interactive=False,
                            visible=False, buttons=["download", "fullscreen"], elem_id="cq-eval-claims-chart")
    outputs = [questions, chart, claims, claims_chart]
    tab.select(h.evaluation, None, outputs, api_name="open_evaluation", api_visibility="private",
               concurrency_id="evaluation")
    refresh.click(h.evaluation, None, outputs, api_name="evaluation", concurrency_id="evaluation")


# ------------------------------------------------------------------ evaluation reports


def read_report(eval_dir: Path, kind: str) -> tuple[dict[str, Any] | None, str]:
    """The latest report of `kind` in `eval_dir`, or None and a message saying why there is none."""
    path = eval_dir / reports.FILES[kind][0]
    command = _eval_command(eval_dir, kind)
    what = "fact-check" if kind == "claims" else "evaluation"
    if not path.exists():
        return None, f"**No {what} report yet** in {_md(eval_dir)}. Run {command}, then press Refresh."
    report = reports.latest_report(eval_dir, kind)
    if report is None:
        return None, (f"**The {what} report {_md(path)} could not be read** (it is not a readable JSON file). "
                      f"Run {command} to write it again, then press Refresh.")
    if not isinstance(report, dict) or report.get("kind") != kind:
        kind_found = report.get("kind") if isinstance(report, dict) else type(report).__name__
        return None, not_a_report(eval_dir, kind, f"kind {kind_found!r}")
    return report, ""


def not_a_report(eval_dir: Path, kind: str, detail: str) -> str:
    return (f"**{_md(eval_dir / reports.FILES[kind][0])} is not a cityqa {kind} report** ({_md(detail)}). "
            f"Run {_eval_command(eval_dir, kind)} to write it again, then press Refresh.")


def _shape_problem(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no field {exc}"
    return f"{type(exc).__name__}: {str(exc)[:120]}" if str(exc) else type(exc).__name__


def _eval_command(eval_dir: Path, kind: str) -> str:
    claims = " --claims" if kind == "claims" else ""
    return f"`cityqa eval{claims} --out {shlex.quote(str(eval_dir)).replace('`', '')}`"


def load_chart(eval_dir: Path, kind: str) -> Image.Image | None:
    """The report's chart, read into memory (so Gradio serves a copy from its cache: no extra file access)."""
    path = reports.chart_path(eval_dir, kind)
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, Image.DecompressionBombError):
        log.warning("unreadable evaluation chart %s", path)
        return None


def _md(value: Any) -> str:
    """A value from a report file as one line of inert Markdown."""
    return escape_md(" ".join(str(value).split()))


def _cell(value: Any, metric: str = "") -> str:
    """A metric value formatted as `cityqa eval` prints it; anything but a number is shown escaped."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return reports.fmt(value, metric)
    return _md(value)


def report_notes(report: Mapping[str, Any], assistant: Assistant) -> list[str]:
    """Why the report may not describe the index the app serves now (other index or model, re-indexed since)."""
    notes = []
    if report.get("embed_model") and report["embed_model"] != assistant.settings.embed_model:
        notes.append(f"it was made with the model {_md(report['embed_model'])}, and the app now uses "
                     f"{_md(assistant.settings.embed_model)}")
    if report.get("fingerprint") and report["fingerprint"] != assistant.fingerprint:
        notes.append("its index fingerprint differs from the index the app serves")
    try:
        updated = str(assistant.manifest.get("updated") or "")
    except CityqaError:
        updated = ""
    if updated and str(report.get("created") or "") < updated:
        notes.append(f"the index was updated ({_md(updated.replace('T', ' '))}) after it was made")
    return notes


def render_eval_report(report: Mapping[str, Any], kind: str, notes: Sequence[str] = ()) -> str:
    """The Evaluation tab's Markdown for one report; every value read from the file is escaped."""
    parts = (_questions_parts if kind == "questions" else _claims_parts)(report)
    parts.insert(1, _run_info(report))
    if notes:
        parts.insert(2, "> **Note:** this report may be out of date: " + "; ".join(notes) + ".")
    return "\n\n".join(parts)


def _run_info(report: Mapping[str, Any]) -> str:
    fields = [("Ran", str(report.get("created", "")).replace("T", " ")), ("gold", report.get("gold")),
              ("index", report.get("index")), ("index fingerprint", report.get("fingerprint")),
              ("corpus", report.get("corpus")), ("model", report.get("embed_model"))]
    return " · ".join(f"{name} {_md(value)}" for name, value in fields if value)


def _questions_parts(report: Mapping[str, Any]) -> list[str]:
    systems: Mapping[str, Any] = report["systems"]
    name, first = next(iter(systems.items()))
    failed = first["failures"]
    parts = [f"### Questions: {_cell(report['n_questions'])} gold questions, {len(systems)} system(s)",
             "#### Systems side by side", reports.side_by_side(report, _cell, _md), f"#### {_md(name)} by tag",
             reports.tag_table(first["by_tag"], _cell, _md), f"#### {_md(name)}: failed questions ({len(failed)})",
             failures_list(failed)]
    if report.get("missing_evidence"):
        parts += ["#### Gold evidence not found in the corpus", "\n".join(f"- {_md(m)}" for m in
                                                                        report["missing_evidence"])]
    return parts


def failures_list(failed: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"- **{_md(f['id'])}**: {_md('; '.join(map(str, f.get('reasons', []))))}"
             + (f" · answer: “{_md(_short(str(f['answer']), 140))}”" if f.get("answer") else "") for f in failed]
    return "\n".join(lines) or "None."


def _claims_parts(report: Mapping[str, Any]) -> list[str]:
    overall, failed = report["overall"], report["failures"]
    wrong = [f"- **{_md(r['id'])}**: gold {_md(r['label'])}, predicted {_md(r['predicted'])}" for r in failed]
    return [f"### Fact-check: {_cell(report['n_claims'])} gold claims", reports.claims_table(overall, _cell, _md),
            "#### Confusion matrix (rows: gold, columns: predicted)",
            reports.confusion_table(overall["confusion"], _cell, _md),
            "#### By tag", reports.claims_tag_table(report["by_tag"], _cell, _md),
            f"#### Wrong verdicts ({len(failed)})", "\n".join(wrong) or "None."]


# ------------------------------------------------------------------ launching


def blocked_paths(settings: Settings, roots: Iterable[Path] = ()) -> list[str]:
    """Paths the server must never hand out: the index, and dotfiles/dot-folders of the repo and cwd."""
    repo = Path(__file__).resolve().parents[2]
    paths = {Path(settings.index_dir).resolve()}
    for root in {repo, Path.cwd().resolve(), *roots}:
        paths |= {p.resolve() for p in root.glob(".*")} | {root / ".env", root / ".git"}
    return sorted(str(p) for p in paths)


def launch_options(settings: Settings) -> dict[str, Any]:
    """Hardened `launch()` keyword arguments, except host and port (see `serve`)."""
    return {
        "auth": parse_auth(settings.auth),
        "auth_message": "cityqa: sign in with the account your administrator gave you.",
        "max_file_size": upload_limit(settings),  # the server refuses larger uploads before storing them
        "blocked_paths": blocked_paths(settings),
        "footer_links": ["gradio"],  # no API-docs or settings links
        "show_error": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "pwa": False,
        "run_history": False,
        "quiet": True,
        "css": CSS,
        "theme": "default",
    }


def serve(settings: Settings | None = None) -> None:
    """Launch the chat on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = settings or Settings()
    options = launch_options(settings)  # validates CITYQA_AUTH before anything starts
    assistant = Assistant.open(settings=settings)
    _warm_up(assistant)
    app = build_app(assistant, settings.eval_dir)
    host = os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    print(f"cityqa chat on http://{host}:{port}" + (" (login required)" if options["auth"] else ""), flush=True)
    app.launch(server_name=host, server_port=port, **options)


def _warm_up(assistant: Assistant) -> None:
    """Load the index and the embedding model now, so the first person to ask does not wait for them; the
    fact-checker's word tables (about a second) load in the background, after the server is up."""
    try:
        assistant.ask("Which cities have an office of international affairs?")
        threading.Thread(target=assistant.check, args=("The city has an office.",), daemon=True).start()
    except CityqaError as exc:  # e.g. no index yet: the chat and the Corpus tab will say what to do
        print(f"cityqa: {exc}", flush=True)


CSS = """
.gradio-container { max-width: 1360px !important; margin: auto; }
.cq-chips { gap: 6px; }
.cq-chips-head { padding-left: 4px; }
.cq-chip { justify-content: flex-start !important; text-align: left !important; white-space: normal !important;
  border-radius: 16px !important; font-size: 0.85rem !important; background: #eef4ff !important;
  border: 1px solid #b9cdf5 !important; color: #1d3b72 !important; }
.cq-chip:hover { background: #dbe7ff !important; }
.cq-hint { color: var(--body-text-color-subdued); font-style: italic; padding: 8px 0; }
.cq-source .cq-label { font-weight: 600; margin-bottom: 4px; }
.cq-source dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0 0 8px 0;
  font-size: 0.85rem; }
.cq-source dt { color: var(--body-text-color-subdued); }
.cq-source dd { margin: 0; }
.cq-passage { white-space: pre-wrap; line-height: 1.55; max-height: 440px; overflow-y: auto; padding: 10px 12px;
  border: 1px solid var(--border-color-primary); border-radius: 8px; background: var(--background-fill-secondary); }
.cq-passage mark { background: #ffe58a; color: #1a1a1a; padding: 1px 0; border-radius: 2px; }
#cq-eval table, #cq-eval-claims table { display: block; overflow-x: auto; border: none; font-size: 0.85rem; }
#cq-eval th, #cq-eval td, #cq-eval-claims th, #cq-eval-claims td { white-space: nowrap; padding: 4px 10px; }
.cq-warn { color: #8a4b00; background: #fff4e0; border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
.cq-ok { color: #1b5e20; background: #e8f5e9; border-radius: 6px; padding: 8px 10px; margin: 6px 0; }
mark.cq-match { background: #d9f2e1; color: inherit; border-bottom: 2px solid #2e8b57; padding: 0 1px; }
mark.cq-conflict { background: #ffd6d6; color: #8b0000; font-weight: 600; border-bottom: 3px solid #d32f2f;
  padding: 0 2px; }
.cq-legend { font-size: 0.85rem; color: #555; padding: 4px 0; }
#cq-check-side { position: sticky; top: 8px; align-self: flex-start; }
.cq-card-box { margin-top: 10px; gap: 0 !important; border: 1px solid var(--border-color-primary); border-radius: 8px;
  overflow: hidden; background: var(--background-fill-primary); }
.cq-card { padding: 10px 12px; border-left: 6px solid #9e9e9e; line-height: 1.5; color: var(--body-text-color); }
.cq-note-toggle { border-radius: 0 !important; }
.cq-card.cq-supported { border-left-color: #2e7d32; }
.cq-card.cq-contradicted { border-left-color: #c62828; }
.cq-card-head { display: flex; gap: 10px; align-items: center; margin-bottom: 6px; font-size: 0.85rem; }
.cq-badge { font-weight: 700; padding: 2px 10px; border-radius: 12px; color: #fff; background: #616161; }
.cq-badge.cq-supported { background: #2e7d32; }
.cq-badge.cq-contradicted { background: #c62828; }
.cq-conf, .cq-card-no { color: #555; }
.cq-card-no { margin-left: auto; }
.cq-noted { color: #1d3b72; background: #eef4ff; border-radius: 10px; padding: 1px 8px; }
.cq-claim { font-size: 1.05rem; margin-bottom: 6px; }
.cq-mismatches { margin: 4px 0 8px 18px; color: #8b0000; font-size: 0.9rem; }
.cq-evidence-head { font-size: 0.85rem; font-weight: 600; color: #444; }
.cq-quote { white-space: pre-wrap; margin: 4px 0 2px 0; padding: 6px 10px; border-left: 3px solid #b9cdf5;
  background: var(--background-fill-secondary); border-radius: 4px; cursor: pointer; }
.cq-quote:hover, .cq-quote:focus { background: #eef4ff; outline: 1px solid #b9cdf5; }
.cq-quote-src { font-size: 0.8rem; color: #555; margin-bottom: 4px; }
.cq-caption { font-size: 0.85rem; font-weight: 600; margin-bottom: 4px; }
.cq-inline-chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 2px 0 4px 0; }
.cq-inline-chip { display: inline-block; padding: 2px 10px; border-radius: 14px; font-size: 0.85rem;
  background: #eef4ff; border: 1px solid #b9cdf5; color: #1d3b72; line-height: 1.45; }
.cq-inline-chip[role=button] { cursor: pointer; }
.cq-inline-chip[role=button]:hover, .cq-inline-chip[role=button]:focus { background: #dbe7ff;
  outline: 1px solid #7fa3e6; }
.cq-related { margin: 0; padding-left: 18px; }
.cq-related li { margin: 4px 0; }
#cq-chip-bridge { display: none !important; }
.cq-page { margin: 0 0 10px 0; }
.cq-page figcaption { font-size: 0.8rem; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.cq-page img { display: block; width: 100%; height: auto; border: 1px solid var(--border-color-primary);
  border-radius: 6px; box-shadow: 0 1px 3px rgba(0, 0, 0, 0.12); }
#cq-upload-box, #cq-remove-box { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px; }
"""
