"""Calibrate the abstention threshold on the gold questions.

    python benchmarks/calibrate.py [--corpus corpus] [--gold tests/gold/questions.jsonl] [--max-wrong 0.05]

Indexes the corpus into a temporary folder, asks every gold question once with abstention switched off, and
records the best sentence score of each. Then, for each candidate threshold, counts how many unanswerable
questions would abstain and how many answerable ones would be wrongly refused, and recommends the threshold
that abstains most on unanswerable questions while refusing at most `--max-wrong` of the answerable ones.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from cityqa import Assistant, Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--gold", type=Path, default=Path("tests/gold/questions.jsonl"))
    parser.add_argument("--max-wrong", type=float, default=0.05)
    args = parser.parse_args()
    gold = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(corpus_dir=args.corpus, index_dir=Path(tmp), abstain_threshold=0.0)
        assistant = Assistant.open(settings=settings)
        assistant.ingest()
        scores = [(item["answerable"], assistant.ask(item["question"], history=item.get("history")).confidence)
                  for item in gold]
    answerable = sorted(s for ok, s in scores if ok)
    unanswerable = sorted(s for ok, s in scores if not ok)
    print(f"{len(answerable)} answerable, {len(unanswerable)} unanswerable questions\n")
    print("threshold  abstains on unanswerable  wrongly refuses answerable")
    best = None
    for step in range(25, 56):
        t = step / 100
        abstain = sum(s < t for s in unanswerable) / len(unanswerable)
        wrong = sum(s < t for s in answerable) / len(answerable)
        print(f"  {t:.2f}     {abstain:6.1%}                  {wrong:6.1%}")
        if wrong <= args.max_wrong and (best is None or abstain > best[1]):
            best = (t, abstain, wrong)
    if best:
        print(f"\nrecommended: {best[0]:.2f} (abstains on {best[1]:.1%} of unanswerable, refuses {best[2]:.1%} "
              f"of answerable)")


if __name__ == "__main__":
    main()
