"""Build src/cityqa/reading/models/lexicon.json.gz, the synonym and antonym tables the fact-checker aligns words with.

The source is Princeton WordNet 3.0 as Debian packages it (`wordnet-base`; its licence permits redistribution
with the notice, which is copied into the output). Run it once when the tables should change; cityqa reads only
the output, so nothing is downloaded or installed at run time. `make lexicon` does:

    apt-get download wordnet-base && dpkg -x wordnet-base_*.deb root
    python scripts/build_lexicon.py root/usr/share/wordnet

Kept: every synset's single-word lemmas with each word's sense rank (so a reader can tell a word's usual senses
from its rare ones: "leader" is also a "drawing card") and its hypernyms; WordNet's direct antonym pairs, plus for
adjectives the indirect ones through "similar to" ("huge" is similar to "large", whose antonym is "small"); each
word's parts of speech (the most used one first); and the irregular-inflection lists (`*.exc`), so "fell" is
looked up as "fall".
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

TOP_SENSES = 3
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
OUT = Path(__file__).parents[1] / "src" / "cityqa" / "reading" / "models" / "lexicon.json.gz"


def _word_ok(lemma: str) -> bool:
    return lemma.isalpha() and lemma.islower() and len(lemma) > 1


def _clean(lemma: str) -> str:
    return lemma.split("(")[0].lower()  # adjectives carry markers such as "(a)" or "(p)"


def read_index(root: Path) -> tuple[dict[str, dict[str, int]], dict[str, list[Any]]]:
    """Each word's sense rank in each of its synsets (1 = most frequent), and its parts of speech: the most used
    one, how often it is used so (tagged senses), and all it has."""
    ranks: dict[str, dict[str, int]] = defaultdict(dict)
    tagged: dict[str, Counter[str]] = defaultdict(Counter)
    for pos, name in POS_FILES.items():
        for line in (root / f"index.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue
            parts = line.split()
            lemma, n_synsets, n_ptrs = parts[0], int(parts[2]), int(parts[3])
            if not _word_ok(lemma):
                continue
            tagged[lemma][pos] += int(parts[5 + n_ptrs]) + 1  # tagged sense count (+1: untagged words still count)
            for rank, offset in enumerate(parts[6 + n_ptrs : 6 + n_ptrs + n_synsets], 1):
                ranks[lemma][f"{pos}:{offset}"] = rank
    return ranks, {w: [*c.most_common(1)[0], "".join(sorted(c))] for w, c in tagged.items()}


def read_synsets(root: Path) -> tuple[dict[str, list[str]], list[tuple[str, int, str, int, str]]]:
    """Every synset's lemmas, and its pointers as (symbol, source word no., target key, target word no., key)."""
    synsets: dict[str, list[str]] = {}
    pointers: list[tuple[str, int, str, int, str]] = []
    for pos, name in POS_FILES.items():
        for line in (root / f"data.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith(" "):
                continue
            parts = line.split(" | ")[0].split()
            key = f"{pos}:{parts[0]}"
            n_words = int(parts[3], 16)
            synsets[key] = [_clean(parts[4 + 2 * i]) for i in range(n_words)]
            at = 4 + 2 * n_words
            for i in range(int(parts[at])):
                symbol, offset, tpos, st = parts[at + 1 + 4 * i : at + 5 + 4 * i]
                tpos = "a" if tpos == "s" else tpos
                pointers.append((symbol, int(st[:2], 16), f"{tpos}:{offset}", int(st[2:], 16), key))
    return synsets, pointers


def antonym_pairs(synsets: dict[str, list[str]], pointers: list[tuple[str, int, str, int, str]],
                  ranks: dict[str, dict[str, int]]) -> set[tuple[str, str]]:
    """Direct antonyms, and for adjectives the indirect ones through "similar to" (huge ~ large <-> small)."""
    pairs: set[tuple[str, str]] = set()
    similar: dict[str, set[str]] = defaultdict(set)
    for symbol, source_no, target, target_no, key in pointers:
        if symbol == "&":
            similar[target].add(key)
        if symbol == "!" and source_no and target_no:
            a, b = synsets[key][source_no - 1], synsets[target][target_no - 1]
            if _word_ok(a) and _word_ok(b):
                pairs.add((min(a, b), max(a, b)))
    for symbol, _, target, _, key in pointers:
        if symbol != "!" or not key.startswith("a:"):
            continue
        for satellite in similar.get(key, ()):
            for word in synsets[satellite]:
                for other in synsets[target]:
                    if _word_ok(word) and _word_ok(other) and ranks[word].get(satellite, 99) <= TOP_SENSES:
                        pairs.add((min(word, other), max(word, other)))
    return pairs


def build(root: Path) -> dict[str, object]:
    ranks, pos = read_index(root)
    synsets, pointers = read_synsets(root)
    kept = {key: [w for w in words if _word_ok(w)] for key, words in synsets.items()}  # all: hypernym chains
    number = {key: n for n, key in enumerate(kept)}
    parents: dict[str, list[int]] = defaultdict(list)
    for symbol, _, target, _, key in pointers:
        if symbol in {"@", "@i"} and key in number and target in number:
            parents[key].append(number[target])
    rows = [[key[0], words, [ranks[w].get(key, 99) for w in words], parents.get(key, [])]
            for key, words in kept.items()]
    exceptions: dict[str, str] = {}
    for name in POS_FILES.values():
        for line in (root / f"{name}.exc").read_text(encoding="latin-1").splitlines():
            inflected, *bases = line.split()
            if _word_ok(inflected) and bases and _word_ok(bases[0]):
                exceptions.setdefault(inflected, bases[0])
    licence = root.parent / "doc" / "wordnet-base" / "copyright"
    return {
        "source": "Princeton WordNet 3.0 (Debian wordnet-base), built by scripts/build_lexicon.py",
        "licence": licence.read_text(encoding="utf-8") if licence.exists() else "WordNet 3.0 licence",
        "synsets": rows,  # [part of speech, words, each word's sense rank, hypernym rows]
        "antonyms": sorted(list(p) for p in antonym_pairs(synsets, pointers, ranks)),
        "pos": dict(sorted(pos.items())),
        "exceptions": dict(sorted(exceptions.items())),
    }


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet")
    data = build(root)
    OUT.write_bytes(gzip.compress(json.dumps(data, separators=(",", ":")).encode(), mtime=0))
    print(f"{OUT}: {len(data['synsets'])} synsets, {len(data['antonyms'])} antonym pairs, "
          f"{len(data['exceptions'])} inflections, {OUT.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
