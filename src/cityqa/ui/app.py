"""Gradio chat UI: ask, read each quote in its context (a PDF quote on its page too), filter, export a briefing note,
fact-check claims (one card per claim, its evidence openable in context, a note of the checked claims), add, remove
and re-index documents (checked and saved by `cityqa.documents.uploads`), and read the latest `cityqa eval` report.

This module lays the page out and wires its events, and launches it: `build_app(assistant)` builds the `gr.Blocks`;
`serve(settings)` launches it hardened (localhost, optional login, blocked paths, bounded queue). The pieces live
beside it in `cityqa.ui`: `handlers` (the event handlers), `render` (the pure renderers, which escape everything a
user or a document wrote), `reports` (the Evaluation tab's reports) and `style` (CSS and browser scripts).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from ..assistant import Assistant
from ..checking.briefing import ClaimCheck, Exchange
from ..checking.draft import DRAFT_SUFFIXES
from ..documents.extractors import FORMATS
from ..documents.uploads import size_text, upload_limit
from ..errors import CityqaError
from ..evaluation import report as reports
from ..settings import Settings
from .handlers import Handlers
from .render import (
    CHECK_LEGEND,
    CHECK_PANEL_HINT,
    KIND_CHOICES,
    PANEL_HINT,
    chip_label,
    cited,
    cities_in,
    note_summary,
    parse_auth,
    render_verdict_card,
    toggle_note,
)
from .reports import md
from .style import CHIP_JS, CSS, QUOTE_JS

TITLE = "cityqa: California cities' international affairs"
DRAFT_TYPES = tuple(sorted(DRAFT_SUFFIXES))

# ------------------------------------------------------------------ the app

# Gradio re-renders into one session-wide registry of blocks without a lock: two `gr.render`s of one session running
# at once can fail with "dictionary changed size during iteration". Renders are quick, so they take turns.
RENDER_OPTIONS: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "render"}


def build_app(assistant: Assistant, eval_dir: Path | str = reports.DEFAULT_OUT) -> gr.Blocks:
    """The chat app (a `gr.Blocks`, queue configured), for `serve` or for tests to launch; the Evaluation tab
    shows the reports `cityqa eval --out <eval_dir>` wrote."""
    h = Handlers(assistant, eval_dir)
    # delete_cache: uploads and notes left in Gradio's temporary folder go after a day (and when the server stops)
    with gr.Blocks(title="cityqa", analytics_enabled=False, delete_cache=(3600, 86400)) as app:
        gr.Markdown(
            f"## {TITLE}\nAnswers are **quoted word for word** from the indexed documents, each with its source. "
            "A quote is given only when it very likely answers; otherwise you get *the documents do not say this "
            "directly* with the closest passage, or *Not found*: never a guess."
        )
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                _ask_tab(h, app)
            _check_tab(h)
            with gr.Tab("Corpus", id="corpus"):
                _corpus_tab(h, app)
            with gr.Tab("Evaluation", id="evaluation") as evaluation:
                _evaluation_tab(h, evaluation)
    return app.queue(max_size=64, default_concurrency_limit=4)


def _ask_tab(h: Handlers, app: gr.Blocks) -> None:
    exchanges = gr.State([])
    selected = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            chatbot = gr.Chatbot(
                label="Conversation", height=460, latex_delimiters=[], feedback_options=None,
                group_consecutive_messages=False, sanitize_html=True, buttons=["copy"], elem_id="cq-chat",
                placeholder="Ask about California cities' international affairs: offices, sister cities, trade "
                "missions, interviews.",
            )
            with gr.Row():
                question = gr.Textbox(
                    placeholder="Type a question and press Enter", show_label=False, scale=5, max_lines=4,
                    max_length=2000, elem_id="cq-question", autofocus=True,
                )
                ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="cq-ask")
            with gr.Accordion("Filters", open=False), gr.Row():
                kind = gr.Radio(list(KIND_CHOICES), value="All documents", label="Documents", scale=2)
                cities = gr.Dropdown(
                    [], multiselect=True, allow_custom_value=True, scale=2,
                    label="Only passages naming these cities",
                )
                # filled on page load, not at build time: Gradio embeds the API schema (with any choices) in the
                # login page it serves to anonymous visitors, and the city list comes from the indexed documents
                app.load(lambda: gr.Dropdown(choices=_city_choices(h.assistant)), None, [cities],
                         api_visibility="private")
                k = gr.Slider(1, 20, value=h.assistant.settings.top_k, step=1, label="Passages searched", scale=1)
            with gr.Row():
                clear = gr.Button("New conversation", size="sm")
                export = gr.Button("Briefing note (Markdown)", size="sm", elem_id="cq-export")
                download = gr.DownloadButton("Download .md", visible=False, size="sm")
            note = gr.Code(label="Briefing note: copy or download", language="markdown", visible=False, lines=6,
                           max_lines=16, interactive=False, elem_id="cq-note", buttons=["copy"])
        with gr.Column(scale=2, min_width=340):
            gr.Markdown("### Sources")
            panel = gr.HTML(PANEL_HINT, elem_id="cq-panel", render=False)  # placed below the chips
            _chips(h, app, exchanges, selected, panel)
            panel.render()
    ask_inputs = [question, kind, cities, k, exchanges]
    ask_outputs = [chatbot, question, exchanges, selected, panel]
    ask.click(h.ask, ask_inputs, ask_outputs, api_name="ask", concurrency_id="ask")
    question.submit(h.ask, ask_inputs, ask_outputs, api_visibility="private", concurrency_id="ask")
    chatbot.select(_select_answer, [exchanges], [selected, panel], api_visibility="private")
    clear.click(_clear, None, [chatbot, exchanges, selected, panel, note, download], api_name="clear")
    export.click(h.export, [exchanges], [note, download], api_name="export")
    answer_no, cite_no = gr.Number(visible=False, precision=0), gr.Number(visible=False, precision=0)
    gr.Button(visible=False).click(h.source, [exchanges, answer_no, cite_no], [panel], api_name="source")
    _inline_chips(h, exchanges, selected, panel)


def _inline_chips(h: Handlers, exchanges: Any, selected: Any, panel: Any) -> None:
    """The chips under each answer in the chat: a click (see `CHIP_JS`) selects that answer and shows the passage in
    the source panel, as its chip in the side column does."""
    bridge = gr.HTML("", js_on_load=CHIP_JS, elem_id="cq-chip-bridge", padding=False)

    def open_chip(entries: list[Exchange], evt: gr.EventData) -> tuple[Any, str]:  # Gradio reads the hint
        answer_no = _position(getattr(evt, "answer", None))
        shown = h.source(entries, answer_no, _position(getattr(evt, "cite", None)))
        chosen = answer_no - 1 if 1 <= answer_no <= len(entries or []) else gr.skip()
        return chosen, shown

    bridge.click(open_chip, [exchanges], [selected, panel], api_visibility="private")


def _chips(h: Handlers, app: gr.Blocks, exchanges: Any, selected: Any, panel: Any) -> None:
    """A button per citation of the selected answer (the latest by default); clicking shows it in context.

    Rendered on page load and when the selection changes, which every question and "New conversation" do: a render
    on `exchanges.change` as well would run twice per question, and the second drops the buttons' handlers of the
    first, so a chip clicked in between fails."""

    @gr.render(inputs=[exchanges, selected], triggers=[app.load, selected.change], **RENDER_OPTIONS)
    def chips(entries: list[Exchange], chosen: int | None) -> None:
        if not entries or chosen is None or chosen >= len(entries):
            gr.Markdown("Sources of the answer appear here.", elem_classes="cq-hint")
            return
        cites = cited(entries[chosen])
        answer = entries[chosen].answer
        abstained = bool(answer and answer.abstained)
        label = "Cited passages"
        if abstained:
            label = ("Closest passages (the first comes close; the documents do not say it directly)"
                     if answer and answer.closest else "Closest passages (not an answer)")
        heading = f"**Answer {chosen + 1}: {label}**" if cites else f"Answer {chosen + 1} cites no passage."
        gr.Markdown(heading, elem_classes="cq-chips-head")
        with gr.Column(elem_classes="cq-chips"):
            for c in cites:
                button = gr.Button(chip_label(c), size="sm", elem_classes="cq-chip")
                button.click(partial(h.source_html, c), None, [panel], api_visibility="private")


def _clear() -> tuple[Any, ...]:
    return [], [], None, PANEL_HINT, gr.Code(value="", visible=False), gr.DownloadButton(visible=False)


def _select_answer(exchanges: list[Exchange], evt: gr.SelectData) -> tuple[int | None, str]:
    """Clicking a message in the chat selects its answer, whose sources then show as chips."""
    index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    if not exchanges or index is None:
        return None, PANEL_HINT
    return min(int(index) // 2, len(exchanges) - 1), PANEL_HINT


def _city_choices(assistant: Assistant) -> list[str]:
    try:
        engine = assistant.engine
        return cities_in(engine.nodes.chunks, getattr(engine, "places", None))
    except CityqaError:  # no index yet: the user can still type a city
        return []


def _check_tab(h: Handlers) -> None:
    """HOOK (fact-check): shown only once `Assistant.check` exists. A claim box; one card per claim with its
    evidence, each quote opening in context in the panel on the right; a briefing note of the cards added to it."""
    if not hasattr(h.assistant, "check"):
        return
    limit = h.assistant.settings.max_check_chars
    with gr.Tab("Fact-check", id="check"):
        checks, note = gr.State([]), gr.State([])  # inside the tab: a State directly in gr.Tabs mislabels a tab
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                claims = gr.Textbox(label="Claims to check", lines=4, elem_id="cq-claims",
                                    placeholder="Paste a sentence or paragraph: every sentence is checked as a claim",
                                    info=f"At most {limit:,} characters at a time.")
                run = gr.Button("Check", variant="primary", elem_id="cq-check")
                with gr.Accordion("…or check a whole draft", open=False):
                    draft = gr.File(label="Draft (.docx, .pdf, .md or .txt)", file_types=list(DRAFT_TYPES),
                                    type="filepath", elem_id="cq-draft")
                    run_draft = gr.Button("Check the draft", elem_id="cq-check-draft")
                    checked_draft = gr.DownloadButton("Download the checked draft", visible=False,
                                                      elem_id="cq-draft-download")
                status = gr.HTML(elem_id="cq-check-status")
                gr.HTML(CHECK_LEGEND)
                panel = gr.HTML(CHECK_PANEL_HINT, elem_id="cq-check-panel", render=False)  # placed on the right
                _cards(h, checks, note, panel)
            with gr.Column(scale=2, min_width=340, elem_id="cq-check-side"):
                gr.Markdown("### Evidence in context")
                panel.render()
                _note_box(h, note)
        claim_no, evidence_no = gr.Number(visible=False, precision=0), gr.Number(visible=False, precision=0)
        open_api, add_api = gr.Button(visible=False), gr.Button(visible=False)
    run.click(h.check, [claims], [checks, status, panel], api_name="check", concurrency_id="check")

    def run_check_draft(file: str | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return h.check_draft(file, progress)

    run_draft.click(run_check_draft, [draft], [checks, status, panel, checked_draft], api_name="check_draft",
                    concurrency_id="check")
    open_api.click(h.check_source, [checks, claim_no, evidence_no], [panel], api_name="check_source")
    add_api.click(_add_numbered, [checks, note, claim_no], [note], api_name="add_to_note")


def _note_box(h: Handlers, note: Any) -> None:
    """The Fact-check briefing note: what it holds, export (shown and downloadable) and clear."""
    gr.Markdown("### Briefing note")
    listing = gr.Markdown(note_summary([]), elem_id="cq-check-note-list")
    with gr.Row():
        export = gr.Button("Briefing note (Markdown)", size="sm", elem_id="cq-check-export")
        download = gr.DownloadButton("Download .md", visible=False, size="sm", elem_id="cq-check-download")
        clear = gr.Button("Clear note", size="sm")
    shown = gr.Code(label="Fact-check note: copy or download", language="markdown", visible=False, lines=6,
                    max_lines=16, interactive=False, elem_id="cq-check-note", buttons=["copy"])
    # once the note changes, an earlier export no longer matches it: hide it
    note.change(lambda n: (note_summary(n), gr.Code(visible=False), gr.DownloadButton(visible=False)),
                [note], [listing, shown, download], api_visibility="private")
    export.click(h.export_checks, [note], [shown, download], api_name="check_export")
    clear.click(lambda: [], None, [note], api_visibility="private")


def _cards(h: Handlers, checks: Any, note: Any, panel: Any) -> None:
    """One card per claim of the latest check, each with its 'Add to briefing note' button."""

    @gr.render(inputs=[checks, note], triggers=[checks.change, note.change], **RENDER_OPTIONS)  # none on load
    def cards(current: list[ClaimCheck], noted: list[ClaimCheck]) -> None:
        for check in current or []:
            _card(h, check, check in (noted or []), note, panel)


def _card(h: Handlers, check: ClaimCheck, in_note: bool, note: Any, panel: Any) -> None:
    with gr.Column(elem_classes="cq-card-box"):
        card = gr.HTML(render_verdict_card(check.verdict, check.number, in_note), js_on_load=QUOTE_JS)

        def open_quote(evt: gr.EventData) -> str:  # a closure, not a partial: Gradio reads the EventData hint
            return h.evidence_html(check, _position(getattr(evt, "evidence", None)))

        card.click(open_quote, None, [panel], api_visibility="private")
        label = "Remove from briefing note" if in_note else "Add to briefing note"
        button = gr.Button(label, size="sm", elem_classes="cq-note-toggle")
        button.click(partial(toggle_note, check=check), [note], [note], api_visibility="private")


def _position(value: Any) -> int:
    """The quote number a click sent (0-based), or -1 when it is not one (the browser is not trusted)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return -1


