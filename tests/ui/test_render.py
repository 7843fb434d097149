"""The chat UI's pure renderers (`cityqa.ui.render`) and the briefing and claims notes they export: Markdown and
HTML for answers, citation chips, sources in context, fact-check cards and their marks. No server: plain calls."""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from cityqa import Answer, Citation, Mark, Mismatch, SearchFilters, Verdict
from cityqa.answering.answer import NOT_FOUND
from cityqa.checking.briefing import ClaimCheck, Exchange, briefing_markdown, claims_markdown, source_line
from cityqa.ui.render import (
    chat_messages,
    check_problem,
    check_summary,
    chip_label,
    context_span,
    escape_md,
    marked_html,
    note_summary,
    page_figure,
    parse_auth,
    render_answer_markdown,
    render_source_html,
    render_verdict_card,
    toggle_note,
)

CONTRADICTED_CLAIM = "Abe Lowenthal's book Global California was published in 2012."  # the report says 2009


# ------------------------------------------------------------------ answers, sources, briefing notes


def chips_in(text: str) -> list[str]:
    """The labels of the citation chips under an answer (HTML-unescaped)."""
    labels = re.findall(r'<span class="cq-inline-chip[^"]*"[^>]*>([^<]*)</span>', text)
    return [html.unescape(label) for label in labels]


def citation(**fields: Any) -> Citation:
    base: dict[str, Any] = {
        "n": 1, "source": "report.txt", "section": "Sister cities", "quote": "Q", "start": 0, "end": 1,
        "score": 0.9, "chunk_id": "c1", "chunk_start": 0, "chunk_end": 1, "endnotes": ["12"],
    }
    return Citation(**{**base, **fields})


def test_answer_markdown_escapes_html_and_markdown() -> None:
    quote = "San José <b>twinned</b> with *Okiyama* [2]"
    answer = Answer("<script>alert(1)</script>", f"{quote} [1]", False, 0.8, [citation(quote=quote)])
    text = render_answer_markdown(answer)
    assert "<b>" not in text and "&lt;b&gt;" in text
    assert "\\*Okiyama\\*" in text  # shown as typed, not as emphasis
    assert "<sup>[1]</sup>" in text  # the answer's own citation mark
    assert "[1] report.txt · Sister cities · endnote 12" in text.replace("\\", "")
    user = chat_messages([Exchange(answer.question, datetime.now(UTC), answer=answer)])[0]["content"]
    assert "<script>" not in user and "&lt;script&gt;" in user


def test_abstention_is_visible_with_closest_passages() -> None:
    related = [citation(quote="Notable exceptions include cities like San Diego.")]
    answer = Answer("q", "Not found in the documents: nothing answers this.", True, 0.2, related=related)
    text = render_answer_markdown(answer)
    assert text.startswith("**Not found in the documents")
    assert "Closest passages" in text and "San Diego" in text


def test_the_reason_for_a_not_found_follows_it_in_plain_text() -> None:
    why = "The closest passage says “rose” where the question asks about “fall”."
    answer = Answer("q", NOT_FOUND, True, 0.1, related=[citation(quote="The river rose in 1820.")], caution=why)
    assert render_answer_markdown(answer).startswith(f"**{escape_md(NOT_FOUND)}** {escape_md(why)}")


def test_a_caution_is_shown_with_the_answer() -> None:
    caution = "The quoted passage says “most” where the question asks about “least”."
    answer = Answer("q", "It went to Lisbon. [1]", False, 0.7, citations=[citation()], caution=caution)
    text = render_answer_markdown(answer)
    assert f"**Check:** {escape_md(caution)}" in text and text.index("**Check:**") < text.index("**Sources**")
    assert "**Check:**" not in render_answer_markdown(Answer("q", "It went to Lisbon. [1]", False, 0.7,
                                                             citations=[citation()]))


def test_question_problem_is_a_note_not_a_not_found() -> None:
    answer = Answer("", "Please type a question: this one is empty.", True, 0.0, note="empty")
    assert render_answer_markdown(answer).startswith("**Note:** Please type a question")


def test_chip_label_names_interviewee_date_or_section_and_endnote() -> None:
    assert chip_label(citation(section="A > Offices", endnotes=["3", "4"])) == "[1] report.txt · Offices · endnote 3, 4"
    interview = citation(n=2, interviewee="Dana Quill", date="2023-10-16", endnotes=[])
    assert chip_label(interview) == "[2] Interview: Dana Quill, 2023-10-16"


