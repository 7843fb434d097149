"""The chat UI: pure renderers, then the real app on a real Gradio server driven with gradio_client, then the
server's defences (file route, login)."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client

from cityqa import Answer, Assistant, Citation, SearchFilters, Settings
from cityqa.briefing import Exchange, briefing_markdown
from cityqa.ui import (
    _Handlers,
    build_app,
    chat_messages,
    chip_label,
    cities_in,
    context_span,
    corpus_rows,
    escape_md,
    launch_options,
    parse_auth,
    render_answer_markdown,
    render_source_html,
)

SAN_JOSE = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"
LA_DEPUTY = "Who is the Deputy Mayor of International Affairs for the City of Los Angeles?"
SAN_DIEGO_BUDGET = "What is the annual budget of San Diego's Office of Global Affairs?"
ALL, REPORT, INTERVIEWS = "All documents", "Report only", "Interviews only"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(assistant: Assistant, **overrides: Any) -> tuple[Any, str]:
    """Launch the app the way `serve` does (hardened options), on a free local port."""
    app = build_app(assistant)
    options = {**launch_options(assistant.settings), "auth": None, **overrides}
    port = free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **options)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def server(assistant: Assistant) -> Iterator[str]:
    app, url = launch(assistant)
    yield url
    app.close()


@pytest.fixture
def client(server: str) -> Client:
    """A fresh client: a fresh session, so a fresh conversation."""
    return Client(server, verbose=False)


def ask(client: Client, question: str, kind: str = ALL, cities: list[str] | None = None, k: int = 6) -> str:
    """Ask through the UI's /ask endpoint; return the text of the last assistant message."""
    messages, cleared, _panel = client.predict(question, kind, cities or [], k, api_name="/ask")
    assert cleared == ""
    return message_text(messages[-1])


def message_text(message: dict[str, Any]) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


def citation(**fields: Any) -> Citation:
    base: dict[str, Any] = {
        "n": 1, "source": "report.txt", "section": "Sister cities", "quote": "Q", "start": 0, "end": 1,
        "score": 0.9, "chunk_id": "c1", "chunk_start": 0, "chunk_end": 1, "endnotes": ["12"],
    }
    return Citation(**{**base, **fields})


# ------------------------------------------------------------------ pure helpers


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


def test_launch_options_are_hardened(settings: Settings) -> None:
    options = launch_options(settings)
    assert str(Path(settings.index_dir).resolve()) in options["blocked_paths"]
    assert any(path.endswith("/.git") for path in options["blocked_paths"])
    assert options["max_file_size"] and options["footer_links"] == ["gradio"]
    assert "server_name" not in options and "server_port" not in options  # GRADIO_SERVER_* decide


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


def test_corpus_rows_and_cities(assistant: Assistant) -> None:
    rows = corpus_rows(assistant.manifest["files"])
    assert {row[1] for row in rows} == {"report", "interview"}
    assert all(row[3] > 0 and row[5] for row in rows)
    cities = cities_in(assistant.engine.nodes.chunks)
    assert {"San José", "Los Angeles", "Riverbend"} <= set(cities) and "San Jose" not in cities


def test_engine_errors_become_chat_messages(tmp_path: Path, settings: Settings) -> None:
    empty = Assistant.open(settings=settings.model_copy(update={"index_dir": tmp_path / "none"}))
    messages, *_ = _Handlers(empty).ask("Who?", ALL, [], 6, [])
    assert messages[-1]["content"].startswith("**Error:** No index found")


# ------------------------------------------------------------------ the live app


def test_ask_quotes_and_cites(client: Client) -> None:
    text = ask(client, SAN_JOSE)
    assert "Finland" in text and "<sup>[1]</sup>" in text and "Sources" in text


def test_follow_up_uses_the_conversation(client: Client) -> None:
    assert "Erin Bromaghim" in ask(client, LA_DEPUTY)
    text = ask(client, "When was she interviewed?")
    assert "October 16, 2023" in text and "Understood as" in text


def test_abstains_visibly(client: Client) -> None:
    text = ask(client, SAN_DIEGO_BUDGET)
    assert text.startswith("**Not found") and "Closest passages" in text


def test_question_html_is_escaped(client: Client) -> None:
    messages, _, _ = client.predict("<script>alert('x')</script> Who?", ALL, [], 6, api_name="/ask")
    question = message_text(messages[-2])
    assert "<script>" not in question and "&lt;script&gt;" in question


def test_source_panel_shows_quote_in_context(client: Client, assistant: Assistant) -> None:
    ask(client, SAN_JOSE)
    quote = assistant.ask(SAN_JOSE).citations[0].quote
    panel = client.predict(1, 1, api_name="/source")
    assert f"<mark>{quote}</mark>" in panel
    assert "Trade and Commerce Agency" in panel  # the sentence before the quote: context, not just the quote
    for answer_no, cite_no in [(9, 1), (0, 1), (1, 7)]:
        assert "no such citation" in client.predict(answer_no, cite_no, api_name="/source")


