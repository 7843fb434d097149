"""Uploads that survive a crash (issue 28): the real server, SIGKILLed while uploads and removals are indexed.

`test_uploads_and_removals_survive_sigkill` starts `python app.py` (in a process group of its own) over a copy of the
test corpus and its index, then `ROUNDS` times: restarts the server and asks it a question through the app, sends
one change through the app's HTTP API with gradio_client (a new Markdown, text or Word document, a new version of
an uploaded one with "replace", or a removal), and SIGKILLs the whole process group, after a random delay or at a
random moment of the indexing (soon after the request, between the file's save and the index commit, while the
new generation is being written, or after the answer came back). A fresh interpreter then checks the folders and
the index:

- before any ingest: the index is consistent (the manifest, its node store and Chroma agree: unique chunk ids, the
  node store is what the manifest lists, every committed chunk is in Chroma); what the client was told was added
  is committed and in the corpus folder, what it was told was removed is out of both and kept in `.removed/`; a
  change the client never heard back about is wholly there or wholly not (no partial or unknown file among the
  documents, no visible temporary file);
- nothing is lost: every document version ever seen in the corpus folder (or acknowledged) is still in it or in
  `.removed/`;
- after `cityqa ingest` (the CLI's own code, in that interpreter): the index holds exactly the corpus folder's
  documents at their current hashes, Chroma ids equal the node ids, one generation is left, and the index answers
  (the report's San José question, and the changed document's own question, cited to it, or never cited once it
  is gone).

After the last round the server is started once more: it answers, and its Corpus tab lists the corpus folder.
The seed is printed; `CITYQA_CRASH_SEED=<seed>` replays a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pytest
from test_uploads import docx_bytes

from conftest import QUOTING_THRESHOLD, make_corpus

if TYPE_CHECKING:
    from gradio_client import Client
    from gradio_client.client import Job

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REPO = TESTS.parent
PYTHON = sys.executable
ROUNDS = 20
KILL_MODES = ["early"] * 4 + ["mid"] * 9 + ["write"] * 3 + ["late"] * 4  # one per round, shuffled
CHANGES = ["md"] * 5 + ["txt"] * 3 + ["docx"] * 4 + ["replace"] * 4 + ["remove"] * 4  # one per round, shuffled
START_TIMEOUT = 180  # a server start on a busy machine: imports, the index, the warm-up question
CHECK_TIMEOUT = 300
SAN_JOSE = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"
OK = '<div class="cq-ok">'
TOWNS = [a + b for b in ("mont", "wick", "ford", "haven", "field") for a in
         ("Lake", "Har", "Wil", "Ash", "Bright", "Cold", "Elm", "Fair", "Glen", "High")]
CITIES = ["Osaka", "Lyon", "Porto", "Gdansk", "Tartu", "Cork", "Bergen", "Izmir", "Busan", "Quito", "Turku", "Graz"]


# ------------------------------------------------------------------ documents and changes


@dataclass(frozen=True)
class Version:
    """One generated document version: its bytes and the question only it answers."""

    name: str
    data: bytes
    town: str
    city: str
    year: int

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def question(self) -> str:
        return f"When did {self.town} open a trade desk in {self.city}?"


def make_version(name: str, town: str, city: str, year: int, paragraphs: int, edition: int) -> Version:
    """A document large enough that indexing it takes a second or more; one sentence answers its question."""
    fact = f"{town} opened a trade desk in {city} in {year}."
    body = [f"In {1900 + i} the {town} council recorded exchange number {i} with partner schools (edition "
            f"{edition}). The delegation of {1900 + i} visited the harbor and the library." for i in range(paragraphs)]
    if name.endswith(".docx"):
        data = docx_bytes([(f"{town} trade desk", 1), (fact, 0), *[(p, 0) for p in body]])
    else:
        data = (f"# {town} trade desk\n\n{fact}\n\n" + "\n\n".join(body) + "\n").encode()
    return Version(name, data, town, city, year)


@dataclass(frozen=True)
class Action:
    """One change sent to the app: "add" a new document, "replace" one with a new version, or "remove" one."""

    kind: str
    name: str
    new: Version | None  # the uploaded version (None for a removal)
    old: Version | None  # the version replaced or removed (None for a new document)

    @property
    def target(self) -> str | None:
        """The corpus folder's hash for this name once the change has landed (None: no file)."""
        return self.new.sha if self.new else None

    @property
    def version(self) -> Version:
        return self.new or self.old  # type: ignore[return-value]  # one of them is always set


