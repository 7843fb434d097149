"""Load: 20 concurrent clients x 10 questions against the live app through gradio_client, then the same while a
re-index runs (both in `make soak`, which CI runs after `make test`); and the library answering from a thread while
another ingests. Zero errors; latencies printed."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from test_app import launch, message_text

from cityqa import Assistant
from conftest import QUOTING_THRESHOLD, make_corpus

CLIENTS, QUESTIONS_EACH = 20, 10
SAN_JOSE = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"


def _big_memo(n: int, version: int) -> str:
    """A generated document large enough that re-indexing it takes a few seconds."""
    return "\n\n".join(
        f"In {1950 + i} the Port Alder office recorded exchange number {i} with Riverbend (edition {version}). "
        f"The delegation of {1950 + i} visited the harbor and the library."
        for i in range(n)
    ) + "\n"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, assistant: Assistant) -> Iterator[tuple[Assistant, str]]:
    """An assistant over its own copy of the corpus (so it can change), served on a free loopback port."""
    tmp = tmp_path_factory.mktemp("load")
    corpus = make_corpus(tmp / "corpus")
    mine = Assistant.open(settings=assistant.settings.model_copy(update={
        "corpus_dir": corpus, "index_dir": tmp / "index", "abstain_threshold": QUOTING_THRESHOLD}))  # it quotes
    mine.embedder = assistant.embedder
    mine.ingest()
    app, url = launch(mine)
    yield mine, url
    app.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _client_session(url: str, questions: list[str]) -> tuple[list[float], list[str]]:
    latencies, errors = [], []
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # a refused or failed connection is an error of the run
        return [], [f"connect: {type(exc).__name__}: {exc}"]
    for question in questions:
        started = time.perf_counter()
        try:
            messages, _, _ = client.predict(question, "All documents", [], 6, api_name="/ask")
            text = message_text(messages[-1])
            if not text.strip() or text.startswith("**Error") or "Something went wrong" in text:
                errors.append(f"{question}: {text[:200]}")
            if question == SAN_JOSE and "Finland" not in text:
                errors.append(f"wrong answer during load: {text[:200]}")
        except Exception as exc:
            errors.append(f"{question}: {type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - started)
        client.predict(api_name="/clear")  # a fresh conversation each time: same question, same answer
    return latencies, errors


def _load(url: str, gold: list[str]) -> tuple[list[float], list[str], float]:
    sessions = [[SAN_JOSE, *gold[c * 7 : c * 7 + QUESTIONS_EACH - 1]] for c in range(CLIENTS)]
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda qs: _client_session(url, qs), sessions))
    wall = time.perf_counter() - started
    return [x for lat, _ in results for x in lat], [e for _, err in results for e in err], wall


def _report(label: str, latencies: list[float], errors: list[str], wall: float) -> str:
    line = (
        f"{label}: {len(latencies)} requests from {CLIENTS} concurrent clients in {wall:.1f} s, {len(errors)} errors; "
        f"latency p50 {statistics.median(latencies):.2f} s, p95 {_percentile(latencies, 0.95):.2f} s, "
        f"max {max(latencies):.2f} s"
    )
    print("\n" + line)
    return line


@pytest.mark.slow
@pytest.mark.soak  # (the load runs: `make soak`, which CI runs after `make test`)
def test_twenty_concurrent_clients(live: tuple[Assistant, str], gold_questions: list[dict[str, Any]]) -> None:
    _, url = live
    gold = [q["question"] for q in gold_questions]
    latencies, errors, wall = _load(url, gold)
    _report("load", latencies, errors, wall)
    assert not errors, errors[:5]
    assert len(latencies) == CLIENTS * QUESTIONS_EACH
    assert statistics.median(latencies) < 15 and _percentile(latencies, 0.95) < 40


@pytest.mark.slow
@pytest.mark.soak
def test_twenty_concurrent_clients_during_a_reindex(
    live: tuple[Assistant, str], gold_questions: list[dict[str, Any]]
) -> None:
    mine, url = live
    corpus = Path(mine.settings.corpus_dir)
    (corpus / "port-alder-exchanges.txt").write_text(_big_memo(60, 1), encoding="utf-8")
    generation = mine.manifest["generation"]
    window: dict[str, Any] = {}

    def reindex() -> None:
        window["start"] = time.perf_counter()
        window["status"] = Client(url, verbose=False).predict(api_name="/reindex")[0]
        window["end"] = time.perf_counter()

    thread = threading.Thread(target=reindex)
    thread.start()
    latencies, errors, wall = _load(url, [q["question"] for q in gold_questions])
    thread.join(300)
    _report("load during re-index", latencies, errors, wall)
    print(f"re-index ran {window['end'] - window['start']:.1f} s alongside: {window['status'][:120]}")
    assert not errors, errors[:5]
    assert window["status"].startswith("Re-indexed") and "added 1" in window["status"]
    assert mine.manifest["generation"] == generation + 1
    assert "port-alder-exchanges.txt" in mine.manifest["files"]
    assert _percentile(latencies, 0.95) < 60


def test_library_answers_from_a_thread_while_another_ingests(live: tuple[Assistant, str]) -> None:
    mine, _ = live
    corpus = Path(mine.settings.corpus_dir)
    (corpus / "port-alder-exchanges.txt").write_text(_big_memo(80, 2), encoding="utf-8")
    answers: list[str] = []
    errors: list[str] = []
    stop = threading.Event()

    def ask_in_a_loop() -> None:
        while not stop.is_set():
            try:
                answers.append(mine.ask(SAN_JOSE).answer)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=ask_in_a_loop)
    thread.start()
    try:
        report = mine.ingest()
    finally:
        stop.set()
        thread.join(60)
    print(f"\nasked {len(answers)} questions while an ingest ({report.seconds:.1f} s) ran: {len(errors)} errors")
    assert report.added + report.changed == ["port-alder-exchanges.txt"]  # new, or changed if an earlier test added it
    assert not errors and len(answers) >= 5
    assert all("Finland" in a for a in answers)