def _add_numbered(checks: list[ClaimCheck], note: list[ClaimCheck], claim_no: float | None) -> list[ClaimCheck]:
    """API: add claim `claim_no` (1-based) of the latest check to the note; anything else leaves it as it was."""
    number = int(claim_no or 0)
    if not 1 <= number <= len(checks or []) or checks[number - 1] in (note or []):
        return list(note or [])
    return [*(note or []), checks[number - 1]]


def _corpus_tab(h: Handlers, app: gr.Blocks) -> None:
    """The indexed documents, re-indexing, and adding (upload) or removing a document. Every change to the corpus
    folder and the index takes turns (one concurrency group); questions keep being answered meanwhile."""
    summary = gr.Markdown(elem_id="cq-corpus-summary")
    with gr.Row(equal_height=False):
        upload, replace, add = _upload_box(h)
        remove_doc, remove, (confirm, question, yes, no) = _remove_box()
    status = gr.Markdown(elem_id="cq-corpus-status")
    table = gr.Dataframe(
        headers=["Document", "Type", "Size", "Chunks", "Last indexed (UTC)", "SHA-256"], interactive=False,
        wrap=True, elem_id="cq-corpus",
    )
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm")
        reindex = gr.Button("Re-index changed files", variant="primary", size="sm")

    def run_reindex(progress: Any = gr.Progress()) -> tuple[str, str, list[list[Any]]]:  # noqa: B008
        return h.reindex(progress)

    def run_upload(file: str | None, replace: bool, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return h.upload(file, replace, progress)

    def run_remove(source: str | None, progress: Any = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        return h.remove(source, progress)

    writes: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "reindex"}
    app.load(h.corpus, None, [summary, table], api_name="load_corpus", api_visibility="private")
    app.load(h.documents, None, [remove_doc], api_visibility="private")
    refresh.click(h.corpus, None, [summary, table], api_name="corpus").then(
        h.documents, None, [remove_doc], api_visibility="private")
    reindex.click(run_reindex, None, [status, summary, table], api_name="reindex", **writes)
    add.click(run_upload, [upload, replace], [status, summary, table, remove_doc, upload], api_name="upload",
              **writes)
    hide_confirm: dict[str, Any] = {"fn": lambda: gr.Row(visible=False), "inputs": None, "outputs": [confirm],
                                    "api_visibility": "private"}
    remove.click(h.confirm_removal, [remove_doc], [confirm, question, status], api_visibility="private")
    remove_doc.change(**hide_confirm)  # a question about one document never confirms the removal of another
    yes.click(**hide_confirm).then(run_remove, [remove_doc], [status, summary, table, remove_doc],
                                   api_name="remove", **writes)
    no.click(lambda: (gr.Row(visible=False), "Nothing was removed."), None, [confirm, status],
             api_visibility="private")


def _upload_box(h: Handlers) -> tuple[Any, Any, Any]:
    limit = upload_limit(h.assistant.settings)
    with gr.Column(scale=3, min_width=360, elem_id="cq-upload-box"):
        gr.Markdown("### Add a document")
        upload = gr.File(
            label="Drop a PDF, Word (.docx), Markdown, text or HTML file here", file_count="single",
            file_types=list(FORMATS), type="filepath", height=120, elem_id="cq-upload",
        )
        replace = gr.Checkbox(label="Replace a document with the same name", value=False, elem_id="cq-replace")
        add = gr.Button("Add and index", variant="primary", size="sm", elem_id="cq-add")
        gr.Markdown(
            f"Up to {size_text(limit)} (CITYQA_MAX_UPLOAD_BYTES). The file is checked (type by its content, size, "
            "the parser) before it is saved in the corpus folder, then indexed; questions keep being answered "
            "meanwhile.",
            elem_classes="cq-hint",
        )
    return upload, replace, add


def _remove_box() -> tuple[Any, Any, tuple[Any, Any, Any, Any]]:
    """The remove list and button, and the confirmation (a question, "Yes, remove it", "Cancel") it shows first."""
    with gr.Column(scale=2, min_width=300, elem_id="cq-remove-box"):
        gr.Markdown("### Remove a document")
        # choices are filled on page load: the login page must not list the documents (see `_ask_tab`)
        remove_doc = gr.Dropdown([], label="Indexed document", elem_id="cq-remove-doc")
        remove = gr.Button("Remove and re-index", variant="stop", size="sm", elem_id="cq-remove")
        with gr.Row(visible=False, elem_id="cq-remove-confirm") as confirm:
            question = gr.Markdown(elem_id="cq-remove-question")
            yes = gr.Button("Yes, remove it", variant="stop", size="sm", elem_id="cq-remove-yes")
            no = gr.Button("Cancel", size="sm", elem_id="cq-remove-no")
        gr.Markdown(
            "Its passages leave the index. The file is not deleted: it moves to the hidden `.removed` folder inside "
            "the corpus folder, from where it can be moved back.", elem_classes="cq-hint",
        )
    return remove_doc, remove, (confirm, question, yes, no)


def _evaluation_tab(h: Handlers, tab: gr.Tab) -> None:
    """The latest `cityqa eval` reports (questions, then claims), each with its chart; re-read whenever the tab is
    opened or Refresh is pressed (not on page load: most visitors only chat)."""
    with gr.Row():
        gr.Markdown(f"The latest reports `cityqa eval` wrote to {md(h.eval_dir)}.", elem_classes="cq-hint")
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=110, elem_id="cq-eval-refresh")
    questions = gr.Markdown(label="Question report", elem_id="cq-eval")
    chart = gr.Image(label="Metrics by system and by tag", type="pil", format="png", interactive=False,
                     visible=False, buttons=["download", "fullscreen"], elem_id="cq-eval-chart")
    claims = gr.Markdown(label="Fact-check report", elem_id="cq-eval-claims")
    claims_chart = gr.Image(label="Fact-check verdicts", type="pil", format="png", interactive=False,
                            visible=False, buttons=["download", "fullscreen"], elem_id="cq-eval-claims-chart")
    outputs = [questions, chart, claims, claims_chart]
    tab.select(h.evaluation, None, outputs, api_name="open_evaluation", api_visibility="private",
               concurrency_id="evaluation")
    refresh.click(h.evaluation, None, outputs, api_name="evaluation", concurrency_id="evaluation")


