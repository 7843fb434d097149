"""The Evaluation tab's reports: the latest `cityqa eval` reports (questions, fact-check claims) read from the
evaluation folder, checked, and rendered as Markdown (every value read from a file escaped), with their charts and
notes on whether they still describe the index the app serves.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..errors import CityqaError
from ..evaluation import report as reports
from .render import escape_md, short

if TYPE_CHECKING:
    from ..assistant import Assistant

log = logging.getLogger(__name__)


def read_report(eval_dir: Path, kind: str) -> tuple[dict[str, Any] | None, str]:
    """The latest report of `kind` in `eval_dir`, or None and a message saying why there is none."""
    path = eval_dir / reports.FILES[kind][0]
    command = _eval_command(eval_dir, kind)
    what = "fact-check" if kind == "claims" else "evaluation"
    if not path.exists():
        return None, f"**No {what} report yet** in {md(eval_dir)}. Run {command}, then press Refresh."
    report = reports.latest_report(eval_dir, kind)
    if report is None:
        return None, (f"**The {what} report {md(path)} could not be read** (it is not a readable JSON file). "
                      f"Run {command} to write it again, then press Refresh.")
    if not isinstance(report, dict) or report.get("kind") != kind:
        kind_found = report.get("kind") if isinstance(report, dict) else type(report).__name__
        return None, not_a_report(eval_dir, kind, f"kind {kind_found!r}")
    return report, ""


def not_a_report(eval_dir: Path, kind: str, detail: str) -> str:
    return (f"**{md(eval_dir / reports.FILES[kind][0])} is not a cityqa {kind} report** ({md(detail)}). "
            f"Run {_eval_command(eval_dir, kind)} to write it again, then press Refresh.")


def shape_problem(exc: BaseException) -> str:
    """What was wrong with a report of the wrong shape, in a few words (the error rendering it raised)."""
    if isinstance(exc, KeyError):
        return f"no field {exc}"
    return f"{type(exc).__name__}: {str(exc)[:120]}" if str(exc) else type(exc).__name__


def _eval_command(eval_dir: Path, kind: str) -> str:
    claims = " --claims" if kind == "claims" else ""
    return f"`cityqa eval{claims} --out {shlex.quote(str(eval_dir)).replace('`', '')}`"


def load_chart(eval_dir: Path, kind: str) -> Image.Image | None:
    """The report's chart, read into memory (so Gradio serves a copy from its cache: no extra file access)."""
    path = reports.chart_path(eval_dir, kind)
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except (OSError, ValueError, Image.DecompressionBombError):
        log.warning("unreadable evaluation chart %s", path)
        return None


def md(value: Any) -> str:
    """A value from a report file as one line of inert Markdown."""
    return escape_md(" ".join(str(value).split()))


def _cell(value: Any, metric: str = "") -> str:
    """A metric value formatted as `cityqa eval` prints it; anything but a number is shown escaped."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return reports.fmt(value, metric)
    return md(value)


def report_notes(report: Mapping[str, Any], assistant: Assistant) -> list[str]:
    """Why the report may not describe the index the app serves now (other index or model, re-indexed since)."""
    notes = []
    if report.get("embed_model") and report["embed_model"] != assistant.settings.embed_model:
        notes.append(f"it was made with the model {md(report['embed_model'])}, and the app now uses "
                     f"{md(assistant.settings.embed_model)}")
    if report.get("fingerprint") and report["fingerprint"] != assistant.fingerprint:
        notes.append("its index fingerprint differs from the index the app serves")
    try:
        updated = str(assistant.manifest.get("updated") or "")
    except CityqaError:
        updated = ""
    if updated and str(report.get("created") or "") < updated:
        notes.append(f"the index was updated ({md(updated.replace('T', ' '))}) after it was made")
    return notes


def render_eval_report(report: Mapping[str, Any], kind: str, notes: Sequence[str] = ()) -> str:
    """The Evaluation tab's Markdown for one report; every value read from the file is escaped."""
    parts = (_questions_parts if kind == "questions" else _claims_parts)(report)
    parts.insert(1, _run_info(report))
    if notes:
        parts.insert(2, "> **Note:** this report may be out of date: " + "; ".join(notes) + ".")
    return "\n\n".join(parts)


def _run_info(report: Mapping[str, Any]) -> str:
    fields = [("Ran", str(report.get("created", "")).replace("T", " ")), ("gold", report.get("gold")),
              ("index", report.get("index")), ("index fingerprint", report.get("fingerprint")),
              ("corpus", report.get("corpus")), ("model", report.get("embed_model"))]
    return " · ".join(f"{name} {md(value)}" for name, value in fields if value)


def _questions_parts(report: Mapping[str, Any]) -> list[str]:
    systems: Mapping[str, Any] = report["systems"]
    name, first = next(iter(systems.items()))
    failed = first["failures"]
    parts = [f"### Questions: {_cell(report['n_questions'])} gold questions, {len(systems)} system(s)",
             "#### Systems side by side", reports.side_by_side(report, _cell, md), f"#### {md(name)} by tag",
             reports.tag_table(first["by_tag"], _cell, md), f"#### {md(name)}: failed questions ({len(failed)})",
             failures_list(failed)]
    if report.get("missing_evidence"):
        parts += ["#### Gold evidence not found in the corpus", "\n".join(f"- {md(m)}" for m in
                                                                        report["missing_evidence"])]
    return parts


def failures_list(failed: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"- **{md(f['id'])}**: {md('; '.join(map(str, f.get('reasons', []))))}"
             + (f" · answer: “{md(short(str(f['answer']), 140))}”" if f.get("answer") else "") for f in failed]
    return "\n".join(lines) or "None."


def _claims_parts(report: Mapping[str, Any]) -> list[str]:
    overall, failed = report["overall"], report["failures"]
    wrong = [f"- **{md(r['id'])}**: gold {md(r['label'])}, predicted {md(r['predicted'])}" for r in failed]
    return [f"### Fact-check: {_cell(report['n_claims'])} gold claims", reports.claims_table(overall, _cell, md),
            "#### Confusion matrix (rows: gold, columns: predicted)",
            reports.confusion_table(overall["confusion"], _cell, md),
            "#### By tag", reports.claims_tag_table(report["by_tag"], _cell, md),
            f"#### Wrong verdicts ({len(failed)})", "\n".join(wrong) or "None."]
