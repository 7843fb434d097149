"""The chat UI's event handlers: `Handlers`, bound to one assistant, answers, shows sources (a PDF quote on its
page too), exports briefing notes, fact-checks, lists, adds, removes and re-indexes documents, and reads the
evaluation reports. Each turns engine errors into messages, never tracebacks; `cityqa.ui.app` wires them to the page.
"""

from __future__ import annotations

import html
import logging
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from ..assistant import Assistant, without_surrogates
from ..checking import draft as drafts
from ..checking.briefing import (
    VERDICT_WORDS,
    ClaimCheck,
    Exchange,
    briefing_filename,
    briefing_markdown,
    claims_markdown,
)
from ..checking.draft import DRAFT_SUFFIXES, DraftCheck, DraftProgress
from ..documents.corpus import file_sha256, ocr_options, read_document
from ..documents.pages import PageImage, page_image
from ..documents.uploads import add_and_index, removal_message, remove_and_index, upload_message
from ..errors import CityqaError, UploadError
from ..evaluation import report as reports
from ..types import Citation, Mark
from .render import (
    CHECK_PANEL_HINT,
    PANEL_HINT,
    chat_messages,
    check_problem,
    check_summary,
    cited,
    corpus_rows,
    escape_md,
    page_figure,
    quote_marks,
    render_error,
    render_source_html,
    search_filters,
)
from .reports import load_chart, not_a_report, read_report, render_eval_report, report_notes, shape_problem

log = logging.getLogger(__name__)

PAGE_CACHE = 16  # page images kept per app (a few hundred KB each)


