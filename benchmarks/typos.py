"""Questions as new users type them, on the public SQuAD 2.0 articles the answer scorer was neither trained nor
tuned on: with a typo (one letter of one content word of 5+ letters dropped, added, changed or swapped with its
neighbour; seeded), with and without spelling correction; and all in lower case, with and without the names'
capitals restored from the documents. All runs share one index, in this process.

    python benchmarks/typos.py [--file ../shared/bench/squad-public.json] [--seed 1]   -> JSON on stdout
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

from common import REPO, WORK

DEFAULT_FILE = REPO.parent / "shared" / "bench" / "squad-public.json"
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    edit = rng.choice("drsa")
    if edit == "d":
        return word[:i] + word[i + 1 :]
    if edit == "r":
        return word[:i] + rng.choice(LETTERS) + word[i + 1 :]
    if edit == "s":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice(LETTERS) + word[i:]


def with_typos(data: dict[str, Any], seed: int) -> dict[str, Any]:
    from cityqa.documents.text import STOPWORDS

    rng = random.Random(seed)
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                found = [m for m in re.finditer(r"[A-Za-z]{5,}", qa["question"]) if m.group().lower() not in STOPWORDS]
                if found:
                    m = rng.choice(found)
                    qa["question"] = qa["question"][: m.start()] + typo(m.group(), rng) + qa["question"][m.end() :]
    return data


def in_lower_case(data: dict[str, Any]) -> dict[str, Any]:
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["question"] = qa["question"].lower()
    return data


def main() -> dict[str, object]:
    from cityqa import Settings
    from cityqa.evaluation.squad_eval import evaluate_squad
    from cityqa.reading.scorer import MODELS_DIR, SCORER_FILE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=str(DEFAULT_FILE))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    held_out = json.loads((MODELS_DIR / SCORER_FILE).read_text(encoding="utf-8"))["data"]["squad_split"]["test"]
    original = json.loads(Path(args.file).read_text(encoding="utf-8"))
    typed = WORK / "typos" / f"squad-typos-{args.seed}.json"
    typed.parent.mkdir(parents=True, exist_ok=True)
    typed.write_text(json.dumps(with_typos(json.loads(json.dumps(original)), args.seed)))
    lower = WORK / "typos" / "squad-lower.json"
    lower.write_text(json.dumps(in_lower_case(original)))
    runs = {}
    for name, path, settings in (
        ("typed right", args.file, Settings()),
        ("typos, corrected", typed, Settings()),
        ("typos, not corrected", typed, Settings(correct_spelling=False)),
        ("lower case, capitals restored", lower, Settings()),
        ("lower case, as typed", lower, Settings(restore_capitals=False)),
    ):
        report = evaluate_squad(path, settings=settings, systems=["cityqa"], articles=held_out,
                                work_dir=WORK / "squad-heldout", progress=_progress)
        overall = report["systems"]["cityqa"]["overall"]
        runs[name] = {k: overall[k] for k in ("evidence_cited", "false_not_found", "unanswerable_abstained", "ece")}
    lost = runs["typed right"]["evidence_cited"] - runs["typos, not corrected"]["evidence_cited"]
    kept = runs["typos, corrected"]["evidence_cited"] - runs["typos, not corrected"]["evidence_cited"]
    return {"articles": held_out, "seed": args.seed, "runs": runs,
            "share_of_typo_loss_recovered": round(kept / lost, 3) if lost > 0 else None}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    print(json.dumps(main(), indent=1))
