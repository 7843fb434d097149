"""The learned answer scorer: how likely a sentence is to answer a question, as a calibrated probability.

Two stages, both fitted by `python -m cityqa.evaluation.train` (`make train`) on public SQuAD 2.0 articles and the
training half of the gold questions, never on the articles or questions reported on:

1. **Features → logistic regression** over every sentence of the retrieved passages. The features are generic
   (nothing names this report): the sentence's cosine to the question alone and in context, idf-weighted word
   coverage (in the sentence, with the sentence before, in the passage), question bigrams found, what kind of
   answer the question asks for ("when", "how many", "who", …) crossed with what the sentence holds (a year, a
   number, a name the question does not give), the passage's retrieval rank, and each value relative to the best
   candidate of the question.
2. **Token alignment** for the best `align_top_n` of stage 1: every content word of the question looks for its
   closest token in the sentence, by the contextual token vectors of the same bundled model (no other model,
   about 2 ms a sentence); a second logistic regression combines stage 1's logit with the alignment.
3. **Confidence**: a third logistic regression, fitted on held-out data, turns the best candidate's logit, its
   lead over the runner-up, the pair reader's logit for it (`reading.reader`: the question and the candidate read
   together by a fine-tuned cross-encoder), whether it holds the question's names, numbers, rarest words and what
   is asked about, whether it holds a value of the kind asked (`type_found`), the share of the question's words no
   document uses, how well the question aligns with it, and two signs that it only seems to answer (`contrast`: the
   question negates and the sentence does not, or it asks with the opposite of a word the sentence uses) into
   `Answer.confidence`: the probability that the quoted sentence answers the question. The assistant quotes from
   the threshold chosen with it for the cost of a wrong quote, offers the closest passage from a lower one, and
   otherwise says "not found" (see `evaluation.train`).

The three regressions are a few dozen numbers in `cityqa/reading/models/scorer.json`; `Settings.scorer_dir` points
elsewhere.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..documents.entities import find_dates, find_years, has_number
from ..documents.text import NEGATIONS, STOPWORDS, content_terms, stem, term_tuple, words
from .align import lexicon

MODELS_DIR = Path(__file__).parent / "models"
SCORER_FILE = "scorer.json"

# ------------------------------------------------------------------ question types (English question words)

_QTYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", re.compile(r"\b(when|what (year|date|month|day|decade|century|period|time|era|age))\b"
                        r"|\bin what year\b", re.I)),
    ("number", re.compile(r"\b(how (many|much|long|far|old|large|big|high|often|fast|heavy|tall|deep|wide))\b"
                          r"|\b(what|which) (percentage|percent|number|amount|proportion|share|size|rate)\b", re.I)),
    ("person", re.compile(r"\b(who|whom|whose)\b", re.I)),
    ("place", re.compile(r"\bwhere\b|\b(what|which) (country|countries|city|cities|state|region|place|town|area)\b",
                         re.I)),
    ("reason", re.compile(r"\bwhy\b|\bwhat (caused|causes|led)\b", re.I)),
    ("manner", re.compile(r"^\s*how\b", re.I)),
    ("entity", re.compile(r"\b(what|which)\b", re.I)),
    ("yesno", re.compile(r"^\s*(is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b", re.I)),
)
QTYPES = (*tuple(name for name, _ in _QTYPES), "other")
SENTENCE_TYPES = ("year", "number", "new_name", "percent")


def question_type(question: str) -> str:
    """The kind of answer an English question asks for (the first matching rule of `_QTYPES`)."""
    for name, pattern in _QTYPES:
        if pattern.search(question):
            return name
    return "other"


_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w’'-]+")
_PERCENT = re.compile(r"%|\bper ?cent\b|\$|€|£|¥|\bdollars?\b|\beuros?\b", re.I)


def sentence_types(text: str, asked: set[str]) -> np.ndarray:
    """What values a sentence holds: a year or date, a count or amount, a capitalised name the question does not
    already give, a percentage or sum of money."""
    year, number, names, percent = _values_of(text)
    return np.array([year, number, float(bool(names - asked)), percent])


@lru_cache(maxsize=100_000)
def _values_of(text: str) -> tuple[float, float, frozenset[str], float]:
    names = frozenset(t for m in _CAPITALISED.finditer(text.strip()) for t in term_tuple(m.group(0)))
    return (float(bool(find_years(text) or find_dates(text))), float(has_number(text)), names,
            float(bool(_PERCENT.search(text))))


_WORDS = re.compile(r"[^\W\d_][\w’'-]*")


@lru_cache(maxsize=100_000)
def name_share(text: str) -> float:
    """The share of a sentence's content words that are capitalised after its first word: near 1 for a line of a
    register, a reference list or a heading ("Jane Roe, Director of Trade, City of X, interview, May 2, 2023"),
    which matches a question's names without stating anything about them; low in running prose."""
    found = _WORDS.findall(text)
    content = [w for w in found[1:] if w.lower() not in STOPWORDS]
    return sum(w[0].isupper() for w in content) / len(content) if content else 0.0


