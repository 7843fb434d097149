"""Incremental ingest after one file of an indexed corpus changed: how long it takes and where the time goes.

    python benchmarks/incremental.py INDEX_DIR CORPUS_DIR [--embed-cache DIR]  ->  one JSON object on stdout

Appends a new paragraph to the first generated city report (one changed file, one new text to embed, the file's
other chunks re-chunked from cached embeddings) and runs `cityqa.index.ingest.ingest`, timing its phases by wrapping
them. `bm25_s` and `doc_freq_s` are the BM25 index and the answerer's document frequencies of the new generation;
`bm25_tokenized` is how many chunks went through the BM25 tokenizer; these come from the `WriteStats` of
`IngestReport.write` (older code kept them in `store.last_write`; the code before incremental BM25 has neither, then
only the wrapped phases are reported). scale.py calls `measure` at each size.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PHASES = {  # module attribute -> name in the output
    "_current_nodes": "load_previous_s", "_remove_orphans": "chroma_orphan_scan_s", "_plan": "plan_s",
    "_embed": "embed_s", "_add_to_chroma": "chroma_add_s", "_merge": "merge_s",
}


def change_one_file(corpus: Path) -> Path:
    path = sorted(corpus.rglob("city-report-*.txt"))[0]
    stamp = time.strftime("%H:%M:%S")
    path.write_text(path.read_text(encoding="utf-8") + f"\nUpdate at {stamp}: the Ostrova trade office reopened "
                    "with two staff and a budget of 40,000 dollars.\n", encoding="utf-8")
    return path


def _timed(fn: Callable[..., Any], name: str, times: dict[str, float]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            times[name] = times.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


_TIMES: dict[str, float] = {}  # phase -> seconds of the current `measure` (the wrappers are installed once)


def _wrap_phases() -> None:
    from cityqa.index import ingest as ingest_module
    from cityqa.index import store as store_module

    if getattr(ingest_module, "_benchmark_timed", False):
        return
    ingest_module._benchmark_timed = True  # type: ignore[attr-defined]
    for attr, name in PHASES.items():
        setattr(ingest_module, attr, _timed(getattr(ingest_module, attr), name, _TIMES))
    cls = store_module.IndexStore
    for attr, name in (("write_nodes", "write_generation_s"), ("commit", "commit_s"), ("prune_generations", "prune_s")):
        setattr(cls, attr, _timed(getattr(cls, attr), name, _TIMES))
    for attr in ("write_bm25", "_write_bm25"):  # after / before incremental BM25 (called by store's name for it)
        if hasattr(store_module, attr):
            setattr(store_module, attr, _timed(getattr(store_module, attr), "bm25_s", _TIMES))


def measure(index: Path, corpus: Path, embed_cache: Path | None = None) -> dict[str, Any]:
    """Change one file of `corpus`, ingest it into `index` incrementally; seconds in total and per phase."""
    from cityqa import Settings
    from cityqa.index import store as store_module
    from cityqa.index.ingest import ingest

    _wrap_phases()
    _TIMES.clear()
    settings = Settings(corpus_dir=corpus, index_dir=index, embed_cache_dir=embed_cache)
    changed = change_one_file(corpus)
    t0 = time.perf_counter()
    report = ingest(settings)
    total = time.perf_counter() - t0
    out: dict[str, Any] = {"changed_file": changed.name, "seconds": round(total, 2),
                           "chunks_written": report.chunks_written, "chunks_removed": report.chunks_removed}
    out |= {name: round(value, 3) for name, value in sorted(_TIMES.items())}
    stats = getattr(report, "write", None) or getattr(store_module, "last_write", None)
    if stats is not None:
        out |= {"doc_freq_s": round(stats.doc_freq_s, 3), "bm25_s": round(stats.bm25_s, 3),
                "bm25_tokenized": stats.tokenized, "doc_freq_counted": stats.counted, "chunks": stats.chunks}
    out["bm25_and_doc_freq_share"] = round((out.get("bm25_s", 0) + out.get("doc_freq_s", 0)) / total, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--embed-cache", type=Path, default=None)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common  # noqa: F401 - offline environment

    print(json.dumps(measure(args.index, args.corpus, args.embed_cache)))


if __name__ == "__main__":
    main()