def test_export_briefing_note(client: Client, assistant: Assistant, server: str) -> None:
    ask(client, SAN_JOSE)
    note, download = client.predict(api_name="/export")
    markdown = note["value"] if isinstance(note, dict) else note
    expected = assistant.ask(SAN_JOSE)
    for c in expected.citations:
        assert c.quote in markdown
        assert assistant.manifest["files"][c.source]["sha256"] in markdown
    assert assistant.fingerprint in markdown and "Asked: " in markdown and SAN_JOSE in markdown
    path = download["value"] if isinstance(download, dict) else download
    assert Path(path).read_text(encoding="utf-8").strip() == markdown.strip()
    status, body = raw_get(server, f"/gradio_api/file={path}")  # the note itself is downloadable
    assert status == 200 and expected.citations[0].quote in body


def test_filters_restrict_document_kind_and_city(client: Client) -> None:
    interviews = ask(client, LA_DEPUTY, INTERVIEWS)
    sources = [line for line in interviews.splitlines() if line.startswith("- \\[")]
    assert sources and all("Interview: " in line for line in sources)
    report = ask(client, "How many sister cities does the city have?", REPORT)
    assert "Riverbend" not in report and "Interview: " not in report
    riverbend = ask(client, "How many sister cities does the city have?", ALL, ["Riverbend"], k=3)
    assert "Riverbend has four sister cities" in riverbend


def test_corpus_tab_and_incremental_reindex(client: Client) -> None:
    summary, table = client.predict(api_name="/corpus")
    assert "2 documents" in summary
    assert {row[0] for row in table["data"]} == {
        "global-engagements-california-cities.txt", "interview-notes-riverbend-fictional.md",
    }
    status, _, _ = client.predict(api_name="/reindex")  # nothing changed: a no-op that must not break the chat
    assert "unchanged 2" in status
    assert "Finland" in ask(client, SAN_JOSE)


def test_fact_check_tab_follows_the_hook(client: Client, assistant: Assistant) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert ("/check" in endpoints) == hasattr(assistant, "check")
    if hasattr(assistant, "check"):
        claim = "San José's relationship with Okiyama, Japan, is the third-oldest linkage in the United States."
        table = client.predict(claim, api_name="/check")
        assert table["data"] and all(row[1] in {"supported", "contradicted", "not_found"} for row in table["data"])


# ------------------------------------------------------------------ defences


def raw_get(base: str, path: str, method: str = "GET", body: str | None = None) -> tuple[int, str]:
    """Send `path` byte for byte (no client-side '..' normalisation) and return status and body."""
    host, port = base.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, text


def test_file_route_refuses_traversal_and_private_paths(server: str, assistant: Assistant) -> None:
    index = Path(assistant.settings.index_dir).resolve()
    repo = Path(__file__).resolve().parents[1]
    paths = [
        "/gradio_api/file=../../etc/passwd", "/file=../../etc/passwd", "/gradio_api/file=..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=/etc/passwd", "/file=/etc/passwd", f"/gradio_api/file={index}/manifest.json",
        f"/file={index}/manifest.json", f"/gradio_api/file={repo}/.git/config",
        f"/gradio_api/file={repo}/pyproject.toml",
        f"/gradio_api/file={Path(assistant.settings.corpus_dir).resolve()}/interview-notes-riverbend-fictional.md",
    ]
    for path in paths:
        status, body = raw_get(server, path)
        assert status in {400, 403, 404}, (path, status)
        assert "root:" not in body and "fingerprint" not in body and "[core]" not in body, path


@pytest.fixture(scope="module")
def auth_server(assistant: Assistant) -> Iterator[str]:
    app, url = launch(assistant, auth=parse_auth("ana:s3cret"))
    yield url
    app.close()


def test_login_required_when_auth_is_set(auth_server: str) -> None:
    for path in ["/config", "/gradio_api/info", "/gradio_api/file=/etc/passwd"]:
        status, _ = raw_get(auth_server, path)
        assert status in {401, 403}, (path, status)
    data = '{"data": ["Who?", "All documents", [], 6]}'
    for path in ["/gradio_api/call/ask", "/gradio_api/run/ask"]:
        status, body = raw_get(auth_server, path, "POST", data)
        assert status in {401, 403}, (path, status, body)
    with pytest.raises(Exception, match=r"credentials|login"):
        Client(auth_server, verbose=False)
    with pytest.raises(ValueError):
        Client(auth_server, auth=("ana", "wrong"), verbose=False)
    signed_in = Client(auth_server, auth=("ana", "s3cret"), verbose=False)
    assert "Finland" in ask(signed_in, SAN_JOSE)