# ------------------------------------------------------------------ features

BASE_FEATURES = (
    "cos", "cos_ctx", "cos_max", "coverage", "coverage_near", "coverage_passage", "bigrams", "novel", "length",
    "first", "leans_back", "d_cos", "d_coverage", "d_cos_passage", "bm25", "d_bm25",
    "has_names", "names_sentence", "names_near", "names_passage", "values_missing", "missing_top", "head_sentence",
    "head_near", "interview", "unknown", "name_share",
)
TYPE_FEATURES = tuple(f"{q}*{s}" for q in QTYPES for s in SENTENCE_TYPES) + tuple(f"q_{q}" for q in QTYPES)
FEATURES = BASE_FEATURES + TYPE_FEATURES


@dataclass
class QuestionView:
    """What feature computation needs from the question, once per question."""

    terms: list[str]
    bigrams: set[tuple[str, str]]
    asked: set[str]
    names: set[str]  # stemmed terms of the capitalised words after the first: the things the question names
    values: set[str]  # numbers and years the question gives
    head: str | None  # the first content word that is not a name: what is asked about ("the *budget* of X")
    negates: str = ""  # the word with which it asks about what is *not* so ("which city has *no* port")
    forms: frozenset[str] = frozenset()  # its words' stems and base forms
    opposites: dict[str, str] = field(default_factory=dict)  # antonym (WordNet) of a word of it -> that word

    @classmethod
    def of(cls, question: str) -> QuestionView:
        terms = content_terms(question)
        names = {t for name in names_of(question) for t in content_terms(name)}
        head = next((t for t in terms if t not in names), None)
        tokens = words(question)
        forms = frozenset(f for w in tokens for f in word_forms(w))
        opposites = {a: w for w in reversed(tokens) for a in lexicon().antonyms(w) if a not in forms}
        return cls(terms, set(itertools.pairwise(terms)), set(terms), names, set(_NUMBERS.findall(question)), head,
                   _negation(tokens), forms, opposites)


_NUMBERS = re.compile(r"\b\d[\d,.]*\d\b|\b\d\b")


def names_of(question: str) -> list[str]:
    """The names a question gives, as written: runs of its capitalised words after the first ("Port Alder", not
    "Who"), without a possessive ending."""
    names: list[str] = []
    end = -1
    text = question.strip()
    for m in _CAPITALISED.finditer(text):
        word = re.sub(r"['’]s$", "", m.group(0))
        if names and text[end : m.start()] == " ":
            names[-1] += " " + word
        else:
            names.append(word)
        end = m.end()
    return names


@lru_cache(maxsize=65536)
def word_forms(word: str) -> frozenset[str]:
    """A lower-cased word's stem and base forms: 'fell' is a form of 'fall', 'cities' of 'city'."""
    return frozenset((stem(word), *lexicon().bases(word)))


