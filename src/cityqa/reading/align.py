"""Word alignment between a claim and an evidence sentence, for the fact-checker.

Typed values (dates, numbers, places, names) are compared by `factcheck`; this module lines up the remaining
content words. Each claim word is *matched* when the evidence has it (same stem, one a prefix of the other, or a
WordNet synonym among both words' most frequent senses). An unmatched run of claim words is then looked for in
its *slot*: the evidence words between the evidence positions of its matched neighbours ("spoke in support of
[Iranian protesters]" against "spoke in support of [Armenian civilians]"). Evidence words there that the claim
does not have are a *conflict*: the evidence fills the same slot with something else. A run with nothing in its
slot is *missing*: the evidence does not say it. Whether a word may be said in other words depends on its part of
speech (see `Alignment`).

The synonym and antonym tables come from WordNet (`reading/models/lexicon.json.gz`, built by scripts/build_lexicon.py),
a general resource, not from reading any corpus.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import itertools
import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

from ..documents.text import NEGATIONS, STOPWORDS, fold, same_token, stem

LEXICON_FILE = "lexicon.json.gz"
# A word's senses beyond its few most frequent ones make chance synonyms ('leader' is also a 'drawing card').
COMMON_SENSES = 3
HYPERNYM_DEPTH = 6
# How far apart two matched neighbours may be in the evidence for the words between them to count as one slot:
# the claim run's length plus this many words (a longer gap is another clause, not a substitute).
SLOT_SLACK = 3

# Stop words that carry the claim's sense in a comparison: 'few' vs 'many', 'more' vs 'less', 'before' vs 'after'.
_WEIGHTY = frozenset("few many much more most same other before after above below over under against".split())
_ALIGN_STOPWORDS = STOPWORDS - _WEIGHTY
_COMPARATIVE = {"er", "est"}
_NEGATIVE = NEGATIONS | {"nothing", "nobody", "nowhere"}
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SUFFIXES = (("ies", "y"), ("ied", "y"), ("s", ""), ("es", ""), ("ed", ""), ("ed", "e"), ("ing", ""),
             ("ing", "e"), ("er", ""), ("est", ""), ("er", "e"), ("est", "e"))


@dataclass(frozen=True)
class Token:
    """A word of a text: its surface, folded form, stem and character span."""

    surface: str
    norm: str
    stem: str
    start: int
    end: int

    @property
    def content(self) -> bool:
        return bool(self.stem)

    @property
    def capital(self) -> bool:
        return self.surface[:1].isupper()


@lru_cache(maxsize=8192)
def tokenize(text: str) -> tuple[Token, ...]:
    """The words of `text`; content words carry a stem, stop words an empty one."""
    out = []
    for m in _TOKEN.finditer(text):
        norm = fold(m.group(0)).replace("’", "'").removesuffix("'s")
        content = norm not in _ALIGN_STOPWORDS and len(norm) > 1
        out.append(Token(m.group(0), norm, stem(norm) if content else "", m.start(), m.end()))
    return tuple(out)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while many small objects are built, then everything alive frozen (`gc.freeze`),
    so later collections do not walk it again (see `Lexicon.bundled`)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if paused:
            gc.enable()


class Lexicon:
    """WordNet senses of single words, looked up through their base forms: synonyms (a shared synset),
    hypernyms (a 'delegation' is a 'group'), antonyms and each word's usual part of speech.

    `pos` lists every word the synsets hold (WordNet gives each lemma a part of speech), so which words are known
    is read from it alone; the synset tables are built the first time senses are compared (`same`,
    `generalises`: the fact-checker's alignment), not for a question, which only needs parts of speech, base forms
    and antonyms (0.14 s of a cold `cityqa ask`)."""

    def __init__(self, synsets: Sequence[Sequence[Any]], antonyms: Sequence[Sequence[str]],
                 pos: dict[str, tuple[str, int, str]],
                 exceptions: dict[str, str]) -> None:
        self._synsets = synsets
        self._opposites: dict[str, set[str]] = {}  # each word of a listed antonym pair -> the other(s)
        for pair in antonyms:
            for x, y in itertools.permutations(pair, 2):
                self._opposites.setdefault(x, set()).add(y)
        self._pos = pos
        self._exceptions = exceptions

    @classmethod
    def bundled(cls) -> Lexicon:
        """Read with the garbage collector paused: the 300,000 small lists and tuples it builds would otherwise
        set off collection after collection (0.9 s instead of 0.2 s, paid by the first question). Then everything
        alive is frozen (`gc.freeze`), so later collections do not walk the tables, nor the imported libraries,
        again: `cityqa ask` from a cold process took 2.8 s without, 2.0 s with."""
        raw = resources.files("cityqa.reading").joinpath("models", LEXICON_FILE).read_bytes()
        with _collector_paused():
            data = json.loads(gzip.decompress(raw))
            return cls(data["synsets"], data["antonyms"], data["pos"], data["exceptions"])

    @cached_property
    def _tables(self) -> tuple[dict[str, list[tuple[int, int]]], list[Sequence[int]], list[str]]:
        """Each word's (synset row, sense rank), each synset's hypernym rows and part of speech. Built with the
        garbage collector paused, as the lexicon is read (see `bundled`)."""
        senses: dict[str, list[tuple[int, int]]] = {}
        parents: list[Sequence[int]] = []
        kinds: list[str] = []
        with _collector_paused():
            for row, (kind, words, ranks, ups) in enumerate(self._synsets):
                parents.append(ups)
                kinds.append(kind)
                for word, rank in zip(words, ranks, strict=True):
                    senses.setdefault(word, []).append((row, rank))
        return senses, parents, kinds

    @lru_cache(maxsize=16384)  # noqa: B019 - one lexicon per process, kept for its life
    def bases(self, word: str) -> tuple[str, ...]:
        """`word` and the base forms it may be an inflection of ('leaders' -> leader, 'fell' -> fall), known
        ones first."""
        found = [word]
        if word in self._exceptions:
            found.append(self._exceptions[word])
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                base = word[: -len(suffix)] + replacement
                if suffix in _COMPARATIVE and self._pos.get(base, ("",))[0] != "a":
                    continue  # 'bigger' -> big, but 'manager' is not a degree of 'manage'
                found.append(base)
                if len(base) > 3 and base[-1] == base[-2] and not replacement:
                    found.append(base[:-1])  # 'banned' -> 'bann' -> 'ban'
        known = [b for b in dict.fromkeys(found) if b in self._pos]
        return tuple(known) or (word,)

    @lru_cache(maxsize=65536)  # noqa: B019 - one lexicon per process, kept for its life
    def _rows(self, word: str, max_rank: int) -> frozenset[int]:
        senses = self._tables[0]
        return frozenset(row for base in self.bases(word) for row, rank in senses.get(base, ())
                         if rank <= max_rank)

    def same(self, a: str, b: str, max_rank: int = COMMON_SENSES) -> bool:
        """Whether two words share a sense among each one's `max_rank` most frequent senses."""
        return bool(self._rows(a, max_rank) & self._rows(b, max_rank))

    def generalises(self, general: str, specific: str) -> bool:
        """Whether a usual sense of `general` is a hypernym of the first sense of the noun `specific` ('group'
        of 'delegation'), so saying `general` where a text says `specific` stays true. Only the first sense:
        the collective sense of 'leaders' is a 'group', but 'business groups' are not 'business leaders'."""
        targets = self._rows(general, COMMON_SENSES)
        lemma = self.bases(specific)[-1]  # 'leaders' -> leader (WordNet also lists 'leaders', the collective)
        senses, parents, kinds = self._tables
        frontier = {row for row, rank in senses.get(lemma, ()) if rank == 1 and kinds[row] == "n"}
        seen: set[int] = set()
        for _ in range(HYPERNYM_DEPTH):
            frontier = {p for row in frontier for p in parents[row]} - seen
            if frontier & targets:
                return True
            seen |= frontier
        return False

    def knows(self, word: str) -> bool:
        """Whether `word` or a base form of it is an English word WordNet lists."""
        return any(b in self._pos for b in self.bases(word))

    def opposite(self, a: str, b: str) -> bool:
        return not self.antonyms(a).isdisjoint(self.bases(b))

    def antonyms(self, word: str) -> frozenset[str]:
        """The words listed as opposites of `word` or of one of its base forms ('fell' -> rise, through 'fall')."""
        return frozenset(y for x in self.bases(word) for y in self._opposites.get(x, ()))

    def can_be(self, word: str, kinds: str) -> bool:
        """Whether the word or a base form of it has a sense of one of these parts of speech ('uses', 'dates',
        'measure' can be verbs: `can_be(word, "v")`)."""
        return any(set(kinds) & set(self._pos[b][2]) for b in self.bases(word) if b in self._pos)

    def pos(self, word: str) -> str:
        """The most used part of speech in WordNet of the word and its base forms ('sent' is mostly 'send', a
        verb, not the coin): n, v, a, r, or '' for a word it does not list (prepositions, pronouns, names)."""
        if word not in self._pos and word.endswith("ed") and self.can_be(word, "v"):
            return "v"  # 'hosted': a past form, whatever 'host' mostly is
        known = [self._pos[b] for b in self.bases(word) if b in self._pos]
        return max(known, key=lambda p: p[1])[0] if known else ""


_LOADING = threading.Lock()


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The bundled lexicon, read once per process (0.2 s). Under the lock: twenty questions arriving together at
    a fresh server would otherwise each read it, one after the other under the GIL (8 s for the last)."""
    with _LOADING:
        return _load_once()


@lru_cache(maxsize=1)
def _load_once() -> Lexicon:
    return Lexicon.bundled()


def same_word(a: Token, b: Token) -> bool:
    """Same stem, one a prefix of the other ('Kenya'/'Kenyan'), or synonyms."""
    return a.stem == b.stem or a.norm == b.norm or _same_norm(a.norm, b.norm)


@lru_cache(maxsize=262144)
def _same_norm(a: str, b: str) -> bool:
    return same_token(a, b) or lexicon().same(a, b)


@dataclass
class WordConflict:
    """Claim words whose slot the evidence fills with other words."""

    claim: tuple[Token, ...]
    evidence: tuple[Token, ...]
    # 'opposite' (WordNet antonyms: 'rose' / 'fell'), 'predicate' (a run holding a verb, said otherwise: always
    # unsure), else the claim words' role: 'actor' or 'object'
    kind: str

    @property
    def claim_text(self) -> str:
        return " ".join(t.surface for t in self.claim)

    @property
    def evidence_text(self) -> str:
        return " ".join(t.surface for t in self.evidence)


@dataclass
class Alignment:
    """How a claim's content words line up with one evidence text.

    Three things keep a claim from being supported. `conflicts`: a noun or adjective the evidence replaces with
    another in a slot found surely (`_slot`: between matched words, or right by one; 'students' / 'business
    leaders'), or an antonym ('fell' / 'rose'); these can make it contradicted. `unsure`: the same replacement
    in a loosely found slot, a run that holds a verb (the predicate said otherwise, kind 'predicate'), a word only
    the section heading states, or a place in another role ('to Springfield' /
    "Springfield's mayor"). `missing`: a noun or adjective (a noun only when it has no verb sense) or an adverb the
    evidence does not state. `reworded` are claim words the evidence says in a way that keeps the claim true as
    far as can be told: a verb in other words ('sent' / 'conducted' trade missions), a more general kind ('a
    group' for 'a delegation'), or a synonym in a rarer sense.
    """

    # claim token index -> evidence token index (a claim word found again at a position already taken, 'city'
    # twice, is stated but anchors no slot)
    matched: dict[int, int] = field(default_factory=dict)
    conflicts: list[WordConflict] = field(default_factory=list)
    unsure: list[WordConflict] = field(default_factory=list)
    missing: list[Token] = field(default_factory=list)
    reworded: list[Token] = field(default_factory=list)


Span = tuple[int, int]


def align(claim: str, evidence: str, skip: Sequence[Span] = (), known: frozenset[str] = frozenset(),
          evidence_skip: Sequence[Span] = ()) -> Alignment:
    """Align the content words of `claim` with `evidence`. Claim words inside a `skip` span (typed values,
    compared elsewhere) are left out of the runs but serve as anchors when the evidence has them; evidence words
    inside an `evidence_skip` span (names, places) never fill a slot. A claim word whose stem is in `known` (the
    section heading's) counts as stated."""
    c_tokens, e_tokens = tokenize(claim), tokenize(evidence)
    result = Alignment()
    unmatched: list[int] = []
    for i, token in enumerate(c_tokens):
        if not token.content:
            continue
        at = _find(token, e_tokens, after=max(result.matched.values(), default=-1))
        if at is not None and at not in result.matched.values():
            result.matched[i] = at
        elif at is None and not _inside(token, skip):
            unmatched.append(i)
    result.unsure += _direction_conflicts(c_tokens, e_tokens, result.matched)
    verb_at = next((i for i, t in enumerate(c_tokens) if t.content and _pos(t) == "v"), len(c_tokens))
    nominal = {i for i in unmatched if _nominal(c_tokens, i)}
    for run in _runs(unmatched, c_tokens):
        words = tuple(c_tokens[i] for i in run)
        fillers, found = _slot(run, c_tokens, e_tokens, result.matched)
        fillers = tuple(t for t in fillers if not _inside(t, evidence_skip))
        role = "actor" if run[0] < verb_at else "object"
        _classify(result, (words, [c_tokens[i] for i in run if i in nominal]), (fillers, found), e_tokens, known, role)
    return result


def _classify(result: Alignment, run: tuple[tuple[Token, ...], list[Token]], slot: tuple[tuple[Token, ...], str],
              e_tokens: Sequence[Token], known: frozenset[str], role: str) -> None:
    """File one unmatched run of claim words (all, and its nouns and adjectives) under `result` (see
    `Alignment`). `slot` holds the evidence words in the run's slot and how surely it was found (`_slot`)."""
    words, nominal = run
    fillers, found = slot
    if any(same_word(c, f) for c in words for f in fillers):
        return
    lex = lexicon()
    if any(lex.opposite(c.norm, f.norm) for c in words for f in fillers):
        result.conflicts.append(WordConflict(words, fillers, "opposite"))
        return
    weighty = [c for c in nominal if not _entailed(c, fillers or tuple(e_tokens))]
    # an adverb the evidence lacks adds a fact ('passed it unanimously'), unless another stands in its place
    # between the same neighbours ('around the world' / 'across the world')
    missing = [] if found == "both" and any(_pos(f) == "r" for f in fillers) else [
        c for c in words if _pos(c) == "r" and c not in nominal and not _entailed(c, tuple(e_tokens))]
    if fillers and weighty:
        # a run that holds a verb is the predicate said in other words, set against whatever stands in its place
        # ('talks *covering* topics' / 'ceremony and discussions'), not one thing put for another: to check, not a
        # contradiction. A slot found from one side only, or a word only the heading states, may be misread: the
        # same.
        kind = "predicate" if any(_pos(c) == "v" for c in words) else role
        sure = kind != "predicate" and found != "loose" and any(c.stem not in known for c in weighty)
        (result.conflicts if sure else result.unsure).append(WordConflict(words, fillers, kind))
        result.missing += missing
        return
    # a verb may be reworded freely ('sent' / 'conducted' trade missions), a noun or adjective may not
    missing += [c for c in weighty if c.stem not in known and not (_pos(c) == "n" and lex.can_be(c.norm, "v"))]
    result.missing += missing
    result.reworded += [c for c in words if c not in missing]


_DIRECTIONS = {"to": "from", "from": "to", "into": "from"}


def _direction_conflicts(c_tokens: Sequence[Token], e_tokens: Sequence[Token], matched: dict[int, int]
                         ) -> list[WordConflict]:
    """Claim words said to be where something goes to or comes from ('traveled to Springfield') that the evidence
    names in another role: after the opposite preposition ('a delegation from Springfield') or as an owner
    ("Springfield's mayor")."""
    found = []
    for i, j in matched.items():
        k = i - 1
        while k >= 0 and c_tokens[k].norm in {"the", "a", "an"}:
            k -= 1
        if k < 0 or c_tokens[k].norm not in _DIRECTIONS:
            continue
        word = e_tokens[j]
        previous = [t.norm for t in e_tokens[max(0, j - 2) : j]]
        if _DIRECTIONS[c_tokens[k].norm] in previous or word.surface.endswith(("'s", "’s")):
            found.append(WordConflict((c_tokens[k], c_tokens[i]), (word,), "direction"))
    return found


def _nominal(tokens: Sequence[Token], i: int) -> bool:
    """Whether the claim word is a noun or adjective: its usual part of speech, or a noun or adjective sense it has
    when a noun follows it and no noun precedes it ('signing free trade agreements', not 'Springfield sent trade
    missions')."""
    kind = _pos(tokens[i])
    if kind in {"n", "a"}:
        return True
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    previous = tokens[i - 1] if i else None
    after_subject = previous is not None and (  # 'Springfield sent trade…', 'the delegation met business…'
        previous.capital or (_pos(previous) == "n" and not lexicon().can_be(previous.norm, "v")))
    return bool(kind and following and following.content and _pos(following) == "n" and not after_subject
                and lexicon().can_be(tokens[i].norm, "an"))


def _pos(token: Token) -> str:
    return lexicon().pos(token.norm)


def _entailed(word: Token, others: Sequence[Token]) -> bool:
    """Whether some evidence word makes `word` true: a synonym in any sense, a more specific kind, or, for a
    negative word ('nothing'), a negation ('little or no cost')."""
    lex = lexicon()
    if word.norm in _NEGATIVE:
        return any(o.norm in _NEGATIVE for o in others)
    return any(o.content and (lex.same(word.norm, o.norm, max_rank=99) or lex.generalises(word.norm, o.norm))
               for o in others)


def _inside(token: Token, spans: Sequence[Span]) -> bool:
    return any(s <= token.start < e for s, e in spans)


def _find(token: Token, e_tokens: Sequence[Token], after: int) -> int | None:
    """The evidence position of `token`, preferring one after the previous match (keeps the order)."""
    hits = [j for j, e in enumerate(e_tokens) if e.content and same_word(token, e)]
    later = [j for j in hits if j > after]
    return (later or hits)[0] if hits else None


def _runs(indices: list[int], tokens: Sequence[Token]) -> list[list[int]]:
    """Consecutive unmatched content words, allowing stop words between them ('students of the university')."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and all(not tokens[k].content for k in range(runs[-1][-1] + 1, i)):
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _slot(run: list[int], c_tokens: Sequence[Token], e_tokens: Sequence[Token], matched: dict[int, int]
          ) -> tuple[tuple[Token, ...], str]:
    """Evidence content words standing where `run` stands in the claim and matching no claim word, and how
    surely the slot is found: 'both' (matched words on both sides), 'tight' (on one side, right by the run in
    the claim) or 'loose'."""
    left = next((k for k in range(run[0] - 1, -1, -1) if k in matched), None)
    right = next((k for k in range(run[-1] + 1, len(c_tokens)) if k in matched), None)
    before = [matched[left]] if left is not None else []
    after = [matched[right]] if right is not None else []
    bounded = bool(before and after and before[0] < after[0])
    if bounded and after[0] - before[0] - 1 > len(run) + SLOT_SLACK:  # too wide: read it from the nearer side
        bounded = False
        if right is not None and left is not None and right - run[-1] < run[0] - left:
            before = []
    if bounded:
        lo, hi = before[0] + 1, after[0]
    elif before:
        lo, hi = before[0] + 1, min(len(e_tokens), before[0] + 1 + len(run) + 1)
    elif after:
        lo, hi = max(0, after[0] - len(run) - 1), after[0]
    else:
        return (), "loose"
    taken = set(matched.values())
    fillers = tuple(e_tokens[j] for j in range(lo, hi) if e_tokens[j].content and j not in taken)
    # read from one side, a slot is still sure when the run sits right by its anchor in the claim, with nothing
    # but stop words between ('to many [business owners]' / 'to many [residents]', '[City councils] often go')
    between = range(left + 1, run[0]) if before and left is not None else range(run[-1] + 1, right or 0)
    tight = all(not c_tokens[k].content for k in between)
    nouns = all(_pos(f) != "v" for f in fillers)  # 'has a [sister] city' / 'hosted leaders' is another clause
    if bounded:
        return fillers, "both"
    return fillers, "tight" if tight and nouns and 0 < len(fillers) <= len(run) + 1 else "loose"
