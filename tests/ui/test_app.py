"""The chat UI: the pieces that need an index (handlers, launch options, the corpus table), then the real app on a
real Gradio server driven with gradio_client, then the server's defences (file route, login). The pure renderers
are tested in test_render.py."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from PIL import Image
from test_render import CONFLICT, CONTRADICTED_CLAIM, chips_in
from test_uploads import indexed_copy, state

from cityqa import Assistant, Settings
from cityqa.documents.uploads import REMOVED_DIR, upload_limit
from cityqa.evaluation import evaluate as ev
from cityqa.evaluation import metrics
from cityqa.evaluation import report as reports
from cityqa.ui.app import build_app, catch_up, launch_options
from cityqa.ui.handlers import Handlers
from cityqa.ui.render import cities_in, corpus_rows, escape_md, parse_auth
from conftest import GOLD, QUOTING_THRESHOLD, load_jsonl
from pdfgen import CALLOWAY, CALLOWAY_Q, make_pdf

SAN_JOSE = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"
LA_DEPUTY = "Who is the Deputy Mayor of International Affairs for the City of Los Angeles?"
NOT_COVERED = "How many hotels belong to San Diego's tourism association?"
ALL, REPORT, INTERVIEWS = "All documents", "Report only", "Interviews only"
SUPPORTED_CLAIM = "Fresno banned caste discrimination in the city."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(assistant: Assistant, eval_dir: Path = reports.DEFAULT_OUT, **overrides: Any) -> tuple[Any, str]:
    """Launch the app the way `serve` does (hardened options), on a free local port.

    Gradio checks that the page answers with one HEAD request of at most 3 s (`networking.url_ok`) and gives up on
    the first timeout ("When localhost is not accessible…"); with both cores busy running the suite that first
    request can take longer, so a launch that fails that check is tried again (at most three times)."""
    app = build_app(assistant, eval_dir)
    options = {**launch_options(assistant.settings), "auth": None, **overrides}
    for attempt in range(3):
        port = free_port()
        try:
            app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **options)
            return app, f"http://127.0.0.1:{port}/"
        except ValueError as exc:
            app.close()
            if "localhost is not accessible" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def server(quoting: Assistant) -> Iterator[str]:
    app, url = launch(quoting)
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


# ------------------------------------------------------------------ the app's pieces


def test_launch_options_are_hardened(settings: Settings) -> None:
    options = launch_options(settings)
    assert str(Path(settings.index_dir).resolve()) in options["blocked_paths"]
    assert any(path.endswith("/.git") for path in options["blocked_paths"])
    assert options["max_file_size"] == upload_limit(settings) and options["footer_links"] == ["gradio"]
    assert "server_name" not in options and "server_port" not in options  # GRADIO_SERVER_* decide


def test_fact_check_limit_is_the_settings_one(settings: Settings) -> None:
    """The tab refuses what `Settings.max_check_chars` refuses, with a message, before checking anything."""
    small = Assistant.open(settings=settings.model_copy(update={"max_check_chars": 150}))
    checks, status, _ = Handlers(small).check("Fresno has a port. " * 8)  # 152 characters
    assert checks == [] and "152 characters" in status and "at most 150 " in status and "cq-warn" in status
    app = build_app(small)
    box = next(b for b in app.blocks.values() if getattr(b, "elem_id", None) == "cq-claims")
    assert box.info == "At most 150 characters at a time." and box.max_length is None  # refused, not cut


def test_corpus_rows_and_cities(assistant: Assistant) -> None:
    rows = corpus_rows(assistant.manifest["files"])
    assert {row[1] for row in rows} == {"report", "interview"}
    assert all(row[3] > 0 and row[5] for row in rows)
    cities = cities_in(assistant.engine.nodes.chunks)
    assert {"San José", "Los Angeles", "Riverbend"} <= set(cities) and "San Jose" not in cities


def test_engine_errors_become_chat_messages(tmp_path: Path, settings: Settings) -> None:
    empty = Assistant.open(settings=settings.model_copy(update={"index_dir": tmp_path / "none"}))
    messages, *_ = Handlers(empty).ask("Who?", ALL, [], 6, [])
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
    text = ask(client, NOT_COVERED)
    assert text.startswith("**Not found") and "Closest passages" in text


def test_question_html_is_escaped(client: Client) -> None:
    messages, _, _ = client.predict("<script>alert('x')</script> Who?", ALL, [], 6, api_name="/ask")
    question = message_text(messages[-2])
    assert "<script>" not in question and "&lt;script&gt;" in question


def test_source_panel_shows_quote_in_context(client: Client, quoting: Assistant) -> None:
    assistant = quoting
    ask(client, SAN_JOSE)
    quote = assistant.ask(SAN_JOSE).citations[0].quote
    panel = client.predict(1, 1, api_name="/source")
    assert f"<mark>{quote}</mark>" in panel
    assert "Trade and Commerce Agency" in panel  # the sentence before the quote: context, not just the quote
    assert "cq-page" not in panel and "<dt>Page</dt>" not in panel  # a text document: no page, no page image
    for answer_no, cite_no in [(9, 1), (0, 1), (1, 7)]:
        assert "no such citation" in client.predict(answer_no, cite_no, api_name="/source")


def test_export_briefing_note(client: Client, quoting: Assistant, server: str) -> None:
    assistant = quoting
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
    sources = chips_in(interviews)
    assert sources and all(label.startswith(f"[{n}] Interview: ") for n, label in enumerate(sources, 1))
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


# ------------------------------------------------------------------ uploading and removing documents


@pytest.fixture(scope="module")
def library_app(settings: Settings, assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[Client, Assistant, str]]:
    """The app over a private copy of the indexed corpus (uploads change it), with a 200 KiB upload limit."""
    library = indexed_copy(settings, tmp_path_factory.mktemp("library-app"), max_upload_bytes=200 * 1024,
                           abstain_threshold=QUOTING_THRESHOLD)
    app, url = launch(library)
    yield Client(url, verbose=False), library, url
    app.close()


def upload(client: Client, path: Path, replace: bool = False) -> tuple[str, list[str]]:
    """Upload through the Corpus tab's /upload endpoint: the status line and the documents then listed."""
    status, _summary, table, _remove, _file = client.predict(handle_file(str(path)), replace, api_name="/upload")
    return status, [row[0] for row in table["data"]]


