"""Scale benchmark: ingest time, index size, memory, latency and hit@1 at 1k, 10k and 100k chunks.

    python benchmarks/scale.py [--sizes 1000,10000,100000] [--pool 2000] [--out benchmarks/scale.json]
    python benchmarks/scale.py --fresh --sizes 10000 --out benchmarks/scale-fresh-10k.json   (one size per process)

With `--fresh` every paragraph is distinct and the embedding cache starts empty: the build embeds everything, as
a new corpus of that size would; "mb_per_s" and "build_peak_rss_mib" (the process's peak, so one size per run)
describe it, and up to 10k chunks the plain llama-index pipeline's build of the same corpus is timed beside it.

Each size is a generated corpus (benchmarks/gen_corpus.py: fictional-city distractors plus the real report),
indexed from scratch with the default settings and one embedding cache shared by all sizes (the corpora draw on
the same paragraph pool; see gen_corpus.py). "ingest_s" is the full build with that cache as it stands, so the
larger sizes mostly measure chunking, Chroma, BM25 and the node store, not the model; "embedded_texts" says how
many texts were really encoded. Serving is measured in a fresh process (benchmarks/serve_probe.py): load times,
resident memory after answering all gold questions, latency p50/p95 and hit@1 of the real report's questions.

"bm25_build_s" is a from-scratch BM25 build of all chunks (every chunk tokenized), what each ingest paid before
BM25 was carried over between generations; "load_bm25_mmap_s" loads the same index with `mmap=True` (the corpus
read lazily). Then one file is changed and ingested incrementally (benchmarks/incremental.py): "incr_s" in total,
"incr_bm25_s" and "incr_doc_freq_s" for the BM25 index and the answerer's document frequencies, and
"incr_bm25_tokenized" the chunks that went through the tokenizer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
WORK = HERE / "out" / "scale"


def du_mib(path: Path, skip: tuple[str, ...] = ()) -> float:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and not any(part in skip for part in p.relative_to(path).parts):
            total += p.stat().st_size
    return total / 2**20


def run_size(size: int, pool: int, fresh: bool = False) -> dict[str, object]:
    from gen_corpus import generate
    from incremental import measure

    from cityqa import Assistant, Settings
    from cityqa.index.bm25 import write_bm25
    from cityqa.index.embeddings import Embedder

    folder = WORK / (f"fresh-{size}" if fresh else f"pool-{pool}")
    corpus = generate(folder / f"corpus-{size}", size, pool_size=pool, distinct=fresh)
    index = folder / f"index-{size}"
    shutil.rmtree(index, ignore_errors=True)  # a fresh build: its size on disk, not an earlier run's leftovers
    cache_dir = index / "embed-cache" if fresh else WORK / "embed-cache"  # fresh: an empty cache of its own
    settings = Settings(corpus_dir=corpus, index_dir=index, embed_cache_dir=cache_dir)
    embedder = Embedder(settings.embed_model, settings.embed_batch_size)
    assistant = Assistant.open(settings=settings)
    assistant.embedder = embedder
    counted = {"n": 0}

    def counting(encode: Any) -> Any:  # the texts that really go through the encoder
        def wrapper(texts: list[str]) -> object:
            counted["n"] += len(texts)
            return encode(texts)

        return wrapper

    embedder._encode_uncached = counting(embedder._encode_uncached)  # type: ignore[method-assign]
    embedder._token_states = counting(embedder._token_states)  # type: ignore[method-assign]
    rss_before = _peak_rss_mib()
    t0 = time.perf_counter()
    report = assistant.ingest(rebuild=True)
    ingest_s = time.perf_counter() - t0
    build_rss = _peak_rss_mib()
    corpus_mib = du_mib(corpus)
    baseline = _baseline_build(corpus, folder, embedder) if fresh and size <= BASELINE_MAX else {}
    nodes = assistant.store.load_nodes(assistant.store.require_manifest())
    probe_dir = folder / f"bm25-probe-{size}"
    shutil.rmtree(probe_dir, ignore_errors=True)
    t0 = time.perf_counter()
    write_bm25(probe_dir, list(nodes.chunks))
    bm25_build_s = time.perf_counter() - t0
    load_bm25_mmap_s = _load_bm25_seconds(probe_dir, mmap=True)
    chunks = len(nodes.chunks)
    del nodes, assistant
    env = dict(os.environ, CITYQA_EMBED_CACHE_DIR=str(cache_dir))
    probe = subprocess.run(
        [sys.executable, str(HERE / "serve_probe.py"), str(index), str(corpus)],
        capture_output=True, text=True, env=env, check=True,
    )
    served = json.loads(probe.stdout.strip().splitlines()[-1])
    incr = measure(index, corpus, cache_dir)
    return {
        "size": size, "chunks": chunks, "fresh": fresh, "ingest_s": round(ingest_s, 1), "embedded_texts": counted["n"],
        "corpus_mib": round(corpus_mib, 2), "mb_per_s": round(corpus_mib / ingest_s, 3),
        "build_peak_rss_mib": round(build_rss), "peak_rss_before_build_mib": round(rss_before), **baseline,
        "chunks_written": report.chunks_written, "bm25_build_s": round(bm25_build_s, 1),
        "bm25_share_of_ingest": round(bm25_build_s / ingest_s, 3),
        "index_mib": round(du_mib(index, skip=("encoder",)), 1), "encoder_mib": round(du_mib(index / "encoder"), 1),
        **served, "load_bm25_mmap_s": round(load_bm25_mmap_s, 3),
        "incr_s": incr["seconds"], "incr_bm25_s": incr.get("bm25_s"), "incr_doc_freq_s": incr.get("doc_freq_s"),
        "incr_bm25_tokenized": incr.get("bm25_tokenized"), "incr_phases": incr,
    }


BASELINE_MAX = 10_000  # the plain pipeline's build is timed beside cityqa's up to this size


def _peak_rss_mib() -> float:
    """This process's peak resident memory so far (one size per process gives the build's own peak)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline_build(corpus: Path, folder: Path, embedder: object) -> dict[str, object]:
    """The plain llama-index pipeline's build of the same corpus (benchmarks/baseline.py), same model."""
    from baseline import build

    target = folder / "baseline-index"
    shutil.rmtree(target, ignore_errors=True)
    built = build(corpus, target, embedder)
    shutil.rmtree(target, ignore_errors=True)
    mib = du_mib(corpus)
    return {"baseline_build_s": round(built["seconds"], 1), "baseline_mb_per_s": round(mib / built["seconds"], 3),
            "baseline_nodes": built["nodes"]}