@dataclass
class Ledger:
    """What the test knows: every generated version, every version seen in the corpus folder (never to be lost),
    and the generated documents now in the corpus folder (name -> hash)."""

    versions: dict[str, Version] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    live: dict[str, str] = field(default_factory=dict)

    def record(self, snapshot: dict[str, Any]) -> None:
        if "error" in snapshot:
            return
        self.seen |= set(snapshot["corpus"].values())
        self.live = {name: sha for name, sha in snapshot["corpus"].items() if sha in self.versions}


def choose(kind: str, rng: random.Random, ledger: Ledger, number: int) -> Action:
    """The change `kind` ("md", "txt", "docx": a new document; "replace", "remove": a generated one, or a new
    Markdown document while there is none) with random content, size and target."""
    kind = "md" if kind in ("replace", "remove") and not ledger.live else kind
    size = rng.randint(60, 160)
    if kind in ("replace", "remove"):
        name = rng.choice(sorted(ledger.live))
        old = ledger.versions[ledger.live[name]]
        if kind == "remove":
            return Action("remove", name, None, old)
        new = make_version(name, old.town, old.city, rng.randint(1850, 1899), size, number)
        return Action("replace", name, new, old)
    town, city = TOWNS[number % len(TOWNS)], rng.choice(CITIES)
    new = make_version(f"{town.lower()}-desk-{number:02d}.{kind}", town, city, rng.randint(1850, 1899), size, number)
    return Action("add", new.name, new, None)


# ------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`python app.py` over `work`'s corpus and index, in a process group of its own, on a free loopback port."""

    def __init__(self, work: Path, log: IO[bytes]) -> None:
        port = self.port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "CITYQA_CORPUS_DIR": str(work / "corpus"), "CITYQA_INDEX_DIR": str(work / "index"),
               "CITYQA_ABSTAIN_THRESHOLD": str(QUOTING_THRESHOLD), "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(port), "GRADIO_TEMP_DIR": str(work / "gradio-tmp"),
               "TMPDIR": str(work / "tmp")}
        self.proc = subprocess.Popen([PYTHON, str(REPO / "app.py")], cwd=work, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self) -> float:
        """Seconds until the app's port accepts connections; AssertionError if it dies or takes too long."""
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode} while starting"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"the server did not start in {START_TIMEOUT} s")

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any child it started), then reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def connect(url: str) -> Client:
    from gradio_client import Client

    deadline = time.monotonic() + 60  # the port opens a moment before the app answers
    while True:
        try:
            return Client(url, verbose=False)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ask(client: Client, question: str) -> str:
    messages, _, _ = client.predict(question, "All documents", [], 6, api_name="/ask")
    content = messages[-1]["content"]
    return content if isinstance(content, str) else " ".join(part.get("text", "") for part in content)


def submit(client: Client, action: Action, outbox: Path) -> Job:
    """Send the change through the Corpus tab's endpoints, as the browser does (the file is uploaded first)."""
    from gradio_client import handle_file

    if action.new is None:
        return client.submit(action.name, api_name="/remove")
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / action.name
    path.write_bytes(action.new.data)
    return client.submit(handle_file(str(path)), action.kind == "replace", api_name="/upload")


def landed(action: Action, corpus: Path) -> bool:
    """Whether the corpus folder already shows the change (the upload saved, the removed file moved away)."""
    path = corpus / action.name
    if action.new is None:
        return not path.exists()
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == action.new.sha
    except OSError:
        return False