# ------------------------------------------------------------------ launching


def blocked_paths(settings: Settings, roots: Iterable[Path] = ()) -> list[str]:
    """Paths the server must never hand out: the index, and dotfiles/dot-folders of the repo and cwd."""
    repo = Path(__file__).resolve().parents[3]
    paths = {Path(settings.index_dir).resolve()}
    for root in {repo, Path.cwd().resolve(), *roots}:
        paths |= {p.resolve() for p in root.glob(".*")} | {root / ".env", root / ".git"}
    return sorted(str(p) for p in paths)


def launch_options(settings: Settings) -> dict[str, Any]:
    """Hardened `launch()` keyword arguments, except host and port (see `serve`)."""
    return {
        "auth": parse_auth(settings.auth),
        "auth_message": "cityqa: sign in with the account your administrator gave you.",
        "max_file_size": upload_limit(settings),  # the server refuses larger uploads before storing them
        "blocked_paths": blocked_paths(settings),
        "footer_links": ["gradio"],  # no API-docs or settings links
        "app_kwargs": {"openapi_url": None},  # no route list for anyone (FastAPI's /openapi.json; /docs is off too)
        "show_error": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "pwa": False,
        "run_history": False,
        "quiet": True,
        "css": CSS,
        "theme": "default",
    }


