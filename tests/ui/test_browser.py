"""End to end in headless Chromium: ask, see the answer with citation chips, open one, see the quote highlighted;
fact-check two claims, open a card's evidence in context, add the card to a briefing note and download it; check a
whole Word draft, watch its progress, see its cards and download it annotated; upload a PDF in the Corpus tab,
watch it index, ask, click the citation under the answer and see the page with the quote highlighted; hostile
uploads are refused with a message; removing a document asks first, and "Cancel" keeps it.

Uses Debian's /usr/bin/chromium (`make test` installs it); never `playwright install`. Fails, not skips, when
Chromium is missing, so a green run always means the browser really ran.
"""

from __future__ import annotations

import os
import shutil
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn
from lxml import etree
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from test_uploads import indexed_copy, state

from cityqa import Assistant, Settings
from cityqa.evaluation import evaluate as ev
from cityqa.evaluation import report as reports
from cityqa.ui.app import build_app, launch_options
from cityqa.ui.render import chip_label
from conftest import GOLD
from draftgen import ABSENT, ALTERED, ALTERED_IN_TABLE, REWORDED, TRUE, make_draft, summary_and_draft
from pdfgen import CALLOWAY, CALLOWAY_Q, make_pdf

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]
SAN_JOSE = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"
SUPPORTED = "Fresno banned caste discrimination in the city."
CONTRADICTED = "Abe Lowenthal's book Global California was published in 2012."  # the report says 2009
TABS = ["Ask", "Fact-check", "Corpus", "Evaluation"]
WATCH_JS = """(selector) => {
  window.cqSeen = [];
  const box = document.querySelector(selector);
  new MutationObserver(() => window.cqSeen.push(box.innerText)).observe(box, {subtree: true, childList: true,
    characterData: true});
}"""  # records every text the box shows (Gradio's progress bar and its labels included)


