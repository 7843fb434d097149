"""End to end in headless Chromium: ask, see the answer with citation chips, open one, see the quote highlighted.

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
from cityqa.ui import build_app, launch_options
from conftest import GOLD

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run",
]
SAN_JOSE = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"


@pytest.fixture(scope="module")
def eval_report(assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A real report (cityqa on 4 gold questions) in a folder of its own, for the Evaluation tab."""
    folder = tmp_path_factory.mktemp("eval-out")
    report = ev.evaluate(assistant, GOLD / "questions.jsonl", systems=["cityqa"], limit=4)
    ev.write_report(report, folder)
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
    hit1 = ev.fmt(eval_report[1]["systems"]["cityqa"]["overall"]["hit@1"])
    page.get_by_role("tab", name="Evaluation").click()
    row = page.locator("#cq-eval table tr").filter(has=page.get_by_role("cell", name="hit@1", exact=True))
    expect(row).to_contain_text(hit1)
    expect(page.locator("#cq-eval-chart img")).to_be_visible()
    page.get_by_role("tab", name="Ask").click()