def _load_bm25_seconds(path: Path, **kwargs: object) -> float:
    import contextlib
    import io

    from llama_index.retrievers.bm25 import BM25Retriever

    t0 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        BM25Retriever.from_persist_dir(str(path), **kwargs)
    return time.perf_counter() - t0


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["chunks"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(sizes, [r["p50_ms"] for r in rows], "o-", label="p50")
    ax1.plot(sizes, [r["p95_ms"] for r in rows], "s-", label="p95")
    ax1.axhline(100, color="grey", ls="--", lw=1, label="p95 target")
    ax1.set(xscale="log", xlabel="chunks in the index", ylabel="question latency (ms)", title="Latency vs corpus size")
    ax1.legend()
    ax2.plot(sizes, [r["hit@1"] for r in rows], "o-", label="hit@1 (top passage has the evidence)")
    ax2.plot(sizes, [r["short_answer_recall"] for r in rows], "s-", label="short-answer recall")
    ax2.set(xscale="log", xlabel="chunks in the index", ylabel="gold questions", ylim=(0, 1),
            title="Quality vs corpus size")
    ax2.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--pool", type=int, default=2000, help="unique paragraphs the distractors are drawn from")
    parser.add_argument("--out", type=Path, default=HERE / "scale.json", help="also writes the .png next to it")
    parser.add_argument("--fresh", action="store_true",
                        help="distinct generated text and an empty embedding cache: what a new large corpus costs")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    WORK.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        print(f"scale: {size} chunks…", file=sys.stderr, flush=True)
        rows.append(run_size(size, args.pool, args.fresh))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        args.out.write_text(json.dumps({"scale": rows}, indent=1), encoding="utf-8")
    plot(rows, args.out.with_suffix(".png"))
    print(json.dumps({"scale": rows}, indent=1))


if __name__ == "__main__":
    main()