def test_upload_pdf_then_ask_and_see_its_page(library_app: tuple[Client, Assistant, str], tmp_path: Path) -> None:
    client, library, _ = library_app
    pdf = tmp_path / "port-calloway-brief.pdf"
    layout = make_pdf(pdf, CALLOWAY)
    status, listed = upload(client, pdf)
    assert status.startswith('<div class="cq-ok">Added port-calloway-brief.pdf (PDF,') and "passages indexed" in status
    assert "port-calloway-brief.pdf" in listed
    assert (Path(library.settings.corpus_dir) / pdf.name).read_bytes() == pdf.read_bytes()
    temporary = Path(get_upload_folder()).rglob(pdf.name)
    assert not [p for p in temporary if p.read_bytes() == pdf.read_bytes()]  # Gradio's copy is deleted once saved
    text = ask(client, CALLOWAY_Q)
    assert "2021" in text and chips_in(text)[0] == "[1] port-calloway-brief.pdf · The Office · p. 2"
    assert layout.page_of("Port Calloway opened its Office of Global Partnerships in 2021.") == (2, 2)
    panel = client.predict(1, 1, api_name="/source")
    assert "<dt>Page</dt><dd>p. 2</dd>" in panel and "Page 2 of port-calloway-brief.pdf" in panel
    png = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', panel)
    assert png is not None
    with Image.open(io.BytesIO(base64.b64decode(png.group(1)))) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > image.width  # a portrait page
    assert "<mark>Port Calloway opened its Office of Global Partnerships in 2021.</mark>" in panel  # text view too
    (Path(library.settings.corpus_dir) / pdf.name).write_bytes(make_pdf_bytes(tmp_path))  # changed on disk
    changed = client.predict(1, 1, api_name="/source")
    assert "has changed since it was indexed; re-index from the Corpus tab" in changed and "<img" not in changed
    client.predict(api_name="/reindex")  # bring the index back in line for the next tests