@dataclass(frozen=True)
class Contrast:
    """What `contrast` finds between a question and a sentence that may only seem to answer it."""

    negation: str = ""  # the question's negating word, when neither the sentence nor the one before negates
    opposite: tuple[str, str] | None = None  # a word of the sentence and the question word it is the opposite of

    @property
    def features(self) -> tuple[float, float]:
        """The confidence model's inputs: negated, opposite (each 1 or 0)."""
        return float(bool(self.negation)), float(self.opposite is not None)

    def note(self, passage: str = "closest passage") -> str | None:
        """Why the sentence (called `passage`) may not answer, in words; None when nothing contrasts."""
        if self.opposite:
            return f"The {passage} says “{self.opposite[0]}” where the question asks about “{self.opposite[1]}”."
        if self.negation:
            return f"The question is negated (“{self.negation}”); the {passage} says nothing of the kind."
        return None


NO_CONTRAST = Contrast()


def contrast(view: QuestionView, sentence: str, before: str = "") -> Contrast:
    """Two ways a sentence only seems to answer, the commonest ways of writing an unanswerable question in SQuAD
    2.0 (Rajpurkar, Jia & Liang 2018):

    * *negated*: the question negates ("which was *not* ...") and neither the sentence nor the one `before` it
      says no, lacks, excludes ("all but", "except") or fails; "if not" and "whether or not" do not count;
    * *opposite*: the sentence uses the opposite of a question word (WordNet's antonyms) where the question does
      not use the sentence's word ("ranked *lower*" against "ranked *higher*"; not "did it rise or fall").

    On the SQuAD training articles the two mark 17% of the sentences that hold only a plausible answer and 2% of
    those that hold the answer."""
    said = words(sentence)
    negated = bool(view.negates) and not _excludes(said) and not _excludes(words(before))
    return Contrast(view.negates if negated else "", _opposed(view, said))


def _opposed(view: QuestionView, said: list[str]) -> tuple[str, str] | None:
    """The first of a sentence's words that is the opposite of a question word, with that word."""
    for word in said:
        forms = word_forms(word)
        if not forms & view.forms and (hit := next((f for f in forms if f in view.opposites), None)):
            return word, view.opposites[hit]
    return None


_NEGATING = NEGATIONS | {"cannot", "nothing", "nobody", "nowhere"}
_EXCLUDING = _NEGATING | {"except", "excluding", "besides", "instead", "rather", "only", "absent", "lacking",
                          "unable", "fail", "fails", "failed"}


def _negation(tokens: list[str]) -> str:
    """The first negating word ("not", "never", "didn't"), or ''; "if not" and "whether or not" do not count."""
    return next((w for i, w in enumerate(tokens)
                 if (w in _NEGATING or w.endswith("n't")) and not (i and tokens[i - 1] in {"if", "or"})), "")


def _excludes(tokens: list[str]) -> bool:
    return any(w in _EXCLUDING or w.endswith("n't") for w in tokens) or ("all", "but") in itertools.pairwise(tokens)


def share_found(wanted: set[str], present: set[str]) -> float:
    """Share of `wanted` in `present`; 1 when nothing is wanted."""
    return len(wanted & present) / len(wanted) if wanted else 1.0


def values_missing(view: QuestionView, text: str) -> float:
    """1 when the question gives a number or year that `text` does not hold."""
    return float(bool(view.values - set(_NUMBERS.findall(text))))


def bigram_share(view: QuestionView, text: str) -> float:
    if not view.bigrams:
        return 0.0
    terms = term_tuple(text)
    found = set(itertools.pairwise(terms))
    return len(view.bigrams & found) / len(view.bigrams)


