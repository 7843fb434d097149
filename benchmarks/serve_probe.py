"""Run in a fresh process by scale.py: open an index, time its loading, answer the gold questions, report memory.

    python benchmarks/serve_probe.py INDEX_DIR CORPUS_DIR  ->  one JSON object on stdout
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path


def rss_mib(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    index_dir, corpus_dir = Path(sys.argv[1]), Path(sys.argv[2])
    gold = Path(__file__).resolve().parents[1] / "tests" / "gold" / "questions.jsonl"
    from cityqa import Assistant, Settings
    from cityqa.answering.answer import Extractor
    from cityqa.evaluation import evaluate as ev

    assistant = Assistant.open(settings=Settings(index_dir=index_dir, corpus_dir=corpus_dir))
    t0 = time.perf_counter()
    manifest = assistant.store.require_manifest()
    nodes = assistant.store.load_nodes(manifest)
    t_nodes = time.perf_counter() - t0
    t0 = time.perf_counter()
    from llama_index.retrievers.bm25 import BM25Retriever

    with contextlib.redirect_stderr(io.StringIO()):
        BM25Retriever.from_persist_dir(str(assistant.store.bm25_dir(manifest)))
    t_bm25 = time.perf_counter() - t0
    t0 = time.perf_counter()
    Extractor(nodes, assistant.settings)
    t_extractor = time.perf_counter() - t0
    del nodes
    t0 = time.perf_counter()
    assistant.engine  # noqa: B018 - loads the generation
    t_open = time.perf_counter() - t0
    report = ev.evaluate(assistant, gold, ["cityqa"], corpus_dir=corpus_dir)
    overall = report["systems"]["cityqa"]["overall"]
    print(json.dumps({
        "open_s": t_open, "load_nodes_s": t_nodes, "load_bm25_s": t_bm25, "extractor_init_s": t_extractor,
        "hit@1": overall["hit@1"], "short_answer_recall": overall["short_answer_recall"],
        "p50_ms": overall["latency_p50_ms"], "p95_ms": overall["latency_p95_ms"],
        "rss_mib": rss_mib("VmRSS"), "peak_rss_mib": rss_mib("VmHWM"), "chunks": len(assistant.engine.nodes.chunks),
    }))


if __name__ == "__main__":
    main()
