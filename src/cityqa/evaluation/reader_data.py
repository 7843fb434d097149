"""Training pairs for the pair reader (`cityqa.reading.reader`): a text and a question or claim, labelled 1 when the
text answers the question or states the claim, 0 otherwise.

Three sources, all generic (nothing here reads the shipped report):

* **Public entailment and paraphrase pairs** (`../shared/nli/`): entailment / paraphrase is 1; neutral,
  contradiction and non-paraphrase are 0. The sets kept for reporting (`*-test.jsonl`) are never read here.
* **Claims generated from documents** (`claims_from_document`), the route small fact-checkers take: each sentence
  of a document paired with rewrites of itself that stay true (a word replaced by a WordNet synonym or a more
  general word, a fronted phrase moved to the end, a trailing clause or an aside dropped) and with one-slot swaps
  that do not (a year, number or name replaced by another of the same document, a word by its antonym or by a
  sibling under the same WordNet parent, two names exchanged, a negation added), and with another sentence of
  the same document (on topic, not stated). Swaps are also made on top of true rewrites, so a change of wording
  alone never marks a claim as false.
* **Questions and candidate sentences** mined by `make train` (`train.Group`): the sentence holding the answer is
  1; the sentences stage 1 ranks best that do not hold it, and every candidate of an unanswerable question
  (SQuAD's own and the user-style negatives), are 0.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..documents.text import STOPWORDS
from ..reading.reader import reader_text

NLI_TRAIN_FILES = ("mnli-dev", "snli-dev", "cad-snli-train", "breaking-nli", "paws-wiki-dev", "fever-symmetric-dev")
POSITIVE_LABELS = {"entailment", "paraphrase", "SUPPORTS", "supports"}


@dataclass(frozen=True)
class Pair:
    text: str
    hypothesis: str
    label: int
    kind: str  # where it comes from: nli:<set>, claim:<rewrite>, qa:<origin>


# ------------------------------------------------------------------ public NLI


def nli_pairs(folder: Path, per_file: int, rng: random.Random, files: Sequence[str] = NLI_TRAIN_FILES) -> list[Pair]:
    """Up to `per_file` pairs from each training file, drawn with `rng`."""
    out: list[Pair] = []
    for name in files:
        rows = [json.loads(line) for line in (folder / f"{name}.jsonl").read_text().splitlines() if line.strip()]
        rng.shuffle(rows)
        out += [Pair(r["premise"], r["hypothesis"], int(str(r["label"]) in POSITIVE_LABELS), f"nli:{name}")
                for r in rows[:per_file] if r.get("premise") and r.get("hypothesis")]
    return out


# ------------------------------------------------------------------ claims generated from documents

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")
_YEAR = re.compile(r"\b(1[0-9]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|de\s+)?[A-Z][a-z]+)*")
_WORD = re.compile(r"\b[a-z]{3,}\b")
_FRONTED = re.compile(r"^((?:In|On|At|By|During|After|Before|From|Since|Until|Under|Through)\s[^,]{2,60}),\s+(.+?)[.]$")
_AUX = re.compile(r"\b(is|was|are|were|has|had|have|can|could|will|would)\b")
_ASIDE = re.compile(r",\s+(?:who|which|a|an|the)\s[^,]{3,60},\s+")
_TRAILING = re.compile(r",\s+(?:which|while|and|but|although|where|as)\s")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if 6 <= len(s.split()) <= 60]


class WordNet:
    """The bundled lexicon's raw tables, for choosing replacement words (the runtime `align.Lexicon` answers
    yes/no questions about two given words; generation needs the words themselves)."""

    def __init__(self, path: Path) -> None:
        data = json.loads(gzip.decompress(path.read_bytes()))
        self.synsets = data["synsets"]
        self.pos = data["pos"]
        self.antonyms: dict[str, list[str]] = {}
        for pair in data["antonyms"]:
            for a in pair:
                self.antonyms.setdefault(a, []).extend(b for b in pair if b != a)
        self._first: dict[tuple[str, str], int] = {}  # (word, part of speech) -> its most frequent synset
        self.children: dict[int, list[int]] = {}
        for row, (kind, words, ranks, parents) in enumerate(self.synsets):
            for word, rank in zip(words, ranks, strict=True):
                if rank == 1:
                    self._first.setdefault((word, kind), row)
            for parent in parents:
                self.children.setdefault(parent, []).append(row)

    def first(self, word: str) -> int | None:
        """The most frequent synset of the word in its most used part of speech."""
        usual = self.pos.get(word, ("",))[0]
        return self._first.get((word, "s" if usual == "a" and (word, "a") not in self._first else usual))

    def _single(self, words: Iterable[str], avoid: str) -> list[str]:
        return [w for w in words if w != avoid and "_" not in w and " " not in w and w.isalpha()]

    def synonyms(self, word: str) -> list[str]:
        row = self.first(word)
        if row is None:
            return []
        return [w for w in self._single(self.synsets[row][1], word) if self.first(w) == row]  # both mainly mean it

    def hypernyms(self, word: str) -> list[str]:
        row = self.first(word)
        if row is None or self.synsets[row][0] != "n":
            return []
        return [w for p in self.synsets[row][3] for w in self._single(self.synsets[p][1], word)]

    def siblings(self, word: str) -> list[str]:
        """Words of other synsets under the same parent ('triple' / 'quadruple'): the same kind, another thing."""
        row = self.first(word)
        if row is None:
            return []
        out = []
        for parent in self.synsets[row][3]:
            for other in self.children.get(parent, []):
                if other != row:
                    out += self._single(self.synsets[other][1][:1], word)
        return out


@dataclass
class Pools:
    """What one document offers as replacements: its years, numbers, names and words."""

    years: list[str]
    numbers: list[str]
    names: list[str]

    @classmethod
    def of(cls, text: str, common: set[str] | dict[str, Any]) -> Pools:
        """`common`: lower-case words that are not names on their own ('Initially')."""
        names = [n for n in dict.fromkeys(_NAME.findall(text)) if n.lower() not in STOPWORDS
                 and (" " in n or n.lower() not in common)]
        return cls(sorted(set(_YEAR.findall(text))), sorted(set(_NUMBER.findall(text)) - set(_YEAR.findall(text))),
                   names)


def _replace(text: str, match: re.Match[str], new: str) -> str:
    return text[: match.start()] + new + text[match.end():]


def _words(text: str, wordnet: WordNet) -> list[re.Match[str]]:
    return [m for m in _WORD.finditer(text) if m.group(0) not in STOPWORDS and m.group(0) in wordnet.pos]


def true_rewrite(s: str, wordnet: WordNet, rng: random.Random) -> tuple[str, str] | None:
    """A rewrite of `s` that the sentence still states, and its kind; None when none applies."""
    options = []
    if fronted := _FRONTED.match(s):
        rest = fronted.group(2)
        options.append(("moved", rest[:1].upper() + rest[1:] + " " + fronted.group(1)[:1].lower()
                        + fronted.group(1)[1:] + "."))
    if (m2 := _TRAILING.search(s)) and len(s[: m2.start()].split()) >= 6:
        options.append(("clause", s[: m2.start()] + "."))
    if (m3 := _ASIDE.search(s)) and len(s.split()) > 10:
        options.append(("aside", s[: m3.start()] + " " + s[m3.end():]))
    words = _words(s, wordnet)
    for m in rng.sample(words, k=min(6, len(words))):
        if syn := wordnet.synonyms(m.group(0)):
            options.append(("synonym", _replace(s, m, rng.choice(syn))))
            break
    for m in words:
        if hyper := wordnet.hypernyms(m.group(0)):
            options.append(("general", _replace(s, m, rng.choice(hyper))))
            break
    if not options:
        return None
    kind, text = rng.choice(options)
    return text, kind


def false_swap(s: str, pools: Pools, wordnet: WordNet, rng: random.Random) -> tuple[str, str] | None:
    """`s` with one slot changed so that the sentence no longer states it, and the kind of change."""
    options: list[tuple[str, str]] = []
    if years := list(_YEAR.finditer(s)):
        m = rng.choice(years)
        others = [y for y in pools.years if y != m.group(0)] or [str(int(m.group(0)) + rng.choice((-3, -1, 2, 5)))]
        options.append(("year", _replace(s, m, rng.choice(others))))
    numbers = [m for m in _NUMBER.finditer(s) if not _YEAR.fullmatch(m.group(0))]
    if numbers:
        m = rng.choice(numbers)
        others = [n for n in pools.numbers if n != m.group(0)] or [str(int(float(m.group(0).replace(",", ""))) + 2)]
        options.append(("number", _replace(s, m, rng.choice(others))))
    names = [m for m in _NAME.finditer(s) if m.start() > 0 and m.group(0).lower() not in STOPWORDS]
    if names:
        m = rng.choice(names)
        others = [n for n in pools.names if n not in s]
        if others:
            options.append(("name", _replace(s, m, rng.choice(others))))
        if len(names) >= 2:
            a, b = rng.sample(names, 2)
            if a.group(0) != b.group(0):
                first, second = sorted((a, b), key=lambda x: x.start())
                options.append(("exchange", s[: first.start()] + second.group(0) + s[first.end(): second.start()]
                                + first.group(0) + s[second.end():]))
    words = _words(s, wordnet)
    for m in words:
        if opposite := wordnet.antonyms.get(m.group(0)):
            options.append(("antonym", _replace(s, m, rng.choice(opposite))))
            break
    for m in rng.sample(words, k=min(6, len(words))):
        if wordnet.pos.get(m.group(0), ("",))[0] == "n" and (siblings := wordnet.siblings(m.group(0))):
            options.append(("sibling", _replace(s, m, rng.choice(siblings))))
            break
    if (aux := _AUX.search(s)) and " not " not in s:
        options.append(("negation", s[: aux.end()] + " not" + s[aux.end():]))
    if not options:
        return None
    kind, text = rng.choice(options)
    return text, kind


def claims_from_document(text: str, wordnet: WordNet, rng: random.Random, source: str) -> list[Pair]:
    """Per sentence: one true rewrite, one swap (on top of a true rewrite half the time) and one sentence of the
    same document that it does not state, each paired with the sentence (with the one before it a third of the
    time, as a passage quotes it)."""
    found = sentences(text)
    pools = Pools.of(text, wordnet.pos)
    out: list[Pair] = []
    for i, s in enumerate(found):
        premise = f"{found[i - 1]} {s}" if i and rng.random() < 0.33 else s
        if rewrite := true_rewrite(s, wordnet, rng):
            out.append(Pair(premise, rewrite[0], 1, f"claim:{rewrite[1]}"))
        elif rng.random() < 0.15:
            out.append(Pair(premise, s, 1, "claim:same"))
        base = rewrite[0] if rewrite and rng.random() < 0.5 else s
        if swap := false_swap(base, pools, wordnet, rng):
            out.append(Pair(premise, swap[0], 0, f"claim:{swap[1]}"))
        if len(found) > 2:
            other = found[rng.choice([j for j in range(len(found)) if abs(j - i) > 1] or [i])]
            if other != s:
                out.append(Pair(premise, other, 0, "claim:other"))
    return [p for p in out if p.text.strip() and p.hypothesis.strip()]


# ------------------------------------------------------------------ questions and candidate sentences


def qa_pairs(groups: Sequence[Any], stage1: Any, negatives_per_question: int, splits: Iterable[str]) -> list[Pair]:
    """From mined question groups: each answer-holding candidate (1) and the best-ranked others (0)."""
    wanted = set(splits)
    out: list[Pair] = []
    for g in groups:
        if g.split not in wanted:
            continue
        order = np.argsort(-stage1.logit(g.features))
        chosen = [i for i in order if g.labels[i] > 0.5][:2] if g.answerable else []
        chosen += [i for i in order if g.labels[i] <= 0.5][:negatives_per_question]
        for i in chosen:
            label = int(g.labels[i] > 0.5)
            out.append(Pair(reader_text(g.befores[i], g.quotes[i]), g.question, label, f"qa:{g.origin}:{g.kind}"))
    return out