def make_pdf_bytes(folder: Path) -> bytes:
    other = folder / "other.pdf"
    make_pdf(other, [("Another text entirely, about the weather in Port Calloway.", 0)])
    return other.read_bytes()


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("notes.pdf", b"Plain text, named like a PDF.\n", "its content is plain text, which does not match its"),
    ("notes..md", b"# Notes\n\nText.\n", "the file name contains &#x27;..&#x27;"),
    ("global-engagements-california-cities.txt", b"A new version.\n", "tick “Replace a document with the same"),
])
def test_hostile_uploads_are_refused_with_a_reason(
    library_app: tuple[Client, Assistant, str], tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    client, library, _ = library_app
    before = state(library)
    path = tmp_path / name
    path.write_bytes(content)
    status, _ = upload(client, path)
    assert status.startswith('<div class="cq-warn"><b>Not added.</b>') and reason in status
    assert "Nothing was changed." in status
    assert state(library) == before


def test_gradio_refuses_too_large_or_unlisted_types_first(
    library_app: tuple[Client, Assistant, str], tmp_path: Path
) -> None:
    """The web server itself refuses a file over the upload limit (413, before storing it) and a type the upload
    box does not offer; `cityqa.documents.uploads` refuses both too (tests/documents/test_uploads.py), for any other
    caller."""
    client, library, url = library_app
    before = state(library)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * (50 * 1024))  # 250 KiB; the limit is 200 KiB
    status, body = raw_upload(url, big.name, big.read_bytes())
    assert status == 413 and "maximum allowed size of 204800 bytes" in body
    with pytest.raises(Exception, match="exceeds the maximum file size of 204800 bytes"):  # the client checks too
        upload(client, big)
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ\x90\x00")
    with pytest.raises(Exception, match="Invalid file type"):
        upload(client, tool)
    assert state(library) == before


def raw_upload(base: str, name: str, data: bytes) -> tuple[int, str]:
    """POST one file to Gradio's upload route as a browser would (multipart), without any client-side check."""
    host, port = base.split("//")[1].rstrip("/").split(":")
    boundary = "cityqa-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/gradio_api/upload", body=body,
                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, text


def test_upload_takes_no_server_path(library_app: tuple[Client, Assistant, str], tmp_path: Path) -> None:
    """A crafted call naming a file already on the server (not uploaded) is refused by Gradio; nothing is saved."""
    _, library, url = library_app
    secret = tmp_path / "secret-notes.md"
    secret.write_text("# Secret\n\nThe vault code is 1234.\n", encoding="utf-8")
    before = state(library)
    body = json.dumps({"data": [{"path": str(secret), "meta": {"_type": "gradio.FileData"}}, False]})
    status, text = raw_get(url, "/gradio_api/call/upload", "POST", body)
    if status == 200:  # queued: the result (an error) comes on the event stream
        event = json.loads(text)["event_id"]
        status, text = raw_get(url, f"/gradio_api/call/upload/{event}")
        assert "event: error" in text
    assert "secret-notes.md" not in state(library)[0] and state(library) == before


def test_remove_through_the_app(library_app: tuple[Client, Assistant, str], tmp_path: Path) -> None:
    client, library, _ = library_app
    notes = tmp_path / "lakemont.md"
    notes.write_text("# Lakemont\n\nLakemont opened a trade desk in Osaka in 2019.\n", encoding="utf-8")
    assert upload(client, notes)[0].startswith('<div class="cq-ok">Added lakemont.md')
    status, _summary, table, _choices = client.predict("lakemont.md", api_name="/remove")
    assert status.startswith('<div class="cq-ok">Removed lakemont.md:') and "moved to corpus/.removed/" in status
    assert "lakemont.md" not in [row[0] for row in table["data"]]
    corpus = Path(library.settings.corpus_dir)
    assert not (corpus / "lakemont.md").exists()
    assert [p.name[-len("-lakemont.md"):] for p in (corpus / REMOVED_DIR).iterdir()] == ["-lakemont.md"]
    before = state(library)
    for source in ["lakemont.md", "../corpus/global-engagements-california-cities.txt"]:  # the list refuses them
        with pytest.raises(Exception, match="is not in the list of choices"):
            client.predict(source, api_name="/remove")
    assert client.predict(None, api_name="/remove")[0].startswith("**No document chosen.**")
    assert client.predict(None, False, api_name="/upload")[0].startswith("**No file yet.**")
    assert state(library) == before


