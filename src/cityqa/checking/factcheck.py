"""Fact-check mode: is a claim supported by the documents, contradicted by them, or not in them?

No language model is involved. A paragraph is split into atomic claims (`split_claims`). For each claim the
hybrid retriever and the answer extractor propose candidate evidence sentences (and pairs of neighbouring
sentences, for facts spread over two). Each candidate is compared with the claim (`compare`) in two ways:

* typed values: dates, years and decades, counts ("four of the six", "all six"), ranks ("second-largest" vs
  "largest"), numbers (digits or words, so "four" == "4"), places by kind (city, country, other place; see
  `entities.Gazetteer`), capitalised names, organisations and titles, and negation ("does not have" vs "has").
  A claim value is *matched* when the candidate (or, for names and places, the passage around it) has it; a
  *mismatch* when the candidate states a different value of the same kind in its place; else *unverified*;
* the other content words, aligned through WordNet (`align`): matched, replaced by another word in the same slot
  (a conflict, which counts as a mismatch), or missing.

The verdict then rests on the candidate that lines up best:

* supported     — nothing mismatched, unverified, conflicting or missing, and the claim's own wording (apart from
                  its values) largely present (`SUPPORT_PREDICATE`); for a pair, neither sentence alone states
                  something else in the claim's slots;
* contradicted  — some value, word or the polarity differs and the candidate is clearly about the same fact:
                  nearly all the claim's other words are present (`CONTRADICT_OVERLAP`, `CONTRADICT_PREDICATE`);
* not_found     — no candidate is close enough to be about the same fact.

Thresholds were calibrated on tests/gold/claims.jsonl (see the constants); the held-out claim files are scored
only.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..answering.answer import Extractor, Scored, citation, opens_with_pronoun
from ..documents.chunking import split_sentences
from ..documents.entities import FULL_DATE, MONTH_YEAR, MONTHS, NUMBER_WORDS, YEAR, Gazetteer, iso_date, place_spans
from ..documents.text import STOPWORDS, content_terms, fold, same_token, stem, words
from ..reading.align import Alignment, WordConflict, align, lexicon
from ..reading.reader import PairReader
from ..types import Chunk, Citation, Mark, Mismatch, Verdict, VerdictLabel

if TYPE_CHECKING:
    from ..answering.retrieve import Retriever
    from ..index.embeddings import Embedder
    from ..index.nodes import NodeStore


class Evidence(Protocol):
    """What the checker reads evidence from: one index generation's retriever, answer extractor, node store
    and places (an `Assistant`'s engine)."""

    @property
    def retriever(self) -> Retriever: ...

    @property
    def extractor(self) -> Extractor: ...

    @property
    def nodes(self) -> NodeStore: ...

    @property
    def places(self) -> Gazetteer: ...


class Checkable(Protocol):
    """An assistant the checker can use (`Assistant` is one): an embedder and an open index generation."""

    embedder: Embedder

    @property
    def engine(self) -> Evidence: ...

# ------------------------------------------------------------------ thresholds (calibrated on the gold claims)

RETRIEVE_K = 8  # passages retrieved per claim
CANDIDATES = 12  # best-ranked sentences examined per claim (each also paired with its neighbours)
# Supported needs the claim's non-value wording to be present in the evidence. Paraphrased supported gold claims
# (say "the post dates back to" for "the position was first created") keep >= ~0.45 of it; not_found claims about
# a known person or place (say "Jane Doe traveled to Peru") share the names but little else (<= ~0.3).
SUPPORT_PREDICATE = 0.42
# Words gathered from two neighbouring sentences line up by chance more easily (a sentence on a city's "strategy"
# plus the next sentence's "government officials" covered 0.78 of an altered gold claim about its officials),
# so a pair must hold nearly all of it. The gold claims that need a pair (a fact and
# its date split by a line break, a statement and its exception) reach 1.0.
SUPPORT_PREDICATE_PAIR = 0.9
# Contradicted needs the evidence to be about the same fact: altered gold claims keep >= ~0.75 of their words
# once the differing values are set aside, while not_found claims that happen to hit a sentence with another
# value of the same kind (a claimed founding year vs a sentence dating a later event of the same kind) share much
# less.
CONTRADICT_OVERLAP = 0.72
CONTRADICT_PREDICATE = 0.40
# Each further differing value makes it less likely the evidence is about the same fact (altered gold claims
# differ in one value; not_found claims that hit a loosely related sentence often differ in two to four).
EXTRA_MISMATCH_PENALTY = 0.1
# A claim's value (a place, name, year…) that a candidate does not state costs its closeness as much as one it
# states otherwise: of two candidates as close in wording, the one that states the claim's values is the one about
# its fact (set with the gold claims' evidence: shown 0.960 → 0.967, `claims_heldout.jsonl` 0.913 → 0.957)
UNSTATED_PENALTY = EXTRA_MISMATCH_PENALTY
# Words a title or organisation phrase may be spread over beyond its own, said in another order ('of the')
REORDER_SLACK = 4
MIN_CLAIM_CHARS = 3
# A claim with one word replaced ('students' for 'business leaders') keeps nearly all its other words; a claim in
# its own words that happens to line up one word against another keeps fewer.
WORD_CONTRADICT_OVERLAP = 0.9
# Close match: every typed value of the claim (name, number, date, place, organisation or title, negation) is
# stated by the sentence, and most of its words are too; the rest the sentence says in other words, or not at
# all, and a person has to judge them (`Comparison.close`).
CLOSE_OVERLAP = 0.7
CLOSE_PREDICATE = 0.45
# The kinds of a word conflict (`align`) that are wording, not values: a word in the actor's or the object's slot
# said with another word ('employees' / 'staff'). An antonym ('opposite') is never a close match.
WORD_SLOTS = frozenset({"actor", "object"})
# The pair reader (`cityqa.reading.reader`) reads the claim against the best-aligned candidates (logits), only
# where the alignment cannot decide and only with every value that places the fact accounted for:
# * a claim whose values all stand in a sentence that the reader reads as stated from READ_CLOSE up is a close
#   match (its words said otherwise are listed to check);
# * a claim that differs from a sentence only in values is contradicted when the claim with the sentence's
#   values put in its place reads as stated from READ_REPAIR up (the same event, another date or number), even if
#   the two word the event differently.
# Never "supported": the reader does not show which words say the same, and on the dev claims no threshold made
# a true claim supported that the alignment had not. Both thresholds were chosen on the gold claims and the two
# dev files (`claims.jsonl`, `claims_heldout.jsonl`, `claims_heldout2.jsonl`): the highest accuracy with no altered
# claim supported and no more altered claims called close than without the reader (0.104 of the gold ones).
READ_CANDIDATES = 3
READ_CLOSE = 0.0
READ_REPAIR = 0.0

# ------------------------------------------------------------------ claim splitting

_FINITE_VERB = re.compile(
    r"\b(is|are|was|were|has|have|had|does|do|did|will|would|can|could|may|might|must|should|"
    r"\w{3,}ed)\b", re.I,
)
_SUBJECT_START = re.compile(r"^(?:the|a|an|its|their|his|her|this|these|those|it|they|he|she|[A-Z]\w*)\b")
_AND = re.compile(r",?\s+and\s+")


def split_claims(text: str) -> list[str]:
    """Atomic claims: one per sentence, and a sentence of two "and"-joined clauses into both clauses.

    A sentence is split at " and " only when both sides have a finite verb and the right side starts like a
    subject ("... in 2019 and Y has an office"), so lists ("Peru, Chile, and Spain") and shared
    subjects ("has an office and manager") stay whole.
    """
    text = " ".join(str(text or "").split())
    claims: list[str] = []
    for sentence in split_sentences(text, 0, len(text)):
        claims += _split_conjunction(text[sentence.start : sentence.end])
    return [c for c in claims if len(c) >= MIN_CLAIM_CHARS and any(ch.isalnum() for ch in c)]


def _split_conjunction(sentence: str) -> list[str]:
    for match in _AND.finditer(sentence):
        left, right = sentence[: match.start()], sentence[match.end() :]
        if _FINITE_VERB.search(left) and _FINITE_VERB.search(right) and _SUBJECT_START.match(right):
            if not right.endswith((".", "!", "?")):
                right += "."
            return [left.rstrip(",;") + ".", *_split_conjunction(right[0].upper() + right[1:])]
    return [sentence]


# ------------------------------------------------------------------ typed values


@dataclass(frozen=True)
class Value:
    """A typed value found in a text: `key` is what is compared, `surface` what is shown."""

    kind: str  # date, year, count, rank, number, place, name, entity
    key: Any
    surface: str
    start: int
    end: int
    group: str = ""  # place kind (city/country/place) — places compete only within a group


_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_UNITS = tuple(w for w, v in NUMBER_WORDS.items() if 1 <= v <= 9 and w not in {"single", "twice"})
_COMPOUND = rf"(?:{'|'.join(_TENS)})[-\s](?:{'|'.join(_UNITS)})"  # 'twenty-two', 'thirty first'
_NUM = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|" + _COMPOUND + "|" + "|".join(NUMBER_WORDS) + r")"
_COUNT = re.compile(r"\b" + _NUM + r"\s+(?:out\s+)?of\s+(?:the\s+)?" + _NUM + r"\b", re.I)
_ALL_COUNT = re.compile(r"\b(all|none of)\s+(?:the\s+)?" + _NUM + r"\b", re.I)
_ORDINALS = {w: v for w, v in NUMBER_WORDS.items() if w.endswith(("st", "nd", "rd", "th"))}
_RANK = re.compile(r"\b(?:(" + "|".join(_ORDINALS) + r")[-\s]|the\s+|’s\s+|'s\s+)(\w{2,}est)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.,])" + _NUM + r"(?![\w])", re.I)
_TOKEN = re.compile(r"[^\W_][\w’'.&-]*")
_CONNECTORS = {"of", "de", "van", "von", "for"}
_ORG_WORDS = {  # words that make a capitalised phrase an organisation, title or work rather than a person
    "university", "universities", "council", "office", "board", "network", "index", "department", "agency",
    "survey", "officer", "manager", "director", "commissioner", "port", "city", "association", "institution",
    "population", "program", "programs", "affairs", "component", "measure", "state", "league", "supervisors",
    "mayor", "deputy", "international", "global", "business", "trade", "commerce", "incubator", "research",
    "sports", "games", "links", "community", "brands", "brand", "recognition", "world", "national", "foundation",
    "center", "centre", "committee", "commission", "institute", "bank", "fund", "group", "company",
    "corporation", "union", "society", "museum", "airport", "festival", "conference", "summit", "olympic",
    "forum", "initiative", "project", "plan", "report", "book", "lord", "census", "data",
}
_TITLES = {"mayor", "lord", "deputy", "director", "commissioner", "governor", "president", "senator", "dr", "mr", "ms"}