def feature_matrix(rows: list[dict[str, Any]], qtype: str) -> np.ndarray:
    """The feature matrix (len(rows), len(FEATURES)) from per-sentence raw values (see `answer.Extractor`), with
    the relative features filled in from the best candidate of the question."""
    if not rows:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    base = np.array([[row.get(name, 0.0) for name in BASE_FEATURES] for row in rows], dtype=np.float64)
    col = {name: i for i, name in enumerate(BASE_FEATURES)}
    base[:, col["d_cos"]] = base[:, col["cos_max"]] - base[:, col["cos_max"]].max()
    base[:, col["d_coverage"]] = base[:, col["coverage_near"]] - base[:, col["coverage_near"]].max()
    # BM25's saturation and length normalisation over the question's candidates (k1 = 1.2, b = 0.75 as usual):
    # of two sentences holding the same question words, the shorter is the more likely answer
    n_terms = np.array([row.get("n_terms", 1.0) for row in rows])
    norm = 1 - 0.75 + 0.75 * n_terms / max(1e-9, float(n_terms.mean()))
    base[:, col["bm25"]] = base[:, col["coverage"]] * 2.2 / (1 + 1.2 * norm)
    base[:, col["d_bm25"]] = base[:, col["bm25"]] - base[:, col["bm25"]].max()
    qi = QTYPES.index(qtype)
    types = np.zeros((len(rows), len(TYPE_FEATURES)))
    for r, row in enumerate(rows):
        types[r, qi * len(SENTENCE_TYPES) : (qi + 1) * len(SENTENCE_TYPES)] = row["types"]
    types[:, len(QTYPES) * len(SENTENCE_TYPES) + qi] = 1.0
    return np.hstack([base, types]).astype(np.float32)


# ------------------------------------------------------------------ the fitted models


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


@dataclass
class Linear:
    """A logistic regression stored as standardisation + weights (fitted by scikit-learn at training time)."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Linear:
        return cls(tuple(data["names"]), np.asarray(data["mean"]), np.asarray(data["scale"]),
                   np.asarray(data["weights"]), float(data["bias"]))

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias}

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights + self.bias


class ScorerModel:
    """The fitted scorer: stage-1 and stage-2 regressions, the confidence model, the abstention threshold (an
    answer is quoted from it up) and the lower one from which the closest passage is offered as "the documents do
    not say this directly" rather than "not found"."""

    def __init__(self, folder: Path | str | None = None) -> None:
        from ..errors import ConfigError

        self.folder = Path(folder) if folder else MODELS_DIR
        path = self.folder / SCORER_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"The answer scorer {path} is missing or unreadable ({exc}). Reinstall cityqa, or run `make train` "
                "to fit it again."
            ) from exc
        try:
            self.stage1 = Linear.from_dict(data["stage1"])
            self.stage2 = Linear.from_dict(data["stage2"])
            self.answerable = Linear.from_dict(data["answerable"])
            self.threshold = float(data["threshold"])
            self.closest_threshold = float(data.get("closest_threshold", self.threshold))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{path} is not a complete answer scorer (no {exc}); run `make train` again.") from exc
        if self.stage1.names != FEATURES or self.answerable.names != ANSWERABILITY_FEATURES:
            raise ConfigError(f"The answer scorer {path} was fitted on other features; run `make train` again.")
        self.meta = data

    @property
    def reads(self) -> bool:
        """Whether the confidence model gives the pair reader's logit any weight (then it needs the reader)."""
        return abs(float(self.answerable.weights[ANSWERABILITY_FEATURES.index("reader")])) > 0

    def confidence(self, logits: np.ndarray, features: np.ndarray, align: np.ndarray, found: Contrast,
                   reader: float = 0.0) -> float:
        """The probability that the best candidate answers the question (see `answerability_features`); `found`
        is the `contrast` of that candidate with the question, `reader` the pair reader's logit for it."""
        row = answerability_features(logits, features, align, found, reader)
        return float(_sigmoid(self.answerable.logit(row)))


# ------------------------------------------------------------------ stage 2: token alignment

STAGE2_FEATURES = ("stage1", "d_stage1", "align_mean", "align_min", "align_low", "d_align_mean")
UNMATCHED = 0.5  # a question word whose closest sentence token is less similar than this counts as unmatched


def alignment(question: tuple[list[str], np.ndarray], sentence: tuple[list[str], np.ndarray]) -> np.ndarray:
    """How well each content word of the question finds itself in the sentence, by contextual token vectors of the
    bundled model (each question word piece against its closest sentence piece, averaged per word): the mean and
    the worst word, and the share of words left unmatched. A sentence that shares the question's topic but not
    its predicate ("who *drained* the lake" against "*surveyed* the lake") shows it as one low word."""
    pieces, q_vectors = question
    _, s_vectors = sentence
    if not len(s_vectors):
        return np.array([0.0, 0.0, 1.0])
    best = (q_vectors @ s_vectors.T).max(axis=1)
    scores = [float(np.mean(best[rows])) for rows in content_words(pieces)]
    if not scores:
        return np.array([0.0, 0.0, 1.0])
    return np.array([float(np.mean(scores)), min(scores), float(np.mean([x < UNMATCHED for x in scores]))])


