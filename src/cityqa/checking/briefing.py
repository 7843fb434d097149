"""Briefing notes: a conversation's answers, or the claims checked in the Fact-check tab, as Markdown a staff member
can paste into a memo or file away.

Every quote is copied verbatim with where it comes from (document, section, endnote) and the SHA-256 of the
document it was read from, plus the index fingerprint, so a reader can later prove which text the answer rested
on. Pure functions: no I/O, no clock; the caller passes the times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..types import Answer, Citation, Mismatch, SearchFilters, Verdict

VERDICT_WORDS = {"supported": "Supported", "close": "Close match", "contradicted": "Contradicted",
                 "not_found": "Not in the sources"}


@dataclass
class Exchange:
    """One question put in the chat: the answer (or the error shown instead), when, and with which filters.

    Not frozen: Gradio hashes session state, and a frozen dataclass would try to hash its (mutable) Answer.
    """

    question: str
    asked_at: datetime
    answer: Answer | None = None
    error: str | None = None
    k: int | None = None
    filters: SearchFilters | None = None


@dataclass(frozen=True)
class DraftRef:
    """The draft a claim was read from: its file name and the SHA-256 of its bytes, so a note can prove which
    version of the draft was checked."""

    name: str
    sha256: str


@dataclass
class ClaimCheck:
    """One claim checked in the Fact-check tab: its verdict, when it was checked, its place among the claims of
    that check (so two identical claims pasted together stay two entries), and the draft it was read from (None
    for a pasted claim). Not frozen, like `Exchange`."""

    verdict: Verdict
    checked_at: datetime
    number: int = 1
    draft: DraftRef | None = None


def briefing_markdown(
    exchanges: Sequence[Exchange],
    files: Mapping[str, Mapping[str, Any]],
    fingerprint: str,
    generated_at: datetime,
) -> str:
    """The whole conversation as a Markdown briefing note.

    `files` is the index manifest's "files" mapping (source -> {"sha256", "kind", ...}).
    """
    head = _heading(
        "Briefing note", generated_at, fingerprint,
        "Every answer below quotes the indexed documents word for word; each quote names its document, section, "
        "endnote and the SHA-256 of the document it was read from.",
    )
    sections = [_exchange_lines(n, exchange, files, fingerprint) for n, exchange in enumerate(exchanges, 1)]
    cited = {c.source for e in exchanges if e.answer for c in (*e.answer.citations, *e.answer.related)}
    return _note(head, sections or [["_No questions were asked in this session._"]], cited, files)


def claims_markdown(
    checks: Sequence[ClaimCheck],
    files: Mapping[str, Mapping[str, Any]],
    fingerprint: str,
    generated_at: datetime,
) -> str:
    """The claims added to the Fact-check tab's briefing note, as Markdown: each claim with its verdict, confidence,
    differing values and evidence quotes (document, section, SHA-256), like `briefing_markdown` does for answers."""
    head = _heading(
        "Fact-check note", generated_at, fingerprint,
        "Each claim below was checked against the indexed documents. Evidence is quoted word for word with its "
        "document, section, endnote and the SHA-256 of the document it was read from.",
    ) + _draft_lines(checks)
    sections = [_claim_lines(n, check, files, fingerprint) for n, check in enumerate(checks, 1)]
    cited = {c.source for check in checks for c in check.verdict.evidence}
    return _note(head, sections or [["_No claims were added to this note._"]], cited, files)


def _draft_lines(checks: Sequence[ClaimCheck]) -> list[str]:
    """The drafts the claims were read from, each with its SHA-256 (nothing when every claim was pasted)."""
    drafts = dict.fromkeys(c.draft for c in checks if c.draft is not None)
    if not drafts:
        return []
    return ["", "Drafts checked (their claims are marked below):", "",
            *[f"- `{code_text(d.name)}` · SHA-256 `{d.sha256}`" for d in drafts]]


def mismatch_text(m: Mismatch) -> str:
    """One differing value in words, e.g. 'date: claim says 2012, source says 2009'."""
    return f"{m.kind}: claim says {m.claim}, source says {m.source}"


def unmatched_text(verdict: Verdict) -> str:
    """A close match's words to check, e.g. 'check: institutional muscle ↔ capacity; already ↔ (not said)'."""
    pairs = "; ".join(f"{claim} ↔ {source or '(not said)'}" for claim, source in verdict.unmatched)
    return f"The source states this in other words; check: {pairs}" if pairs else ""


def evidence_heading(verdict: Verdict) -> str:
    """What the quotes of a verdict are: evidence, or for 'not found' only the closest passage the checker read."""
    if verdict.verdict == "not_found":
        return "Closest passage looked at (it neither supports nor contradicts the claim)"
    return "Evidence"


def _heading(title: str, generated_at: datetime, fingerprint: str, what: str) -> list[str]:
    return [
        f"# {title}: California cities' international affairs",
        "",
        f"Prepared {when_text(generated_at)} with cityqa. Index fingerprint: `{fingerprint}`.",
        "",
        f"{what} Check the quotes against the sources before relying on them.",
    ]


