"""`cityqa eval` reports: the JSON, Markdown and chart files in `eval-out/`, and the tables the CLI prints and
the UI's Evaluation tab shows (questions, SQuAD-format and fact-check reports)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .metrics import HEADLINE, LABELS, Record

DEFAULT_OUT = Path("eval-out")
FILES = {
    "questions": ("report.json", "report.md", "report.png"),
    "squad": ("squad-report.json", "squad-report.md", "squad-report.png"),
    "claims": ("claims-report.json", "claims-report.md", "claims-report.png"),
}
SQUAD_METRICS = ("evidence_cited", "short_answer_recall", "false_not_found", "unanswerable_abstained", "ece",
                 "latency_p50_ms", "latency_p95_ms")


def summary(report: Record) -> Record:
    """The report without per-question (per-claim) rows."""
    out = {key: value for key, value in report.items() if key != "claims"}
    if "systems" in report:
        out["systems"] = {
            name: {k: v for k, v in data.items() if k != "questions"} for name, data in report["systems"].items()
        }
    return out


def write_report(report: Record, out_dir: Path | str = DEFAULT_OUT) -> dict[str, Path]:
    """Write the JSON report, the Markdown tables and the chart into `out_dir`; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_name, md_name, png_name = FILES[report["kind"]]
    paths = {"json": out / json_name, "markdown": out / md_name, "chart": out / png_name}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(report), encoding="utf-8")
    plot(report, paths["chart"])
    return paths


def latest_report(out_dir: Path | str = DEFAULT_OUT, kind: str = "questions") -> Record | None:
    """The last report `cityqa eval` wrote to `out_dir` (for the UI's Evaluation tab); None if there is none."""
    path = Path(out_dir) / FILES[kind][0]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def chart_path(out_dir: Path | str = DEFAULT_OUT, kind: str = "questions") -> Path | None:
    """The chart of the last report in `out_dir`, or None."""
    path = Path(out_dir) / FILES[kind][2]
    return path if path.is_file() else None


def fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "–"
    if metric.startswith("latency"):
        return f"{value:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# The table builders below serve the CLI and Markdown reports (plain) and the UI's Evaluation tab, which passes
# `cell` and `label` functions that escape whatever the report file holds.
Cell = Callable[..., str]  # (value, metric name="") -> text
Label = Callable[[Any], str]


def side_by_side(report: Mapping[str, Any], cell: Cell = fmt, label: Label = str) -> str:
    """Metrics as rows, systems as columns (Markdown)."""
    systems = report["systems"]
    rows = [[label(m), *(cell(data["overall"].get(m), m) for data in systems.values())] for m in HEADLINE]
    return table(["metric", *(label(name) for name in systems)], rows)


TAG_COLUMNS = ("n", "hit@5", "mrr", "short_answer_recall", "token_f1", "citation_precision", "citation_recall",
               "abstention_recall", "false_abstention_rate")


def tag_table(tags: dict[str, Record], cell: Cell = fmt, label: Label = str) -> str:
    rows = [[label(tag), *(cell(data.get(m), m) for m in TAG_COLUMNS)] for tag, data in tags.items()]
    return table(["tag", *(label(m) for m in TAG_COLUMNS)], rows)


def render_table(report: Record) -> str:
    """The headline table for a terminal: systems side by side, or the verdict metrics and confusion matrix."""
    if report["kind"] == "questions":
        return side_by_side(report)
    if report["kind"] == "squad":
        return squad_table(report)
    return claims_table(report["overall"]) + "\n\n" + confusion_table(report["overall"]["confusion"])


def render_markdown(report: Record) -> str:
    if report["kind"] == "squad":
        return "# cityqa on SQuAD-format questions\n\n" + render_table(report) + "\n"
    return (_questions_markdown if report["kind"] == "questions" else _claims_markdown)(report)


def _meta(report: Record) -> str:
    return (f"Gold: `{report['gold']}` · index: `{report['index']}` · corpus: `{report['corpus']}` · "
            f"model: `{report['embed_model']}` · {report['created']}")


def _questions_markdown(report: Record) -> str:
    parts = [f"# cityqa evaluation: {report['n_questions']} questions", _meta(report), "## Systems side by side",
             side_by_side(report)]
    name, data = next(iter(report["systems"].items()))  # cityqa when it was evaluated
    parts += [f"## {name} by tag", tag_table(data["by_tag"]), f"## {name}: failed questions ({len(data['failures'])})"]
    parts.append("\n".join(f"- **{f['id']}** ({'; '.join(f['reasons'])}): {f['answer'][:160]}"
                           for f in data["failures"]) or "none")
    if report.get("missing_evidence"):
        parts += ["## Evidence not found in the corpus", "\n".join(f"- {m}" for m in report["missing_evidence"])]
    return "\n\n".join(parts) + "\n"


def claims_table(metrics: Record, cell: Cell = fmt, label: Label = str) -> str:
    per_class = metrics["per_class"]
    rows = [["accuracy", cell(metrics["accuracy"])]]
    if "false_supported" in metrics:  # reports written before it was counted on its own lack it
        rows.append(["false supported (any claim not supported)",
                     f"{cell(metrics['false_supported'])} ({cell(metrics['false_supported_rate'])})"])
    rows.append(["false supported on contradicted", cell(metrics["false_supported_on_contradicted"])])
    rows += [[label(m), cell(metrics[m], m)] for m in ("true_supported", "true_supported_or_close", "altered_close")
             if m in metrics]  # reports written before the close verdict lack them
    rows += [[f"{name} precision / recall (n={cell(per_class[name]['n'])})",
              f"{cell(per_class[name]['precision'])} / {cell(per_class[name]['recall'])}"]
             for name in LABELS if name in per_class]
    rows += [[label(m), cell(metrics[m], m)]
             for m in ("evidence_recall", "evidence_shown", "latency_p50_ms", "latency_p95_ms") if m in metrics]
    return table(["metric", "value"], rows)


