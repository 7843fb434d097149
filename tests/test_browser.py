"""End to end in headless Chromium: ask, see the answer with citation chips, open one, see the quote highlighted;
fact-check two claims, open a card's evidence in context, add the card to a briefing note and download it.

Uses Debian's /usr/bin/chromium (`make test` installs it); never `playwright install`. Fails, not skips, when
Chromium is missing, so a green run always means the browser really ran.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from cityqa import Assistant
from cityqa import evaluate as ev
from cityqa import report as reports
from cityqa.ui import build_app, launch_options
from conftest import GOLD

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


@pytest.fixture(scope="module")
def eval_report(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A real report (cityqa on 4 gold questions) in a folder of its own, for the Evaluation tab."""
    folder = tmp_path_factory.mktemp("eval-out")
    report = ev.evaluate(assistant, GOLD / "questions.jsonl", systems=["cityqa"], limit=4)
    reports.write_report(report, folder)
    return folder, report


@pytest.fixture(scope="module")
def server(assistant: Assistant, eval_report: tuple[Path, dict[str, Any]]) -> Iterator[str]:
    app = build_app(assistant, eval_report[0])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    options = {**launch_options(assistant.settings), "auth": None}
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **options)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Page]:
    assert CHROMIUM.exists(), "Chromium is missing: run `apt-get install -y chromium` (or `make browser`)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1366, "height": 900})
        tab.set_default_timeout(20_000)
        tab.goto(server, wait_until="load")
        yield tab
        browser.close()


def ask(page: Page, question: str) -> None:
    box = page.locator("#cq-question textarea")
    box.fill(question)
    page.locator("#cq-ask").click()


def test_ask_click_citation_and_see_highlighted_quote(page: Page, assistant: Assistant, tmp_path: Path) -> None:
    expected = assistant.ask(SAN_JOSE).citations[0]
    ask(page, SAN_JOSE)
    answer = page.locator("#cq-chat .message-row").last
    expect(answer).to_contain_text("Finland")
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