@pytest.fixture(scope="module")
def eval_report(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A real report (cityqa on 4 gold questions) in a folder of its own, for the Evaluation tab."""
    folder = tmp_path_factory.mktemp("eval-out")
    report = ev.evaluate(assistant, GOLD / "questions.jsonl", systems=["cityqa"], limit=4)
    reports.write_report(report, folder)
    return folder, report


@pytest.fixture(scope="module")
def server(quoting: Assistant, eval_report: tuple[Path, dict[str, Any]]) -> Iterator[str]:
    assistant = quoting
    app = build_app(assistant, eval_report[0])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    options = {**launch_options(assistant.settings), "auth": None}
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **options)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Chromium is missing: run `apt-get install -y chromium` (or `make browser`)"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Browser, url: str) -> Page:
    tab = browser.new_page(viewport={"width": 1366, "height": 900})
    tab.set_default_timeout(20_000)
    tab.goto(url, wait_until="load")
    return tab


@pytest.fixture(scope="module")
def page(browser: Browser, server: str) -> Iterator[Page]:
    tab = open_page(browser, server)
    yield tab
    tab.close()


def ask(page: Page, question: str) -> None:
    box = page.locator("#cq-question textarea")
    box.fill(question)
    page.locator("#cq-ask").click()


def test_ask_click_citation_and_see_highlighted_quote(page: Page, quoting: Assistant, tmp_path: Path) -> None:
    assistant = quoting
    expected = assistant.ask(SAN_JOSE).citations[0]
    ask(page, SAN_JOSE)
    answer = page.locator("#cq-chat .message-row").last
    expect(answer).to_contain_text("Finland")
    expect(answer.locator(".cq-inline-chip").first).to_have_text(chip_label(expected))  # under the answer too
    chip = page.locator(".cq-chip").first
    expect(chip).to_contain_text("[1]")
    expect(chip).to_contain_text(expected.source)
    chip.click()
    mark = page.locator("#cq-panel mark")
    expect(mark).to_have_text(expected.quote)
    expect(page.locator("#cq-panel .cq-passage")).to_contain_text("Trade and Commerce Agency")  # context too
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists() and shot.stat().st_size > 30_000


def test_typed_markup_stays_text(page: Page) -> None:
    probe = "<img src=x onerror=\"window.cqPwned=1\"><script>window.cqPwned=1</script> Who?"
    ask(page, probe)
    expect(page.locator("#cq-chat .message-row").nth(-2)).to_contain_text("<img src=x")
    flag: Any = page.evaluate("window.cqPwned")
    assert flag is None
    assert page.locator("#cq-chat img[src='x']").count() == 0


def test_evaluation_tab_shows_table_and_chart(page: Page, eval_report: tuple[Path, dict[str, Any]]) -> None:
    hit1 = reports.fmt(eval_report[1]["systems"]["cityqa"]["overall"]["hit@1"])
    page.get_by_role("tab", name="Evaluation").click()
    row = page.locator("#cq-eval table tr").filter(has=page.get_by_role("cell", name="hit@1", exact=True))
    expect(row).to_contain_text(hit1)
    expect(page.locator("#cq-eval-chart img")).to_be_visible()
    page.get_by_role("tab", name="Ask").click()


def test_fact_check_cards_evidence_in_context_and_note(page: Page, assistant: Assistant, tmp_path: Path) -> None:
    evidence = assistant.check(CONTRADICTED)[0].evidence[0]
    page.get_by_role("tab", name="Fact-check").click()
    page.locator("#cq-claims textarea").fill(f"{SUPPORTED} {CONTRADICTED}")
    page.locator("#cq-check").click()
    cards = page.locator(".cq-card")
    expect(cards).to_have_count(2, timeout=60_000)
    expect(page.get_by_role("tab")).to_have_text(TABS)  # the tab's state and render leave the tab bar alone
    supported, contradicted = cards.nth(0), cards.nth(1)
    expect(supported.locator(".cq-badge.cq-supported")).to_have_text("Supported")
    expect(supported.locator(".cq-claim")).to_have_text(SUPPORTED)
    expect(contradicted.locator(".cq-badge.cq-contradicted")).to_have_text("Contradicted")
    expect(contradicted.locator(".cq-claim mark.cq-conflict")).to_have_text("2012")
    expect(contradicted.locator(".cq-mismatches")).to_contain_text("date: claim says 2012, source says 2009")
    background = contradicted.locator(".cq-claim mark.cq-conflict").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(255, 214, 214)"  # red, unlike a match
    contradicted.locator(".cq-quote").first.click()
    panel = page.locator("#cq-check-panel")
    expect(panel.locator(".cq-passage > mark")).to_have_text(evidence.quote)
    expect(panel.locator(".cq-passage > mark mark.cq-conflict")).to_have_text("2009")
    expect(panel.locator(".cq-passage")).to_contain_text("The global engagement of California cities")  # context
    expect(panel).to_contain_text("Claim 2 (Contradicted)")
    page.locator(".cq-note-toggle").nth(1).click()
    expect(page.locator(".cq-note-toggle").nth(1)).to_have_text("Remove from briefing note")
    expect(page.locator("#cq-check-note-list")).to_contain_text("1 claim in the note")
    page.locator("#cq-check-export").click()
    with page.expect_download() as download:
        page.locator("#cq-check-download").click()
    note = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"## 1. {CONTRADICTED}" in note and SUPPORTED not in note
    assert "- Verdict: **Contradicted**" in note and "date: claim says 2012, source says 2009" in note
    assert evidence.quote in note and assistant.manifest["files"][evidence.source]["sha256"] in note
    assert assistant.fingerprint in note
    shot = tmp_path / "factcheck.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.exists() and shot.stat().st_size > 30_000
    page.get_by_role("tab", name="Ask").click()


def test_check_a_whole_draft_see_its_cards_and_download_it_annotated(page: Page, tmp_path: Path) -> None:
    """Upload a Word draft in the Fact-check tab: the progress bar says which sentence is being checked, the cards
    come in the draft's order, and the download is the draft opening on its summary page (name, SHA-256, counts,
    the contradicted first) with a Word comment on each checked sentence."""
    draft = make_draft(tmp_path / "memo.docx")
    page.get_by_role("tab", name="Fact-check").click()
    page.get_by_text("…or check a whole draft").click()  # the accordion
    box = page.locator("#cq-draft")
    box.locator("input[type=file]").set_input_files(draft)
    expect(box.locator("table a")).to_be_visible()  # uploaded to the server's temporary folder, link shown
    page.evaluate(WATCH_JS, "#cq-check-status")
    page.locator("#cq-check-draft").click()
    status = page.locator("#cq-check-status .cq-status")
    expect(status).to_contain_text("memo.docx: 5 claims checked", timeout=60_000)
    cards = page.locator(".cq-card")
    expect(cards).to_have_count(5)
    expect(cards.locator(".cq-claim")).to_have_text([TRUE, ALTERED, REWORDED, ABSENT, ALTERED_IN_TABLE])
    expect(cards.nth(1).locator(".cq-badge.cq-contradicted")).to_have_text("Contradicted")
    seen: list[str] = page.evaluate("window.cqSeen")
    assert any("Checking sentence" in text for text in seen), seen  # the progress bar: sentence i of 5
    with page.expect_download() as download:
        page.locator("#cq-draft-download").click()
    assert download.value.suggested_filename == "memo-checked.docx"
    annotated = Path(download.value.path())
    summary, rest = summary_and_draft(annotated)
    assert summary[:2] == ["Fact-check summary", "Draft: memo.docx"] and summary[2].startswith("SHA-256: ")
    assert "• Contradicted: 2" in summary and summary.index("Contradicted (2)") < summary.index("Close match (1)")
    assert rest == [p.text for p in docx.Document(str(draft)).paragraphs]  # then the draft, its text unchanged
    with zipfile.ZipFile(annotated) as archive:
        comments = etree.fromstring(archive.read("word/comments.xml")).findall(qn("w:comment"))
    texts = ["".join(c.itertext()) for c in comments]
    assert len(texts) == 5 and all(c.get(qn("w:author")) == "cityqa" for c in comments)
    assert any(t.startswith("Contradicted") and "source says Fresno" in t for t in texts), texts
    screenshot(page, tmp_path, "draft-check.png")
    page.get_by_role("tab", name="Ask").click()


# ------------------------------------------------------------------ uploads in the Corpus tab

DOCS = Path(__file__).resolve().parents[2] / "docs"


def screenshot(page: Page, folder: Path, name: str) -> None:
    """A full-page screenshot into `folder`; also into docs/ when CITYQA_DOCS_SCREENSHOTS=1 (to refresh the README's
    pictures), so an ordinary test run leaves the working tree as it was."""
    shot = folder / name
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 30_000
    if os.environ.get("CITYQA_DOCS_SCREENSHOTS") == "1":
        shutil.copy(shot, DOCS / name)
CALLOWAY_QUOTE = "Port Calloway opened its Office of Global Partnerships in 2021."
LIMIT = 200 * 1024


@pytest.fixture(scope="module")
def library(settings: Settings, assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A private copy of the indexed corpus (the upload tests change it), with a 200 KiB upload limit."""
    return indexed_copy(settings, tmp_path_factory.mktemp("browser-library"), max_upload_bytes=LIMIT)


