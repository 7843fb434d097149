"""The chat UI's pure renderers: Markdown and HTML for answers and their citation chips, a quote in its context,
fact-check verdict cards and their word marks, the chat messages, the corpus table and the city list, and the small
parsers of what the UI is given (search filters, CITYQA_AUTH).

No Gradio here (it takes seconds to import): these are plain functions, unit-tested on their own. Every piece of text
that comes from a user or a document goes through `html.escape` (and Markdown escaping in the chat), so nothing typed
or indexed can become live HTML.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..checking.briefing import (
    VERDICT_WORDS,
    ClaimCheck,
    Exchange,
    describe_search,
    evidence_heading,
    mismatch_text,
    unmatched_text,
)
from ..documents.entities import Gazetteer, gazetteer_for
from ..documents.text import fold
from ..errors import ConfigError
from ..types import Answer, Chunk, Citation, DocumentKind, Mark, SearchFilters, Verdict

KIND_CHOICES: dict[str, tuple[DocumentKind, ...]] = {
    "All documents": (), "Report only": ("report",), "Interviews only": ("interview",)
}
CONTEXT_CHARS = 600
PANEL_HINT = '<div class="cq-hint">Click a source under an answer to read the quote in its context.</div>'
CHECK_PANEL_HINT = '<div class="cq-hint">Click an evidence quote on a card to read it in its context.</div>'
BADGE_CLASSES = {"supported": "cq-supported", "close": "cq-close", "contradicted": "cq-contradicted",
                 "not_found": "cq-not-found"}
MARK_TITLES = {"match": "in both the claim and the source", "conflict": "the claim and the source differ here"}
CHECK_LEGEND = (
    '<div class="cq-legend"><mark class="cq-match">word</mark> also in the other text · '
    '<mark class="cq-conflict">word</mark> differs between claim and source · click a quote to read it in context'
    "</div>"
)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~$])")
_MARK = re.compile(r"\[(\d+)\]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


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
    if answer.note:  # the question was not searched; the answer says why
        return "\n".join([*lines, f"**Note:** {escape_md(answer.answer)}"])
    if answer.abstained:  # the verdict in bold, the reason for it (if any) after it
        why = f" {escape_md(answer.caution)}" if answer.caution else ""
        lines += [f"**{escape_md(answer.answer)}**{why}", ""]
        if answer.related:
            lines += ["**Closest passages** (the first comes close: read it before you rely on it):" if answer.closest
                      else "**Closest passages** (none was judged to answer the question):", ""]
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
    items = "".join(f'<li>{chip_html(c, number)} “{html.escape(short(c.text))}”</li>' for c in related)
    return f'<ul class="cq-related">{items}</ul>'


def _with_marks(text: str) -> str:
    """Escape answer text, turning its '[n]' citation marks into superscripts."""
    pieces = _MARK.split(text)
    out = [escape_md(p) if i % 2 == 0 else f"<sup>[{p}]</sup>" for i, p in enumerate(pieces)]
    return "".join(out)


def short(text: str, limit: int = 220) -> str:
    """`text` on one line, cut at a word (with " …") when longer than `limit` characters."""
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
    check = f'<div class="cq-unmatched">{html.escape(unmatched_text(v))}</div>' if v.unmatched else ""
    return f'<article class="cq-card {kind}">{head}{claim}{mismatches}{check}{_evidence_html(v)}</article>'


def quote_marks(v: Verdict, index: int) -> Sequence[Mark]:
    """The marks of evidence quote `index` (none for a verdict written without them)."""
    return v.evidence_marks[index] if index < len(v.evidence_marks) else []


def _evidence_html(v: Verdict) -> str:
    if not v.evidence:
        return '<div class="cq-evidence-head">No passage of the documents came close to this claim.</div>'
    quotes = []
    for i, c in enumerate(v.evidence):
        marks = quote_marks(v, i)
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
    lines += [f"{n}. {VERDICT_WORDS.get(c.verdict.verdict, '?')}: {escape_md(short(c.verdict.claim, 90))}"
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


def page_figure(png: bytes, c: Citation, highlighted: bool = True) -> str:
    """The cited PDF page as an inline PNG (a data URI: no file is served), the quote highlighted on it, or a
    caption saying it could not be found on the page image (a scanned page read without OCR)."""
    data = base64.b64encode(png).decode("ascii")
    where = html.escape(f"{c.pages_label.replace('p. ', 'Page ').replace('pp. ', 'Pages ')} of {c.source}")
    how = "the quote highlighted" if highlighted else "the quote could not be found on the page image"
    alt = f"{where} with the quoted sentence highlighted" if highlighted else where
    return (f'<figure class="cq-page"><figcaption>{where}, {how}</figcaption>'
            f'<img src="data:image/png;base64,{data}" alt="{alt}"></figure>')


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


def cited(entry: Exchange) -> list[Citation]:
    """The passages an answer's chips point at: its citations, or the closest passages when it abstained."""
    if entry.answer is None:
        return []
    return list(entry.answer.citations or entry.answer.related)


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