def test_fact_check_tab_follows_the_hook(client: Client, assistant: Assistant) -> None:
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert ("/check" in endpoints) == hasattr(assistant, "check")


def test_fact_check_cards_evidence_and_note(client: Client, assistant: Assistant, server: str) -> None:
    """Check two claims, open the contradicted one's evidence in context, add it to the note and export it."""
    status, panel = client.predict(f"{SUPPORTED_CLAIM} {CONTRADICTED_CLAIM}", api_name="/check")
    assert "2 claims checked: 1 Supported, 1 Contradicted." in status and "Click an evidence quote" in panel
    expected = assistant.check(CONTRADICTED_CLAIM)[0]
    quote = expected.evidence[0].quote
    shown = client.predict(2, 1, api_name="/check_source")
    assert "Claim 2 (Contradicted): evidence [1] in its context" in shown
    assert f'{CONFLICT}2009</mark>' in shown
    assert "The global engagement of California cities" in shown  # the paragraph before: context, not just the quote
    for claim_no, evidence_no in [(3, 1), (0, 1), (2, 4)]:
        assert "no such evidence" in client.predict(claim_no, evidence_no, api_name="/check_source")
    client.predict(2, api_name="/add_to_note")
    client.predict(9, api_name="/add_to_note")  # no such claim: the note is unchanged
    note, download = client.predict(api_name="/check_export")
    markdown = note["value"] if isinstance(note, dict) else note
    assert f"## 1. {CONTRADICTED_CLAIM}" in markdown and "## 2." not in markdown
    assert "date: claim says 2012, source says 2009" in markdown and quote in markdown
    assert assistant.manifest["files"][expected.evidence[0].source]["sha256"] in markdown
    assert assistant.fingerprint in markdown
    path = download["value"] if isinstance(download, dict) else download
    assert Path(path).name.startswith("cityqa-factcheck-")
    status_code, body = raw_get(server, f"/gradio_api/file={path}")
    assert status_code == 200 and body.strip() == markdown.strip()


def test_fact_check_refusals_are_messages(client: Client, assistant: Assistant) -> None:
    limit = assistant.settings.max_check_chars
    for text, message in [("", "Please type a claim"), ("x" * (limit + 1), f"at most {limit:,} ")]:
        status, _ = client.predict(text, api_name="/check")
        assert message in status and "cq-warn" in status


# ------------------------------------------------------------------ the Evaluation tab

HOSTILE_ID = "<img src=x onerror=alert(1)> *q999*"
HOSTILE_TAG = "<b>tag</b>|pipe"