def _wait(condition: Callable[[], bool], timeout: float, step: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(step)


def wait_to_kill(mode: str, rng: random.Random, job: Job, action: Action, work: Path) -> float:
    """Wait for the moment `mode` aims at; returns the seconds since the request was sent."""
    started = time.monotonic()
    if mode == "early":  # the upload's transfer, checks and save take a few tenths of a second
        time.sleep(rng.uniform(0.0, 0.4))
    elif mode == "mid":  # saved (or moved away), now indexing: a second or more for an upload
        _wait(lambda: landed(action, work / "corpus") or job.done(), 60)
        time.sleep(rng.uniform(0.0, 1.5 if action.new else 0.3))
    elif mode == "write":  # the new generation is being written (gen-N.tmp), just before the commit
        _wait(lambda: any((work / "index").glob("gen-*.tmp")) or job.done(), 60, step=0.002)
    else:  # "late": after the answer came back
        _wait(job.done, 120)
        time.sleep(rng.uniform(0.0, 0.3))
    return time.monotonic() - started


def survivors(work: Path, timeout: float = 10) -> tuple[int, list[str]]:
    """Processes working on `work` right after the kill, and those still running `timeout` s later. A sandboxed
    parser runs in a session of its own, out of reach of the group kill: it must end by itself."""
    deadline, first = time.monotonic() + timeout, None
    while True:
        found = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError, ValueError):
                text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if str(work) in text and int(cmdline.parent.name) != os.getpid():
                    found.append(text[:200])
        first = len(found) if first is None else first
        if not found or time.monotonic() > deadline:
            return first, found
        time.sleep(0.2)


def told(job: Job, timeout: float = 15) -> str | None:
    """The status line the client received, or None when it never heard back."""
    _wait(job.done, timeout, step=0.05)
    if not job.done():
        return None
    try:
        return str(job.result(timeout=0)[0])
    except Exception:  # the connection died with the server
        return None


# ------------------------------------------------------------------ the check (runs in a fresh interpreter)


def snapshot(corpus: Path, index: Path) -> dict[str, Any]:
    """The corpus folder, `.removed/` and the index as a reader sees them, with the index's invariants."""
    from cityqa import Settings
    from cityqa.documents.corpus import file_sha256, iter_corpus, source_name
    from cityqa.documents.extractors import FORMATS
    from cityqa.documents.uploads import REMOVED_DIR
    from cityqa.index.store import IndexStore

    store = IndexStore(index, Settings(corpus_dir=corpus, index_dir=index))
    try:
        manifest = store.require_manifest()
        node_ids = [c.id for c in store.load_nodes(manifest).chunks]
        chroma = store.collection().get(include=[])["ids"]
    except Exception as exc:  # a corrupt index is a finding, not a crash of the check
        return {"error": f"{type(exc).__name__}: {exc}"}
    listed = [i for entry in manifest["files"].values() for i in entry["chunks"]]
    removed = corpus / REMOVED_DIR
    return {
        "manifest": {source: entry["sha256"] for source, entry in manifest["files"].items()},
        "generation": manifest["generation"],
        "ids_unique": len(node_ids) == len(set(node_ids)),
        "nodes_match_manifest": sorted(node_ids) == sorted(listed),
        "missing_in_chroma": len(set(node_ids) - set(chroma)),
        "chroma_duplicates": len(chroma) - len(set(chroma)),
        "orphans": len(set(chroma) - set(node_ids)),
        "gen_dirs": sorted(p.name for p in index.glob("gen-*")),
        "corpus": {source_name(p, corpus): file_sha256(p) for p in iter_corpus(corpus)},
        "removed": sorted(file_sha256(p) for p in removed.iterdir()) if removed.is_dir() else [],
        "hidden": sorted(p.name for p in corpus.iterdir() if p.name.startswith(".") and p.name != REMOVED_DIR),
        "stray": sorted(p.name for p in corpus.iterdir()
                        if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() not in FORMATS)),
    }


def check_round(work: str, questions: list[str]) -> dict[str, Any]:
    """The state the kill left, then a `cityqa ingest` (the CLI's code), the state after it, and the answers."""
    from cityqa import Assistant, Settings
    from cityqa.cli import main

    corpus, index = Path(work) / "corpus", Path(work) / "index"
    before = snapshot(corpus, index)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["ingest", "--corpus", str(corpus), "--index", str(index), "--json"])
    after = snapshot(corpus, index)
    settings = Settings(corpus_dir=corpus, index_dir=index, abstain_threshold=QUOTING_THRESHOLD)
    assistant = Assistant.open(settings=settings)
    answers = {}
    for question in questions:
        answer = assistant.ask(question)
        answers[question] = {"text": answer.answer, "sources": [c.source for c in answer.citations]}
    return {"before": before, "ingest_exit": code, "ingest_output": out.getvalue()[-800:], "after": after,
            "answers": answers}


