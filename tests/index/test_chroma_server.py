"""cityqa against a real Chroma server (`chroma run`): same ingest, same answers as the embedded store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityqa import Assistant, Settings
from conftest import make_corpus


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    chroma = Path(sys.executable).with_name("chroma")
    port = _free_port()
    data = tmp_path_factory.mktemp("chroma-server")
    log = (data / "server.log").open("w")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, ANONYMIZED_TELEMETRY="False"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma server did not start: {(data / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_server_gives_the_same_answers(chroma_url: str, tmp_path: Path, assistant: Assistant, gold_questions) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    settings = Settings(
        corpus_dir=corpus, index_dir=tmp_path / "index", chroma_url=chroma_url,
        embed_cache_dir=assistant.index_dir / "embed-cache",  # the session index's vectors: no re-embedding
    )
    remote = Assistant.open(settings=settings)
    report = remote.ingest()
    assert report.chunks_written == len(assistant.engine.nodes.chunks)
    assert not (tmp_path / "index" / "chroma").exists(), "an HttpClient must not create an embedded store"
    count = remote.store.collection().count()
    assert count == report.chunks_written
    questions = [q for q in gold_questions if not q.get("history")][:20]
    for item in questions:
        here, there = assistant.ask(item["question"]), remote.ask(item["question"])
        assert there.answer == here.answer, item["id"]
        assert [c.chunk_id for c in there.citations] == [c.chunk_id for c in here.citations], item["id"]