@pytest.fixture(scope="module")
def eval_reports(quoting: Assistant, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    assistant = quoting  # a quote that misses the short answer, for the failure list
    """Real evaluations: cityqa and bm25 on 6 gold questions plus one whose gold answer no document gives (so it
    fails; its id and tag are markup), and the fact-checker on two gold claims of each label."""
    folder = tmp_path_factory.mktemp("gold")
    questions = load_jsonl(GOLD / "questions.jsonl")[:6]
    bad = {**questions[0], "id": HOSTILE_ID, "short_answers": ["Atlantis"], "tags": [HOSTILE_TAG]}
    claims = load_jsonl(GOLD / "claims.jsonl")
    picked = [c for label in metrics.LABELS for c in [c for c in claims if c["label"] == label][:2]]
    for name, items in [("questions.jsonl", [*questions, bad]), ("claims.jsonl", picked)]:
        (folder / name).write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return {
        "questions": ev.evaluate(assistant, folder / "questions.jsonl", systems=["cityqa", "bm25"]),
        "claims": ev.evaluate_claims(assistant, folder / "claims.jsonl"),
    }


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval-out")


@pytest.fixture(scope="module")
def eval_client(assistant: Assistant, eval_dir: Path) -> Iterator[Client]:
    app, url = launch(assistant, eval_dir)
    yield Client(url, verbose=False)
    app.close()


def reports_in(folder: Path, *written: dict[str, Any]) -> None:
    """Make `folder` hold exactly these reports (as `cityqa eval --out folder` writes them)."""
    for path in folder.iterdir():
        path.unlink()
    for report in written:
        reports.write_report(report, folder)


def evaluation(client: Client) -> tuple[str, str | None, str, str | None]:
    """Press Refresh: the two reports' Markdown and the local paths of their charts (None when hidden)."""
    questions, chart, claims, claims_chart = client.predict(api_name="/evaluation")
    return questions, _image(chart), claims, _image(claims_chart)


def _image(update: Any) -> str | None:
    if isinstance(update, dict) and update.get("__type__") == "update":
        if not update.get("visible", True):
            return None
        update = update.get("value")
    return update.get("path") if isinstance(update, dict) else update


def test_evaluation_tab_shows_the_measured_report(
    eval_client: Client, eval_dir: Path, eval_reports: dict[str, dict[str, Any]]
) -> None:
    report = eval_reports["questions"]
    reports_in(eval_dir, report)
    text, chart, _, _ = evaluation(eval_client)
    cityqa, bm25 = (report["systems"][name]["overall"] for name in ("cityqa", "bm25"))
    assert "| metric | cityqa | bm25 |" in text
    for metric in metrics.HEADLINE:  # every headline number, formatted as `cityqa eval` prints it
        row = f"| {escape_md(metric)} | {reports.fmt(cityqa[metric], metric)} | {reports.fmt(bm25[metric], metric)} |"
        assert row in text
    lookup = report["systems"]["cityqa"]["by_tag"]["lookup"]
    assert f"| lookup | {lookup['n']} | {reports.fmt(lookup['hit@5'])} | {reports.fmt(lookup['mrr'])} |" in text
    assert "7 gold questions, 2 system(s)" in text and escape_md(report["gold"]) in text
    assert escape_md(report["created"].replace("T", " ")) in text and "all\\-MiniLM" in text
    failed = [f["id"] for f in report["systems"]["cityqa"]["failures"]]
    assert HOSTILE_ID in failed and f"failed questions ({len(failed)})" in text
    assert f"**{escape_md(HOSTILE_ID)}**: short answer missing" in text  # the id, escaped, with its reason
    assert "<img" not in text and "<b>" not in text and escape_md(HOSTILE_TAG) in text
    assert "out of date" not in text  # made from the index the app serves
    assert chart is not None
    with Image.open(chart) as shown, Image.open(eval_dir / "report.png") as written:
        assert shown.size == written.size and shown.format == "PNG"


def test_evaluation_tab_shows_the_claims_report(
    eval_client: Client, eval_dir: Path, eval_reports: dict[str, dict[str, Any]]
) -> None:
    report = eval_reports["claims"]
    reports_in(eval_dir, report)
    questions, chart, text, claims_chart = evaluation(eval_client)
    assert "No evaluation report yet" in questions and chart is None  # only the claims were evaluated
    overall = report["overall"]
    assert "6 gold claims" in text and f"| accuracy | {reports.fmt(overall['accuracy'])} |" in text
    for gold in metrics.LABELS:  # the confusion matrix, row by row
        counts = " | ".join(str(overall["confusion"][gold][p]) for p in metrics.LABELS)
        assert f"| {escape_md(gold)} | {counts} |" in text
    assert f"Wrong verdicts ({len(report['failures'])})" in text
    assert claims_chart is not None
    with Image.open(claims_chart) as shown, Image.open(eval_dir / "claims-report.png") as written:
        assert shown.size == written.size


def test_evaluation_tab_without_reports_says_how_to_make_them(eval_client: Client, eval_dir: Path) -> None:
    reports_in(eval_dir)
    questions, chart, claims, claims_chart = evaluation(eval_client)
    assert "No evaluation report yet" in questions and f"`cityqa eval --out {eval_dir}`" in questions
    assert "No fact-check report yet" in claims and f"`cityqa eval --claims --out {eval_dir}`" in claims
    assert chart is None and claims_chart is None


def test_evaluation_tab_reports_unreadable_files(
    eval_client: Client, eval_dir: Path, eval_reports: dict[str, dict[str, Any]]
) -> None:
    reports_in(eval_dir, eval_reports["questions"], eval_reports["claims"])
    (eval_dir / "report.json").write_text('{"kind": "questions", "systems": {', encoding="utf-8")  # cut short
    (eval_dir / "claims-report.json").write_text('{"kind": "claims", "n_claims": 3}', encoding="utf-8")
    questions, chart, claims, claims_chart = evaluation(eval_client)
    assert "could not be read" in questions and "not a readable JSON file" in questions
    assert f"`cityqa eval --out {eval_dir}`" in questions and "Traceback" not in questions
    assert "is not a cityqa claims report" in claims and "no field 'overall'" in claims
    assert chart is None and claims_chart is None  # a chart is never shown without its report


def test_evaluation_notes_a_report_older_than_the_index(
    assistant: Assistant, tmp_path: Path, eval_reports: dict[str, dict[str, Any]]
) -> None:
    old = {**eval_reports["questions"], "created": "2000-01-01T00:00:00+00:00", "embed_model": "other-model"}
    reports.write_report(old, tmp_path)
    text, chart = Handlers(assistant, tmp_path).report_view("questions")
    assert "may be out of date" in text and "index was updated" in text and "other\\-model" in text
    assert "| metric | cityqa | bm25 |" in text and chart.visible


def test_evaluation_files_are_not_served(
    eval_client: Client, eval_dir: Path, eval_reports: dict[str, dict[str, Any]]
) -> None:
    reports_in(eval_dir, eval_reports["questions"])
    _, chart, _, _ = evaluation(eval_client)
    assert chart is not None
    base = eval_client.src
    for name in ("report.json", "report.png", "report.md"):
        status, _ = raw_get(base, f"/gradio_api/file={eval_dir / name}")
        assert status in {403, 404}, (name, status)


# ------------------------------------------------------------------ defences


def raw_get(base: str, path: str, method: str = "GET", body: str | None = None, timeout: float = 10
            ) -> tuple[int, str]:
    """Send `path` byte for byte (no client-side '..' normalisation) and return status and body."""
    host, port = base.split("//")[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    return response.status, text


def test_file_route_refuses_traversal_and_private_paths(server: str, assistant: Assistant) -> None:
    index = Path(assistant.settings.index_dir).resolve()
    repo = Path(__file__).resolve().parents[2]
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
def auth_server(quoting: Assistant) -> Iterator[str]:
    app, url = launch(quoting, auth=parse_auth("ana:s3cret"))
    yield url
    app.close()


def test_login_required_when_auth_is_set(auth_server: str) -> None:
    for path in ["/config", "/gradio_api/info", "/gradio_api/file=/etc/passwd", "/gradio_api/openapi.json"]:
        status, _ = raw_get(auth_server, path)
        assert status in {401, 403}, (path, status)
    for path in ["/openapi.json", "/docs", "/redoc"]:  # the framework's route list is not served to anyone
        status, _ = raw_get(auth_server, path)
        assert status == 404, (path, status)
    data = '{"data": ["Who?", "All documents", [], 6]}'
    for path in ["/gradio_api/call/ask", "/gradio_api/run/ask"]:
        status, body = raw_get(auth_server, path, "POST", data)
        assert status in {401, 403}, (path, status, body)
    with pytest.raises(Exception, match=r"credentials|login"):
        Client(auth_server, verbose=False)
    with pytest.raises(ValueError):
        Client(auth_server, auth=("ana", "wrong"), verbose=False)
    status, _ = raw_upload(auth_server, "notes.md", b"# Notes\n\nText.\n")  # uploads are behind the login too
    assert status in {401, 403}, status
    signed_in = Client(auth_server, auth=("ana", "s3cret"), verbose=False)
    assert "Finland" in ask(signed_in, SAN_JOSE)


def test_check_a_whole_draft_and_download_it_annotated(client: Client, tmp_path: Path) -> None:
    """The Fact-check tab's draft upload: the status counts the verdicts and what was not checked, the download is
    the Word draft opening on its summary page with one comment per checked sentence, and a card added to the
    briefing note brings the draft's name and SHA-256 into it. A file of another type is refused by the upload box."""
    from draftgen import make_draft, summary_and_draft

    draft = make_draft(tmp_path / "memo.docx")
    sha = hashlib.sha256(draft.read_bytes()).hexdigest()
    status, _panel, download = client.predict(handle_file(str(draft)), api_name="/check_draft")
    assert "memo.docx: 5 claims checked" in status and "2 Contradicted" in status and "not checked" in status, status
    assert download["visible"]  # a button update: shown, with the file
    annotated = docx.Document(str(download["value"]))
    assert len(list(annotated.comments)) == 5
    summary, rest = summary_and_draft(Path(download["value"]))
    assert summary[:3] == ["Fact-check summary", "Draft: memo.docx", f"SHA-256: {sha}"]
    assert rest == [p.text for p in docx.Document(str(draft)).paragraphs]
    client.predict(2, api_name="/add_to_note")
    note, _download = client.predict(api_name="/check_export")
    markdown = note["value"] if isinstance(note, dict) else note
    assert f"- `memo.docx` · SHA-256 `{sha}`" in markdown  # the drafts the note's claims come from
    assert f"From the draft: `memo.docx` (SHA-256 `{sha}`)" in markdown
    other = tmp_path / "memo.exe"
    other.write_bytes(b"MZ\x90\x00")
    with pytest.raises(Exception, match="Invalid file type"):  # the upload box refuses it before the handler
        client.predict(handle_file(str(other)), api_name="/check_draft")


def test_draft_handler_says_why_it_checks_nothing(quoting: Assistant, tmp_path: Path) -> None:
    h = Handlers(quoting, tmp_path)
    for file, reason in [(None, "Choose a draft"), (str(tmp_path / "memo.exe"), "A draft must be one of")]:
        checks, status, _panel, download = h.check_draft(file)
        assert checks == [] and reason in status and download.visible is False
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a Word file")
    checks, status, _panel, _download = h.check_draft(str(broken))
    assert checks == [] and "broken.docx" in status  # the corpus readers' refusal, with its reason


def test_draft_handler_reports_progress_to_the_bar(quoting: Assistant, tmp_path: Path) -> None:
    """What the Gradio progress bar is told while a draft runs: reading, each sentence, writing."""
    from draftgen import make_draft

    heard: list[tuple[Any, str]] = []
    draft = str(make_draft(tmp_path / "memo.docx"))
    checks, *_ = Handlers(quoting, tmp_path).check_draft(draft, lambda done, desc: heard.append((done, desc)))
    assert [c.number for c in checks] == [1, 2, 3, 4, 5]
    assert {c.draft.name if c.draft else None for c in checks} == {"memo.docx"}
    assert heard == [((0, 1), "Reading memo.docx"), *[((n, 5), f"Checking sentence {n + 1} of 5") for n in range(5)],
                     ((1, 1), "Writing the checked draft")]


def test_a_file_left_unindexed_by_a_killed_upload_is_indexed_when_the_server_starts(
    settings: Settings, assistant: Assistant, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = indexed_copy(settings, tmp_path)  # (`assistant`: the session's index is built)
    saved = Path(mine.settings.corpus_dir) / "harwick-exchange.md"  # saved, then the server died before indexing
    saved.write_text("Harwick opened a trade office in Osaka in 2012.\n", encoding="utf-8")
    assert "harwick-exchange.md" not in mine.manifest["files"]
    catch_up(mine)
    assert "harwick-exchange.md" in mine.manifest["files"]
    assert "added 1" in capsys.readouterr().out
    catch_up(mine)  # nothing changed since: nothing said
    assert capsys.readouterr().out == ""