def confusion_table(confusion: dict[str, dict[str, int]], cell: Cell = fmt, label: Label = str) -> str:
    shown = [name for name in LABELS if name in confusion]  # reports written before the close verdict lack it
    rows = [[label(g), *(cell(confusion[g].get(p, 0)) for p in shown)] for g in shown]
    return table([label("gold \\ predicted"), *(label(p) for p in shown)], rows)


def claims_tag_table(by_tag: dict[str, Record], cell: Cell = fmt, label: Label = str) -> str:
    rows = [[label(t), cell(m.get("n")), cell(m.get("accuracy")), cell(m.get("false_supported_on_contradicted"))]
            for t, m in by_tag.items()]
    return table(["tag", "n", "accuracy", "false supported on contradicted"], rows)


def _claims_markdown(report: Record) -> str:
    matrix = confusion_table(report["overall"]["confusion"])
    tags = claims_tag_table(report["by_tag"])
    failed = "\n".join(f"- **{r['id']}**: gold {r['label']}, predicted {r['predicted']}" for r in report["failures"])
    return "\n\n".join([
        f"# cityqa fact-check evaluation: {report['n_claims']} claims", _meta(report), "## Overall",
        claims_table(report["overall"]), "## Confusion matrix", matrix, "## By tag", tags,
        f"## Wrong verdicts ({len(report['failures'])})", failed or "none",
    ]) + "\n"


# ------------------------------------------------------------ chart

CHART_METRICS = ("hit@1", "hit@5", "mrr", "ndcg@5", "short_answer_recall", "token_f1", "citation_precision",
                 "citation_recall", "abstention_precision", "abstention_recall")
TAG_CHART_METRICS = ("hit@5", "short_answer_recall", "citation_recall", "abstention_recall")


def plot(report: Record, path: Path) -> None:
    """Metrics by system, then by tag (questions) or the reliability curve (SQuAD), or verdict metrics; one PNG.
    Question reports end with each system's reliability curve: mean confidence against accuracy per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 3 if report["kind"] == "questions" else 2
    fig, axes = plt.subplots(rows, 1, figsize=(12, 5 * rows))
    if report["kind"] == "questions":
        series = {name: [d["overall"][m] for m in CHART_METRICS] for name, d in report["systems"].items()}
        _bars(axes[0], list(CHART_METRICS), series, "Metrics by system")
        first = next(iter(report["systems"]))
        tags = report["systems"][first]["by_tag"]
        _bars(axes[1], list(tags), {m: [tags[t][m] for t in tags] for m in TAG_CHART_METRICS}, f"{first} by tag")
        _reliability(axes[2], report["systems"])
    elif report["kind"] == "squad":
        metrics = [m for m in SQUAD_METRICS if not m.startswith("latency")]
        series = {name: [d["overall"][m] for m in metrics] for name, d in report["systems"].items()}
        _bars(axes[0], metrics, series, f"SQuAD-format evaluation, {report['n_questions']} questions")
        _reliability(axes[1], report["systems"])
    else:
        per_class = report["overall"]["per_class"]
        names = [name for name in LABELS if name in per_class]
        _bars(axes[0], names, {k: [per_class[name][k] for name in names] for k in ("precision", "recall")},
              f"Verdicts: accuracy {fmt(report['overall']['accuracy'])}")
        tags = report["by_tag"]
        _bars(axes[1], list(tags), {"accuracy": [tags[t]["accuracy"] for t in tags]}, "Accuracy by tag")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _reliability(ax: Any, systems: Record) -> None:
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, data in systems.items():
        bins = [b for b in data["overall"].get("reliability") or [] if b["n"]]
        if bins and any(b["confidence"] for b in bins):  # systems without a confidence have nothing to draw
            ece = data["overall"].get("ece")
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
                    label=f"{name} (ECE {fmt(ece)})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence (mean per bin)")
    ax.set_ylabel("share whose top sentence holds the answer")
    ax.set_title("Reliability: is the confidence a probability?")
    ax.legend(fontsize=8, loc="upper left")


def _bars(ax: Any, labels: list[str], series: dict[str, list[float | None]], title: str) -> None:
    width = 0.8 / max(1, len(series))
    x = np.arange(len(labels))
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + i * width - 0.4 + width / 2, [v or 0.0 for v in values], width, label=name)
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.25)
    ax.set_title(title)
    ax.legend(fontsize=8, ncols=min(4, len(series)), loc="upper center")


def squad_table(report: Record) -> str:
    """The SQuAD-format report's headline table: metrics as rows, systems as columns."""
    systems = report["systems"]
    rows = [[m, *(fmt(d["overall"].get(m), m) for d in systems.values())] for m in SQUAD_METRICS]
    head = (f"SQuAD-format evaluation: {report['n_questions']} questions over {len(report['articles'])} article(s) "
            f"of {report['file']}")
    return head + "\n\n" + table(["metric", *systems], rows)