def test_source_panel_marks_quote_inside_its_paragraphs() -> None:
    text = "Intro <i>para</i>.\n\nBefore sentence. The quoted sentence & more. After sentence.\n\nNext para."
    start = text.index("The quoted")
    quote = "The quoted sentence & more."
    c = citation(quote=quote, start=start, end=start + len(quote))
    out = render_source_html(text, c)
    assert "<mark>The quoted sentence &amp; more.</mark>" in out
    assert "Before sentence." in out and "After sentence." in out and "Next para." in out
    assert "&lt;i&gt;para&lt;/i&gt;" in out and "<i>" not in out
    assert "Sister cities" in out and "12" in out


def test_source_panel_warns_when_document_changed() -> None:
    out = render_source_html("completely different text", citation(quote="gone", start=0, end=4))
    assert "changed since it was indexed" in out and "<mark>gone</mark>" in out


def test_chips_and_panel_name_the_page() -> None:
    c = citation(page=12, page_end=13, section="A > Findings")
    assert chip_label(c) == "[1] report.txt · Findings · pp. 12–13 · endnote 12"
    interview = citation(page=3, interviewee="Dana Quill", date="2023-10-16", endnotes=[])
    assert chip_label(interview) == "[1] Interview: Dana Quill, 2023-10-16 · p. 3"
    out = render_source_html("Q", citation(page=12))
    assert "<dt>Page</dt><dd>p. 12</dd>" in out and "[1] report.txt, Sister cities, p. 12, endnote 12" in out
    assert "<dt>Page</dt>" not in render_source_html("Q", citation())  # a text document has no page row
    assert source_line(citation(page=12)).startswith("`report.txt`; p. 12; section “Sister cities”")


def test_page_figure_embeds_the_png_inline_and_escapes_the_name() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 60), "white").save(out, format="PNG")
    figure = page_figure(out.getvalue(), citation(page=2, source="<b>r</b>.pdf"))
    data = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', figure)
    assert data and base64.b64decode(data.group(1)) == out.getvalue()
    assert "Page 2 of &lt;b&gt;r&lt;/b&gt;.pdf" in figure and "<b>" not in figure
    assert "the quote highlighted" in figure
    unread = page_figure(out.getvalue(), citation(page=2), highlighted=False)
    assert "the quote could not be found on the page image" in unread and "highlighted" not in unread
    shown = render_source_html("Q", citation(page=2), page=figure)
    assert shown.index("<dl>") < shown.index("<figure") < shown.index('class="cq-passage"')  # head, page, text


def test_each_answer_has_its_own_clickable_chips() -> None:
    hostile = citation(n=2, source="<img src=x onerror=alert(1)>.txt", section="<b>s</b>\n\nnext")
    answer = Answer("q", "Quote one [1]. Quote two [2].", False, 0.8, [citation(), hostile])
    text = render_answer_markdown(answer, 3)
    assert chips_in(text) == ["[1] report.txt · Sister cities · endnote 12",
                              "[2] <img src=x onerror=alert(1)>.txt · <b>s</b> next · endnote 12"]
    assert '<span class="cq-inline-chip cq-answer-3 cq-cite-2" role="button" tabindex="0"' in text
    assert "<img" not in text and "<b>" not in text  # labels escaped: no live markup from a document
    chips = text[text.index('<div class="cq-inline-chips">'):]
    assert "\n" not in chips.split("</div>")[0]  # one HTML block: Markdown leaves it whole
    assert 'role="button"' not in render_answer_markdown(answer)  # without its number, a chip is only a label
    messages = chat_messages([Exchange("a", datetime.now(UTC), answer=answer)] * 2)
    assert "cq-answer-1 cq-cite-1" in messages[1]["content"] and "cq-answer-2 cq-cite-1" in messages[3]["content"]
    related = Answer("q", "Not found in the documents.", True, 0.1, related=[citation(n=1)])
    assert "cq-answer-4 cq-cite-1" in render_answer_markdown(related, 4)


def test_context_span_trims_a_very_long_paragraph_at_words() -> None:
    text = "word " * 2000
    lo, hi = context_span(text, 5000, 5010, context=100)
    assert 4900 <= lo <= 4910 and 5010 <= hi <= 5110
    assert text[lo - 1] == " "


