"""Section-aware chunking with exact character spans.

A document is split into paragraphs (blank-line separated; a paragraph broken across a blank line mid-sentence is
re-joined), headings are recognised and become each chunk's section path, and paragraphs become chunks: one per
paragraph, or sentence windows for long ones. Sentences are never cut. Endnote markers glued to sentence ends
(`harbor.12`) are kept out of the sentence span and recorded on the sentence instead. Entries of an
"Interviews" register become one chunk each, carrying interviewee, role, city and date.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..types import Chunk, Document, DocumentKind, Sentence
from .entities import Gazetteer, default_gazetteer

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*(?:\r?\n[ \t]*)+|\r\n[ \t]*(?:\r?\n[ \t]*)+")
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_BOUNDARY = re.compile(r"([.!?][\"”’)\]]*)(\d{1,3})?(?=\s|$)")
_ABBREVIATIONS = {
    "u.s", "u.k", "e.g", "i.e", "etc", "mr", "mrs", "ms", "dr", "st", "vs", "inc", "jr", "sr", "no", "co",
    "corp", "ltd", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "a.m", "p.m", "approx", "dept", "gov", "sen", "rep", "prof", "gen", "capt", "ft", "mt", "ave",
}
_MINOR_WORDS = {
    "a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "over", "the",
    "to", "up", "with", "vs", "via", "have", "how",
}
_BACK_MATTER = {
    "abstract", "introduction", "conclusion", "conclusions", "acknowledgments", "acknowledgements",
    "terms of reference", "interviews", "references", "notes", "endnotes", "appendix", "bibliography",
    "methodology", "summary", "executive summary",
}
_INTERVIEW_ENTRY = re.compile(
    r"^(?P<name>[^,\n]{3,80}),\s+(?P<role>.+?),\s+(?:private |public |phone |virtual )?interview,\s+"
    r"(?P<date>[A-Z][a-z]+\.? \d{1,2},\s*\d{4})\.?$",
    re.S,
)
_INTERVIEW_HEADING = re.compile(r"^interviews?( (conducted|register|list))?$", re.I)
_CITY_OF = re.compile(r"\bCity of ([A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*)*)")


@dataclass(frozen=True)
class Paragraph:
    start: int
    end: int
    text: str
    heading_level: int = 0  # 0 = body text; 1.. = heading depth


def chunk_document(doc: Document, max_words: int = 180, overlap: int = 1) -> list[Chunk]:
    """Split `doc` into chunks whose `text` is exactly `doc.text[start:end]`."""
    chunks: list[Chunk] = []
    places: list[Gazetteer] = []  # learned from this document when its interview register needs it

    def gazetteer() -> Gazetteer:
        if not places:
            places.append(default_gazetteer().learn([doc.text], [doc.metadata.get("city", "")]))
        return places[0]

    for section, paragraph in _sectioned_paragraphs(doc):
        in_register = bool(section) and bool(_INTERVIEW_HEADING.match(section[-1]))
        entry = _interview_entry(paragraph.text, gazetteer) if in_register else None
        sentences = split_sentences(doc.text, paragraph.start, paragraph.end)
        if entry is not None:
            chunks.append(_make_chunk(doc, section, sentences, kind="interview", metadata=entry))
            continue
        for window in _windows(doc.text, sentences, max_words, overlap):
            chunks.append(_make_chunk(doc, section, window, kind=doc.kind, metadata=dict(doc.metadata)))
    return chunks


def _make_chunk(
    doc: Document, section: tuple[str, ...], sentences: list[Sentence], kind: DocumentKind, metadata: dict[str, str]
) -> Chunk:
    start, end = sentences[0].start, sentences[-1].end
    if sentences[-1].endnotes:  # keep the trailing endnote marker inside the passage span
        end += len(sentences[-1].endnotes[-1])
    text = doc.text[start:end]
    digest = hashlib.sha256(f"{doc.source}\0{start}\0{end}\0{text}".encode()).hexdigest()[:20]
    return Chunk(
        id=digest, source=doc.source, section=section, start=start, end=end, text=text,
        sentences=tuple(sentences), kind=kind, metadata=metadata, doc_sha256=doc.sha256,
        page=doc.page_at(start), page_breaks=tuple(p for p in doc.pages if start < p < end),
    )


def _windows(text: str, sentences: list[Sentence], max_words: int, overlap: int) -> Iterator[list[Sentence]]:
    """Group sentences into windows of at most `max_words` words (a longer single sentence stands alone)."""
    words = [len(text[s.start : s.end].split()) for s in sentences]
    if sum(words) <= max_words:
        yield sentences
        return
    i = 0
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (j == i or total + words[j] <= max_words):
            total += words[j]
            j += 1
        yield sentences[i:j]
        if j >= len(sentences):
            return
        i = max(i + 1, j - overlap)


# ---------------------------------------------------------------- paragraphs and headings


def _paragraphs(doc: Document) -> list[Paragraph]:
    text, pos = doc.text, doc.body_start
    spans: list[tuple[int, int]] = []
    for match in _PARAGRAPH_BREAK.finditer(text, pos):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    paragraphs: list[Paragraph] = []
    for start, end in spans:
        paragraphs.extend(_split_markdown_headings(text, start, end))
    return _join_broken(text, paragraphs)


def _split_markdown_headings(text: str, start: int, end: int) -> Iterator[Paragraph]:
    """Trim a span and, in Markdown, give each `#` heading line its own paragraph."""
    pos = start
    for line in text[start:end].splitlines(keepends=True):
        match = _MD_HEADING.match(line.strip())
        if match:
            if text[start:pos].strip():
                yield _trimmed(text, start, pos)
            line_start = pos + (len(line) - len(line.lstrip()))
            title_start = text.index(match.group(2), line_start)
            yield Paragraph(title_start, title_start + len(match.group(2)), match.group(2), len(match.group(1)))
            start = pos + len(line)
        pos += len(line)
    if text[start:end].strip():
        yield _trimmed(text, start, end)


def _trimmed(text: str, start: int, end: int) -> Paragraph:
    chunk = text[start:end]
    start += len(chunk) - len(chunk.lstrip())
    end -= len(chunk) - len(chunk.rstrip())
    return Paragraph(start, end, text[start:end])


def _join_broken(text: str, paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Re-join a paragraph that a stray blank line cut mid-sentence ('… studied for' + 'years. In her …')."""
    joined: list[Paragraph] = []
    for para in paragraphs:
        prev = joined[-1] if joined else None
        if prev and not prev.heading_level and not para.heading_level and _continues(prev.text, para.text):
            joined[-1] = Paragraph(prev.start, para.end, text[prev.start : para.end])
        else:
            joined.append(para)
    return joined