class Handlers:
    """Event handlers bound to one assistant; each turns engine errors into messages, never tracebacks."""

    def __init__(self, assistant: Assistant, eval_dir: Path | str = reports.DEFAULT_OUT) -> None:
        self.assistant = assistant
        self.eval_dir = Path(eval_dir)
        self._documents: dict[tuple[str, str], str] = {}
        self._pages: OrderedDict[tuple[Any, ...], PageImage] = OrderedDict()  # the latest page images shown
        self._pages_lock = threading.Lock()  # handlers run in several threads

    def ask(
        self, question: str, kind: str, cities: list[str], k: float, exchanges: list[Exchange]
    ) -> tuple[Any, ...]:
        """Answer with the earlier answers as history; returns chat, cleared box, state, selection, panel."""
        question = without_surrogates(question or "")  # kept in the briefing note, a UTF-8 file
        exchanges = list(exchanges or [])
        filters, k_int = search_filters(kind, cities), int(k) if k else None
        history = [e.answer for e in exchanges if e.answer is not None]
        asked_at = datetime.now(UTC)
        try:
            answer = self.assistant.ask(question or "", history=history, k=k_int, filters=filters)
            exchange = Exchange(question or "", asked_at, answer=answer, k=k_int, filters=filters)
        except CityqaError as exc:
            exchange = Exchange(question or "", asked_at, error=str(exc), k=k_int, filters=filters)
        except Exception as exc:  # keep the chat alive; the details go to the server log only
            log.exception("question failed")
            exchange = Exchange(question or "", asked_at, error=f"Something went wrong ({type(exc).__name__}).")
        exchanges.append(exchange)
        return chat_messages(exchanges), "", exchanges, len(exchanges) - 1, PANEL_HINT

    def source(self, exchanges: list[Exchange], answer_no: float | None, cite_no: float | None) -> str:
        """Panel HTML for citation `cite_no` (its mark, 1-based) of answer `answer_no` (1-based)."""
        try:
            number = int(answer_no or 0)
            if number < 1:
                raise IndexError(number)
            c = next(c for c in cited(exchanges[number - 1]) if c.n == int(cite_no or 0))
        except (IndexError, StopIteration, TypeError, ValueError):
            return render_error("There is no such citation in this conversation.")
        return self.source_html(c)

    def source_html(self, c: Citation, marks: Sequence[Mark] = ()) -> str:
        """The source panel for one citation: its heading, the PDF page with the quote highlighted (for a PDF),
        and the quote highlighted in its context."""
        try:
            text = self.document_text(c.source)
        except CityqaError as exc:
            return render_error(str(exc))
        return render_source_html(text, c, marks=marks, page=self.page_html(c))

    def document_text(self, source: str) -> str:
        """The text citation offsets index, for an indexed document only (never an arbitrary path)."""
        path, sha = self.indexed_path(source)
        key = (source, sha)
        if key not in self._documents:
            corpus = Path(self.assistant.settings.corpus_dir).resolve()
            self._documents[key] = read_document(path, corpus, self.assistant.settings).text
        return self._documents[key]

    def indexed_path(self, source: str) -> tuple[Path, str]:
        """The file of indexed document `source`, inside the corpus folder, and its indexed SHA-256."""
        files = self.assistant.manifest["files"]
        if source not in files:
            raise CityqaError(f"{source} is no longer in the index; re-index from the Corpus tab.")
        corpus = Path(self.assistant.settings.corpus_dir).resolve()
        path = (corpus / source).resolve()
        if not path.is_relative_to(corpus):
            raise CityqaError(f"{source} is outside the corpus folder.")
        return path, str(files[source]["sha256"])

    def page_html(self, c: Citation) -> str:
        """The cited PDF page with the quote highlighted, or '' for a citation without a page (or a message
        saying why the page cannot be shown)."""
        if c.page is None or not c.source.lower().endswith(".pdf"):
            return ""
        try:
            image = self.page_png(c)
            return page_figure(image.png, c, highlighted=image.marked > 0)
        except CityqaError as exc:
            return render_error(f"The page cannot be shown: {exc}")
        except Exception as exc:  # the text view still shows; details go to the server log only
            log.exception("page image of %s failed", c.source)
            return render_error(f"The page cannot be shown ({type(exc).__name__}).")

    def page_png(self, c: Citation) -> PageImage:
        """PNG of the cited page, rendered from the indexed file (refused if the file changed since indexing)."""
        path, sha = self.indexed_path(c.source)
        try:
            current = file_sha256(path)  # every time: the page shown must be the page indexed
        except OSError as exc:
            raise CityqaError(f"{c.source} cannot be read ({exc.strerror or exc}).") from None
        if current != sha:
            raise CityqaError(f"{c.source} has changed since it was indexed; re-index from the Corpus tab.")
        key = (c.source, sha, c.page, c.page_end, c.quote)
        with self._pages_lock:
            image = self._pages.get(key)
            if image is not None:
                self._pages.move_to_end(key)
                return image
        ocr = ocr_options(self.assistant.settings)  # a scanned page is OCR'd again to find the quote
        image = page_image(path, int(c.page or 1), c.quote, c.page_end, ocr=ocr)  # a second or so, in the sandbox
        with self._pages_lock:
            self._pages[key] = image
            while len(self._pages) > PAGE_CACHE:
                self._pages.popitem(last=False)
        return image

    def export(self, exchanges: list[Exchange]) -> tuple[Any, Any]:
        """The conversation's briefing note: shown, and written to a fresh temporary file to download."""
        return self._note(partial(briefing_markdown, exchanges or []), "briefing")

    def export_checks(self, note: list[ClaimCheck]) -> tuple[Any, Any]:
        """The Fact-check tab's briefing note (the claims added to it), shown and offered as a download."""
        return self._note(partial(claims_markdown, note or []), "factcheck")

    def _note(self, render: Callable[[Any, str, datetime], str], what: str) -> tuple[Any, Any]:
        """`render(files, fingerprint, now)` with the index manifest's document hashes and fingerprint."""
        now = datetime.now(UTC)
        try:
            files, fingerprint = self.assistant.manifest["files"], self.assistant.fingerprint
        except CityqaError as exc:
            return gr.Code(value=f"Error: {exc}", visible=True), gr.DownloadButton(visible=False)
        markdown = render(files, fingerprint, now)
        path = Path(tempfile.mkdtemp(prefix="cityqa-")) / briefing_filename(now, what)
        path.write_text(markdown, encoding="utf-8")
        return gr.Code(value=markdown, visible=True), gr.DownloadButton(value=str(path), visible=True)

    def corpus(self) -> tuple[str, list[list[Any]]]:
        try:
            manifest = self.assistant.manifest
        except CityqaError as exc:
            return f"**Error:** {escape_md(str(exc))}", []
        files = manifest["files"]
        summary = (
            f"**{len(files)} documents**, {sum(len(f.get('chunks', ())) for f in files.values())} passages · "
            f"index generation {manifest.get('generation')} · updated {escape_md(str(manifest.get('updated')))} · "
            f"fingerprint `{escape_md(self.assistant.fingerprint)}`"
        )
        return summary, corpus_rows(files)

    def reindex(self, progress: Callable[..., Any]) -> tuple[str, str, list[list[Any]]]:
        """Incremental ingest; the chat keeps answering from the loaded generation until it finishes."""
        try:
            result = self.assistant.ingest(progress=_ingest_progress(progress))
            message = "Re-indexed: " + escape_md(result.summary().replace("\n", "; "))
        except CityqaError as exc:
            message = f"**Error:** {escape_md(str(exc))}"
        return (message, *self.corpus())

    def documents(self) -> Any:
        """The remove list: every indexed document (none when there is no index)."""
        try:
            sources = sorted(self.assistant.manifest["files"])
        except CityqaError:
            sources = []
        return gr.Dropdown(choices=sources, value=None)

    def upload(self, file: str | None, replace: bool, progress: Callable[..., Any]) -> tuple[Any, ...]:
        """Check, save and index one uploaded file (see `documents.uploads`): status, summary, table, the remove list
        and the file box (emptied once the file is in)."""
        if not file:
            return (NO_FILE, *self.corpus(), self.documents(), gr.File())
        path = Path(file)
        corpus_dir = Path(self.assistant.settings.corpus_dir)
        try:
            outcome = add_and_index(self.assistant, path, path.name, bool(replace), _ingest_progress(progress))
        except UploadError as exc:
            return (_refused("Not added", exc), *self.corpus(), self.documents(), gr.File())
        except Exception as exc:  # the save was undone; details go to the server log only
            log.exception("upload of %s failed", path.name)
            return (_failed("Not added", exc), *self.corpus(), self.documents(), gr.File())
        _discard_upload(path)  # the corpus holds it now; a refused file stays, so it can be added again
        return (_done(upload_message(outcome, corpus_dir)), *self.corpus(), self.documents(), gr.File(value=None))

    @staticmethod
    def confirm_removal(source: str | None) -> tuple[Any, str, str]:
        """The first step of a removal: the question asking to confirm it (shown with its two buttons), or why
        there is nothing to remove. Nothing changes until "Yes, remove it"."""
        if not source:
            return gr.Row(visible=False), "", NO_DOCUMENT
        question = (f"**Remove {escape_md(source)}?** Its passages leave the index; the file moves to the corpus "
                    "folder's `.removed` folder, from where it can be moved back.")
        return gr.Row(visible=True), question, ""

    def remove(self, source: str | None, progress: Callable[..., Any]) -> tuple[Any, ...]:
        """Move an indexed document to the corpus folder's .removed/ and drop its passages from the index."""
        if not source:
            return (NO_DOCUMENT, *self.corpus(), self.documents())
        corpus_dir = Path(self.assistant.settings.corpus_dir)
        try:
            outcome = remove_and_index(self.assistant, str(source), _ingest_progress(progress))
        except UploadError as exc:
            return (_refused("Not removed", exc), *self.corpus(), self.documents())
        except Exception as exc:  # the move was undone; details go to the server log only
            log.exception("removal of %s failed", source)
            return (_failed("Not removed", exc), *self.corpus(), self.documents())
        return (_done(removal_message(outcome, corpus_dir)), *self.corpus(), self.documents())

    def check(self, text: str) -> tuple[list[ClaimCheck], str, str]:
        """Fact-check `text`: the checked claims (one card each), a status line (or why nothing was checked), and
        the evidence panel reset."""
        text = str(text or "")
        problem = check_problem(text, self.assistant.settings.max_check_chars)
        if problem:
            return [], render_error(problem), CHECK_PANEL_HINT
        checked_at = datetime.now(UTC)
        try:
            verdicts = list(self.assistant.check(text))
        except CityqaError as exc:
            return [], render_error(str(exc)), CHECK_PANEL_HINT
        except Exception as exc:  # keep the app up whatever the checker does; details go to the server log
            log.exception("fact-check failed")
            return [], render_error(f"Something went wrong ({type(exc).__name__})."), CHECK_PANEL_HINT
        checks = [ClaimCheck(v, checked_at, n) for n, v in enumerate(verdicts, 1)]
        return checks, f'<div class="cq-status">{html.escape(check_summary(verdicts))}</div>', CHECK_PANEL_HINT

    def check_draft(self, file: str | None, progress: Callable[..., Any] | None = None
                    ) -> tuple[list[ClaimCheck], str, str, Any]:
        """Check every factual sentence of an uploaded draft: its cards in the draft's order (each naming the draft
        and its SHA-256 for the briefing note), a status line (counts, and what was not checked), the evidence panel
        reset, and the download: the Word draft with a summary page and a comment on each checked sentence, or for
        other formats the summary in Markdown. `progress` (a Gradio progress bar) hears "Checking sentence i of n"."""
        hidden = gr.DownloadButton(visible=False)
        if not file:
            return [], render_error("Choose a draft to check first (.docx, .pdf, .md or .txt)."), CHECK_PANEL_HINT, \
                hidden
        path = Path(file)
        if path.suffix.lower() not in DRAFT_SUFFIXES:
            refusal = f"A draft must be one of {', '.join(sorted(DRAFT_SUFFIXES))}."
            return [], render_error(refusal), CHECK_PANEL_HINT, hidden
        report = _ingest_progress(progress) if progress is not None else None
        try:
            result, out = self._checked_draft(path, report)
        except CityqaError as exc:
            return [], render_error(str(exc)), CHECK_PANEL_HINT, hidden
        except Exception as exc:  # keep the app up whatever the draft holds; details go to the server log
            log.exception("draft check failed")
            return [], render_error(f"Something went wrong ({type(exc).__name__})."), CHECK_PANEL_HINT, hidden
        verdicts = [result.verdicts[i] for i in sorted(result.verdicts)]
        checks = [ClaimCheck(v, result.checked_at, n, result.ref) for n, v in enumerate(verdicts, 1)]
        skipped = len(result.sentences) - len(verdicts)
        status = f"{result.name}: {check_summary(verdicts)} · {skipped} sentence(s) not checked (see the download)"
        return (checks, f'<div class="cq-status">{html.escape(status)}</div>', CHECK_PANEL_HINT,
                gr.DownloadButton(value=str(out), visible=True))

    def _checked_draft(self, path: Path, report: DraftProgress | None) -> tuple[DraftCheck, Path]:
        """The draft checked, and the file to download: annotated Word, or the Markdown summary."""
        result = drafts.check_draft(self.assistant, path, self.assistant.settings, report)
        suffix = ".docx" if path.suffix.lower() == ".docx" else ".md"
        out = Path(tempfile.mkdtemp(prefix="cityqa-")) / f"{path.stem}-checked{suffix}"
        if report is not None:
            report(1, 1, "Writing the checked draft")
        if suffix == ".docx":
            drafts.annotate_docx(path, result, out)
        else:
            out.write_text(result.summary_markdown(), encoding="utf-8")
        return result, out

    def check_source(self, checks: list[ClaimCheck], claim_no: float | None, evidence_no: float | None) -> str:
        """Panel HTML for evidence quote `evidence_no` of claim `claim_no` of the latest check (both 1-based)."""
        try:
            number = int(claim_no or 0)
            if number < 1:
                raise IndexError(number)
            return self.evidence_html(checks[number - 1], int(evidence_no or 0) - 1)
        except (IndexError, TypeError, ValueError):
            return render_error("There is no such evidence in this check.")

    def evidence_html(self, check: ClaimCheck, index: int) -> str:
        """Evidence quote `index` (0-based) of a checked claim, highlighted in its context with the card's marks."""
        v = check.verdict
        if not 0 <= index < len(v.evidence):
            return render_error("There is no such evidence in this check.")
        c = v.evidence[index]
        marks = quote_marks(v, index)
        what = "closest passage looked at" if v.verdict == "not_found" else "evidence"
        caption = (f'<div class="cq-caption">Claim {check.number} ({html.escape(VERDICT_WORDS.get(v.verdict, "?"))}):'
                   f" {html.escape(what)} [{index + 1}] in its context</div>")
        return caption + self.source_html(c, marks)

    def evaluation(self) -> tuple[str, Any, str, Any]:
        """The latest question and claims reports in `eval_dir`, re-read on each call: Markdown and chart each."""
        questions, questions_chart = self.report_view("questions")
        claims, claims_chart = self.report_view("claims")
        return questions, questions_chart, claims, claims_chart

    def report_view(self, kind: str) -> tuple[str, Any]:
        """One report's Markdown and its chart (hidden when there is no valid report or no chart)."""
        hidden = gr.Image(value=None, visible=False)
        try:
            report, problem = read_report(self.eval_dir, kind)
            if report is None:
                return problem, hidden
            text = render_eval_report(report, kind, report_notes(report, self.assistant))
        except Exception as exc:  # valid JSON of the wrong shape (or absurdly nested): a message, not a traceback
            log.warning("evaluation report in %s not shown: %r", self.eval_dir, exc)
            return not_a_report(self.eval_dir, kind, shape_problem(exc)), hidden
        chart = load_chart(self.eval_dir, kind)
        return text, gr.Image(value=chart, visible=chart is not None)