@pytest.fixture(scope="module")
def library_page(browser: Browser, library: Assistant) -> Iterator[Page]:
    app = build_app(library)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    options = {**launch_options(library.settings), "auth": None}
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **options)
    tab = open_page(browser, f"http://127.0.0.1:{port}/")
    yield tab
    tab.close()
    app.close()


def choose_file(page: Page, path: Path | dict[str, Any]) -> None:
    """Put a file in the Corpus tab's upload box (as dropping it would) and wait for the box to hold it."""
    box = empty_upload_box(page)
    box.locator("input[type=file]").set_input_files(path)  # type: ignore[arg-type]
    expect(box.locator("table a")).to_be_visible()  # uploaded to the server's temporary folder, link shown


def empty_upload_box(page: Page) -> Locator:
    """The Corpus tab's upload box, emptied (a refused file stays in it)."""
    page.get_by_role("tab", name="Corpus").click()
    box = page.locator("#cq-upload")
    if box.locator("table").count():
        box.get_by_role("button", name="Clear").first.click()
    expect(box.locator("table")).to_have_count(0)
    return box


def add_file(page: Page) -> str:
    """Press "Add and index" and return the new status message (the previous one is marked old first)."""
    page.evaluate("document.querySelectorAll('#cq-corpus-status :is(.cq-ok, .cq-warn)')"
                  ".forEach((e) => e.classList.add('cq-old'))")
    page.locator("#cq-add").click()
    fresh = page.locator("#cq-corpus-status :is(.cq-ok, .cq-warn):not(.cq-old)")
    expect(fresh).to_be_visible(timeout=120_000)
    return fresh.inner_text()


def test_upload_pdf_ask_click_citation_and_see_the_page(
    library_page: Page, library: Assistant, tmp_path: Path
) -> None:
    page = library_page
    pdf = tmp_path / "port-calloway-brief.pdf"
    assert make_pdf(pdf, CALLOWAY).page_of(CALLOWAY_QUOTE) == (2, 2)
    choose_file(page, pdf)
    page.evaluate(WATCH_JS, "#cq-corpus-status")
    status = add_file(page)
    assert status.startswith("Added port-calloway-brief.pdf (PDF,") and "passages indexed" in status
    seen: list[str] = page.evaluate("window.cqSeen")
    assert any(word in text for text in seen for word in ("Checking the file", "Indexing", "embedding")), seen
    expect(page.locator("#cq-corpus")).to_contain_text("port-calloway-brief.pdf")
    expect(page.locator("#cq-corpus-summary")).to_contain_text("3 documents")
    screenshot(page, tmp_path, "upload.png")
    page.get_by_role("tab", name="Ask").click()
    ask(page, CALLOWAY_Q)
    answer = page.locator("#cq-chat .message-row").last
    expect(answer).to_contain_text("2021")
    chip = answer.locator(".cq-inline-chip").first
    expect(chip).to_have_text("[1] port-calloway-brief.pdf · The Office · p. 2")
    chip.click()
    panel = page.locator("#cq-panel")
    expect(panel.locator(".cq-source dl")).to_contain_text("Pagep. 2")
    image = panel.locator(".cq-page img")
    expect(image).to_be_visible(timeout=30_000)
    expect(image).to_have_attribute("alt", "Page 2 of port-calloway-brief.pdf with the quoted sentence highlighted")
    size: list[int] = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] > 300 and size[1] > size[0], size  # a rendered portrait page, not a broken image
    expect(panel.locator(".cq-passage mark")).to_have_text(CALLOWAY_QUOTE)  # and the text in its context
    page.locator(".cq-page").scroll_into_view_if_needed()
    screenshot(page, tmp_path, "pdf-page.png")


