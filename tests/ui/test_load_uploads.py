"""Load with uploads (issue 28): 20 concurrent users asking 10 questions each through gradio_client while two large
documents are uploaded through the app's upload endpoint and indexed. It proves that indexing uploads does not
break or stall the chat: zero errors (every answer arrives, San José is still answered from the report), both
uploads end indexed (in the manifest at their hashes) and answerable through the app, cited; latencies printed
(p50/p95) beside the uploads' time windows."""

from __future__ import annotations

import hashlib
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from test_app import ask, launch, upload
from test_load import CLIENTS, QUESTIONS_EACH, _load, _percentile
from test_upload_crash import Version, make_version
from test_uploads import indexed_copy

from cityqa import Assistant, Settings
from conftest import QUOTING_THRESHOLD

UPLOAD_PARAGRAPHS = 150  # each upload takes seconds to index, more under the load
OK = '<div class="cq-ok">Added '


@pytest.fixture(scope="module")
def library(settings: Settings, assistant: Assistant, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Assistant, str]]:
    """The app over a private copy of the indexed test corpus (uploads change it), quoting, on a free port."""
    mine = indexed_copy(settings, tmp_path_factory.mktemp("load-uploads"), abstain_threshold=QUOTING_THRESHOLD)
    mine.embedder = assistant.embedder
    app, url = launch(mine)
    yield mine, url
    app.close()


def _upload_in_background(url: str, path: Path, windows: dict[str, Any]) -> threading.Thread:
    """Upload `path` through /upload from a thread of its own; its start, end and status go into `windows`."""

    def run() -> None:
        started = time.perf_counter()
        client = Client(url, verbose=False)
        try:
            status, _ = upload(client, path)
        except Exception as exc:  # an upload that fails is an error of the run
            status = f"{type(exc).__name__}: {exc}"
        finally:
            client.close()
        windows[path.name] = (started, time.perf_counter(), status)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _answered(client: Client, version: Version) -> bool:
    """The document's own question is answered through the app with its year, cited to it."""
    text = ask(client, version.question)
    return str(version.year) in text and version.name in text


def _load_with_uploads(url: str, paths: list[Path], gold: list[str]) -> tuple[list[float], list[str], float, Any]:
    """The 20 x 10 load with the uploads started at the same moment: latencies, errors (of questions and uploads),
    the load's wall time, and each upload's (start, end) from the load's start."""
    windows: dict[str, Any] = {}
    started = time.perf_counter()
    uploads = [_upload_in_background(url, path, windows) for path in paths]
    latencies, errors, wall = _load(url, gold)
    for thread in uploads:
        thread.join(300)
    errors += [f"upload {name}: {status[:300]}" for name, (_, _, status) in windows.items()
               if not status.startswith(OK)]
    spans = {name: (start - started, end - started) for name, (start, end, _) in windows.items()}
    return latencies, errors, wall, spans


def _report(latencies: list[float], errors: list[str], wall: float, spans: dict[str, tuple[float, float]]) -> None:
    ms = {"p50": statistics.median(latencies) * 1000, "p95": _percentile(latencies, 0.95) * 1000,
          "max": max(latencies) * 1000}
    shown = "; ".join(f"{name} +{a:.1f}..+{b:.1f} s" for name, (a, b) in sorted(spans.items()))
    print(f"\nload with uploads: {len(latencies)} requests from {CLIENTS} concurrent clients in {wall:.1f} s, "
          f"errors {len(errors)}, p50 {ms['p50']:.0f} ms, p95 {ms['p95']:.0f} ms, max {ms['max']:.0f} ms; uploads "
          f"indexed meanwhile (seconds from the load's start): {shown}")


@pytest.mark.slow
@pytest.mark.soak
def test_twenty_users_while_two_uploads_index(
    library: tuple[Assistant, str], gold_questions: list[dict[str, Any]], tmp_path: Path
) -> None:
    mine, url = library
    docs = [make_version("lakemont-exchanges.md", "Lakemont", "Osaka", 1874, UPLOAD_PARAGRAPHS, 1),
            make_version("harwick-exchanges.txt", "Harwick", "Porto", 1891, UPLOAD_PARAGRAPHS, 1)]
    for doc in docs:
        (tmp_path / doc.name).write_bytes(doc.data)
    generation = mine.manifest["generation"]
    latencies, errors, wall, spans = _load_with_uploads(
        url, [tmp_path / doc.name for doc in docs], [q["question"] for q in gold_questions])
    _report(latencies, errors, wall, spans)
    assert not errors, errors[:5]
    assert len(latencies) == CLIENTS * QUESTIONS_EACH and len(spans) == 2
    assert all(start < wall and end > 0 for start, end in spans.values())  # indexed while the users asked
    files = mine.manifest["files"]
    assert mine.manifest["generation"] == generation + 2  # one commit per upload
    assert all(files[doc.name]["sha256"] == hashlib.sha256(doc.data).hexdigest() for doc in docs)
    client = Client(url, verbose=False)
    assert all(_answered(client, doc) for doc in docs)
    assert _percentile(latencies, 0.95) < 60