NO_FILE = "**No file yet.** Drag a file onto the box (or click it to browse), then press **Add and index**."
NO_DOCUMENT = "**No document chosen.** Pick the document to remove from the list first."


def _done(message: str) -> str:
    return f'<div class="cq-ok">{html.escape(message)}</div>'


def _refused(what: str, exc: UploadError) -> str:
    return f'<div class="cq-warn"><b>{what}.</b> {html.escape(str(exc))}. Nothing was changed.</div>'


def _failed(what: str, exc: Exception) -> str:
    return (f'<div class="cq-warn"><b>{what}.</b> Something went wrong ({html.escape(type(exc).__name__)}); the '
            "corpus folder was left as it was. The server log has the details.</div>")


def _discard_upload(path: Path) -> None:
    """Delete Gradio's temporary copy of an upload (only ever a file inside Gradio's upload folder)."""
    folder = Path(gr.utils.get_upload_folder()).resolve()
    try:
        if path.resolve().is_relative_to(folder):
            path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not delete the temporary upload %s", path)


def _ingest_progress(progress: Callable[..., Any]) -> Callable[[int, int, str], None]:
    """Ingest's (done, total, what) reports as a Gradio progress bar."""
    def report(done: int, total: int, what: str) -> None:
        progress((done, total), desc=what)

    return report
