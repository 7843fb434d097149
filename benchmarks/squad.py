"""Generality: cityqa and the baselines on the public SQuAD 2.0 articles the answer scorer was neither trained nor
tuned on (the `test` articles recorded in cityqa/reading/models/scorer.json), each article a document of one index.

    python benchmarks/squad.py [--file ../shared/bench/squad-public.json]   -> JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import sys

from common import REPO, WORK

DEFAULT_FILE = REPO.parent / "shared" / "bench" / "squad-public.json"


def main() -> dict[str, object]:
    from cityqa.evaluation.squad_eval import evaluate_squad
    from cityqa.reading.scorer import MODELS_DIR, SCORER_FILE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(DEFAULT_FILE))
    args = parser.parse_args()
    held_out = json.loads((MODELS_DIR / SCORER_FILE).read_text(encoding="utf-8"))["data"]["squad_split"]["test"]
    report = evaluate_squad(args.file, articles=held_out, work_dir=WORK / "squad-heldout",
                            progress=lambda m: print(m, file=sys.stderr, flush=True))
    return {
        "articles": held_out, "questions": report["n_questions"],
        "systems": {name: {k: v for k, v in data["overall"].items() if k != "reliability"}
                    for name, data in report["systems"].items()},
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
