"""Briefing notes: a conversation's answers as Markdown a staff member can paste into a memo or file away.

Every quote is copied verbatim with where it comes from (document, section, endnote) and the SHA-256 of the
document it was read from, plus the index fingerprint, so a reader can later prove which text the answer rested
on. Pure functions: no I/O, no clock; the caller passes the times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .types import Answer, Citation, SearchFilters


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


def briefing_markdown(
    exchanges: Sequence[Exchange],
    files: Mapping[str, Mapping[str, Any]],
    fingerprint: str,
    generated_at: datetime,
) -> str:
    """The whole conversation as a Markdown briefing note.

    `files` is the index manifest's "files" mapping (source -> {"sha256", "kind", ...}).
    """
    lines = [
        "# Briefing note: California cities' international affairs",
        "",
        f"Prepared {_when(generated_at)} with cityqa. Index fingerprint: `{fingerprint}`.",
        "",
        "Every answer below quotes the indexed documents word for word; each quote names its document, section, "
        "endnote and the SHA-256 of the document it was read from. Check the quotes against the sources before "
        "relying on them.",
    ]
    if not exchanges:
        lines += ["", "_No questions were asked in this session._"]
    for number, exchange in enumerate(exchanges, 1):
        lines += ["", *_exchange_lines(number, exchange, files, fingerprint)]
    cited = sorted({c.source for e in exchanges if e.answer for c in (*e.answer.citations, *e.answer.related)})
    if cited:
        lines += ["", "## Documents", "", "| Document | Type | SHA-256 |", "|---|---|---|"]
        lines += [f"| {_cell(s)} | {_cell(files.get(s, {}).get('kind', '?'))} | `{_sha(files, s)}` |" for s in cited]
    return "\n".join(lines) + "\n"


def _exchange_lines(
    number: int, exchange: Exchange, files: Mapping[str, Mapping[str, Any]], fingerprint: str
) -> list[str]:
    lines = [f"## {number}. {_one_line(exchange.question) or '(empty question)'}", ""]
    lines.append(f"- Asked: {_when(exchange.asked_at)}")
    lines.append(f"- Searched: {describe_search(exchange.filters, exchange.k)}")
    lines.append(f"- Index fingerprint: `{fingerprint}`")
    answer = exchange.answer
    if answer is None:
        return [*lines, "", f"**Error:** {_one_line(exchange.error or 'no answer')}"]
    if answer.resolved_question:
        lines.append(f"- Understood as: {_one_line(answer.resolved_question)}")
    if answer.abstained:
        lines += ["", f"**Answer:** {_one_line(answer.answer)}"]
        if answer.related:
            lines += ["", "Closest passages (they do not answer the question):", ""]
            lines += _quote_lines(answer.related, files)
        return lines
    lines += ["", f"**Answer:** {_one_line(answer.answer)}", "", "Quotes:", ""]
    return lines + _quote_lines(answer.citations, files)


def _quote_lines(citations: Sequence[Citation], files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for position, c in enumerate(citations, 1):
        lines.append(f"{position}. [{c.n}] {c.quote}" if "\n" not in c.quote else f"{position}. [{c.n}]")
        if "\n" in c.quote:  # keep multi-line quotes verbatim inside a fenced block
            lines += ["   ```text", *[f"   {line}" for line in c.quote.splitlines()], "   ```"]
        lines.append(f"   - Source: {source_line(c)}")
        lines.append(f"   - Document SHA-256: `{_sha(files, c.source)}`; characters {c.start}–{c.end}")
    return lines


def source_line(c: Citation) -> str:
    """Where a quote comes from, in words: document, section, interviewee and date, endnotes."""
    parts = [f"`{c.source}`", f"section “{c.section}”"]
    if c.interviewee:
        who = f"interview with {c.interviewee}" + (f" ({c.role})" if c.role else "")
        parts.append(who + (f", {c.date}" if c.date else ""))
    notes = ", ".join(c.endnotes)
    parts.append(f"endnote {notes}" if notes else "no endnote")
    return "; ".join(parts)


def describe_search(filters: SearchFilters | None, k: int | None) -> str:
    """The filters and passage count of one question, in words."""
    kinds = {("report",): "the report only", ("interview",): "interviews only"}.get(
        tuple(filters.kinds) if filters else (), "all documents"
    )
    cities = f"; passages naming {', '.join(filters.cities)}" if filters and filters.cities else ""
    passages = f"; {k} passages" if k else ""
    return kinds + cities + passages


def briefing_filename(generated_at: datetime) -> str:
    return f"cityqa-briefing-{generated_at.astimezone(UTC):%Y%m%d-%H%M%S}.md"


def _when(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sha(files: Mapping[str, Mapping[str, Any]], source: str) -> str:
    return str(files.get(source, {}).get("sha256") or "unknown (no longer indexed)")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")
