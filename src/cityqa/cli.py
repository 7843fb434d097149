"""`cityqa` command line. Parses arguments and prints; all work happens in the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CityqaError

if TYPE_CHECKING:
    from .settings import Settings


# The reader of our output went away (`cityqa ask --json … | head -1`): end quietly with the status a Unix tool
# killed by SIGPIPE has (128 + 13), as `yes | head -1` does.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CityqaError as exc:
        print(f"cityqa: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Python would try to flush stdout again at exit and print a second error: point it at /dev/null first
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


_DEFAULT_SYSTEMS = "cityqa,llama-index,bm25,dense"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cityqa", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="build or refresh the index from the corpus folder")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/ or CITYQA_CORPUS_DIR)")
    p.add_argument("--index", type=Path, help="index folder (default: index/ or CITYQA_INDEX_DIR)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything, e.g. after changing the model")
    p.add_argument(
        "--rebuild-if-changed", action="store_true",
        help="rebuild instead of refusing when the index was built with other settings (`make run` uses this)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_ingest)

    p = sub.add_parser("ask", help="answer questions from the documents, with citations")
    p.add_argument("questions", nargs="*", metavar="QUESTION")
    p.add_argument("--file", type=Path, help="read questions from a file, one per line ('-' for stdin)")
    p.add_argument("--index", type=Path, help="index folder")
    p.add_argument("-k", type=int, help="passages to retrieve per question")
    p.add_argument("--json", action="store_true", help="one JSON object per question, one per line")
    p.set_defaults(func=_ask)

    p = sub.add_parser("serve", help="start the chat UI")
    p.add_argument("--index", type=Path, help="index folder")
    p.set_defaults(func=_serve)

    p = sub.add_parser("eval", help="score cityqa and baselines on the gold questions (or claims)")
    p.add_argument("--gold", type=Path, help="gold JSONL (default tests/gold/questions.jsonl, or claims.jsonl)")
    p.add_argument("--index", type=Path, help="index folder")
    p.add_argument("--corpus", type=Path, help="corpus folder the gold evidence is quoted from")
    p.add_argument("--out", type=Path, help="report folder (default CITYQA_EVAL_DIR, eval-out/; the UI reads it)")
    p.add_argument("--systems", default=_DEFAULT_SYSTEMS,
                   help="comma-separated systems to score (with --squad: cityqa,llama-index,bm25-sentence,"
                        "dense-sentence)")
    p.add_argument("--limit", type=int, help="only the first N gold items")
    p.add_argument("--claims", action="store_true", help="fact-check the gold claims instead")
    p.add_argument("--squad", type=Path, metavar="FILE",
                   help="evaluate on a SQuAD 2.0-format file instead, in a temporary index of its articles")
    p.add_argument("--sample", type=int, help="with --squad: ask N questions drawn at random")
    p.add_argument("--seed", type=int, default=0, help="with --squad --sample: the random seed")
    p.add_argument("--articles", help="with --squad: only these article titles (comma-separated)")
    p.add_argument("--work", type=Path, help="with --squad: keep the corpus and index here (reused next time)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_eval)

    p = sub.add_parser("check", help="fact-check claims: supported, contradicted, or not in the documents")
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="a claim or a paragraph of claims")
    p.add_argument("--file", type=Path, help="read the text to check from a file ('-' for stdin)")
    p.add_argument("--index", type=Path, help="index folder")
    p.add_argument("--json", action="store_true", help="one JSON object per claim, one per line")
    p.add_argument("--annotate", type=Path, metavar="OUT.docx",
                   help="check a Word draft (--file DRAFT.docx) sentence by sentence and write it with a comment on "
                        "each checked sentence")
    p.add_argument("--summary", type=Path, metavar="OUT.md",
                   help="check a draft (--file: .docx, .pdf, .md or .txt) sentence by sentence and write the summary")
    p.set_defaults(func=_check)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    from .settings import Settings

    overrides: dict[str, Any] = {}
    if getattr(args, "index", None):
        overrides["index_dir"] = args.index
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = args.corpus
    return Settings(**overrides)


def _ingest(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .errors import IndexMismatchError

    assistant = Assistant.open(settings=_settings(args))
    try:
        report = assistant.ingest(rebuild=args.rebuild)
    except IndexMismatchError as exc:
        if not args.rebuild_if_changed:
            raise
        print(f"The index at {exc.index_dir} was built with other settings ({exc.diff}); rebuilding it.",
              file=sys.stderr)
        report = assistant.ingest(rebuild=True)
    print(json.dumps(report.to_dict()) if args.json else report.summary())
    return 0


def _ask(args: argparse.Namespace) -> int:
    from .assistant import Assistant

    questions = list(args.questions)
    if args.file:
        text = sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8")
        questions += [line for line in text.splitlines() if line.strip()]
    if not questions:
        print("cityqa ask: give at least one question (as arguments or with --file)", file=sys.stderr)
        return 2
    assistant = Assistant.open(settings=_settings(args))
    for question in questions:
        answer = assistant.ask(question, k=args.k)
        if args.json:
            print(json.dumps(answer.to_dict(), ensure_ascii=False), flush=True)
        else:
            print(_format(answer), flush=True)
    return 0


def _format(answer: object) -> str:
    from .types import Answer

    assert isinstance(answer, Answer)
    lines = [f"Q: {answer.question}"]
    if answer.resolved_question:
        lines.append(f"   (understood as: {answer.resolved_question})")
    lines.append(f"A: {answer.answer}")
    if not answer.note:
        shown = "closest passage" if answer.abstained else "quoted sentence"
        lines.append(f"   confidence {answer.confidence:.0%} that the {shown} answers the question")
    if answer.caution:
        lines.append(f"   {'why' if answer.abstained else 'check'}: {answer.caution}")
    for c in answer.citations:
        lines.append(f"  [{c.n}] {c.label}  (chars {c.start}-{c.end}, score {c.score:.2f})")
    if answer.abstained and answer.related:
        lines.append("  Closest passages (the first may answer; it does not say so directly):" if answer.closest
                     else "  Closest passages:")
        lines += [f"   - {c.label}: “{' '.join(c.text.split())}”" for c in answer.related]
    return "\n".join(lines) + "\n"


def _check(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .checking.factcheck import format_verdict

    if args.annotate or args.summary or (args.file and args.file.suffix.lower() in {".docx", ".pdf"}):
        return _check_draft(args)
    texts = list(args.claims)
    if args.file:
        texts.append(sys.stdin.read() if str(args.file) == "-" else args.file.read_text(encoding="utf-8"))
    if not any(t.strip() for t in texts):
        print("cityqa check: give at least one claim (as arguments or with --file)", file=sys.stderr)
        return 2
    assistant = Assistant.open(settings=_settings(args))
    for text in texts:  # through the assistant, so its input limit (CITYQA_MAX_CHECK_CHARS) holds here too
        for verdict in assistant.check(text):
            print(json.dumps(verdict.to_dict(), ensure_ascii=False) if args.json else format_verdict(verdict),
                  flush=True)
    return 0


def _check_draft(args: argparse.Namespace) -> int:
    """`cityqa check --file DRAFT [--annotate OUT.docx] [--summary OUT.md]`: every sentence of a draft, checked or
    listed with the reason it is not; the summary on stdout (or one JSON object per sentence)."""
    from .assistant import Assistant
    from .checking.draft import annotate_docx, check_draft

    if not args.file or str(args.file) == "-":
        print("cityqa check: a draft is read from a file: --file DRAFT (.docx, .pdf, .md or .txt)", file=sys.stderr)
        return 2
    if args.annotate and args.file.suffix.lower() != ".docx":
        print("cityqa check: --annotate writes a Word file and needs a Word draft (--file DRAFT.docx)", file=sys.stderr)
        return 2
    settings = _settings(args)
    result = check_draft(Assistant.open(settings=settings), args.file, settings)
    if args.annotate:
        annotate_docx(args.file, result, args.annotate)
    if args.summary:
        args.summary.write_text(result.summary_markdown(), encoding="utf-8")
    if args.json:
        for i, s in enumerate(result.sentences):
            verdict = result.verdicts.get(i)
            print(json.dumps({"paragraph": s.paragraph, "start": s.start, "end": s.end, "text": s.text,
                              "not_checked": s.skipped, "verdict": verdict.to_dict() if verdict else None},
                             ensure_ascii=False), flush=True)
    else:
        print(result.summary_markdown(), flush=True)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .ui.app import serve

    serve(_settings(args))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .assistant import Assistant
    from .evaluation import evaluate

    if args.squad:
        return _eval_squad(args)
    assistant = Assistant.open(settings=_settings(args))
    if args.claims:
        report = evaluate.evaluate_claims(assistant, args.gold or evaluate.DEFAULT_CLAIMS, args.limit)
    else:
        systems = [name.strip() for name in args.systems.split(",") if name.strip()]
        report = evaluate.evaluate(
            assistant, args.gold or evaluate.DEFAULT_GOLD, systems, limit=args.limit,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    return _write(args, report, assistant.settings.eval_dir)


def _eval_squad(args: argparse.Namespace) -> int:
    from .evaluation.squad_eval import SQUAD_SYSTEMS, evaluate_squad

    settings = _settings(args)
    systems = [name.strip() for name in args.systems.split(",") if name.strip()]
    if args.systems == _DEFAULT_SYSTEMS:
        systems = list(SQUAD_SYSTEMS)
    articles = [a.strip() for a in args.articles.split(",")] if args.articles else None
    report = evaluate_squad(
        args.squad, settings, systems, sample=args.sample, seed=args.seed, articles=articles,
        work_dir=args.work, progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    return _write(args, report, settings.eval_dir)


def _write(args: argparse.Namespace, report: dict, eval_dir: Path) -> int:
    from .evaluation import report as reports

    paths = reports.write_report(report, args.out or eval_dir)
    if args.json:
        print(json.dumps(reports.summary(report), ensure_ascii=False))
    else:
        print(reports.render_table(report))
        print("\nwrote " + ", ".join(str(path) for path in paths.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
