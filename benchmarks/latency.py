"""Warm question latency: `Assistant.ask` (embed + retrieve + answer) over every gold question, p50/p95, on the
shipped corpus, after one warm-up question; again with the encoder's token-vector cache emptied before each question
(as on documents whose sentences no question has reached yet). Also the baseline's warm retrieval for the same
questions.

    python benchmarks/latency.py   -> JSON on stdout
"""

from __future__ import annotations

import json
import time

from common import CORPUS, GOLD, percentile, small_index, stage_seconds


def main() -> dict[str, object]:
    from cityqa import Assistant, Settings
    from cityqa.evaluation.baselines import LlamaIndexRetriever

    index = small_index()
    assistant = Assistant.open(settings=Settings(index_dir=index, corpus_dir=CORPUS))
    questions = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assistant.ask("warm-up: which cities are discussed?")
    ours, stages = [], {"embed": [], "retrieve": [], "answer": []}
    for item in questions:
        start = time.perf_counter()
        assistant.ask(item["question"], history=item.get("history"))
        ours.append(time.perf_counter() - start)
        for name, seconds in zip(stages, stage_seconds(assistant, item["question"]), strict=True):
            stages[name].append(seconds)
    unseen = []  # each question as if none of its candidate sentences had been seen (the encoder's cache emptied)
    for item in questions:
        assistant.embedder.token_cache.clear()
        start = time.perf_counter()
        assistant.ask(item["question"], history=item.get("history"))
        unseen.append(time.perf_counter() - start)
    baseline = LlamaIndexRetriever(CORPUS, assistant.embedder)
    try:
        baseline.llama.retrieve("warm-up")
        theirs = []
        for item in questions:
            start = time.perf_counter()
            baseline.llama.retrieve(item["question"])
            theirs.append(time.perf_counter() - start)
    finally:
        baseline.close()
    ms = lambda values, q: round(1000 * percentile(values, q), 2)  # noqa: E731
    return {
        "questions": len(questions), "p50_ms": ms(ours, 50), "p95_ms": ms(ours, 95),
        "stages_p50_ms": {name: ms(values, 50) for name, values in stages.items()},
        "unseen_sentences_p50_ms": ms(unseen, 50), "unseen_sentences_p95_ms": ms(unseen, 95),
        "baseline_p50_ms": ms(theirs, 50), "baseline_p95_ms": ms(theirs, 95),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