def _continues(first: str, second: str) -> bool:
    if re.search(r"[.!?:\"”’)]\d{0,3}$", first):
        return False
    return first.endswith((",", ";", "—", "-")) or second[:1].islower()


def _is_heading(text: str) -> bool:
    if "\n" in text or len(text) > 120 or not text[:1].isupper():
        return False
    if re.search(r"[.!;,:]\d*$|\d$", text):
        return False
    words = [w.strip("“”\"'’:()?") for w in text.split()]
    if len(words) > 14:
        return False
    content = [w for w in words if w and w.lower() not in _MINOR_WORDS]
    if not content:
        return False
    capitalised = sum(1 for w in content if w[:1].isupper() or w[:1].isdigit())
    return capitalised / len(content) >= 0.75


def _sectioned_paragraphs(doc: Document) -> Iterator[tuple[tuple[str, ...], Paragraph]]:
    paragraphs = _paragraphs(doc)
    path: list[tuple[int, str]] = []  # (level, title)
    for i, para in enumerate(paragraphs):
        level = para.heading_level
        if not level and _is_heading(para.text):
            nxt = paragraphs[i + 1] if i + 1 < len(paragraphs) else None
            level = _plain_heading_level(para.text, nxt, path)
        if level:
            path = [(lvl, title) for lvl, title in path if lvl < level]
            path.append((level, para.text))
            continue
        yield tuple(title for _, title in path), para


def _plain_heading_level(title: str, following: Paragraph | None, path: list[tuple[int, str]]) -> int:
    """Guess a plain-text heading's depth: titles, back matter and headings followed by a heading are level 1."""
    if title.isupper() or title.lower() in _BACK_MATTER or ": " in title:
        return 1
    if following is not None and not following.heading_level and _is_heading(following.text):
        return 1
    return 2 if path else 1


# ---------------------------------------------------------------- sentences


def split_sentences(text: str, start: int, end: int) -> list[Sentence]:
    """Sentences of `text[start:end]` as absolute spans; endnote digits glued to a sentence end are split off."""
    sentences: list[Sentence] = []
    sent_start = _skip_space(text, start, end)
    for match in _BOUNDARY.finditer(text, start, end):
        punct_end, digits = match.end(1), match.group(2)
        if punct_end <= sent_start or not _is_boundary(text, match, end):
            continue
        sentences.append(Sentence(sent_start, punct_end, (digits,) if digits else ()))
        sent_start = _skip_space(text, match.end(), end)
    if sent_start < end and text[sent_start:end].strip():
        tail_end = end - (len(text[sent_start:end]) - len(text[sent_start:end].rstrip()))
        sentences.append(Sentence(sent_start, tail_end))
    return sentences


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


def _is_boundary(text: str, match: re.Match[str], end: int) -> bool:
    punct_start = match.start(1)
    word_start = punct_start
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:punct_start].lower().lstrip("(“\"'")
    digits = match.group(2)
    if digits and punct_start > 0 and text[punct_start - 1].isdigit() and not re.search(r"(?<!\d)\d{4}$", word):
        return False  # a decimal number such as 3.5, not an endnote
    nxt = _skip_space(text, match.end(), end)
    if nxt >= end:
        return True
    if text[punct_start] == "." and (word in _ABBREVIATIONS or re.fullmatch(r"[a-z]", word)):
        return False
    return not text[nxt].islower()


# ---------------------------------------------------------------- interview register


def _interview_entry(text: str, gazetteer: Callable[[], Gazetteer] = default_gazetteer) -> dict[str, str] | None:
    """Parse 'Name, Title for the City of X, private interview, March 3, 2021.' into interview fields. Without
    "City of", the city is the first place the role names ('Director, Springfield Trade Office'), as `gazetteer()`
    (the general one, plus the places the document itself names) finds it."""
    match = _INTERVIEW_ENTRY.match(" ".join(text.split()))
    if not match:
        return None
    role = match.group("role").strip()
    city_match = _CITY_OF.search(role)
    places = [] if city_match else gazetteer().find(role)
    city = city_match.group(1) if city_match else (places[0] if places else "")
    try:
        when = datetime.strptime(match.group("date").replace(".", "").replace(", ", " ").replace(",", " "), "%B %d %Y")
        iso = when.date().isoformat()
    except ValueError:
        iso = match.group("date")
    return {"interviewee": match.group("name").strip(), "role": role, "city": city, "date": iso}