def _note(head: list[str], sections: Sequence[list[str]], sources: set[str], files: Mapping[str, Mapping[str, Any]]
          ) -> str:
    """The note's heading and sections (each after a blank line), then a table of the documents it quotes with
    their SHA-256, as one Markdown text."""
    lines = [*head, *(line for section in sections for line in ("", *section))]
    if sources:
        lines = [*lines, "", "## Documents", "", "| Document | Type | SHA-256 |", "|---|---|---|"]
        lines += [f"| {_cell(s)} | {_cell(files.get(s, {}).get('kind', '?'))} | `{_sha(files, s)}` |"
                  for s in sorted(sources)]
    return "\n".join(lines) + "\n"


def _claim_lines(number: int, check: ClaimCheck, files: Mapping[str, Mapping[str, Any]], fingerprint: str) -> list[str]:
    v = check.verdict
    lines = [
        f"## {number}. {_one_line(v.claim) or '(empty claim)'}",
        "",
        f"- Verdict: **{VERDICT_WORDS.get(v.verdict, v.verdict)}** (confidence {v.confidence:.0%})",
        f"- Checked: {when_text(check.checked_at)}",
        *_from_draft(check.draft),
        f"- Index fingerprint: `{fingerprint}`",
    ]
    if v.mismatches:
        lines += ["- Differing values:", *[f"  - {_one_line(mismatch_text(m))}" for m in v.mismatches]]
    if v.unmatched:
        lines += [f"- {_one_line(unmatched_text(v))}"]
    if not v.evidence:
        return [*lines, "", "No passage of the documents came close to this claim."]
    return [*lines, "", f"{evidence_heading(v)}:", "", *_quote_lines(v.evidence, files)]


def _from_draft(draft: DraftRef | None) -> list[str]:
    return [f"- From the draft: `{code_text(draft.name)}` (SHA-256 `{draft.sha256}`)"] if draft else []


def _exchange_lines(
    number: int, exchange: Exchange, files: Mapping[str, Mapping[str, Any]], fingerprint: str
) -> list[str]:
    lines = [f"## {number}. {_one_line(exchange.question) or '(empty question)'}", ""]
    lines.append(f"- Asked: {when_text(exchange.asked_at)}")
    lines.append(f"- Searched: {describe_search(exchange.filters, exchange.k)}")
    lines.append(f"- Index fingerprint: `{fingerprint}`")
    answer = exchange.answer
    if answer is None:
        return [*lines, "", f"**Error:** {_one_line(exchange.error or 'no answer')}"]
    if answer.resolved_question:
        lines.append(f"- Understood as: {_one_line(answer.resolved_question)}")
    if answer.abstained:
        why = f" {_one_line(answer.caution)}" if answer.caution else ""
        lines += ["", f"**Answer:** {_one_line(answer.answer)}{why}"]
        if answer.related:
            lines += ["", "Closest passages (the first comes close; it does not say so directly):" if answer.closest
                      else "Closest passages (none was judged to answer the question):", ""]
            lines += _quote_lines(answer.related, files)
        return lines
    lines += ["", f"**Answer:** {_one_line(answer.answer)}"]
    if answer.caution:
        lines += ["", f"**Check:** {_one_line(answer.caution)}"]
    return [*lines, "", "Quotes:", "", *_quote_lines(answer.citations, files)]


def _quote_lines(citations: Sequence[Citation], files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for position, c in enumerate(citations, 1):
        lines.append(f"{position}. [{c.n}] {c.text}" if "\n" not in c.text else f"{position}. [{c.n}]")
        if "\n" in c.text:  # keep multi-line quotes verbatim inside a fenced block
            lines += ["   ```text", *[f"   {line}" for line in c.text.splitlines()], "   ```"]
        lines.append(f"   - Source: {source_line(c)}")
        lines.append(f"   - Document SHA-256: `{_sha(files, c.source)}`; characters {c.start}–{c.end}")
    return lines


def source_line(c: Citation) -> str:
    """Where a quote comes from, in words: document, page, section, interviewee and date, endnotes."""
    parts = [f"`{c.source}`", *([c.pages_label] if c.pages_label else []), f"section “{c.section}”"]
    if c.interviewee:
        who = f"interview with {c.interviewee}" + (f" ({c.role})" if c.role else "")
        parts.append(who + (f", {c.date}" if c.date else ""))
    notes = ", ".join(c.endnotes)
    parts.append(f"endnote {notes}" if notes else "no endnote")
    return "; ".join(parts)


def describe_search(filters: SearchFilters | None, k: int | None) -> str:
    """The filters and passage count of one question, in words."""
    named: dict[tuple[str, ...], str] = {("report",): "the report only", ("interview",): "interviews only"}
    kinds = named.get(tuple(filters.kinds) if filters else (), "all documents")
    cities = f"; passages naming {', '.join(filters.cities)}" if filters and filters.cities else ""
    passages = f"; {k} passages" if k else ""
    return kinds + cities + passages


def briefing_filename(generated_at: datetime, what: str = "briefing") -> str:
    """'cityqa-briefing-20240501-093000.md' (`what`: 'briefing' for answers, 'factcheck' for claims)."""
    return f"cityqa-{what}-{generated_at.astimezone(UTC):%Y%m%d-%H%M%S}.md"


def when_text(moment: datetime) -> str:
    """A moment in UTC, in words: '2024-05-01 09:30:00 UTC' (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sha(files: Mapping[str, Mapping[str, Any]], source: str) -> str:
    return str(files.get(source, {}).get("sha256") or "unknown (no longer indexed)")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def code_text(text: str) -> str:
    """Text for a Markdown code span: one line, no backtick to end the span early (a file name is the user's)."""
    return _one_line(text).replace("`", "'")


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