def test_escape_md_leaves_no_live_markup() -> None:
    assert escape_md("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"


def test_parse_auth() -> None:
    assert parse_auth(None) is None and parse_auth("  ") is None
    assert parse_auth("ana:s3cret, bo:pa:ss") == [("ana", "s3cret"), ("bo", "pa:ss")]
    with pytest.raises(Exception, match="CITYQA_AUTH"):
        parse_auth("ana")


def test_briefing_markdown_is_complete() -> None:
    quote = "Riverbend has four sister cities."
    c = citation(source="notes.md", quote=quote, interviewee="Dana Quill", role="Coordinator", date="2023-10-16")
    answer = Answer("How many sister cities?", f"{quote} [1]", False, 0.9, [c])
    asked = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    exchanges = [Exchange(answer.question, asked, answer=answer, k=4, filters=SearchFilters(kinds=("interview",)))]
    text = briefing_markdown(exchanges, {"notes.md": {"sha256": "ab" * 32, "kind": "interview"}}, "fp123", asked)
    assert "## 1. How many sister cities?" in text and f"1. [1] {quote}" in text
    assert "ab" * 32 in text and "`fp123`" in text and "2024-05-01 09:30:00 UTC" in text
    assert "interview with Dana Quill (Coordinator), 2023-10-16" in text and "endnote 12" in text
    assert "interviews only; 4 passages" in text
    assert "**Check:**" not in text
    answer.caution = "The quoted passage says “most” where the question asks about “least”."
    text = briefing_markdown(exchanges, {"notes.md": {"sha256": "ab" * 32, "kind": "interview"}}, "fp123", asked)
    assert f"**Check:** {answer.caution}" in text and text.index("**Check:**") < text.index("Quotes:")


def test_briefing_gives_the_reason_for_a_not_found() -> None:
    why = "The question is negated (“not”); the closest passage says nothing of the kind."
    answer = Answer("Which port is not self-funding?", NOT_FOUND, True, 0.03, related=[citation()], caution=why)
    asked = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    text = briefing_markdown([Exchange(answer.question, asked, answer=answer)], {}, "fp123", asked)
    assert f"**Answer:** {NOT_FOUND} {why}" in text and "**Check:**" not in text


# ------------------------------------------------------------------ fact-check cards and note

BOOK = "In his 2009 book Global California, Abe Lowenthal noted that"
MATCH = '<mark class="cq-match" title="in both the claim and the source">'
CONFLICT = '<mark class="cq-conflict" title="the claim and the source differ here">'


def contradicted() -> Verdict:
    """A contradicted verdict as the checker makes it: marks are spans of the claim and of the quote."""
    claim = CONTRADICTED_CLAIM
    quote = BOOK
    return Verdict(
        claim, "contradicted", 0.72, [citation(quote=quote, start=100, end=100 + len(quote), endnotes=["110"])],
        [Mismatch("2012", "2009", "date")],
        claim_marks=[Mark(0, 3, "match"), Mark(claim.index("2012"), claim.index("2012") + 4, "conflict")],
        evidence_marks=[[Mark(7, 11, "conflict"), Mark(quote.index("Global"), quote.index("Global") + 6, "match")]],
    )


@pytest.mark.parametrize(("label", "word", "css"), [
    ("supported", "Supported", "cq-supported"), ("contradicted", "Contradicted", "cq-contradicted"),
    ("not_found", "Not in the sources", "cq-not-found"), ("close", "Close match", "cq-close"),
])
def test_verdict_card_badge_has_word_and_colour(label: str, word: str, css: str) -> None:
    card = render_verdict_card(Verdict("Claim.", label, 0.8, [citation()]), 3)  # type: ignore[arg-type]
    assert f'<span class="cq-badge {css}">{word}</span>' in card
    assert f'<article class="cq-card {css}">' in card and "confidence 80%" in card and "claim 3" in card


def test_verdict_card_marks_the_right_spans() -> None:
    card = render_verdict_card(contradicted(), 2)
    assert f'{MATCH}Abe</mark> Lowenthal' in card
    assert f'published in {CONFLICT}2012</mark>.' in card
    assert f'In his {CONFLICT}2009</mark> book ' in card
    assert f'{MATCH}Global</mark> California' in card
    assert "<li>date: claim says 2012, source says 2009</li>" in card
    assert '<div class="cq-evidence-head">Evidence</div>' in card
    assert 'data-evidence="0"' in card and "[1] report.txt · Sister cities · endnote 110" in card


def test_verdict_card_escapes_everything() -> None:
    claim = "<img src=x onerror=alert(1)> & 2012"
    quote = "<script>alert('q')</script> 2009"
    v = Verdict(claim, "contradicted", 0.5, [citation(quote=quote, source="<b>doc</b>.txt")],
                [Mismatch("<i>2012</i>", "2009", "<u>date</u>")],
                claim_marks=[Mark(0, 4, "conflict"), Mark(len(claim) - 4, len(claim), "conflict")],
                evidence_marks=[[Mark(0, 8, "match")]])
    card = render_verdict_card(v, 1)
    for live in ("<img", "<script", "<b>", "<i>", "<u>"):
        assert live not in card
    assert f'{CONFLICT}&lt;img</mark> src=x' in card
    assert f'{MATCH}&lt;script&gt;</mark>alert(&#x27;q&#x27;)' in card
    assert "&amp; <mark" in card and "&lt;b&gt;doc&lt;/b&gt;.txt" in card
    assert "&lt;u&gt;date&lt;/u&gt;: claim says &lt;i&gt;2012&lt;/i&gt;" in card


def test_not_found_card_shows_the_closest_passage_as_such() -> None:
    card = render_verdict_card(Verdict("Jane Doe traveled to Peru.", "not_found", 0.25, [citation()]), 1)
    assert "Closest passage looked at (it neither supports nor contradicts the claim)" in card
    assert "Evidence<" not in card
    empty = render_verdict_card(Verdict("Jane Doe traveled to Peru.", "not_found", 0.9), 1)
    assert "No passage of the documents came close" in empty and "cq-quote" not in empty


def test_marked_html_keeps_the_text_whole_whatever_the_marks() -> None:
    marks = [Mark(4, 9, "match"), Mark(6, 12, "conflict"), Mark(20, 99, "match"), Mark(3, 3, "match")]
    out = marked_html("one <two> three", marks)
    assert out == f'one {MATCH}&lt;two&gt;</mark> three'
    assert marked_html("a < b", []) == "a &lt; b"


def test_source_panel_shows_the_cards_marks_inside_the_quote() -> None:
    v = contradicted()
    text = "x" * 100 + BOOK + " more."
    out = render_source_html(text, v.evidence[0], marks=v.evidence_marks[0])
    assert f'<mark>In his {CONFLICT}2009</mark> book' in out
    assert out.endswith(" more.</div>")


def test_check_problem_and_summary() -> None:
    assert check_problem(" \n", 100) == "Please type a claim to check."
    refused = check_problem("x" * 101, 100)
    assert refused and "101 characters" in refused and "at most 100 " in refused and "CITYQA_MAX_CHECK_CHARS" in refused
    assert check_problem("x" * 100, 100) is None
    verdicts = [contradicted(), Verdict("a", "supported", 1.0), Verdict("b", "supported", 1.0)]
    assert check_summary(verdicts) == "3 claims checked: 2 Supported, 1 Contradicted."
    assert check_summary([]) == "No claim to check was found in this text."


def test_note_toggles_and_lists_claims() -> None:
    first = ClaimCheck(contradicted(), datetime(2024, 5, 1, tzinfo=UTC), 1)
    twin = ClaimCheck(contradicted(), datetime(2024, 5, 1, tzinfo=UTC), 2)  # the same claim pasted twice
    note = toggle_note(toggle_note([], first), twin)
    assert note == [first, twin] and toggle_note(note, first) == [twin]
    listing = note_summary(note)
    assert "**2 claims in the note**" in listing and "1. Contradicted: Abe Lowenthal's book" in listing
    assert "Add to briefing note" in note_summary([])


def test_claims_markdown_is_complete() -> None:
    checked = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    far = ClaimCheck(Verdict("Jane Doe traveled to Peru.", "not_found", 0.25, [citation(quote="Dublin trips.")]),
                     checked, 2)
    nothing = ClaimCheck(Verdict("Zzz.", "not_found", 0.9), checked, 3)
    files = {"report.txt": {"sha256": "cd" * 32, "kind": "report"}}
    text = claims_markdown([ClaimCheck(contradicted(), checked, 1), far, nothing], files, "fp123", checked)
    assert f"## 1. {CONTRADICTED_CLAIM}" in text and "- Verdict: **Contradicted** (confidence 72%)" in text
    assert "  - date: claim says 2012, source says 2009" in text and f"1. [1] {BOOK}" in text
    assert "section “Sister cities”; endnote 110" in text and "characters 100–" in text
    assert "## 2. Jane Doe traveled to Peru." in text and "- Verdict: **Not in the sources** (confidence 25%)" in text
    assert "Closest passage looked at (it neither supports nor contradicts the claim):" in text
    assert "No passage of the documents came close to this claim." in text
    assert text.count("cd" * 32) == 3 and text.count("`fp123`") == 4 and "Checked: 2024-05-01 09:30:00 UTC" in text
    assert "| report.txt | report |" in text
    assert "No claims were added" in claims_markdown([], files, "fp123", checked)


def test_heading_lines_in_the_context_show_as_titles_not_markdown() -> None:
    text = "## The Office\n\nPort Calloway opened its office in 2021. It has two staff."
    start = text.index("Port")
    end = text.index("2021.") + len("2021.")
    c = citation(quote=text[start:end], start=start, end=end, chunk_start=start, chunk_end=len(text))
    panel = render_source_html(text, c)
    assert '<strong class="cq-heading">The Office</strong>' in panel and "## " not in panel
    assert f"<mark>{text[start:end]}</mark>" in panel


def test_close_card_says_which_words_to_check() -> None:
    v = Verdict("The office has <b>institutional</b> muscle.", "close", 0.4, [citation()],
                unmatched=[("institutional muscle", "capacity"), ("already", "")])
    card = render_verdict_card(v, 1)
    assert "check: institutional muscle ↔ capacity; already ↔ (not said)" in card
    assert "<b>" not in card  # escaped like everything else