def serve(settings: Settings | None = None) -> None:
    """Launch the chat on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default 127.0.0.1:7860)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    settings = settings or Settings()
    options = launch_options(settings)  # validates CITYQA_AUTH before anything starts
    assistant = Assistant.open(settings=settings)
    catch_up(assistant)
    _warm_up(assistant)
    app = build_app(assistant, settings.eval_dir)
    host = os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    print(f"cityqa chat on http://{host}:{port}" + (" (login required)" if options["auth"] else ""), flush=True)
    app.launch(server_name=host, server_port=port, **options)


def catch_up(assistant: Assistant) -> None:
    """Index what changed in the corpus folder since the last ingest, before serving. An upload the server was
    killed while indexing leaves its file saved but not indexed (and a second upload of it refused as already in
    the corpus): it is indexed now, not whenever someone presses "Re-index". With nothing changed this only
    hashes the files and compares the hashes with the manifest (well under a second for a folder of reports)."""
    if assistant.store.read_manifest() is None:
        return  # no index yet: the chat and the Corpus tab say to run `cityqa ingest`
    try:
        report = assistant.ingest()
    except CityqaError as exc:  # e.g. an index built with other settings: serve it as it is and say why
        print(f"cityqa: the corpus was not re-indexed at start: {exc}", flush=True)
        return
    if not report.nothing_to_do:
        print(f"cityqa: the corpus changed since the last index; {report.summary()}", flush=True)


def _warm_up(assistant: Assistant) -> None:
    """Load the index and the embedding model now, so the first person to ask does not wait for them; the
    fact-checker's word tables (about a second) and the tables that read a question typed with a typo or in lower
    case (about 0.25 s per MB of indexed text: 6.6 s and 5.0 s at 100k passages) load in the background, after
    the server is up."""
    try:
        assistant.ask("Which cities have an office of international affairs?")
        threading.Thread(target=_warm_tables, args=(assistant,), daemon=True).start()
    except CityqaError as exc:  # e.g. no index yet: the chat and the Corpus tab will say what to do
        print(f"cityqa: {exc}", flush=True)


def _warm_tables(assistant: Assistant) -> None:
    assistant.check("The city has an office.")
    assistant.understand("which citys have an ofice of international afairs")  # lower case, typos: both tables