def content_words(pieces: list[str]) -> list[list[int]]:
    """Word-piece rows grouped into words ("##" pieces continue the word before), stop words and punctuation out."""
    words: list[tuple[str, list[int]]] = []
    for i, piece in enumerate(pieces):
        if piece.startswith("##") and words:
            words[-1] = (words[-1][0] + piece[2:], [*words[-1][1], i])
        else:
            words.append((piece, [i]))
    return [rows for word, rows in words if any(c.isalnum() for c in word) and word.lower() not in STOPWORDS]


def stage2_features(first: np.ndarray, align: np.ndarray) -> np.ndarray:
    """Stage 2's inputs for the aligned candidates: stage-1 logit and the alignment, with the question's best."""
    return np.column_stack([first, first - first.max(), align, align[:, 0] - align[:, 0].max()])


def merge_logits(first: np.ndarray, top: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One logit per candidate: stage 2's for the aligned `top`, and below all of them stage 1's order for the
    rest."""
    logits = float(second.min()) - 1.0 - (first.max() - first)
    logits[top] = second
    return logits


# What the calibrated confidence looks at: the best candidate's final logit and its lead over the runner-up,
# whether it holds the question's names, numbers and rarest words, how well the question's words align, and
# whether it says the opposite of what is asked (`contrast`).
_TOP_FEATURES = ("cos_max", "coverage_near", "names_near", "names_passage", "has_names", "values_missing",
                 "missing_top", "unknown", "head_near", "name_share")
ANSWERABILITY_FEATURES = ("best", "margin", *_TOP_FEATURES, "align_mean", "align_min", "align_low", "reader",
                          "negated", "opposite", "type_found")
# The values that answer each kind of question (`SENTENCE_TYPES`): a year for "when", a count, amount or share for
# "how many", a name the question does not give for "who" and "where"; other kinds ask for no typed value.
_ANSWER_VALUES = {"date": ("year",), "number": ("number", "percent"), "person": ("new_name",),
                  "place": ("new_name",)}


def type_found(row: np.ndarray) -> float:
    """1 when a stage-1 feature row's sentence holds a value of the kind its question asks for (a year for "when",
    a number for "how many", a new name for "who"/"where"), or the question asks for no typed value; else 0."""
    qtype = next((q for q in QTYPES if row[FEATURES.index(f"q_{q}")] > 0), "other")
    wanted = _ANSWER_VALUES.get(qtype)
    if not wanted:
        return 1.0
    return float(any(row[FEATURES.index(f"{qtype}*{s}")] > 0 for s in wanted))


def best_candidate(logits: np.ndarray) -> int:
    """The candidate the answer would quote: the highest final logit (the first of equals)."""
    return int(np.argsort(-logits, kind="stable")[0])


def answerability_features(logits: np.ndarray, features: np.ndarray, align: np.ndarray, found: Contrast,
                           reader: float = 0.0) -> np.ndarray:
    """Inputs of the confidence model for one question: `logits` of its candidates (final stage), `features`
    their stage-1 feature matrix, `align` the alignment of each candidate (zeros where not aligned), `found` the
    `contrast` of the best candidate with the question, `reader` the pair reader's logit for the question against
    the best candidate (`reading.reader`)."""
    order = np.argsort(-logits, kind="stable")
    best = float(logits[order[0]])
    margin = best - float(logits[order[1]]) if len(order) > 1 else 5.0
    top = features[order[0]]
    return np.array([best, min(margin, 5.0), *(float(top[FEATURES.index(n)]) for n in _TOP_FEATURES),
                     *align[order[0]].tolist(), reader, *found.features, type_found(top)])


def log1p(x: float) -> float:
    return math.log1p(max(0.0, x))
