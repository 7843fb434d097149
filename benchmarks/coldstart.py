"""Cold start: wall time of `cityqa ask "…"` on a built index (process start -> printed answer) vs the baseline
script opening its persisted llama-index/Chroma index and retrieving; plus the step breakdown of cityqa's path.

    python benchmarks/coldstart.py   -> JSON on stdout
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import CORPUS, HERE, QUESTION, REPO, WORK, median, small_index

RUNS = 3
BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
from cityqa import Assistant, Settings
import cityqa.cli, cityqa.answering.retrieve, llama_index.core, llama_index.vector_stores.chroma, chromadb
t1 = time.perf_counter()
a = Assistant.open(settings=Settings(index_dir=sys.argv[1]))
a.engine
t2 = time.perf_counter()
sys.path.insert(0, sys.argv[3])
from common import stage_seconds
embed_s, retrieve_s, answer_s = stage_seconds(a, sys.argv[2])
heavy = [m for m in ("torch", "sentence_transformers", "transformers", "gradio", "matplotlib") if m in sys.modules]
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "embed_s": embed_s, "retrieve_s": retrieve_s,
                  "answer_s": answer_s, "heavy_modules_loaded": heavy}))
"""


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO).stdout
    return time.perf_counter() - start, out


def main() -> dict[str, object]:
    index = small_index()
    baseline_dir = WORK / "baseline-index"
    if not (baseline_dir / "chroma.sqlite3").is_file():
        from baseline import build

        from cityqa.index.embeddings import Embedder

        shutil.rmtree(baseline_dir, ignore_errors=True)
        build(CORPUS, baseline_dir, Embedder())
    cityqa_bin = str(Path(sys.executable).with_name("cityqa"))
    ours, theirs = [], []
    for _ in range(RUNS):  # interleaved, so both see the same machine load
        seconds, out = timed([cityqa_bin, "ask", "--index", str(index), QUESTION])
        assert "Okiyama" in out, out
        ours.append(seconds)
        seconds, out = timed([sys.executable, str(HERE / "baseline.py"), "ask", str(baseline_dir), QUESTION])
        theirs.append(seconds)
    breakdown = json.loads(timed([sys.executable, "-c", BREAKDOWN, str(index), QUESTION, str(HERE)])[1])
    result = {
        "cityqa_s": median(ours), "baseline_s": median(theirs), "speedup": median(theirs) / median(ours),
        "runs": RUNS, "breakdown": breakdown,
    }
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