def run_check(work: Path, questions: list[str]) -> dict[str, Any]:
    code = (f"import json, sys; sys.path[:0] = [{str(HERE)!r}, {str(TESTS)!r}, {str(TESTS / 'documents')!r}]; "
            f"import test_upload_crash as t; "
            f"print('RESULT' + json.dumps(t.check_round({str(work)!r}, {questions!r})))")
    proc = subprocess.run([PYTHON, "-c", code], cwd=work, capture_output=True, text=True, timeout=CHECK_TIMEOUT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return dict(json.loads(lines[-1][len("RESULT"):]))


# ------------------------------------------------------------------ what must hold


def index_problems(label: str, snap: dict[str, Any]) -> list[str]:
    """The index's own invariants, and no partial or temporary file visible among the documents."""
    if "error" in snap:
        return [f"{label}: the index does not open: {snap['error']}"]
    checks = {
        "chunk ids not unique": not snap["ids_unique"],
        "node store differs from the manifest": not snap["nodes_match_manifest"],
        "committed chunks missing in Chroma": snap["missing_in_chroma"],
        "duplicate ids in Chroma": snap["chroma_duplicates"],
        "a hidden file is indexed": any(name.startswith(".") for name in snap["manifest"]),
        f"visible non-documents in the corpus folder: {snap['stray']}": snap["stray"],
    }
    return [f"{label}: {what}" for what, bad in checks.items() if bad]


def lost_versions(snap: dict[str, Any], ledger: Ledger) -> set[str]:
    """Versions seen in the corpus folder earlier that are now in neither it nor `.removed/`."""
    return set() if "error" in snap else ledger.seen - set(snap["corpus"].values()) - set(snap["removed"])


def file_problems(label: str, snap: dict[str, Any], ledger: Ledger, action: Action) -> list[str]:
    """Nothing lost, and every document in the corpus folder a complete version the test knows."""
    if "error" in snap:
        return []
    known = ledger.seen | {action.target} - {None}
    out = [f"{label}: lost {ledger.versions[sha].name if sha in ledger.versions else sha[:12]}"
           for sha in sorted(lost_versions(snap, ledger))]
    out += [f"{label}: {name} is not a version that was sent (partial?)"
            for name, sha in snap["corpus"].items() if sha not in known]
    return out


def answer_problems(action: Action, told_status: str | None, before: dict[str, Any]) -> list[str]:
    """What the client was told holds; an unacknowledged change is wholly there or wholly not."""
    if "error" in before:
        return []
    now, committed = before["corpus"].get(action.name), before["manifest"].get(action.name)
    old = action.old.sha if action.old else None
    if told_status is None:
        return [] if now in {old, action.target} else [f"{action.name}: unexpected content after the kill"]
    if not told_status.startswith(OK):
        return [f"{action.kind} {action.name} was refused: {told_status[:200]}"]
    out = []
    if now != action.target or committed != action.target:
        out.append(f"acknowledged {action.kind} of {action.name} not durable: corpus {now}, manifest {committed}")
    if old is not None and old not in before["removed"]:
        out.append(f"acknowledged {action.kind} of {action.name}: the earlier version is not in .removed/")
    return out


def ingest_problems(result: dict[str, Any]) -> list[str]:
    """After the next ingest: the index is the corpus folder, Chroma equals the node store, one generation."""
    after = result["after"]
    if result["ingest_exit"] != 0:
        return [f"cityqa ingest exited {result['ingest_exit']}: {result['ingest_output']}"]
    if "error" in after:
        return [f"after ingest: the index does not open: {after['error']}"]
    out = []
    if after["manifest"] != after["corpus"]:
        out.append(f"after ingest: manifest {sorted(after['manifest'].items())} != corpus "
                   f"{sorted(after['corpus'].items())}")
    if after["orphans"] or after["missing_in_chroma"]:
        out.append(f"after ingest: Chroma != node store ({after['orphans']} orphans)")
    if len(after["gen_dirs"]) != 1:
        out.append(f"after ingest: generations left {after['gen_dirs']}")
    return out


def question_problems(result: dict[str, Any], action: Action, ledger: Ledger) -> list[str]:
    """The index answers: the report's question, and the changed document's own question from it (or never from
    it once it is gone)."""
    answers, corpus = result["answers"], result["after"].get("corpus", {})
    out = [] if "Finland" in answers[SAN_JOSE]["text"] else [f"San José not answered: {answers[SAN_JOSE]}"]
    got = answers[action.version.question]
    sha = corpus.get(action.name)
    if sha is None:
        return out + ([f"{action.name} is gone but still cited"] if action.name in got["sources"] else [])
    version = ledger.versions[sha]
    if action.name not in got["sources"] or str(version.year) not in got["text"]:
        out.append(f"{version.question} not answered from {action.name} ({version.year}): {got}")
    return out


def landing(action: Action, before: dict[str, Any]) -> str:
    """Where the kill landed: before the change reached the corpus folder, between it and a clean commit, or after."""
    if "error" in before:
        return "?"
    if before["corpus"].get(action.name) != action.target:
        return "before"
    if before["manifest"].get(action.name) != action.target or before["orphans"] or len(before["gen_dirs"]) > 1:
        return "mid"
    return "after"


# ------------------------------------------------------------------ one round


@dataclass
class Round:
    number: int
    mode: str
    action: Action
    start_s: float
    kill_after_s: float
    told: str | None
    landing: str
    problems: list[str]
    hidden: list[str]
    survivors: int  # processes of the server's still running just after the group kill (sandboxed parsers)
    lost: set[str]

    def line(self) -> str:
        heard = "ok" if self.told and self.told.startswith(OK) else self.told and self.told[:40]
        return (f"  round {self.number:2d} {self.mode:5s} {self.action.kind:7s} {self.action.name:26s} kill "
                f"+{self.kill_after_s:.2f} s -> {self.landing:6s} told {heard}"
                f"{' PROBLEMS ' + str(self.problems) if self.problems else ''}")


def serve_and_kill(work: Path, log: IO[bytes], rng: random.Random, ledger: Ledger, number: int, plan: tuple[str, str]
                   ) -> tuple[Action, float, float, str | None, list[str]]:
    """Start the server, check it answers, send one change (`plan`: the change's kind and the kill mode) and
    SIGKILL the server at the moment the mode aims at."""
    server = Server(work, log)
    client: Client | None = None
    try:
        start = server.wait_ready()
        client = connect(server.url)
        problems = [] if "Finland" in ask(client, SAN_JOSE) else [f"round {number}: the restarted app did not answer"]
        client.predict(None, False, api_name="/upload")  # this session's remove list: the indexed documents
        action = choose(plan[0], rng, ledger, number)
        for version in (action.new, action.old):
            if version is not None:
                ledger.versions[version.sha] = version
        # the client's reader thread prints the connection the kill cuts: expected, so not shown
        with contextlib.redirect_stderr(io.StringIO()):
            job = submit(client, action, work / "outbox" / f"round-{number:02d}")
            delay = wait_to_kill(plan[1], rng, job, action, work)
            server.kill()
            status = told(job)
        return action, start, delay, status, problems
    finally:
        server.kill()
        if client is not None:
            client.close()


def play_round(work: Path, log: IO[bytes], rng: random.Random, ledger: Ledger, number: int, plan: tuple[str, str]
               ) -> Round:
    action, start, delay, status, problems = serve_and_kill(work, log, rng, ledger, number, plan)
    running, left = survivors(work)
    problems += [f"still running 10 s after the kill: {cmd}" for cmd in left]
    result = run_check(work, [SAN_JOSE, action.version.question])
    before, after = result["before"], result["after"]
    problems += index_problems("after the kill", before) + index_problems("after ingest", after)
    problems += file_problems("after the kill", before, ledger, action)
    problems += answer_problems(action, status, before)
    missing = lost_versions(before, ledger)
    ledger.record(before)
    problems += file_problems("after ingest", after, ledger, action)
    problems += ingest_problems(result) + question_problems(result, action, ledger)
    missing |= lost_versions(after, ledger)
    ledger.record(after)
    return Round(number, plan[1], action, start, delay, status, landing(action, before), problems,
                 before.get("hidden", []), running, missing)


def final_restart(work: Path, log: IO[bytes]) -> list[str]:
    """After all the kills: the server starts, answers, and its Corpus tab lists exactly the corpus folder."""
    server = Server(work, log)
    try:
        server.wait_ready()
        client = connect(server.url)
        problems = [] if "Finland" in ask(client, SAN_JOSE) else ["final restart: San José not answered"]
        _, table = client.predict(api_name="/corpus")
        listed = {row[0] for row in table["data"]}
        corpus = {p.name for p in (work / "corpus").iterdir() if p.is_file() and not p.name.startswith(".")}
        if listed != corpus:
            problems.append(f"final restart: the Corpus tab lists {sorted(listed)}, the folder has {sorted(corpus)}")
        client.close()
        return problems
    finally:
        server.kill()


# ------------------------------------------------------------------ the test


def summary(seed: int, rounds: list[Round], work: Path, seconds: float) -> str:
    where = Counter(r.landing for r in rounds)
    acked = Counter(r.action.kind for r in rounds if r.told and r.told.startswith(OK))
    modes, changes = Counter(r.mode for r in rounds), Counter(r.action.kind for r in rounds)
    leftovers = sorted({name for r in rounds for name in r.hidden}) or "none"
    starts = [r.start_s for r in rounds]
    return (
        f"upload crash (seed {seed}): {len(rounds)} kills ({where['mid']} mid-index, {where['before']} before the "
        f"file was saved, {where['after']} after the commit; kill modes {sorted(modes.items())}; changes "
        f"{sorted(changes.items())}), files lost {len(set().union(*(r.lost for r in rounds)))}, inconsistent restarts "
        f"{sum(bool(r.problems) for r in rounds)}; acknowledged before the kill {sorted(acked.items())}; changes "
        f"left to the next ingest and indexed by it {where['mid']}; hidden leftovers in the corpus folder {leftovers};"
        f" private temporary folders left in TMPDIR {len(list((work / 'tmp').glob('cityqa-*')))}; sandboxed "
        f"parsers outliving the kill (then ending by themselves) {sum(r.survivors for r in rounds)}; server start "
        f"{min(starts):.1f}-{max(starts):.1f} s; {seconds / 60:.1f} min"
    )


def prepare(work: Path) -> Ledger:
    """The test corpus copied into `work` and indexed by `cityqa ingest`; the ledger knows its files."""
    make_corpus(work / "corpus")
    for folder in ("tmp", "gradio-tmp"):
        (work / folder).mkdir()
    built = subprocess.run([PYTHON, "-m", "cityqa.cli", "ingest", "--corpus", "corpus", "--index", "index"], cwd=work,
                           capture_output=True, text=True, timeout=CHECK_TIMEOUT)
    assert built.returncode == 0, built.stderr[-2000:]
    return Ledger(seen={hashlib.sha256(p.read_bytes()).hexdigest() for p in (work / "corpus").iterdir()})


@pytest.mark.slow
@pytest.mark.soak
def test_uploads_and_removals_survive_sigkill(tmp_path: Path) -> None:
    seed = int(os.environ.get("CITYQA_CRASH_SEED") or random.randrange(1 << 30))
    print(f"\nupload crash: seed {seed}", flush=True)
    rng, work, started = random.Random(seed), tmp_path, time.monotonic()
    ledger = prepare(work)
    modes, changes = KILL_MODES[:ROUNDS], CHANGES[:ROUNDS]
    rng.shuffle(modes)
    rng.shuffle(changes)
    rounds: list[Round] = []
    with (work / "server.log").open("ab") as log:
        for number, plan in enumerate(zip(changes, modes, strict=True), 1):
            rounds.append(play_round(work, log, rng, ledger, number, plan))
            print(rounds[-1].line(), flush=True)
        final = final_restart(work, log)
    print(summary(seed, rounds, work, time.monotonic() - started))
    assert not [p for r in rounds for p in r.problems] and not final, ([r.problems for r in rounds], final)
    assert sum(r.landing == "mid" for r in rounds) >= 5  # the kills really hit indexing, not only its edges
    assert len(rounds) >= 20
