"""Gradio chat UI (first version: chat with citations listed under each answer)."""

from __future__ import annotations

import html
from typing import Any

from .assistant import Assistant
from .errors import CityqaError
from .settings import Settings
from .types import Answer


def render_answer(answer: Answer) -> str:
    """Markdown for one answer: the quoted sentences, then each citation; no raw HTML from any input."""
    body = html.escape(answer.answer)
    lines = [body, ""]
    if answer.citations:
        lines.append("**Sources**")
        lines += [f"{c.n}. {html.escape(c.label)} — chars {c.start}–{c.end}" for c in answer.citations]
    elif answer.related:
        lines.append("**Closest passages** (they do not answer the question):")
        lines += [f"- {html.escape(c.label)}: “{html.escape(' '.join(c.quote.split()))}”" for c in answer.related]
    return "\n".join(lines)


def build_app(assistant: Assistant) -> Any:
    import gradio as gr

    def respond(message: str, history: list[dict[str, Any]]) -> str:
        try:
            return render_answer(assistant.ask(message, history=history))
        except CityqaError as exc:
            return f"⚠️ {html.escape(str(exc))}"

    return gr.ChatInterface(respond, title="cityqa — California cities' international affairs")


def serve(settings: Settings | None = None) -> None:
    """Launch the chat. Host and port follow GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (default 127.0.0.1:7860)."""
    assistant = Assistant.open(settings=settings or Settings())
    app = build_app(assistant)
    app.queue(max_size=64, default_concurrency_limit=4).launch(show_api=False)
