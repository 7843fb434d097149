"""Regenerate docs/screenshot.png, docs/factcheck.png and docs/factcheck-close.png: index the shipped corpus into a
temporary folder, launch the app, ask a few questions in headless Chromium, open a source and take the picture;
then fact-check four claims, open the contradicted one's evidence, add it to the briefing note and take the second;
the third is the close match's card alone.

    .venv/bin/python docs/make_screenshot.py [CHAT_PNG [FACTCHECK_PNG [CLOSE_PNG]]]

Needs /usr/bin/chromium (`make browser`); nothing is downloaded.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from playwright.sync_api import Page, expect, sync_playwright

from cityqa import Assistant, Settings
from cityqa.ui.app import build_app, launch_options

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
QUESTIONS = [
    "Who is the Deputy Mayor of International Affairs for the City of Los Angeles?",
    "When was she interviewed?",
    "Which countries did San José visit on trade missions in the 1990s and early 2000s?",
]
CLAIMS = ("Fresno banned caste discrimination in the city. Abe Lowenthal's book Global California was published "
          "in 2012. Sacramento opened a trade office in Lagos. Los Angeles already had a director for its office of "
          "international trade and development in 2010.")


def main(out: Path = REPO / "docs" / "screenshot.png", factcheck: Path = REPO / "docs" / "factcheck.png",
         close: Path = REPO / "docs" / "factcheck-close.png") -> None:
    with tempfile.TemporaryDirectory() as index:
        settings = Settings(corpus_dir=REPO / "corpus", index_dir=Path(index), auth=None)
        assistant = Assistant.open(settings=settings)
        assistant.ingest()
        app = build_app(assistant)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, **launch_options(settings))
        try:
            shoot(f"http://127.0.0.1:{port}/", out)
            shoot_factcheck(f"http://127.0.0.1:{port}/", factcheck, close)
        finally:
            app.close()
    print(f"wrote {out}, {factcheck} and {close}")


@contextmanager
def opened(url: str, timeout_ms: int) -> Iterator[Page]:
    """A page of the app in headless Chromium, closed afterwards."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 860}, device_scale_factor=1)
        page.set_default_timeout(timeout_ms)
        page.goto(url, wait_until="load")
        try:
            yield page
        finally:
            browser.close()


def shoot(url: str, out: Path) -> None:
    with opened(url, 20_000) as page:
        for n, question in enumerate(QUESTIONS, 1):
            page.locator("#cq-question textarea").fill(question)
            page.locator("#cq-ask").click()
            expect(page.get_by_text(f"Answer {n}:")).to_be_visible()  # a quote, or the closest passages
        page.locator(".cq-chip").first.click()
        expect(page.locator("#cq-panel mark")).to_be_visible()
        page.screenshot(path=str(out))


def shoot_factcheck(url: str, out: Path, close: Path) -> None:
    with opened(url, 60_000) as page:
        page.get_by_role("tab", name="Fact-check").click()
        page.locator("#cq-claims textarea").fill(CLAIMS)
        page.locator("#cq-check").click()
        contradicted = page.locator(".cq-card.cq-contradicted")
        expect(contradicted).to_be_visible()
        contradicted.locator(".cq-quote").first.click()
        expect(page.locator("#cq-check-panel mark.cq-conflict")).to_be_visible()
        page.locator(".cq-card-box").filter(has=contradicted).locator(".cq-note-toggle").click()
        expect(page.locator("#cq-check-note-list")).to_contain_text("1 claim in the note")
        page.screenshot(path=str(out), full_page=True)
        card = page.locator(".cq-card.cq-close").first
        expect(card).to_contain_text("check:")
        card.screenshot(path=str(close))


if __name__ == "__main__":
    paths = [Path(arg) for arg in sys.argv[1:4]]
    main(*paths)