def number_value(token: str) -> float | None:
    """'7', '2,000', 'seven', 'twenty-two' or 'Seventh' as a number; None when it is not one."""
    token = token.lower().replace(",", "")
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    tens, _, unit = token.replace(" ", "-").partition("-")
    if tens in _TENS and unit in _UNITS:
        return float(NUMBER_WORDS[tens] + NUMBER_WORDS[unit])
    try:
        return float(token)
    except ValueError:
        return None


def extract_values(text: str, gazetteer: Gazetteer | None = None) -> list[Value]:
    """The typed values of `text`, each span counted once (dates before years, counts before numbers…). Places
    are those `gazetteer` knows (the general gazetteer by default; an assistant's also knows its documents')."""
    values: list[Value] = []
    taken: list[tuple[int, int]] = []

    def add(value: Value) -> None:
        if not any(value.start < e and s < value.end for s, e in taken):
            values.append(value)
            taken.append((value.start, value.end))

    for m in (*FULL_DATE.finditer(text), *MONTH_YEAR.finditer(text)):
        add(Value("date", iso_date(m), m.group(0), m.start(), m.end()))
    for m in _COUNT.finditer(text):
        part, whole = number_value(m.group(1)), number_value(m.group(2))
        if part is not None and whole is not None and not YEAR.fullmatch(m.group(2)):
            add(Value("count", (part, whole), m.group(0), m.start(), m.end()))
    for m in _ALL_COUNT.finditer(text):
        whole = number_value(m.group(2))
        if whole is not None and not YEAR.fullmatch(m.group(2)):
            part = whole if m.group(1).lower() == "all" else 0.0
            add(Value("count", (part, whole), m.group(0), m.start(), m.end()))
    for m in _RANK.finditer(text):
        rank = float(_ORDINALS[m.group(1).lower()]) if m.group(1) else 1.0
        add(Value("rank", (m.group(2).lower(), rank), m.group(0).removeprefix("the ").strip(), m.start(), m.end()))
    for m in YEAR.finditer(text):
        add(Value("year", m.group(0), m.group(0), m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        number = number_value(m.group(1))
        if number is not None:
            add(Value("number", number, m.group(0), m.start(), m.end()))
    for start, end, kind in place_spans(text, gazetteer):
        name = text[start:end]
        add(Value("place", fold(name), name, start, end, kind))
    for value in _phrases(text, taken):
        add(value)
    return sorted(values, key=lambda v: v.start)


def _phrases(text: str, taken: list[tuple[int, int]]) -> list[Value]:
    """Runs of capitalised words (joined by 'of', 'de'…): person names, titles, organisations, works."""
    runs: list[list[re.Match[str]]] = []
    current: list[re.Match[str]] = []
    previous_end = 0
    tokens = [m.group(0) for m in _TOKEN.finditer(text)]
    for i, m in enumerate(_TOKEN.finditer(text)):
        if current and text[previous_end : m.start()].strip():  # punctuation between words ends a run
            runs.append(current)
            current = []
        previous_end = m.end()
        token = m.group(0).rstrip(".")
        blocked = any(m.start() < e and s < m.end() for s, e in taken)
        capital = token[:1].isupper() and not blocked
        initial = i == 0 or text[: m.start()].rstrip().endswith((".", ":", "—", ";"))
        if capital and initial and _sentence_opener(token, tokens[i + 1] if i + 1 < len(tokens) else None):
            capital = False
        if capital and token.lower() in MONTHS:
            capital = False
        if capital or (current and token.lower() in _CONNECTORS and not blocked):
            current.append(m)
        else:
            runs.append(current)
            current = []
    runs.append(current)
    values: list[Value] = []
    for run in runs:
        while run and run[-1].group(0).lower() in _CONNECTORS:
            run = run[:-1]
        if not run:
            continue
        start, end = run[0].start(), run[-1].end()
        surface = re.sub(r"['’]s$", "", text[start:end].rstrip("."))
        tokens = words(surface)
        if not tokens:
            continue
        kind = "name" if 2 <= len(tokens) <= 4 and not set(tokens) & _ORG_WORDS - _TITLES else "entity"
        values.append(Value(kind, tuple(tokens), surface, start, start + len(surface)))
    return values


# English prepositions and conjunctions that open sentences ('Among the nine cities…', 'Per the survey…'); closed
# word classes of the language, which WordNet (nouns, verbs, adjectives, adverbs only) does not list
_CLOSED_CLASS = frozenset("""although amid amidst among amongst and besides but despite however moreover nevertheless
    notwithstanding per since though thus unless unlike upon via whereas whether within yet""".split())


def _sentence_opener(token: str, following: str | None) -> bool:
    """Whether a capitalised word opening a sentence is an ordinary word there, not the start of a name: a
    function word, or an adverb, adjective or verb not followed by another capitalised word ('Back in the 1950s',
    'Even though…'; but 'New Haven', 'Global Affairs Survey' stay names)."""
    lower = token.lower()
    if lower in STOPWORDS or lower in _CLOSED_CLASS:
        return True
    kind = lexicon().pos(lower)
    return kind in {"r", "a", "v"} and not (following and following[:1].isupper())


# ------------------------------------------------------------------ comparing a claim with one candidate


@dataclass
class Text:
    """A text prepared for comparison: its tokens, stems and typed values."""

    text: str
    tokens: list[str]
    terms: set[str]
    values: list[Value]

    @classmethod
    def of(cls, text: str, gazetteer: Gazetteer | None = None) -> Text:
        return _prepare(text, gazetteer)


@lru_cache(maxsize=4096)
def _prepare(text: str, gazetteer: Gazetteer | None = None) -> Text:
    """Cached: the same passages come back for claim after claim. Callers must not mutate the result."""
    return Text(text, words(text), set(content_terms(text)), extract_values(text, gazetteer))


@dataclass
class Comparison:
    """How one claim lines up with one candidate evidence text."""

    mismatches: list[Mismatch] = field(default_factory=list)
    unverified: list[Value] = field(default_factory=list)
    overlap: float = 0.0  # share of the claim's words (bar mismatched values) found in the evidence
    predicate: float = 0.0  # share of the claim's non-value words found in the evidence
    words: Alignment = field(default_factory=Alignment)  # the claim's other content words against the evidence

    @property
    def supports(self) -> bool:
        return (not self.mismatches and not self.unverified and not self.words.missing and not self.words.unsure
                and self.predicate >= SUPPORT_PREDICATE)

    @property
    def close(self) -> bool:
        """Every typed value agrees (none differs, none is missing) and most of the claim's words are stated; some
        words are not matched, or are said differently in their slot."""
        values_differ = any(m.kind not in WORD_SLOTS for m in self.mismatches)
        return (not values_differ and not self.unverified and self.overlap >= CLOSE_OVERLAP
                and self.predicate >= CLOSE_PREDICATE)

    @property
    def unmatched(self) -> list[tuple[str, str]]:
        """The claim's words the evidence does not state as they are, with what it says in their slot."""
        pairs = [(c.claim_text, c.evidence_text) for c in self.words.conflicts if c.kind in WORD_SLOTS]
        pairs += [(c.claim_text, c.evidence_text) for c in self.words.unsure]
        return pairs + [(t.surface, "") for t in self.words.missing]

    @property
    def blocking(self) -> list[Value]:
        """Unverified values that mean the evidence may be about another fact (a place, a year, a number)."""
        return [v for v in self.unverified if v.kind not in {"name", "entity"}]

    @property
    def contradicts(self) -> bool:
        extra = EXTRA_MISMATCH_PENALTY * max(0, len(self.mismatches) - 1)
        return (
            bool(self.mismatches) and not self.blocking and self.overlap - extra >= CONTRADICT_OVERLAP
            and self.predicate >= CONTRADICT_PREDICATE and self._word_conflicts_alone
        )

    @property
    def _word_conflicts_alone(self) -> bool:
        """A replaced word contradicts only as the one difference: a claim that differs in several words says
        the same thing in its own words more often than it swaps one ('extra money from a federal program' /
        'additional funding from a federal initiative')."""
        words = self.words
        return not words.conflicts or (len(self.mismatches) == 1 and self.overlap >= WORD_CONTRADICT_OVERLAP)


@lru_cache(maxsize=16384)
def _terms(text: str) -> tuple[str, ...]:
    return tuple(content_terms(text))


@lru_cache(maxsize=16384)
def _words(text: str) -> tuple[str, ...]:
    return tuple(words(text))


def _reordered(hay: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether every content word of a title or organisation phrase of three or more stands within one short
    stretch of `hay`, in any order: a title put after the name ('Port of Alder Commissioner Ada Lind' / 'Ada
    Lind, Commissioner of the Port of Alder'). The stretch is the phrase's length plus REORDER_SLACK words."""
    wanted = [w for w in needle if w not in STOPWORDS]
    if len(wanted) < 3:
        return False
    width = len(wanted) + REORDER_SLACK
    return any(all(any(same_token(h, w) for h in hay[i : i + width]) for w in wanted)
               for i in range(max(1, len(hay) - width + 1)))


def _contains(hay: Sequence[str], needle: Sequence[str], same: Callable[[str, str], bool] = same_token) -> bool:
    n = len(needle)
    return n > 0 and any(
        all(same(hay[i + j], needle[j]) for j in range(n)) for i in range(len(hay) - n + 1)
    )


def _term_present(term: str, terms: Iterable[str]) -> bool:
    return any(same_token(term, t) for t in terms)


def _only_derived(value: Value, claim: Text, evidence: Text) -> bool:
    """Whether a name is in the evidence only as a related word ('Azerbaijani' for 'Azerbaijan') while another
    name stands in its slot ('support of Armenian civilians' against 'support of Azerbaijani civilians')."""
    if value.kind not in {"place", "name", "entity"}:
        return False
    if _contains(evidence.tokens, _words(value.surface), operator.eq):
        return False
    return any(_same_slot(claim, value, evidence, v) for v in _competitors(value, claim, evidence))


def _present(value: Value, evidence: Text) -> bool:
    """Whether the evidence states `value` (same key; for names, places and phrases: same words)."""
    if value.kind in {"place", "name", "entity"}:
        words = _words(value.surface)
        return _contains(evidence.tokens, words) or (value.kind == "entity" and _reordered(evidence.tokens, words))
    if value.kind == "count":
        return any(v.kind == "count" and v.key == value.key for v in evidence.values)
    if value.kind == "number":
        return any(v.kind in {"number", "count"} and value.key in _numbers_of(v) for v in evidence.values)
    if value.kind == "year":
        return any(v.kind in {"year", "date"} and value.key in v.surface for v in evidence.values)
    if value.kind == "date":  # 'November 2023' is stated by 'November 13, 2023'
        return any(v.kind == "date" and v.key.startswith(value.key) for v in evidence.values)
    return any(v.kind == value.kind and v.key == value.key for v in evidence.values)


def _numbers_of(value: Value) -> tuple[float, ...]:
    return value.key if value.kind == "count" else (value.key,)


def _competitors(value: Value, claim: Text, evidence: Text) -> list[Value]:
    """Values of the same kind the evidence states where the claim states `value`, that the claim does not."""
    if value.kind == "rank":
        same = [v for v in evidence.values if v.kind == "rank" and v.key[0] == value.key[0]]
    elif value.kind == "place":
        same = [v for v in evidence.values if v.kind == "place" and v.group == value.group]
    elif value.kind == "name":
        same = [v for v in evidence.values if v.kind == "name"]
    elif value.kind == "entity":  # organisations and titles compete when alike: 'University of X' vs 'Y University'
        mine = set(_words(value.surface))
        same = [v for v in evidence.values if v.kind == "entity" and (
            mine & set(_words(v.surface)) or len(mine) == len(_words(v.surface)) == 1)]
    elif value.kind == "count":
        same = [v for v in evidence.values if v.kind == "count" and v.key[1] == value.key[1]]
    elif value.kind in {"year", "date"}:
        named = _named_after(claim, value)  # '2030 Winter Games' competes only with another year of those Games
        same = [v for v in evidence.values if v.kind in {"year", "date"}
                and (not named or named & _named_after(evidence, v))]
    else:
        unit = _unit(claim.text, value)
        same = [v for v in evidence.values if v.kind in {"number", "count"}
                and (v.kind == "count" or not unit or not (u := _unit(evidence.text, v)) or unit & u)]
    return [v for v in same if not _present(v, claim)]


def _word_before(text: str, start: int) -> tuple[str, ...]:
    """The word before `start`, skipping articles ('at the University' -> 'at')."""
    return tuple(w for w in _words(text[:start]) if w not in {"the", "a", "an"})[-1:]


def _same_slot(claim: Text, value: Value, evidence: Text, other: Value) -> bool:
    """Whether two names stand in the same place in their sentences: the same word right before or after
    ('from Peru' / 'from Chile', 'Springfield banned' / 'Shelbyville banned')."""
    before = _word_before(claim.text, value.start), _word_before(evidence.text, other.start)
    after = _words(claim.text[value.end :])[:1], _words(evidence.text[other.end :])[:1]
    return any(a and a == b for a, b in (before, after))


def _named_after(text: Text, value: Value) -> set[str]:
    """The words of the name a year directly qualifies ('2015 Transit Survey' -> transit, survey), else empty."""
    for other in text.values:
        if other.kind in {"name", "entity"} and 0 <= other.start - value.end <= 1:
            return set(words(other.surface))
    return set()


def _unit(text: str, value: Value) -> set[str]:
    """What a number counts: the first two content words after it ('four trade envoys abroad' -> trade, envoy)."""
    return set(content_terms(" ".join(words(text[value.end :])[:3]))[:2])


def _closest(value: Value, claim: Text, options: list[Value], evidence: Text) -> Value:
    """The competitor most likely standing where the claim's value stands: shared words, then nearness to the
    claim words next to the value (found again in the evidence), then relative position."""
    where = value.start / max(1, len(claim.text))
    anchors = _anchors(value, claim, evidence)

    def rank(v: Value) -> tuple[int, int, float, float]:
        shared = len(set(_words(v.surface)) & set(_words(value.surface)))
        near = min((abs(v.start - a) if a >= v.end else abs(a - v.end) for a in anchors), default=0)
        return (-shared, v.kind != value.kind, near, abs(v.start / max(1, len(evidence.text)) - where))

    return min(options, key=rank)


def _anchors(value: Value, claim: Text, evidence: Text) -> list[int]:
    """Evidence offsets of the content words right before and after `value` in the claim."""
    before = [w for w in words(claim.text[: value.start]) if w not in STOPWORDS][-1:]
    after = [w for w in words(claim.text[value.end :]) if w not in STOPWORDS][:1]
    folded = fold(evidence.text)
    found: list[int] = []
    for word, side in [*((w, "before") for w in before), *((w, "after") for w in after)]:
        m = re.search(r"\b" + re.escape(word[: max(4, len(word) - 2)]), folded)
        if m:
            found.append(m.end() if side == "before" else m.start())
    return found


def compare(
    claim: Text, evidence: Text, context: Text | None = None, idf: dict[str, float] | None = None,
    heading: set[str] | None = None, gazetteer: Gazetteer | None = None, title: str = "",
) -> Comparison:
    """Align `claim` with `evidence` (a sentence or two). `context` is the surrounding passage, where names and
    places the evidence leaves implicit ('It is a coastal city…') are looked up; `heading` its section's words;
    `gazetteer` the places known (for the names an exclusion lists); `title` the innermost section title, whose
    opposite words ('less' / 'More') keep a claim that leans on the heading's words from being supported."""
    result = Comparison()
    settled = _compare_values(result, claim, evidence, context)
    conflicting = _compare_words(result, claim, evidence, heading or set(), title)
    negation = negation_mismatch(claim.text, evidence.text, _value_terms(claim) | _value_terms(evidence), gazetteer)
    if negation:
        result.mismatches.append(negation)
    result.overlap, result.predicate = _overlaps(claim, evidence, context, settled, idf or {}, heading or set(),
                                                 conflicting)
    return result


def _compare_values(result: Comparison, claim: Text, evidence: Text, context: Text | None) -> list[Value]:
    """File each typed value of the claim under `result` (stated, mismatched or unverified); returns the
    mismatched ones."""
    settled: list[Value] = []
    for value in claim.values:
        if _present(value, evidence) and not _only_derived(value, claim, evidence):
            continue
        others = _competitors(value, claim, evidence)
        rivals = others
        if value.kind in {"place", "name", "entity"}:  # 'a partner city in Peru' is not refuted by 'from Chile'
            rivals = [v for v in others if _same_slot(claim, value, evidence, v)]
        if value.kind == "entity" and not rivals:  # any organisation or title standing where the claim's stands:
            rivals = [v for v in evidence.values  # 'the Springfield [Chamber of Commerce] passed' / '[City Council]'
                      if v.kind == "entity" and not _present(v, claim) and _same_slot(claim, value, evidence, v)]
        if rivals:
            source = _closest(value, claim, rivals, evidence)
            kind = _kind(value, claim.text)
            result.mismatches.append(Mismatch(claim=_shown(value), source=_shown(source), kind=kind))
            settled.append(value)
        elif value.kind in {"place", "name", "entity"} and not others and context and _present(value, context):
            continue  # the sentence names none: it refers back to it ('It is a coastal city…')
        else:
            result.unverified.append(value)
    _qualifiers_of_mismatches(result, claim, settled)
    return settled


_QUALIFIES = re.compile(r"^,\s*$")


def _qualifiers_of_mismatches(result: Comparison, claim: Text, settled: list[Value]) -> None:
    """A place that only qualifies a differing place ('Bangkok, *Thailand*' for 'Ho Chi Minh City, Vietnam') is
    part of that difference, not a further value the evidence leaves unstated."""
    for value in [v for v in result.unverified if v.kind == "place"]:
        head = next((u for u in settled if u.kind == "place" and _QUALIFIES.match(claim.text[u.end : value.start])),
                    None)
        if head is None:
            continue
        result.unverified.remove(value)
        settled.append(value)
        for i, m in enumerate(result.mismatches):
            if m.claim == _shown(head):
                result.mismatches[i] = Mismatch(claim=claim.text[head.start : value.end], source=m.source, kind=m.kind)


# Values a noun or adjective is never said "in place of": a claim word the alignment sets against one of these is
# not a second value but a word the evidence does not state ('Seoul was the *destination* of the fourth mission'
# against '…the fourth mission to Seoul *in 2019*': a reordering, not a swap)
_NUMERIC = frozenset({"date", "year", "number", "count", "rank"})


def _compare_words(result: Comparison, claim: Text, evidence: Text, heading: set[str], title: str) -> set[str]:
    """Align the claim's other words with the evidence (`align`); a conflicting word is a mismatch. Names and
    places of the evidence never fill a word's slot (they are compared as values). A conflict that only restates
    a differing value is not a second difference: the alignment set claim words against the value the evidence
    has in their place ('component *based* on 2010 Census data' / '2020 Census data' differ in the year alone);
    set against a date or number the claim does not differ in, the words are missing from the evidence, not in
    conflict with it. Returns the stems of every conflicting claim word, those restating a value included: they
    are set aside from the overlap, like the values'."""
    result.words = align(claim.text, evidence.text, [(v.start, v.end) for v in claim.values], frozenset(heading),
                         [(v.start, v.end) for v in evidence.values if v.kind in {"place", "name"}])
    values = [set(_words(m.source)) for m in result.mismatches if m.source]  # only values' mismatches so far
    numeric = [(v.start, v.end) for v in evidence.values if v.kind in _NUMERIC]

    def restates(conflict: WordConflict) -> bool:
        own = set(_words(conflict.evidence_text))
        return conflict.kind in WORD_SLOTS and bool(own) and any(own <= value for value in values)

    def against_a_number(conflict: WordConflict) -> bool:
        return conflict.kind in WORD_SLOTS and all(any(a <= t.start and t.end <= b for a, b in numeric)
                                                   for t in conflict.evidence)

    restated = [c for c in result.words.conflicts if restates(c)]
    unstated = [c for c in result.words.conflicts if c not in restated and against_a_number(c)]
    result.words.missing += [t for c in unstated for t in c.claim if lexicon().pos(t.norm) in {"n", "a"}]
    conflicting = {t.stem for c in result.words.conflicts if c not in unstated for t in c.claim}
    result.words.conflicts = [c for c in result.words.conflicts if c not in restated and c not in unstated]
    result.mismatches += [Mismatch(claim=c.claim_text, source=c.evidence_text, kind=c.kind)
                          for c in result.words.conflicts]
    if title and heading:
        result.words.unsure += _title_opposites(claim.text, title, tuple((v.start, v.end) for v in claim.values))
    return conflicting


@lru_cache(maxsize=4096)
def _title_opposites(claim: str, title: str, skip: tuple[tuple[int, int], ...]) -> tuple[WordConflict, ...]:
    """Antonyms of claim words in a section title; slots in a title are loose, so only these count. Cached: every
    candidate of one section has the same title."""
    return tuple(c for c in align(claim, title, skip).conflicts if c.kind == "opposite")


def _shown(value: Value) -> str:
    if value.kind == "name":
        tokens = value.surface.split()
        while len(tokens) > 2 and tokens[0].lower() in _TITLES:
            tokens = tokens[1:]
        return " ".join(tokens)
    return value.surface


def _kind(value: Value, text: str = "") -> str:
    """The mismatch kind shown: a one-word name qualifying a common noun ('Iranian protesters', 'Armenian
    civilians') names a group of people or things."""
    if value.kind == "entity" and " " not in value.surface and re.match(r"\s+[a-z]", text[value.end :]):
        return "group"
    return {"year": "date", "rank": "number"}.get(value.kind, value.kind)


def _overlaps(
    claim: Text, evidence: Text, context: Text | None, settled: list[Value], idf: dict[str, float],
    heading: set[str], conflicting: set[str],
) -> tuple[float, float]:
    """(overlap, predicate): idf-weighted shares of claim words present in the evidence (see `Comparison`);
    `conflicting` are the stems of claim words the evidence replaces, set aside like differing values."""
    value_terms = {t for v in claim.values for t in _terms(v.surface)}
    settled_terms = {t for v in settled for t in _terms(v.surface)} | conflicting
    found = evidence.terms | heading | ({t for t in context.terms if t in value_terms} if context else set())
    weight = {t: idf.get(t, 1.0) for t in claim.terms}

    def share(terms: set[str]) -> float:
        total = sum(weight[t] for t in terms)
        if not total:
            return 1.0
        return sum(weight[t] for t in terms if _term_present(t, found)) / total

    return share(claim.terms - settled_terms), share(claim.terms - value_terms)


# ------------------------------------------------------------------ negation

_NEGATION_CUE = re.compile(
    r"(?<!\bor )(?<!\bif )\b(not(?! only)|no|never|without|lack(?:s|ed|ing)?|shortages?|absence|none|neither|nor"
    r"|cannot)\b|n['’]t\b",
    re.I,
)  # 'little or no cost' and 'not only' are not negations
_EXCLUSION = re.compile(r"\b(all but|except|other than|apart from|exceptions?)\b", re.I)
_LISTED_EXCLUSION = re.compile(r"\(?\b(?:all but|except(?: for)?|other than|apart from)\b[^().;:]*\)?", re.I)
_SCOPE_END = re.compile(r"[;:.()—–]|\bbut\b")
_LIST_ITEM_WORDS = 5


def negated_terms(text: str) -> set[str]:
    """Content stems under a negation: from each cue ('not', 'without', "n't"…) to the end of its phrase."""
    terms: set[str] = set()
    for cue in _NEGATION_CUE.finditer(text):
        terms |= set(content_terms(_scope(text[cue.end() :])))
    return terms


def _scope(rest: str) -> str:
    """The phrase a negation governs: up to the clause end, running on through a list ('without a library,
    museum, or park') but not into a new clause (a comma followed by a longer or verbal segment)."""
    stop = _SCOPE_END.search(rest)
    parts = rest[: stop.start() if stop else len(rest)].split(",")
    kept = [parts[0]]
    for part in parts[1:]:
        if len(part.split()) > _LIST_ITEM_WORDS or _FINITE_VERB.search(part):
            break
        kept.append(part)
    return ",".join(kept)


def _value_terms(text: Text) -> set[str]:
    return {t for v in text.values for t in _terms(v.surface)}


def negation_mismatch(
    claim: str, evidence: str, ignore: set[str] | frozenset[str] = frozenset(), gazetteer: Gazetteer | None = None
) -> Mismatch | None:
    """A polarity difference about shared words: 'has an office' vs 'does not have an office'. Words in `ignore`
    (names, places, numbers) do not count: 'Greater Springfield' is not what 'a lack of policy in Springfield' negates.

    Exclusions ("all but X", "except X") flip polarity for part of a sentence only, so sentences with one are
    not compared. Evidence of several sentences is compared sentence by sentence.
    """
    if _EXCLUSION.search(claim):
        return None
    for sentence in split_sentences(evidence, 0, len(evidence)):
        found = _sentence_negation(claim, evidence[sentence.start : sentence.end], ignore, gazetteer)
        if found:
            return found
    return None


def _sentence_negation(
    claim: str, evidence: str, ignore: set[str] | frozenset[str], gazetteer: Gazetteer | None = None
) -> Mismatch | None:
    """Polarity of one evidence sentence against the claim. An exclusion listing names ('four of the six
    (all but Springfield and Ogdenville) have a trade envoy') is cut out, and a claim about the excluded names
    must then have the opposite polarity of the rest of the sentence."""
    exclusion = _LISTED_EXCLUSION.search(evidence)
    flipped = False
    if exclusion:
        excluded = [v for v in extract_values(exclusion.group(0), gazetteer) if v.kind in {"place", "name"}]
        if not excluded:
            return None
        flipped = any(_contains(_words(claim), _words(v.surface)) for v in excluded)
        evidence = evidence[: exclusion.start()] + evidence[exclusion.end() :]
    elif _EXCLUSION.search(evidence):  # 'There are exceptions…': cannot tell what is excepted
        return None
    c_terms, e_terms = set(content_terms(claim)) - ignore, set(content_terms(evidence)) - ignore
    shared = c_terms & e_terms
    if not shared:
        return None
    c_neg, e_neg = negated_terms(claim) - ignore, negated_terms(evidence) - ignore
    claim_negated, evidence_negated = bool(c_neg & shared), bool(e_neg & shared)
    if claim_negated != (evidence_negated != flipped):
        source = exclusion.group(0).strip(" ()") if flipped and exclusion else _polarity_phrase(evidence, e_neg)
        return Mismatch(claim=_polarity_phrase(claim, c_neg), source=source, kind="negation")
    return None


def _polarity_phrase(text: str, negated: set[str]) -> str:
    """The negated phrase of `text`, or 'affirmative' when it negates nothing."""
    cue = _NEGATION_CUE.search(text)
    if not cue or not negated:
        return "affirmative"
    start = text.rfind(" ", 0, max(0, cue.start() - 1)) + 1
    return " ".join(text[start : cue.end() + len(_scope(text[cue.end() :]))].split())


# ------------------------------------------------------------------ checking against the index


@dataclass
class Candidate:
    """A piece of evidence: one sentence or two neighbouring sentences of a passage."""

    scored: list[Scored]
    comparison: Comparison
    rank: int  # position of its first sentence in the extractor's ranking
    members: list[Comparison] = field(default_factory=list)  # each sentence alone, for a pair

    @property
    def consistent(self) -> bool:
        """Whether no sentence of it, read alone, states something else where the claim states its fact: two
        sentences together may cover every word of a claim that attaches one sentence's event to the other's
        group ('Armenian civilians' in one, 'Iranian citizens' in the next)."""
        return all(not m.mismatches and not m.words.conflicts and not m.words.unsure for m in self.members)

    @property
    def one_statement(self) -> bool:
        """Two sentences of which the second refers back to the first (`refers_back`): one statement, which may
        make a close match as one sentence does ('The city maintains seven sister-city relationships. The newest,
        with Accra, …, was signed in 2022.' for a claim about the sister-city agreement with Accra). Not a
        contradiction: a value or a negation of the other sentence then stands against the claim (on the gold
        claims two true ones were contradicted so)."""
        return len(self.scored) == 2 and refers_back(*(s.hit.chunk.sentence_text(s.sentence) for s in self.scored))

    def joins(self, claim: str) -> bool:
        """Whether two sentences together state a claim that joins their facts ('from three in 2010 to seven in
        2024' over 'In 2010, three…' and 'In 2024, seven…'): each sentence alone differs from the claim only where
        it states another of the claim's own values (a number or a name the claim also gives), and says nothing
        else in a slot of the claim (unlike 'Karen Bass supported Iranian protesters' over her statement and the
        Board's resolution on Iranian citizens)."""
        if len(self.members) != 2:
            return False
        given = {w.lower() for w in _words(claim) if _value_word(w)}
        return all(
            not m.words.conflicts and not m.words.unsure
            and all(any(w.lower() in given for w in _words(x.source) if _value_word(w)) for x in m.mismatches)
            for m in self.members
        )

    @property
    def score(self) -> float:
        return self.scored[0].score


_DEFINITE = re.compile(r"^(?:The|This|These|That|Those)\s+([^\W\d_]+)(,?)")


def refers_back(first: str, second: str) -> bool:
    """Whether `second` (the sentence after `first`) names its subject only through `first`: it opens with a
    pronoun ('It employs…'), with a definite noun `first` uses ('…opened an office. The office reports…'), or with
    a definite superlative or ordinal standing for a noun of `first` ('…seven sister-city relationships. The
    oldest, with…'). English function words only."""
    if opens_with_pronoun(second):
        return True
    m = _DEFINITE.match(second)
    if not m:
        return False
    head = m.group(1).lower()
    if m.group(2) and (head.endswith("est") or head in _ORDINALS or head == "last"):
        return True
    return stem(head) in {stem(w) for w in words(first)}


def _value_word(word: str) -> bool:
    """A word that carries a value: a number (in digits or words) or a capitalised word (part of a name)."""
    return number_value(word) is not None or word[:1].isupper()


def check(assistant: Checkable, text: str | Sequence[str]) -> list[Verdict]:
    """Fact-check `text` (a claim, a paragraph, or several) against the indexed documents: one verdict per
    atomic claim, in order."""
    texts = [text] if isinstance(text, str) else list(text)
    return check_claims(assistant, [claim for t in texts for claim in split_claims(t)])


def check_claims(
    assistant: Checkable, claims: Sequence[str], progress: Callable[[int, int], None] | None = None
) -> list[Verdict]:
    """Verdicts on atomic claims as given (not split); their vectors are computed in one batch. `progress(done,
    total)` is called before each claim is checked (a long draft shows how far it got)."""
    if not claims:
        return []
    vectors = assistant.embedder.encode(list(claims))
    verdicts = []
    for done, (claim, vector) in enumerate(zip(claims, vectors, strict=True)):
        if progress is not None:
            progress(done, len(claims))
        verdicts.append(check_claim(assistant, claim, vector))
    return verdicts


def check_claim(assistant: Checkable, claim: str, vector: np.ndarray | None = None) -> Verdict:
    """The verdict on one atomic claim (`vector`: its embedding, when already computed)."""
    engine = assistant.engine
    if vector is None:
        vector = assistant.embedder.encode_one(claim)
    hits = engine.retriever.retrieve(claim, vector, RETRIEVE_K)
    ranked = engine.extractor.rank_by_similarity(claim, vector, hits)
    places = engine.places  # the general gazetteer plus the places the documents name
    prepared = Text.of(claim, places)
    candidates = _candidates(prepared, ranked[:CANDIDATES], engine.extractor.idf, engine.nodes.chunks, places)
    return _decide(claim, candidates, engine.extractor.reader)


def _candidates(
    claim: Text, ranked: list[Scored], idf: dict[str, float], chunks: Sequence[Chunk],
    gazetteer: Gazetteer | None = None,
) -> list[Candidate]:
    candidates: list[Candidate] = []
    contexts: dict[tuple[str, int], Text] = {}
    singles: dict[tuple[str, int], Comparison] = {}

    def comparison(chunk: Chunk, group: list[Scored]) -> Comparison:
        evidence = Text.of(_evidence_text(group), gazetteer)
        end = group[-1].sentence.end
        if (chunk.id, end) not in contexts:
            contexts[(chunk.id, end)] = Text.of(section_text_before(chunks, chunk, end), gazetteer)
        heading = set(content_terms(" ".join(chunk.section)))
        title = chunk.section[-1] if chunk.section else ""
        return compare(claim, evidence, contexts[(chunk.id, end)], idf, heading, gazetteer, title)

    def single(chunk: Chunk, one: Scored) -> Comparison:
        key = (chunk.id, one.sentence.start)
        if key not in singles:
            singles[key] = comparison(chunk, [one])
        return singles[key]

    for rank, scored in enumerate(ranked):
        chunk = scored.hit.chunk
        for group in _windows(scored, chunk):
            whole = single(chunk, group[0]) if len(group) == 1 else comparison(chunk, group)
            candidates.append(Candidate(group, whole, rank, [single(chunk, one) for one in group]))
    return candidates


def section_text_before(chunks: Sequence[Chunk], chunk: Chunk, end: int) -> str:
    """What evidence ending at `end` can refer back to ('It', 'the city'): its section heading and the section's
    text up to `end` (chunks of one section overlap, so each is appended from where the previous ended)."""
    parts = [" ".join(chunk.section)]
    covered = -1
    same = sorted((c for c in chunks if c.source == chunk.source and c.section == chunk.section), key=lambda c: c.start)
    for other in same:
        if other.start >= end:
            break
        begin = max(other.start, covered)
        parts.append(other.text[begin - other.start : min(other.end, end) - other.start])
        covered = max(covered, min(other.end, end))
    return "\n".join(parts)


def _windows(scored: Scored, chunk: Chunk) -> list[list[Scored]]:
    """The sentence alone, and with its previous and next sentence in the passage."""
    index = chunk.sentences.index(scored.sentence)
    groups = [[scored]]
    for other in (index - 1, index + 1):
        if 0 <= other < len(chunk.sentences):
            neighbour = Scored(scored.hit, chunk.sentences[other], scored.row, scored.score)
            groups.append([neighbour, scored] if other < index else [scored, neighbour])
    return groups


def _decide(claim: str, candidates: list[Candidate], reader: PairReader | None = None) -> Verdict:
    """Supported if some candidate supports the claim and none contradicts it more closely; else contradicted if
    one contradicts it; else what the pair reader settles (`readings`, `settle`); else close if one states every
    value and most words; else not found (with the closest candidate as the evidence looked at)."""
    supporting = [
        c for c in candidates
        if c.comparison.supports and c.consistent
        and (len(c.scored) == 1 or c.comparison.predicate >= SUPPORT_PREDICATE_PAIR)
    ]
    # a contradiction must come from one sentence: a value in one sentence and a differing value in the next are
    # usually about two different facts
    contradicting = [c for c in candidates if c.comparison.contradicts and len(c.scored) == 1]
    best_support = max(supporting, key=_strength, default=None)
    best_contra = max(contradicting, key=_strength, default=None)
    if best_support and not (best_contra and _strength(best_contra) > _strength(best_support)):
        comp = best_support.comparison
        return _verdict(claim, "supported", 0.5 + 0.5 * min(1.0, comp.predicate * best_support.score * 1.6),
                        best_support, [])
    if best_contra:
        comp = best_contra.comparison
        return _verdict(claim, "contradicted", 0.5 + 0.5 * comp.overlap * comp.predicate, best_contra, comp.mismatches)
    if reader is not None and (read := settle(claim, readings(reader, claim, candidates))):
        return read
    near = max((c for c in candidates
                if c.comparison.close and (len(c.scored) == 1 or c.one_statement or c.joins(claim))),
               key=_strength, default=None)
    if near:
        comp = near.comparison
        return _verdict(claim, "close", 0.5 * comp.overlap * comp.predicate, near, [], comp.unmatched)
    closest = max(candidates, key=_strength, default=None)  # the sentence lining up best, mismatches counted
    closeness = 0.5 * (closest.comparison.overlap + closest.comparison.predicate) if closest else 0.0
    return _verdict(claim, "not_found", max(0.05, 1.0 - closeness), closest, [])


def _evidence_text(group: Sequence[Scored]) -> str:
    """The text of one candidate's sentences, as compared and as read."""
    return " ".join(s.hit.chunk.sentence_text(s.sentence) for s in group)


def _repaired(claim: str, mismatches: Sequence[Mismatch]) -> str | None:
    """The claim with each differing value replaced by the source's: what it would say if it were about the
    sentence's own event (None when a value cannot be found in the claim as shown)."""
    out = claim
    for m in mismatches:
        at = out.lower().find(m.claim.lower())
        if at < 0 or not m.source:
            return None
        out = out[:at] + m.source + out[at + len(m.claim):]
    return out


def _value_mismatches(comp: Comparison) -> list[Mismatch]:
    """The mismatches that are values or meaning (a date, a number, a name, a negation, an opposite or a
    direction), not a word said otherwise in the actor's or the object's slot."""
    return [m for m in comp.mismatches if m.kind not in WORD_SLOTS]


def _readable_as_is(c: Candidate) -> bool:
    """The claim may be read against this candidate as it is: no value differs, none that places the fact (a
    year, a number, a place) is missing; words said otherwise are left to the reader. Two sentences only when
    neither says something else in the claim's slot (`Candidate.consistent`)."""
    comp = c.comparison
    return not _value_mismatches(comp) and not comp.blocking and (len(c.scored) == 1 or c.consistent)


def _readable_repaired(c: Candidate) -> bool:
    """The claim may be read with this sentence's values put in: one sentence, differing only in values."""
    comp = c.comparison
    return (len(c.scored) == 1 and bool(comp.mismatches) and len(_value_mismatches(comp)) == len(comp.mismatches)
            and not comp.blocking)


@dataclass
class Reading:
    """The pair reader's logit for the claim (as is, or `repaired` with the sentence's values) against one
    candidate."""

    candidate: Candidate
    repaired: bool
    logit: float


def readings(reader: PairReader, claim: str, candidates: list[Candidate]) -> list[Reading]:
    """The reader's logits, best first, for the best-aligned candidates that can settle the claim: those whose
    values all agree (the claim as is) and single sentences that differ only in values (the claim repaired)."""
    best = sorted(candidates, key=_strength, reverse=True)[:READ_CANDIDATES]
    texts, hypotheses, uses = [], [], []
    for c in best:
        hypothesis: str | None = None
        if _readable_as_is(c):
            hypothesis = claim
        elif _readable_repaired(c):
            hypothesis = _repaired(claim, c.comparison.mismatches)
        if hypothesis is not None:
            texts.append(_evidence_text(c.scored))
            hypotheses.append(hypothesis)
            uses.append((c, hypothesis != claim))
    logits = reader.logits(texts, hypotheses) if texts else np.zeros(0)
    found = [Reading(c, repaired, float(x)) for (c, repaired), x in zip(uses, logits, strict=True)]
    return sorted(found, key=lambda r: -r.logit)


def settle(claim: str, found: list[Reading], close: float = READ_CLOSE, repair: float = READ_REPAIR
           ) -> Verdict | None:
    """The verdict the readings settle (see READ_CLOSE), or None."""
    for r in found:
        comp, confidence = r.candidate.comparison, float(1 / (1 + np.exp(-r.logit)))
        if r.repaired and r.logit >= repair:
            return _verdict(claim, "contradicted", confidence, r.candidate, comp.mismatches)
        if not r.repaired and r.logit >= close:
            return _verdict(claim, "close", 0.5 * confidence, r.candidate, [], comp.unmatched)
    return None


def _strength(c: Candidate) -> tuple[float, float]:
    """How closely a candidate lines up with the claim; a single sentence beats an equally close pair, and of
    two equally close sentences the one differing in or leaving out fewer of the claim's values is likelier about
    the claim's fact (for a claim dated 2010, the sentence on 2010 that gives another count, not the one on 2024;
    for a claim about a delegation from a country, the sentence that names the country)."""
    comp = c.comparison
    closeness = round(comp.overlap + comp.predicate, 3) - EXTRA_MISMATCH_PENALTY * len(comp.mismatches) \
        - UNSTATED_PENALTY * len(comp.unverified)
    return (closeness - 0.02 * (len(c.scored) - 1), c.score)


def _verdict(claim: str, label: VerdictLabel, confidence: float, cand: Candidate | None, mismatches: list[Mismatch],
             unmatched: list[tuple[str, str]] | None = None) -> Verdict:
    evidence: list[Citation] = []
    if cand:
        evidence = [citation(n, s.hit.chunk, s.sentence, s.score) for n, s in enumerate(cand.scored, 1)]
    quotes = " ".join(c.quote for c in evidence)
    pairs = list(unmatched or [])
    # the differing values of a contradiction, or the words to check of a close match, are marked on both sides
    claim_marked = [m.claim for m in mismatches] + [c for c, _ in pairs]
    source_marked = [m.source for m in mismatches] + [s for _, s in pairs if s]
    return Verdict(claim=claim, verdict=label, confidence=round(min(1.0, confidence), 4),
                   evidence=evidence, mismatches=list(mismatches), unmatched=pairs,
                   claim_marks=marks(claim, quotes, claim_marked) if evidence else [],
                   evidence_marks=[marks(c.quote, claim, source_marked) for c in evidence])


_MARK_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def marks(text: str, other: str, conflicts: Sequence[str] = ()) -> list[Mark]:
    """Where `text` lines up with `other`: each of `conflicts` found in `text` (a differing value), and every
    content word of `text` that `other` has too (same stem or one a prefix of the other)."""
    found: list[Mark] = []
    lowered = text.lower()
    for phrase in conflicts:
        at = lowered.find(phrase.lower()) if phrase else -1
        if at >= 0 and not any(at < m.end and m.start < at + len(phrase) for m in found):
            found.append(Mark(at, at + len(phrase), "conflict"))
    theirs = set(content_terms(other))
    for word in _MARK_WORD.finditer(text):
        if any(word.start() < m.end and m.start < word.end() for m in found):
            continue
        terms = content_terms(word.group(0))
        if terms and _term_present(terms[0], theirs):
            found.append(Mark(word.start(), word.end(), "match"))
    return sorted(found, key=lambda m: m.start)


def format_verdict(verdict: Verdict) -> str:
    """Human-readable verdict: label and confidence, differing values, then the quoted evidence."""
    label = {"supported": "SUPPORTED", "close": "CLOSE MATCH", "contradicted": "CONTRADICTED",
             "not_found": "NOT FOUND in the documents"}
    lines = [f"Claim: {verdict.claim}", f"  {label[verdict.verdict]} (confidence {verdict.confidence:.2f})"]
    lines += [f"  ✗ {m.kind}: claim says “{m.claim}”, source says “{m.source}”" for m in verdict.mismatches]
    lines += [f"  ? check: “{claim}” ↔ “{source}”" if source else f"  ? check: “{claim}” (the source does not say it)"
              for claim, source in verdict.unmatched]
    heading = "Closest passage" if verdict.verdict == "not_found" else "Evidence"
    if verdict.evidence:
        lines.append(f"  {heading}:")
    lines += [f"   [{c.n}] “{' '.join(c.quote.split())}”\n       — {c.label} (chars {c.start}-{c.end})"
              for c in verdict.evidence]
    return "\n".join(lines) + "\n"
