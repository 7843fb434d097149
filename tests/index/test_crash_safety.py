"""Crash safety of re-indexing, and one writer at a time, with real processes, a real Chroma store and the model.

`test_ingest_survives_sigkill_at_random_points` runs a driver in a fresh interpreter (so no Chroma client or
thread of pytest's is inherited; `make soak`, which CI runs after `make test`). The driver loads the model once,
builds the index, then 20 times: changes the
corpus (two versions, A and B, of a few generated files, one of which comes and goes), starts an incremental
ingest in a forked child and SIGKILLs it, either after a random delay or at a randomly ordered named point of the
write path (each twice: before/after the Chroma add, with the new generation written but not renamed,
before/after the manifest commit, before pruning). Then, in another forked child, it opens the index and checks
it: the manifest and its generation load, chunk ids are unique and match the manifest, every committed chunk is in
Chroma (Chroma is a superset until the next ingest removes orphans), and gold questions are answered exactly as by
the completed build of the corpus version the manifest names ("as before or as after"). Two more kills hit a real
`python -m cityqa.cli ingest` process; runs that finished before their kill are checked and replaced until 20
were killed mid-run. A final completed ingest must leave Chroma ids equal to the node store's
ids, one generation on disk, and all gold questions answered as before.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXTURE_CORPUS, GOLD, REPORT, load_jsonl

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent  # conftest
PYTHON = sys.executable
FORK_KILLS = 20
CLI_KILLS = 2
MIN_KILLS = 20
CHILD_TIMEOUT = 90
# an inspection asks questions: 161 take 9-11 s here; the soak's other worker can slow a child many times over
SECONDS_PER_QUESTION = 1.0
TOPICS = ["harbor", "orchard", "railway", "museum", "festival", "library", "airport", "market"]


def _memo(name: str, version: str, sentences: int = 5) -> str:
    year = 2001 if version == "A" else 2003
    topic = TOPICS[sum(map(ord, name)) % len(TOPICS)]
    lines = [f"Port Alder opened its {topic} trade office in {year}."]
    lines += [
        f"In {year + i} the {topic} office of Port Alder reported project number {i} with partner town "
        f"{name.split('.')[0].title()} (version {version})."
        for i in range(1, sentences)
    ]
    return "\n\n".join(" ".join(lines[i : i + 3]) for i in range(0, len(lines), 3)) + "\n"


def write_version(corpus: Path, version: str) -> None:
    """Corpus version A or B: the generated memos change, and extra.md exists in A only."""
    for name in ("memo-1.txt", "memo-3.md"):
        (corpus / name).write_text(_memo(name, version), encoding="utf-8")
    extra = corpus / "extra.md"
    if version == "A":
        extra.write_text("# Extra\n\nThe Port Alder ferry started service in 1999.\n", encoding="utf-8")
    elif extra.exists():
        extra.unlink()


# ------------------------------------------------------------------ the driver (runs in a fresh interpreter)


def _signature(answer: Any) -> list[Any]:
    return [answer.answer, answer.abstained, [[c.source, c.start, c.end] for c in answer.citations]]


def _answers(settings: Any, embedder: Any, questions: list[str]) -> list[list[Any]]:
    from cityqa import Assistant

    assistant = Assistant.open(settings=settings)
    assistant.embedder = embedder
    return [_signature(assistant.ask(q)) for q in questions]


def _inspect(settings: Any, embedder: Any, questions: list[str]) -> dict[str, Any]:
    """The index as a reader sees it: invariants, which corpus version is committed, and the answers."""
    from cityqa.documents.corpus import file_sha256  # noqa: F401  (imported for symmetry with the writer)
    from cityqa.index.store import IndexStore

    store = IndexStore(settings.index_dir, settings)
    manifest = store.require_manifest()
    nodes = store.load_nodes(manifest)
    node_ids = [c.id for c in nodes.chunks]
    listed = [i for entry in manifest["files"].values() for i in entry["chunks"]]
    chroma = store.collection().get(include=[])["ids"]
    memo = manifest["files"].get("memo-1.txt", {}).get("sha256")
    return {
        "version": {_sha(_memo("memo-1.txt", v)): v for v in "AB"}.get(memo, "?"),
        "generation": manifest["generation"],
        "unique_node_ids": len(node_ids) == len(set(node_ids)),
        "nodes_match_manifest": sorted(node_ids) == sorted(listed),
        "missing_in_chroma": sorted(set(node_ids) - set(chroma)),
        "chroma_duplicates": len(chroma) - len(set(chroma)),
        "pending_orphans": len(set(chroma) - set(node_ids)),
        "gen_dirs": sorted(p.name for p in Path(settings.index_dir).glob("gen-*")),
        "answers": _answers(settings, embedder, questions),
    }


def _inspect_in_child(ctx: Any, settings: Any, embedder: Any, questions: list[str]) -> dict[str, Any]:
    timeout = CHILD_TIMEOUT + SECONDS_PER_QUESTION * len(questions)
    result: dict[str, Any] = _in_child(ctx, _inspect, settings, embedder, questions, timeout=timeout)
    return result


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _in_child(ctx: Any, target: Any, *args: Any, timeout: float = CHILD_TIMEOUT) -> Any:
    """Run `target(*args)` in a forked child and return its result (or re-raise its error as text). A child that
    outlives `timeout` prints every thread's stack to stderr (the test's failure message) before it is killed."""
    parent, child = ctx.Pipe(duplex=False)

    def run() -> None:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        try:
            child.send(("ok", target(*args)))
        except BaseException as exc:  # report anything, including a corrupt index
            child.send(("error", f"{type(exc).__name__}: {exc}"))

    proc = ctx.Process(target=run)
    proc.start()
    child.close()
    if not parent.poll(timeout):
        if proc.pid is not None:
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(2)
        proc.kill()
        proc.join()
        raise AssertionError(f"{target.__name__} did not finish in {timeout:.0f} s (its stacks are above)")
    try:
        status, value = parent.recv()
    except EOFError:
        status, value = "error", f"{target.__name__} died (exit code {proc.exitcode})"
    proc.join()
    if status != "ok":
        raise AssertionError(value)
    return value


KILL_POINTS = [
    "before_chroma_add", "after_chroma_add", "generation_written_not_renamed", "before_commit", "after_commit",
    "before_prune",
]


def _ingest_child(settings: Any, embedder: Any, kill_at: str | None = None) -> None:
    """An incremental ingest; with `kill_at`, it SIGKILLs itself at that point of the run."""
    import cityqa.index.ingest as ingest_module
    import cityqa.index.store as store_module

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner: Any, name: str, before: bool) -> None:
        real = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if before:
                die()
            result = real(*args, **kwargs)
            die()
            return result

        setattr(owner, name, wrapper)

    if kill_at == "before_chroma_add":
        wrap(ingest_module, "_add_to_chroma", before=True)
    elif kill_at == "after_chroma_add":
        wrap(ingest_module, "_add_to_chroma", before=False)
    elif kill_at == "generation_written_not_renamed":  # gen-N.tmp complete and fsynced, not yet renamed
        wrap(store_module, "_fsync_tree", before=False)
    elif kill_at == "before_commit":
        wrap(store_module.IndexStore, "commit", before=True)
    elif kill_at == "after_commit":  # the manifest switched; stale vectors not yet deleted
        wrap(store_module.IndexStore, "commit", before=False)
    elif kill_at == "before_prune":
        wrap(store_module.IndexStore, "prune_generations", before=True)
    ingest_module.ingest(settings, embedder=embedder)


def _preload() -> None:
    """Import (never run) what every child imports on its first ingest or question, and read the word tables every
    question reads, so each forked child does not pay the ~1 s again: 44 children, about half the test's time
    otherwise."""
    import importlib

    for name in ("chromadb", "bm25s", "Stemmer", "llama_index.core", "llama_index.core.retrievers",
                 "llama_index.retrievers.bm25", "llama_index.vector_stores.chroma", "cityqa.assistant",
                 "cityqa.index.ingest", "cityqa.checking.factcheck", "tqdm"):
        importlib.import_module(name)
    from cityqa.reading.align import lexicon

    lexicon()


def drive(workdir: str, seed: int) -> dict[str, Any]:
    import multiprocessing

    from cityqa import Settings
    from cityqa.index.embeddings import Embedder, go_offline

    go_offline()
    rng = random.Random(seed)
    work = Path(workdir)
    corpus = work / "corpus"
    corpus.mkdir(parents=True)
    (corpus / REPORT.name).write_bytes(REPORT.read_bytes())
    for path in FIXTURE_CORPUS.iterdir():
        (corpus / path.name).write_bytes(path.read_bytes())
    settings = Settings(corpus_dir=corpus, index_dir=work / "index", lock_timeout=0)
    embedder = Embedder()
    # loaded once here and inherited by every forked child; never *run* here: torch's thread pool, once used,
    # does not survive a fork (the child would hang)
    assert embedder.model is not None
    _preload()
    ctx = multiprocessing.get_context("fork")
    gold = [q["question"] for q in load_jsonl(GOLD / "questions.jsonl")]
    extra = ["When did Port Alder open its harbor trade office?", "When did the Port Alder ferry start service?"]
    sample = gold[::16] + extra
    everything = gold + extra

    refs: dict[str, list[list[Any]]] = {}
    durations = []
    for version in "AB":  # completed runs: "before" and "after"
        print(f"reference {version}", file=sys.stderr, flush=True)
        write_version(corpus, version)
        started = time.monotonic()
        _in_child(ctx, _ingest_child, settings, embedder)
        durations.append(time.monotonic() - started)
        state = _inspect_in_child(ctx, settings, embedder, everything)
        assert state["version"] == version and not state["pending_orphans"], state
        refs[version] = state["answers"]
    span = durations[-1]  # an incremental run's length: kills land anywhere in it
    sample_ix = [everything.index(q) for q in sample]

    log: list[dict[str, Any]] = []
    version = "B"

    def check(kind: str, delay: float, finished: bool) -> None:
        state = _inspect_in_child(ctx, settings, embedder, sample)
        expected = [refs[state["version"]][i] for i in sample_ix] if state["version"] in refs else None
        log.append({
            "kind": kind, "delay": round(delay, 2), "finished_before_kill": finished, "version": state["version"],
            "generation": state["generation"], "unique_node_ids": state["unique_node_ids"],
            "nodes_match_manifest": state["nodes_match_manifest"], "missing_in_chroma": state["missing_in_chroma"],
            "chroma_duplicates": state["chroma_duplicates"], "pending_orphans": state["pending_orphans"],
            "answers_as_before_or_after": state["answers"] == expected,
            "answer_diffs": [] if expected is None else [
                [sample[i], got, want] for i, (got, want) in enumerate(zip(state["answers"], expected, strict=True))
                if got != want
            ][:3],
        })

    plan: list[str | None] = ["cli"] * CLI_KILLS + [*KILL_POINTS * 2, *[None] * (FORK_KILLS - 2 * len(KILL_POINTS))]
    rng.shuffle(plan)
    while plan:
        point = plan.pop(0)
        committed = log[-1]["version"] if log else "B"
        version = "A" if committed == "B" else "B"  # always a change to index
        write_version(corpus, version)
        if point != "cli":
            delay = rng.uniform(0.0, span * 0.85) if point is None else 0.0
            proc = ctx.Process(target=_ingest_child, args=(settings, embedder, point))
            started = time.monotonic()
            proc.start()
            proc.join(delay if point is None else CHILD_TIMEOUT)
            finished = not proc.is_alive() and proc.exitcode == 0
            if finished and point is None:  # runs got faster than the reference (warm caches, a quicker machine):
                span = min(span, time.monotonic() - started)  # aim the next random kills inside the faster run
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            assert point is None or proc.exitcode == -signal.SIGKILL, (point, proc.exitcode)
            check(point or "fork at random time", delay, finished)
        else:  # a real `cityqa ingest` process, killed during its run (imports take most of the first seconds)
            delay = rng.uniform(3.0, 9.0)
            cli = subprocess.Popen(
                [PYTHON, "-m", "cityqa.cli", "ingest", "--corpus", str(corpus), "--index", str(settings.index_dir)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                cli.wait(delay)
                finished = True
            except subprocess.TimeoutExpired:
                cli.send_signal(signal.SIGKILL)
                cli.wait()
                finished = False
            check("cli", delay, finished)
        killed = sum(not e["finished_before_kill"] for e in log)
        if not plan and killed < MIN_KILLS and len(log) < FORK_KILLS + CLI_KILLS + 20:
            plan.append(None)  # a run finished before its random kill: kill another one

    _in_child(ctx, _ingest_child, settings, embedder)  # a completed run after all the crashes
    final = _inspect_in_child(ctx, settings, embedder, everything)
    final_answers = final.pop("answers")
    return {
        "log": log, "final": final, "final_version": version,
        "final_answers_as_reference": final_answers == refs[version],
        "final_chroma_equals_nodes": not final["missing_in_chroma"] and not final["pending_orphans"],
        "questions_checked_per_kill": len(sample), "questions_checked_at_end": len(everything),
        "incremental_run_seconds": round(durations[-1], 2),
    }


# ------------------------------------------------------------------ the tests


@pytest.mark.slow
@pytest.mark.soak  # 2 minutes: `make soak` (CI runs it after `make test`)
def test_ingest_survives_sigkill_at_random_points(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    code = f"import json, sys; sys.path[:0] = [{str(HERE)!r}, {str(TESTS)!r}]; import test_crash_safety as t; " \
           f"print('RESULT' + json.dumps(t.drive({str(tmp_path)!r}, {seed})))"
    driver = subprocess.Popen([PYTHON, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)  # its own process group: a hang cannot leave orphans
    try:
        stdout, stderr = driver.communicate(timeout=480)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT")]
    assert driver.returncode == 0 and lines, stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    log = result["log"]
    killed = [entry for entry in log if not entry["finished_before_kill"]]
    print(
        f"\ncrash safety (seed {seed}): {len(log)} ingest runs interrupted at random points "
        f"({len(killed)} SIGKILLed mid-run, {len(log) - len(killed)} finished first; "
        f"{sum(e['kind'] == 'cli' for e in log)} were `cityqa ingest` processes; kill points: "
        f"{sorted(Counter(e['kind'] for e in log).items())}); "
        f"incremental run {result['incremental_run_seconds']} s; committed versions after kills: "
        f"{''.join(e['version'] for e in log)}; "
        f"{result['questions_checked_per_kill']} questions checked after each kill, "
        f"{result['questions_checked_at_end']} at the end; most orphans pending after a kill: "
        f"{max(e['pending_orphans'] for e in log)}; "
        f"final: chroma ids == node ids: {result['final_chroma_equals_nodes']}"
    )
    assert len(killed) >= MIN_KILLS, log  # (a run that finished before its kill is checked too)
    assert {e["kind"] for e in log} >= set(KILL_POINTS)
    assert any(e["pending_orphans"] for e in log if e["kind"] == "after_commit")  # Chroma was a superset…
    assert set(log[-1]) and result["final_chroma_equals_nodes"]  # …until the next ingest removed the orphans
    for entry in log:
        assert entry["version"] in {"A", "B"}, entry
        assert entry["unique_node_ids"] and entry["nodes_match_manifest"], entry
        assert not entry["missing_in_chroma"] and not entry["chroma_duplicates"], entry
        assert entry["answers_as_before_or_after"], (entry["kind"], entry["answer_diffs"])
    final = result["final"]
    assert final["version"] == result["final_version"]
    assert result["final_chroma_equals_nodes"] and final["unique_node_ids"] and final["nodes_match_manifest"]
    assert len(final["gen_dirs"]) == 1, final["gen_dirs"]  # leftovers of killed runs are pruned
    assert result["final_answers_as_reference"]


# ------------------------------------------------------------------ one writer at a time


HOLD_LOCK = """
import sys
from pathlib import Path
from cityqa.settings import Settings
from cityqa.index.store import IndexStore
settings = Settings(index_dir=Path(sys.argv[1]))
with IndexStore(settings.index_dir, settings).write_lock():
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _cli_ingest(corpus: Path, index: Path, lock_timeout: float) -> subprocess.Popen[str]:
    env = {**os.environ, "CITYQA_LOCK_TIMEOUT": str(lock_timeout)}
    return subprocess.Popen(
        [PYTHON, "-m", "cityqa.cli", "ingest", "--corpus", str(corpus), "--index", str(index), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _consistent(index: Path) -> tuple[set[str], set[str]]:
    from cityqa import Settings
    from cityqa.index.store import IndexStore

    settings = Settings(index_dir=index)
    store = IndexStore(index, settings)
    nodes = store.load_nodes(store.require_manifest())
    return set(nodes.by_id), set(store.collection().get(include=[])["ids"])


@pytest.mark.slow
def test_second_writer_process_waits_or_exits_with_a_clear_message(tmp_path: Path) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / FIXTURE_CORPUS.joinpath("interview-notes-riverbend-fictional.md").name).write_bytes(
        (FIXTURE_CORPUS / "interview-notes-riverbend-fictional.md").read_bytes()
    )
    write_version(corpus, "A")
    holder = subprocess.Popen([PYTHON, "-c", HOLD_LOCK, str(index)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = _cli_ingest(corpus, index, lock_timeout=0)
        waiting = _cli_ingest(corpus, index, lock_timeout=120)
        out, err = refused.communicate(timeout=120)
        assert refused.returncode == 6, (out, err)
        assert f"pid {holder.pid}" in err and "is updating the index" in err and "Wait for it" in err
        assert "Traceback" not in err
        assert waiting.poll() is None  # still waiting for the lock
    finally:
        assert holder.stdin is not None
        holder.stdin.write("release\n")
        holder.stdin.close()
        holder.wait(30)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert len(json.loads(out)["added"]) == 4

    write_version(corpus, "B")  # two real writers at once, both willing to wait: both succeed, one after the other
    first, second = _cli_ingest(corpus, index, 120), _cli_ingest(corpus, index, 120)
    reports = [json.loads(p.communicate(timeout=180)[0]) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0
    assert sorted(bool(r["changed"]) for r in reports) == [False, True]  # the second found nothing left to do
    nodes, chroma = _consistent(index)
    assert nodes == chroma and nodes
    print(f"\none writer at a time: refused writer exited 6 with a clear message; waiting writer and two concurrent "
          f"writers succeeded; index consistent ({len(nodes)} chunks, Chroma ids == node ids)")
