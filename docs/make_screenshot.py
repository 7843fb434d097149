"""Regenerate docs/screenshot.png: index the shipped corpus into a temporary folder, launch the app, ask a few
questions in headless Chromium, open a citation and take the picture.

    .venv/bin/python docs/make_screenshot.py

Needs /usr/bin/chromium (`make browser`); nothing is downloaded.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from playwright.sync_api import expect, sync_playwright

from cityqa import Assistant, Settings
from cityqa.ui import build_app, launch_options

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
QUESTIONS = [
    "Who is the Deputy Mayor of International Affairs for the City of Los Angeles?",
    "When was she interviewed?",
    "Which countries did San José visit on trade missions in the 1990s and early 2000s?",
]


def main(out: Path = REPO / "docs" / "screenshot.png") -> None:
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
        finally:
            app.close()
    print(f"wrote {out}")


def shoot(url: str, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 860}, device_scale_factor=1)
        page.set_default_timeout(20_000)
        page.goto(url, wait_until="load")
        for n, question in enumerate(QUESTIONS, 1):
            page.locator("#cq-question textarea").fill(question)
            page.locator("#cq-ask").click()
            expect(page.locator(".cq-chips")).to_be_visible()
            expect(page.get_by_text(f"Answer {n}:")).to_be_visible()
        page.locator(".cq-chip").first.click()
        expect(page.locator("#cq-panel mark")).to_be_visible()
        page.screenshot(path=str(out))
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png")
