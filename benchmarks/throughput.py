"""Ingest throughput (full build, chunks/s) of cityqa with each embedding backend vs the llama-index baseline,
and each backend's hit@1 on the gold questions (cityqa.evaluation.evaluate).

    python benchmarks/throughput.py [--corpus DIR]   -> JSON on stdout

The corpus is the shipped report plus ~1,000 generated chunks (gen_corpus.py), so embedding dominates rather
than start-up. Both sides get an already-loaded model (its load time is not counted), the embedding cache is
off, and cityqa's time includes everything `ingest` does (chunking, one encoder pass per chunk for it and its sentences,
Chroma, BM25, node store). The baseline embeds one vector per node (default SentenceSplitter, 1,024 tokens, of
which the model reads the first 256); "baseline_256" is the same pipeline with 256-token nodes, which embeds all
of the text as cityqa does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from common import CORPUS, GOLD, WORK, small_index

BACKENDS = ("torch", "onnx", "onnx-int8")
BASELINE_RUNS = 3


def corpus_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(corpus: Path | None = None) -> dict[str, object]:
    from baseline import build
    from gen_corpus import generate

    from cityqa import Assistant, Settings
    from cityqa.evaluation import evaluate as ev
    from cityqa.index.embeddings import Embedder

    corpus = corpus or generate(WORK / "corpus-throughput", 1000, pool_size=100_000)
    size = corpus_bytes(corpus)
    embedder = Embedder()
    embedder.encode(["warm-up"])
    target = WORK / "throughput"
    shutil.rmtree(target, ignore_errors=True)
    # the baseline build is short (seconds), so one run is at the mercy of the machine's load: median of three
    builds = [build(corpus, target / f"baseline-{run}", embedder) for run in range(BASELINE_RUNS)]
    whole = [build(corpus, target / f"baseline-256-{run}", embedder, 256) for run in range(BASELINE_RUNS)]
    rows: dict[str, dict[str, float]] = {
        "baseline": {"chunks": builds[0]["nodes"], "seconds": statistics.median(b["seconds"] for b in builds),
                     "runs": [round(b["seconds"], 2) for b in builds]},
        "baseline_256": {"chunks": whole[0]["nodes"], "seconds": statistics.median(b["seconds"] for b in whole),
                         "runs": [round(b["seconds"], 2) for b in whole]},
    }
    for backend in BACKENDS:
        settings = Settings(corpus_dir=corpus, index_dir=target / backend, embed_backend=backend, embed_cache=False)
        assistant = Assistant.open(settings=settings)
        warm = Embedder(backend=backend)
        warm._model = embedder.model  # the loaded model; the ONNX export (once per index) is not timed
        warm.use_index(settings.index_dir, backend, export=True)
        warm.encode(["warm-up"])
        assistant.embedder = warm
        report = assistant.ingest()
        rows[backend] = {"chunks": report.chunks_written, "seconds": report.seconds}
        small = Settings(corpus_dir=CORPUS, index_dir=small_index(backend), embed_backend=backend)
        scorer = Assistant.open(settings=small)
        overall = ev.evaluate(scorer, GOLD, ["cityqa"], corpus_dir=CORPUS)["systems"]["cityqa"]["overall"]
        rows[backend]["hit@1"] = overall["hit@1"]
        rows[backend]["short_answer_recall"] = overall["short_answer_recall"]
    for row in rows.values():
        row["chunks_per_s"] = row["chunks"] / row["seconds"]
        row["mb_per_s"] = size / 2**20 / row["seconds"]
    base_rate = rows["baseline"]["chunks_per_s"]
    for backend in BACKENDS:
        rows[backend]["mb_ratio_vs_baseline"] = rows[backend]["mb_per_s"] / rows["baseline"]["mb_per_s"]
        rows[backend]["mb_ratio_vs_baseline_256"] = rows[backend]["mb_per_s"] / rows["baseline_256"]["mb_per_s"]
        rows[backend]["speedup_vs_baseline"] = rows[backend]["chunks_per_s"] / base_rate
        rows[backend]["speedup_vs_torch"] = rows[backend]["chunks_per_s"] / rows["torch"]["chunks_per_s"]
    return {"corpus_mib": size / 2**20, "rows": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path)
    print(json.dumps(main(parser.parse_args().corpus), indent=1))