@pytest.mark.parametrize(("upload", "reason"), [
    ({"name": "notes.pdf", "mimeType": "application/pdf", "buffer": b"Plain text, named like a PDF.\n"},
     "its content is plain text, which does not match its '.pdf' extension"),
    ({"name": "notes..md", "mimeType": "text/markdown", "buffer": b"# Notes\n\nText.\n"},
     "the file name contains '..'"),
    ({"name": "global-engagements-california-cities.txt", "mimeType": "text/plain", "buffer": b"New.\n"},
     "tick “Replace a document with the same name”"),
], ids=["wrong-type", "dot-dot", "existing-name"])
def test_hostile_uploads_are_refused_with_a_message(
    library_page: Page, library: Assistant, upload: dict[str, Any], reason: str
) -> None:
    before = state(library)
    choose_file(library_page, upload)
    status = add_file(library_page)
    assert status.startswith("Not added.") and reason in status and "Nothing was changed." in status
    assert state(library) == before


def test_too_large_upload_is_refused_in_the_browser(library_page: Page, library: Assistant) -> None:
    before = state(library)
    big = {"name": "big.txt", "mimeType": "text/plain", "buffer": b"word " * (LIMIT // 4)}
    empty_upload_box(library_page).locator("input[type=file]").set_input_files(big)  # type: ignore[arg-type]
    expect(library_page.get_by_text("exceed the maximum allowed size")).to_be_visible()
    assert state(library) == before


def test_a_path_in_the_name_is_reduced_to_its_base_name(library_page: Page, library: Assistant) -> None:
    """Gradio keeps only the base name of an upload called '../outside.md', so it lands inside the corpus folder as
    outside.md, never next to it (`cityqa.documents.uploads` refuses such a name outright:
    tests/documents/test_uploads.py)."""
    corpus = Path(library.settings.corpus_dir)
    sneaky = {"name": "../outside.md", "mimeType": "text/markdown", "buffer": b"# Outside\n\nHarbor text.\n"}
    choose_file(library_page, sneaky)
    status = add_file(library_page)
    assert status.startswith("Added outside.md (Markdown, 24 bytes)")
    assert not (corpus.parent / "outside.md").exists()
    assert (corpus / "outside.md").read_bytes() == sneaky["buffer"]


def test_removing_a_document_asks_first_and_cancel_keeps_it(library_page: Page, library: Assistant) -> None:
    page = library_page
    name = "harbor-memo-to-remove.md"
    choose_file(page, {"name": name, "mimeType": "text/markdown",
                       "buffer": b"# Harbor memo\n\nPort Alder opened a harbor office in 2011.\n"})
    assert add_file(page).startswith(f"Added {name}")
    confirm, status = page.locator("#cq-remove-confirm"), page.locator("#cq-corpus-status")

    def ask_to_remove() -> None:
        page.locator("#cq-remove-doc input").click()
        page.get_by_role("option", name=name).click()
        page.locator("#cq-remove").click()
        expect(confirm).to_be_visible()
        expect(page.locator("#cq-remove-question")).to_contain_text(f"Remove {name}?")

    ask_to_remove()
    page.locator("#cq-remove-no").click()
    expect(confirm).to_be_hidden()
    expect(status).to_contain_text("Nothing was removed.")
    assert name in library.manifest["files"] and (Path(library.settings.corpus_dir) / name).is_file()
    ask_to_remove()
    page.locator("#cq-remove-yes").click()
    expect(confirm).to_be_hidden()
    expect(status).to_contain_text(f"Removed {name}", timeout=120_000)
    expect(page.locator("#cq-corpus")).not_to_contain_text(name)
    assert name not in library.manifest["files"] and not (Path(library.settings.corpus_dir) / name).exists()
