"""More than 1,000 hostile inputs (issue 28), from a fixed seed (`hostile.SEED`) and a small hand corpus, through the
real library and the live app: each gets an answer from the documents or a clear refusal.

- **questions** (`Assistant.ask`): a non-empty answer whose quotes are verbatim spans of the indexed documents, or a
  refusal note;
- **claims** (`Assistant.check`): verdicts whose evidence is verbatim, or "no claim to check", or a `CityqaError`;
- **files**: uploads through `uploads.save_upload` into a scratch corpus, each refusal replayed through
  `uploads.add_and_index` on an indexed library, which must leave its corpus folder and index untouched (the files
  under the index, its chunk count and the sources the store lists); corpus files through `corpus.iter_corpus` and
  `corpus.read_document`; a few accepted uploads are indexed for real;
- **drafts** (`checking.draft.check_draft`, and `annotate_docx` for Word drafts).

No exception may escape but the project's own (`cityqa.errors`), each with a message; no file may appear, vanish or
change outside the corpus folder the input was given to (the test's other folders, a private temporary folder that
must be empty again after each input, the repository's `corpus/` and top level). A seeded sample goes through a live
Gradio server too (raw HTTP and gradio_client): no HTTP 500, no traceback in a response or in cityqa's log, no file
written outside Gradio's upload folder.

Everything is counted in one module-scoped `Tally` (one module: pytest-xdist's `--dist loadscope` keeps it on one
worker); the last test prints `hostile inputs: N tried, tracebacks 0, http500 0, stray files 0` (`-s` or `-rP`
shows it; `test_summary_soak` prints it at the end of `make soak`, which runs only the soak tests). The default run
(about 1,020 inputs) takes about 25 s of CPU once the session's index is built; the tests marked `soak` (`make soak`;
CI runs them after `make test`) add about 2,700 more in about 3 minutes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from test_app import launch, raw_get, raw_upload
from test_uploads import indexed_copy

from cityqa import Answer, Assistant, Document, Settings
from cityqa.checking.draft import DraftCheck, annotate_docx, check_draft
from cityqa.documents.corpus import iter_corpus, read_document
from cityqa.documents.uploads import SavedUpload, add_and_index, save_upload, upload_limit
from cityqa.errors import CityqaError, UnreadableFileError, UploadError
from cityqa.index.store import IndexStore
from cityqa.types import Verdict
from cityqa.ui.render import check_summary
from hostile import (
    FACT,
    SEED,
    HostileDraft,
    HostileFile,
    HostileText,
    cheap_files,
    content_files,
    generated_texts,
    hand_drafts,
    hand_texts,
    name_files,
    on_disk,
    parsed_drafts,
    parsed_files,
    text_drafts,
)

REPO = Path(__file__).resolve().parents[1]
TOOL_CACHES = {".hypothesis", ".pytest_cache", ".ruff_cache", ".mypy_cache", "__pycache__", ".coverage"}
VERDICTS = {"supported", "close", "contradicted", "not_found"}
LAKEMONT = "Where did Lakemont open a trade desk?"
PASSWD = "root:x:0:0"  # what an XML external entity naming /etc/passwd would bring in
HANG_SECONDS = 60.0  # one input taking longer hangs the app (the sandbox's own limit is 30 s a parse)
soak = pytest.mark.soak

# ------------------------------------------------------------------ counting


PROBLEMS = ("traceback", "http500", "stray file", "wrong")


@dataclass
class Tally:
    """Every hostile input tried in this module, by kind, what became of it, and every problem, in order, by class:
    a traceback, an HTTP 500, a stray file, or something wrong (no answer text, a refusal without a message, a
    changed index)."""

    tried: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def add(self, problem: str, message: str) -> None:
        assert problem in PROBLEMS, problem
        self.problems.append((problem, message))

    def count(self, problem: str) -> int:
        return sum(p == problem for p, _ in self.problems)

    def line(self) -> str:
        return (f"hostile inputs: {sum(self.tried.values())} tried, tracebacks {self.count('traceback')}, "
                f"http500 {self.count('http500')}, stray files {self.count('stray file')}")

    def assert_clean(self, since: int = 0) -> None:
        """No problem recorded after the first `since` (how many there were when a test began)."""
        problems = [f"{p}: {m}" for p, m in self.problems[since:]]
        assert not problems, f"{len(problems)} problems, the first: " + "\n".join(problems[:15])


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


def attempt(tally: Tally, kind: str, label: str, call: Callable[[], Any], count: bool = True,
            replay: bool = False) -> Any:
    """`call()`'s result, or the `CityqaError` it raised (which must say something); any other exception is a
    traceback, recorded with the input's label. Counts one input of `kind` unless `count` is False (a second step
    of one input) and its outcome unless it is a `replay` (the same input through another path)."""
    if count and not replay:
        tally.tried[kind] += 1
    started = time.perf_counter()
    try:
        return call()
    except CityqaError as exc:
        if not str(exc).strip():
            tally.add("wrong", f"{kind} {label}: {type(exc).__name__} without a message")
        if not replay:
            tally.outcomes[f"{kind}: refused ({type(exc).__name__})"] += 1
        return exc
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        tally.add("traceback", f"{kind} {label}: {type(exc).__name__}: {str(exc)[:160]} at {where.filename}:"
                                f"{where.lineno}")
        return None
    finally:
        seconds = time.perf_counter() - started
        if seconds > HANG_SECONDS:
            tally.add("wrong", f"{kind} {label}: took {seconds:.0f} s")


# ------------------------------------------------------------------ what must not change


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int]]:
    """Every file and folder under `root` (but not under `skip`): relative path -> (size, mtime_ns)."""
    out: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in dirs:
            out[(here / name).relative_to(root).as_posix() + "/"] = (0, (here / name).lstat().st_mtime_ns)
        for name in files:
            info = (here / name).lstat()
            out[(here / name).relative_to(root).as_posix()] = (info.st_size, info.st_mtime_ns)
    return out


@dataclass
class Outside:
    """The places a hostile input must leave alone: the test's work folder (but the folders in `skip`, checked on
    their own: the corpus folders given to the library, the annotated drafts' folder, the private temporary folder,
    which must be empty between inputs), the repository's corpus/ and top level, the working directory."""

    work: Path
    skip: tuple[Path, ...]
    private_tmp: Path

    def snapshot(self) -> tuple[Any, ...]:
        top, cwd = (frozenset(os.listdir(folder)) - TOOL_CACHES for folder in (REPO, Path.cwd()))
        return tree(self.work, self.skip), tree(REPO / "corpus"), top, cwd

    def check(self, tally: Tally, label: str, before: tuple[Any, ...]) -> None:
        """Record what changed outside since `before`, and anything left in the private temporary folder."""
        after = self.snapshot()
        for where, old, new in zip(("work folder", "repo corpus/", "repo", "cwd"), before, after, strict=True):
            if old != new:
                changed = sorted(set(new) ^ set(old)) or sorted(k for k in new if new[k] != old[k])
                tally.add("stray file", f"{label}: {where} changed: {changed[:5]}")
        left = os.listdir(self.private_tmp)
        if left:
            tally.add("stray file", f"{label}: left in the temporary folder: {left[:5]}")
            for name in left:
                shutil.rmtree(self.private_tmp / name, ignore_errors=True)


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Outside:
    """A work folder with a private temporary folder (`tempfile` and the sandbox's children use it)."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return Outside(tmp_path, (tmp_path / "corpus", tmp_path / "reads", tmp_path / "out", private), private)


def index_files(assistant: Assistant) -> tuple[Any, ...]:
    """The sources the index's manifest lists, and every file under the index folder (size, mtime): any write
    to the index shows here. Cheap enough for every input."""
    return sorted(assistant.store.require_manifest()["files"]), tree(Path(assistant.index_dir))


def index_state(assistant: Assistant) -> tuple[Any, ...]:
    """The index as the store lists it: chunk count (Chroma's) and sources (the manifest's), and its files."""
    store = IndexStore(Path(assistant.index_dir), assistant.settings)
    return store.collection().count(), *index_files(assistant)


def corpus_state(assistant: Assistant) -> dict[str, tuple[int, int]]:
    return tree(Path(assistant.settings.corpus_dir))


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def library(settings: Settings, assistant: Assistant, tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    """A private copy of the indexed corpus (uploads change it), with a 2 MiB upload limit, sharing the session's
    loaded model."""
    copy = indexed_copy(settings, tmp_path_factory.mktemp("hostile-library"), max_upload_bytes=2 << 20)
    copy.embedder = assistant.embedder
    return copy


@pytest.fixture(scope="module")
def documents(assistant: Assistant) -> dict[str, str]:
    """The text of every indexed document, to check that quotes are verbatim."""
    corpus = Path(assistant.settings.corpus_dir)
    return {source: read_document(corpus / source, corpus).text for source in assistant.manifest["files"]}


# ------------------------------------------------------------------ questions and claims


def verbatim(tally: Tally, label: str, citations: list[Any], documents: dict[str, str]) -> None:
    for c in citations:
        if documents.get(c.source, "")[c.start : c.end] != c.quote:
            tally.add("wrong", f"{label}: quote {c.quote[:40]!r} is not {c.source}[{c.start}:{c.end}]")


def ask_one(tally: Tally, assistant: Assistant, item: HostileText, documents: dict[str, str]) -> None:
    answer = attempt(tally, "question", item.label, lambda: assistant.ask(item.text))
    if isinstance(answer, Answer):
        what = "refused" if answer.note else "abstained" if answer.abstained else "answered"
        tally.outcomes[f"question: {what}"] += 1
        if not answer.answer.strip() or (answer.note is not None and not answer.note.strip()):
            tally.add("wrong", f"question {item.label}: an empty answer")
        verbatim(tally, f"question {item.label}", answer.citations + answer.related, documents)


def check_one(tally: Tally, assistant: Assistant, item: HostileText, documents: dict[str, str]) -> None:
    verdicts = attempt(tally, "claim", item.label, lambda: assistant.check(item.text))
    if isinstance(verdicts, list):
        tally.outcomes["claim: " + ("checked" if verdicts else "nothing to check")] += 1
        if not check_summary(verdicts).strip():
            tally.add("wrong", f"claim {item.label}: no summary")
        for v in verdicts:
            if not isinstance(v, Verdict) or v.verdict not in VERDICTS or not v.claim.strip():
                tally.add("wrong", f"claim {item.label}: a bad verdict {v!r:.120}")
            verbatim(tally, f"claim {item.label}", v.evidence, documents)


def run_texts(tally: Tally, assistant: Assistant, items: list[HostileText], documents: dict[str, str]) -> None:
    since = len(tally.problems)
    for item in items:
        (ask_one if item.kind == "question" else check_one)(tally, assistant, item, documents)
    tally.assert_clean(since)


def test_hostile_questions(tally: Tally, assistant: Assistant, quoting: Assistant, documents: dict[str, str]) -> None:
    """The hand corpus at the shipped threshold; the generated ones at the quoting threshold (`conftest.quoting`),
    where more of them are answered with quotes, whose spans are then checked."""
    run_texts(tally, assistant, hand_texts("question"), documents)
    run_texts(tally, quoting, generated_texts("question", 35), documents)


def test_hostile_claims(tally: Tally, assistant: Assistant, documents: dict[str, str]) -> None:
    run_texts(tally, assistant, hand_texts("claim") + generated_texts("claim", 14), documents)


@soak
def test_hostile_questions_and_claims_soak(
    tally: Tally, assistant: Assistant, quoting: Assistant, documents: dict[str, str]
) -> None:
    run_texts(tally, assistant, generated_texts("question", 300, SEED + 1), documents)
    run_texts(tally, quoting, generated_texts("question", 300, SEED + 2), documents)
    run_texts(tally, assistant, generated_texts("claim", 300, SEED + 1), documents)


# ------------------------------------------------------------------ files


@dataclass
class FileBench:
    """Where file inputs go: the uploaded bytes (outside any corpus), a scratch corpus for uploads (holding the
    library's document names), a corpus folder to read from, and the indexed library refusals are replayed on."""

    outside: Outside
    library: Assistant
    settings: Settings

    @property
    def uploads(self) -> Path:
        return self.outside.work / "uploads"

    @property
    def scratch(self) -> Path:
        return self.outside.work / "corpus"

    @property
    def reads(self) -> Path:
        return self.outside.work / "reads"


@pytest.fixture
def bench(outside: Outside, library: Assistant, settings: Settings) -> FileBench:
    made = FileBench(outside, library, settings)
    shutil.copytree(library.settings.corpus_dir, made.scratch, ignore=shutil.ignore_patterns(".*"))
    made.reads.mkdir()
    made.uploads.mkdir()
    return made


def write_upload(bench: FileBench, data: bytes) -> Path:
    """The uploaded bytes where a web server would keep them: outside the corpus, under a name of its own."""
    path = bench.uploads / "upload.bin"
    path.write_bytes(data)
    return path


def upload_one(tally: Tally, bench: FileBench, file: HostileFile) -> None:
    src = write_upload(bench, file.data)
    corpus_before, before = tree(bench.scratch), bench.outside.snapshot()
    limit = upload_limit(bench.library.settings)
    saved = attempt(tally, "file", file.label,
                    lambda: save_upload(src, file.name, bench.scratch, limit, settings=bench.settings))
    bench.outside.check(tally, file.label, before)
    added = set(tree(bench.scratch)) - set(corpus_before)
    if isinstance(saved, SavedUpload):
        tally.outcomes["file: uploaded"] += 1
        if added != {saved.source} or saved.path.parent != bench.scratch or saved.path.read_bytes() != file.data:
            tally.add("stray file", f"{file.label}: saved as {saved.path} (new in the corpus: {sorted(added)[:3]})")
        saved.path.unlink(missing_ok=True)
    elif isinstance(saved, UploadError):
        if tree(bench.scratch) != corpus_before:
            tally.add("stray file", f"{file.label}: a refused upload changed the corpus folder: {sorted(added)[:3]}")
        replay_refusal(tally, bench, file, src)


def replay_refusal(tally: Tally, bench: FileBench, file: HostileFile, src: Path) -> None:
    """The refused file offered to the indexed library: refused too, and its corpus folder and index untouched."""
    library = bench.library
    corpus_before, index_before = corpus_state(library), index_files(library)
    result = attempt(tally, "file", file.label, lambda: add_and_index(library, src, file.name), replay=True)
    if not isinstance(result, UploadError):
        tally.add("wrong", f"{file.label}: refused by save_upload, but add_and_index gave {result!r:.100}")
    if corpus_state(library) != corpus_before or index_files(library) != index_before:
        tally.add("wrong", f"{file.label}: a refused upload changed the library's corpus folder or index")


def read_one(tally: Tally, bench: FileBench, file: HostileFile) -> None:
    """A file placed in a corpus folder: listed and read (a Document with text, or a reason), or not listed."""
    path = bench.reads / file.name
    path.write_bytes(file.data)
    before, corpus_before = bench.outside.snapshot(), tree(bench.reads)
    tally.tried["file"] += 1
    listed = attempt(tally, "file", file.label, lambda: list(iter_corpus(bench.reads)), count=False)
    if isinstance(listed, list) and path in listed:
        doc = attempt(tally, "file", file.label, lambda: read_document(path, bench.reads, bench.settings), count=False)
        if isinstance(doc, Document):
            tally.outcomes["file: read"] += 1
            if not doc.text.strip() or PASSWD in doc.text:
                tally.add("wrong", f"{file.label}: read without text, or with /etc/passwd's (an external entity)")
            if sum(len(value) for value in doc.metadata.values()) > len(file.data):
                tally.add("wrong", f"{file.label}: its metadata is longer than the file (an expansion)")
        elif isinstance(doc, UnreadableFileError) and (not doc.reason.strip() or doc.source != file.name):
            tally.add("wrong", f"{file.label}: skipped without a reason or under another name ({doc.source!r})")
    elif isinstance(listed, list):
        tally.outcomes["file: not a corpus document (hidden or another type)"] += 1
    bench.outside.check(tally, file.label, before)
    if tree(bench.reads) != corpus_before:
        tally.add("stray file", f"{file.label}: reading it changed the corpus folder")
    path.unlink()


def run_files(tally: Tally, bench: FileBench, files: list[HostileFile]) -> None:
    """Each file through its path; the library's index (chunk count and sources as the store lists them) is the
    same after all the refusals (each refusal also left every file under the index as it was)."""
    since, index_before = len(tally.problems), index_state(bench.library)
    for file in files:
        (upload_one if file.target == "upload" else read_one)(tally, bench, file)
    if index_state(bench.library) != index_before:
        tally.add("wrong", "the library's index changed while only refused files were offered to it")
    tally.assert_clean(since)


def test_hostile_file_names_and_text_files(tally: Tally, bench: FileBench) -> None:
    run_files(tally, bench, name_files() + content_files() + cheap_files(560))


def test_hostile_parsed_files(tally: Tally, bench: FileBench) -> None:
    """PDF, Word and HTML: the sandboxed parser's cases (truncated, polyglot, zip bombs, entity expansion, deep
    nesting, encrypted, two billion pages), a seeded dozen of them."""
    run_files(tally, bench, parsed_files(12))


@soak
def test_hostile_files_soak(tally: Tally, bench: FileBench) -> None:
    run_files(tally, bench, cheap_files(1500, SEED + 1) + parsed_files(120, SEED + 1))


def index_accepted(tally: Tally, bench: FileBench, files: list[HostileFile], seed: int) -> None:
    """Hostile text files the checks accept, uploaded into the indexed library for real: indexed, and the library
    still answers."""
    library, since = bench.library, len(tally.problems)
    for n, file in enumerate(files):
        src = write_upload(bench, file.data)
        before = bench.outside.snapshot()
        name = f"accepted-{seed}-{n}{Path(file.name).suffix}"
        outcome = attempt(tally, "file", file.label, functools.partial(add_and_index, library, src, name))
        bench.outside.check(tally, file.label, before)
        if isinstance(outcome, UploadError):
            continue
        tally.outcomes["file: uploaded and indexed"] += 1
        if outcome is None or name not in library.manifest["files"]:
            tally.add("wrong", f"{file.label}: accepted but not in the index")
    answer = attempt(tally, "question", "after accepted uploads", lambda: library.ask(LAKEMONT))
    if not isinstance(answer, Answer) or not answer.answer.strip():
        tally.add("wrong", f"the library does not answer after the accepted uploads: {answer!r:.100}")
    tally.assert_clean(since)


def accepted_sample(count: int, seed: int) -> list[HostileFile]:
    """Uploads the checks accept: hostile Markdown or text (injection, markup, control characters, right-to-left
    and zero-width text, 10,000 newlines) in strict UTF-8."""
    kinds = ("hostile-text", "html-in-text", "markdown-injection", "rtl-and-zero-width", "10,000 newlines", "controls")
    chosen = [f for f in cheap_files(600, seed) if f.target == "upload" and f.label.split(":")[1] in kinds
              and Path(f.name).suffix in (".md", ".txt") and utf8_text(f.data)]
    return random.Random(seed).sample(chosen, min(count, len(chosen)))


def utf8_text(data: bytes) -> bool:
    try:
        return b"\x00" not in data and bool(data.decode("utf-8").strip())
    except UnicodeDecodeError:
        return False


def test_accepted_hostile_uploads_are_indexed(tally: Tally, bench: FileBench) -> None:
    index_accepted(tally, bench, accepted_sample(2, SEED), SEED)


@soak
def test_accepted_hostile_uploads_are_indexed_soak(tally: Tally, bench: FileBench) -> None:
    index_accepted(tally, bench, accepted_sample(12, SEED + 1), SEED + 1)


# ------------------------------------------------------------------ drafts


def draft_one(tally: Tally, bench: FileBench, assistant: Assistant, draft: HostileDraft) -> None:
    path = bench.uploads / draft.name
    path.write_bytes(draft.data)
    before = bench.outside.snapshot()
    result = attempt(tally, "draft", draft.label, lambda: check_draft(assistant, path, bench.settings))
    if isinstance(result, DraftCheck):
        tally.outcomes["draft: checked"] += 1
        summary = result.summary_markdown()
        if not summary.strip() or PASSWD in summary:
            tally.add("wrong", f"{draft.label}: an empty summary, or one with /etc/passwd's text")
        if path.suffix.lower() == ".docx":
            annotate(tally, bench, draft, path, result)
    bench.outside.check(tally, draft.label, before)
    path.unlink()


def annotate(tally: Tally, bench: FileBench, draft: HostileDraft, path: Path, result: DraftCheck) -> None:
    """The annotated copy is the only file written, where it was asked for."""
    out_dir = bench.outside.work / "out"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / "annotated.docx"
    attempt(tally, "draft", draft.label, lambda: annotate_docx(path, result, out), count=False)
    if set(os.listdir(out_dir)) - {out.name}:
        tally.add("stray file", f"{draft.label}: annotating left {sorted(os.listdir(out_dir))}")
    shutil.rmtree(out_dir)


def run_drafts(tally: Tally, bench: FileBench, assistant: Assistant, drafts: list[HostileDraft]) -> None:
    since = len(tally.problems)
    for draft in drafts:
        draft_one(tally, bench, assistant, draft)
    tally.assert_clean(since)


def test_hostile_drafts(tally: Tally, bench: FileBench, assistant: Assistant) -> None:
    run_drafts(tally, bench, assistant, hand_drafts() + text_drafts(3) + parsed_drafts(3))


@soak
def test_hostile_drafts_soak(tally: Tally, bench: FileBench, assistant: Assistant) -> None:
    run_drafts(tally, bench, assistant, text_drafts(60, SEED + 1) + parsed_drafts(40, SEED + 1))


# ------------------------------------------------------------------ the live app


@pytest.fixture(scope="module")
def live(library: Assistant) -> Iterator[str]:
    library.check("Fresno banned caste discrimination.")  # the fact-checker's tables load before the first request
    app, url = launch(library)
    yield url
    app.close()


def fetch(url: str, path: str, method: str = "GET", body: str | None = None) -> tuple[int, str]:
    return raw_get(url, path, method, body, timeout=120)  # a hostile question may take a while


def call(url: str, api: str, data: list[Any], session: str | None = None) -> tuple[int, str]:
    """POST an event to the app's HTTP API the way any client may (lone surrogates escaped, as JSON allows; in the
    conversation `session` when given) and read its result stream."""
    body = json.dumps({"data": data, "session_hash": session}, ensure_ascii=True)
    status, text = fetch(url, f"/gradio_api/call/{api}", "POST", body)
    if status != 200:
        return status, text
    return fetch(url, f"/gradio_api/call/{api}/{json.loads(text)['event_id']}")


def judge(tally: Tally, label: str, status: int, text: str, wellformed: bool = True) -> None:
    """No 500, no traceback in the response; a well-formed request completes."""
    if status >= 500:
        tally.add("http500", f"{label}: HTTP {status}: {text[:120]}")
    judge_text(tally, label, text)
    if wellformed and status == 200 and "event: error" in text:  # the handler raised: a traceback in the server log
        tally.add("traceback", f"{label}: {text[:200]}")
    elif wellformed and status == 200 and "event: complete" not in text:
        tally.add("wrong", f"{label}: no result: {text[:200]}")


def judge_text(tally: Tally, label: str, text: str) -> None:
    """No traceback, and no "Something went wrong" (the handlers' words for an unexpected exception)."""
    if "Traceback" in text or "Something went wrong" in text:
        tally.add("traceback", f"{label}: {text[:200]}")


def refused_by_upload_box(tally: Tally, label: str, exc: Exception) -> str:
    """gradio_client's error for a file type the upload box does not offer (refused before any handler); any other
    error is an unexpected one."""
    if "Invalid file type" not in str(exc):
        tally.add("traceback", f"{label}: {type(exc).__name__}: {str(exc)[:160]}")
    return f"refused by the upload box: {exc}"


class ServerLog(logging.Handler):
    """cityqa's log records that carry an exception (a handler's `log.exception`): tracebacks on the server."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(f"{record.name}: {record.getMessage()} ({record.exc_info[0]})")


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    handler = ServerLog()
    logger = logging.getLogger("cityqa")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def ui_texts(tally: Tally, url: str, items: list[HostileText]) -> None:
    for item in items:
        tally.tried[f"ui {item.kind}"] += 1
        if item.kind == "question":
            status, text = call(url, "ask", [item.text, "All documents", [], 6])
        else:
            status, text = call(url, "check", [item.text])
        judge(tally, f"ui {item.kind} {item.label}", status, text)


def ui_uploads(tally: Tally, url: str, folder: Path, files: list[HostileFile], library: Assistant) -> None:
    """Each file under its (file-system-safe) hostile name through the Corpus tab, with gradio_client."""
    client = Client(url, verbose=False)
    for n, file in enumerate(files):
        tally.tried["ui file"] += 1
        path = folder / str(n) / on_disk(file.name)
        path.parent.mkdir(parents=True)
        path.write_bytes(file.data)
        before = corpus_state(library)
        try:
            status = client.predict(handle_file(str(path)), False, api_name="/upload")[0]
        except Exception as exc:
            status = refused_by_upload_box(tally, f"ui file {file.label}", exc)
        judge_text(tally, f"ui file {file.label}", status)
        added = set(corpus_state(library)) - set(before)
        if "cq-ok" not in status and added:
            tally.add("stray file", f"ui file {file.label}: refused, yet {sorted(added)} appeared in the corpus")


def ui_raw_uploads(tally: Tally, url: str) -> None:
    """Gradio's own upload route, sent hostile multipart file names: stored inside its upload folder or refused."""
    token = hashlib.sha256(str(SEED).encode()).hexdigest()[:12]
    folder = Path(get_upload_folder()).resolve()
    for name in [f"../../hostile-{token}.txt", f"/tmp/hostile-{token}.md", f"a\x00{token}.md", "n" * 1000 + ".md",
                 f"..\\..\\hostile-{token}.txt", f"CON.{token}.txt", f"\u202e{token}txt.exe"]:
        tally.tried["ui file"] += 1
        status, text = raw_upload(url, name, FACT.encode())
        judge(tally, f"ui raw upload {name[:30]!r}", status, text, wellformed=False)
        stored = json.loads(text) if status == 200 else []
        if any(not Path(p).resolve().is_relative_to(folder) for p in stored):
            tally.add("stray file", f"raw upload {name[:30]!r} stored outside Gradio's upload folder: {stored}")
        for strayed in [folder.parent / f"hostile-{token}.txt", Path("/tmp") / f"hostile-{token}.md",
                        Path.cwd() / f"hostile-{token}.txt"]:
            if strayed.exists():
                tally.add("stray file", f"raw upload {name[:30]!r} wrote {strayed}")


def ui_drafts(tally: Tally, url: str, folder: Path, drafts: list[HostileDraft]) -> None:
    client = Client(url, verbose=False)
    for draft in drafts:
        tally.tried["ui draft"] += 1
        path = folder / draft.name
        path.write_bytes(draft.data)
        try:
            status = client.predict(handle_file(str(path)), api_name="/check_draft")[1]
        except Exception as exc:
            status = refused_by_upload_box(tally, f"ui draft {draft.label}", exc)
        judge_text(tally, f"ui draft {draft.label}", status)


def ui_surrogate_note(tally: Tally, url: str) -> None:
    """A question holding a lone surrogate (gradio_client cannot send one; a browser's JSON can), then the briefing
    note of that conversation."""
    session = f"hostile-{SEED}"
    tally.tried["ui question"] += 1
    status, text = call(url, "ask", ["Which city is Okiyama \ud800 a sister city of?", "All documents", [], 6], session)
    judge(tally, "ui surrogate question", status, text)
    status, text = call(url, "export", [], session)
    judge(tally, "ui briefing note after a surrogate question", status, text)
    if "Okiyama" not in text:
        tally.add("wrong", f"ui briefing note after a surrogate question: {text[:160]}")


def ui_malformed(tally: Tally, url: str) -> None:
    """Requests no browser sends (wrong types, missing values): refused by Gradio's own validation, never a 500.
    (Gradio prints its own stack for these on the server's stderr; the response holds none.)"""
    for api, data in [("ask", ["Okiyama?", "All documents", [], "six"]), ("ask", [None, None, None, None]),
                      ("ask", [123, "All documents", ["<script>"], 6]), ("check", [{"a": 1}]), ("source", ["x", "y"]),
                      ("check_source", [10**30, -1]), ("remove", ["../../etc/passwd"]), ("ask", ["x"])]:
        tally.tried["ui malformed"] += 1
        status, text = call(url, api, data)
        judge(tally, f"ui malformed {api} {data!r:.40}", status, text, wellformed=False)


def ui_sample(size: int, seed: int) -> tuple[list[HostileText], list[HostileFile], list[HostileDraft]]:
    """A seeded sample of each kind, at most 20,000 characters a text (the 1 MB ones are in the library tests)."""
    rng = random.Random(seed)
    texts = [t for t in hand_texts("question") + generated_texts("question", 200, seed) + hand_texts("claim")
             + generated_texts("claim", 100, seed) if len(t.text) <= 20_000]
    files = [f for f in cheap_files(300, seed) if f.target == "upload" and len(f.data) < (1 << 20)]
    drafts = [d for d in hand_drafts() + text_drafts(10, seed) if len(d.data) < (1 << 20)]
    return rng.sample(texts, size // 2), rng.sample(files, size // 3), rng.sample(drafts, size - size // 2 - size // 3)


def run_ui(tally: Tally, url: str, library: Assistant, folder: Path, log: ServerLog, size: int, seed: int,
           since: int) -> None:
    texts, files, drafts = ui_sample(size, seed)
    ui_texts(tally, url, texts)
    ui_uploads(tally, url, folder / "uploads", files, library)
    ui_drafts(tally, url, folder / "drafts", drafts)
    for record in log.records:
        tally.add("traceback", f"server log: {record}")
    log.records.clear()
    tally.assert_clean(since)


def test_live_app(tally: Tally, live: str, library: Assistant, tmp_path: Path, server_log: ServerLog) -> None:
    since = len(tally.problems)
    (tmp_path / "drafts").mkdir()
    ui_surrogate_note(tally, live)
    ui_raw_uploads(tally, live)
    ui_malformed(tally, live)
    run_ui(tally, live, library, tmp_path, server_log, 16, SEED, since)


@soak
def test_live_app_soak(tally: Tally, live: str, library: Assistant, tmp_path: Path, server_log: ServerLog) -> None:
    since = len(tally.problems)
    (tmp_path / "drafts").mkdir()
    run_ui(tally, live, library, tmp_path, server_log, 60, SEED + 1, since)


# ------------------------------------------------------------------ the count


def summarize(tally: Tally, request: pytest.FixtureRequest, record_property: Callable[[str, object], None],
              soak_run: bool) -> None:
    """Print the one line for the issue's note (and the count by kind and by outcome); at least 1,000 inputs when
    the whole default run (or the whole soak run) of this module ran."""
    line = tally.line()
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(tally.tried.items()))
    print(f"\n{line}\n  by kind: {kinds}\n  outcomes: {dict(sorted(tally.outcomes.items()))}")
    record_property("hostile_inputs", line)
    tally.assert_clean()
    here = {item.name for item in request.session.items if item.module is request.module}
    run = {name for name in globals() if name.startswith("test_") and name.endswith("_soak") == soak_run}
    if run <= here:
        assert sum(tally.tried.values()) >= 1000, line


def test_summary(tally: Tally, request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> None:
    summarize(tally, request, record_property, soak_run=False)


@soak
def test_summary_soak(
    tally: Tally, request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
) -> None:
    """The same line at the end of `make soak` (`-m soak`), which runs only the soak tests."""
    summarize(tally, request, record_property, soak_run=True)
