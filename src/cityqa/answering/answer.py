"""The extractive answerer: quote the sentence that best answers the question, with its citation.

Every sentence of the retrieved passages is a candidate. The learned scorer (`scorer.py`) gives each one the
probability that it holds the answer: generic features (meaning, word coverage, the kind of answer asked for
against what the sentence holds) in a logistic regression, then the question aligned word by word with the best
few, combined and calibrated on data the scorer was not fitted on. The best sentence is the answer,
verbatim, when its probability reaches the abstention threshold (with the sentence before it when it opens with a
pronoun, the rest of a glossary entry the question names, and for list questions up to two more sentences that
add names or numbers the first lacks); below it the assistant says the documents do not contain the answer and
lists the closest passages instead. The passages themselves are reordered by their best sentence (`rerank`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..documents.text import (
    STOPWORDS,
    content_terms,
    document_frequencies,
    fold,
    normalise_space,
    stem,
    term_tuple,
    words,
)
from ..index.embeddings import Embedder
from ..index.nodes import NodeStore
from ..reading.align import lexicon
from ..reading.reader import PairReader, default_reader, reader_text
from ..reading.scorer import (
    NO_CONTRAST,
    Contrast,
    QuestionView,
    ScorerModel,
    alignment,
    best_candidate,
    bigram_share,
    contrast,
    feature_matrix,
    log1p,
    merge_logits,
    name_share,
    names_of,
    question_type,
    sentence_types,
    share_found,
    stage2_features,
    values_missing,
)
from ..settings import Settings
from ..types import Answer, Chunk, Citation, Hit, Sentence

# Not "nothing answers this": below the closest band the best passage still answers now and then (a calibrated
# 0.4 is four in ten), and the passages listed with it are there to be read.
NOT_FOUND = "Not found in the documents: no passage clearly answers this question."
# Between an answer and "not found": the best sentence is close to the question but not sure to answer it. The
# answer is abstained (nothing is quoted as the answer); the passage is the first of `related`.
NOT_DIRECT = "The documents do not say this directly; the closest passage is shown below."
# Every term counts as found in at least this share of the chunks more than it is. Past ~1 in 500 chunks a word
# is as specific as a question word gets; without the floor, idf keeps growing with the corpus (log N), and in a
# large index one word the collection rarely uses outweighs the rest of the question (among 96k distractor
# chunks hit@1 0.889 -> 0.906 with the floor; no effect on a small index).
MIN_DF_SHARE = 0.002
# A word's weight comes mostly from the document the passage is in: how specific the word is within that document
# (its chunks), blended with the whole index as a prior worth this many chunks, so a one-chunk memo leans on the
# index and a long document on itself. Adding unrelated documents then barely changes how a document's sentences
# are weighed (among 96k distractor chunks hit@1 0.906 -> 0.940).
LOCAL_PRIOR_CHUNKS = 5.0
FURTHER_SHARE = 0.5  # a further sentence of a list answer needs this share of the best's probability
W_MEANING, W_WORDS = 0.55, 0.45  # `rank_by_similarity`: the fact-checker's evidence order


@dataclass
class Scored:
    hit: Hit
    sentence: Sentence
    row: int  # row in the NodeStore's sentence vectors
    score: float  # the calibrated probability that this sentence answers the question (ranking order)
    entry: bool = False  # part of the glossary entry of a term the question names
    contrast: Contrast = NO_CONTRAST  # with the question (`scorer.contrast`); set on the best candidate only


@dataclass
class _Question:
    """Word weights of a question for sentences of one document."""

    weights: dict[str, float]  # content term -> idf
    total: float

    def coverage(self, present: set[str], nearby: set[str] | frozenset[str] = frozenset()) -> float:
        """Share of the question's idf weight the sentence holds; half credit for terms only nearby."""
        full = sum(w for t, w in self.weights.items() if t in present)
        half = sum(w for t, w in self.weights.items() if t in nearby and t not in present)
        return min(1.0, full / self.total + 0.5 * half / self.total)


class Answerer(Protocol):
    """An answering stage over one index generation: an answer from the retrieved passages, and the passages in
    the order that answer ranks them."""

    def answer(self, question: str, resolved: str, query_vector: np.ndarray, hits: list[Hit]) -> Answer: ...

    def order(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Hit]: ...


class AnswererFactory(Protocol):
    """Opens an `Answerer` on an index generation's nodes (what `Assistant(answerer=...)` takes)."""

    def __call__(self, nodes: NodeStore, settings: Settings, embedder: Embedder) -> Answerer: ...


def extractive(nodes: NodeStore, settings: Settings, embedder: Embedder) -> Extractor:
    """The default answerer: verbatim sentences chosen by the learned scorer (an `AnswererFactory`)."""
    return Extractor(nodes, settings, embedder=embedder)


class Extractor:
    """Scores and selects answer sentences within one index generation."""

    def __init__(
        self, nodes: NodeStore, settings: Settings, model: ScorerModel | None = None, embedder: Embedder | None = None,
        reader: PairReader | None = None,
    ) -> None:
        self.nodes = nodes
        self.settings = settings
        self._model = model
        self.embedder = embedder  # token vectors for stage 2; without one, stage 1 decides alone
        self._reader = reader
        df = nodes.frequencies()
        n = max(1, len(nodes.chunks))
        floor = MIN_DF_SHARE * n
        self.idf = {term: math.log(1 + n / (count + floor)) for term, count in df.items()}
        # A question word the documents never use cannot tell their sentences apart; it still counts against
        # every sentence (the documents may not cover the topic) but only as much as a typical word.
        self.unseen_idf = float(np.median(list(self.idf.values()))) if self.idf else 1.0
        self._chunks_of: dict[str, list[int]] = {}
        for i, chunk in enumerate(nodes.chunks):
            self._chunks_of.setdefault(chunk.source, []).append(i)
        self._doc_freq: dict[str, Counter[str]] = {}  # per source, counted on first use (a few ms per document)

    @property
    def reader(self) -> PairReader | None:
        """The pair reader the confidence reads the best candidate with, and the fact-checker its claims (the
        bundled one unless one was given)."""
        if self._reader is None:
            self._reader = default_reader()
            if self._reader is None and self.model.reads:
                from ..errors import ConfigError

                raise ConfigError("The answer scorer reads with the pair reader, which is not installed "
                                  "(cityqa/reading/models/reader/); reinstall cityqa or run `make reader`.")
        return self._reader

    @property
    def model(self) -> ScorerModel:
        """The fitted scorer, loaded on first use (candidate features alone do not need it)."""
        if self._model is None:
            self._model = ScorerModel(self.settings.scorer_dir)
        return self._model

    @property
    def threshold(self) -> float:
        """The abstention threshold: the setting, else the one chosen with the scorer on held-out data."""
        setting = self.settings.abstain_threshold
        return self.model.threshold if setting is None else setting

    def weights(self, terms: list[str], source: str) -> dict[str, float]:
        """Each question term's weight for sentences of `source`: its idf within that document, blended with its
        idf over the whole index (see LOCAL_PRIOR_CHUNKS)."""
        rows = self._chunks_of.get(source, [])
        df = self._doc_freq.get(source)
        if df is None:
            df = self._doc_freq[source] = document_frequencies(self.nodes.chunks[i] for i in rows)
        n, prior = len(rows), LOCAL_PRIOR_CHUNKS
        weights = {}
        for term in terms:
            local = math.log(1 + (n + 1) / (df.get(term, 0) + 1))
            weights[term] = (n * local + prior * self.idf.get(term, self.unseen_idf)) / (n + prior)
        return weights

    @property
    def closest_threshold(self) -> float:
        """From this confidence up to `threshold`, a question the answer abstains on shows its closest passage as
        "the documents do not say this directly" rather than "not found"."""
        return min(self.threshold, self.model.closest_threshold)

    def unknown_share(self, terms: list[str]) -> float:
        """Share of a question's content terms that no indexed document uses at all."""
        return sum(term not in self.idf for term in terms) / len(terms) if terms else 0.0

    def unknown_words(self, question: str) -> list[str]:
        """The question's content words (as typed) that no indexed document uses, in any form of the same stem."""
        return list(dict.fromkeys(w for w in words(question) if w not in STOPWORDS and len(w) > 1
                                  and not w.isdigit() and stem(w) not in self.idf))

    def answer(
        self, question: str, resolved: str, query_vector: np.ndarray, hits: list[Hit],
        ranked: list[Scored] | None = None,
    ) -> Answer:
        """Quote the best sentence of `hits` for `resolved`, or abstain. `ranked`: `rank_sentences(resolved,
        query_vector, hits)` when the caller has already computed it (to reorder the passages as well).

        Three outcomes: the quote (confidence at the threshold or above); "not directly" with the closest passage
        (between `closest_threshold` and the threshold); "not found" with the closest passages (below). An
        abstention says why where it can (`_abstention_reason`); a quote says what to check the same way."""
        ranked = self.rank_sentences(resolved, query_vector, hits) if ranked is None else ranked
        best = ranked[0].score if ranked else 0.0
        if best < self.threshold:
            unknown = self.unknown_words(resolved)
            closest = bool(ranked) and best >= self.closest_threshold
            return Answer(
                question=question, answer=NOT_DIRECT if closest else NOT_FOUND, abstained=True, confidence=best,
                related=self._related(ranked, cited=set()), resolved_question=_changed(question, resolved),
                caution=_abstention_reason(resolved, unknown, ranked[0] if ranked else None), closest=closest,
            )
        chosen = self._select(resolved, ranked)
        citations = [citation(n, s.hit.chunk, s.sentence, s.score) for n, s in enumerate(chosen, 1)]
        text = " ".join(f"{normalise_space(c.text)} [{c.n}]" for c in citations)
        caution = chosen[0].contrast.note(passage="quoted passage") or _absent_note(
            resolved, chosen[0].hit.chunk.search_text(), passage="quoted passage")
        return Answer(
            question=question, answer=text, abstained=False, confidence=best, citations=citations,
            related=self._related(ranked, cited={c.chunk_id for c in citations}),
            resolved_question=_changed(question, resolved), caution=caution,
        )

    # ------------------------------------------------------------ scoring

    def candidates(self, question: str, query_vector: np.ndarray, hits: list[Hit], view: QuestionView | None = None
                   ) -> tuple[list[Scored], list[dict]]:
        """Every sentence of `hits` with its raw feature values (see `scorer.FEATURES`), unscored (`view`: the
        question's `QuestionView`, when already made)."""
        view = view or QuestionView.of(question)
        vector = query_vector.astype(np.float32)
        asked: dict[str, _Question] = {}  # per source document (see weights)
        out: list[Scored] = []
        rows: list[dict[str, Any]] = []
        for hit in hits:
            source = hit.chunk.source
            if source not in asked:
                weights = self.weights(view.terms, source)
                asked[source] = _Question(weights, sum(weights.values()) or 1.0)
            self._passage_rows(view, asked[source], vector, hit, out, rows)
        if rows:
            unknown = self.unknown_share(view.terms)
            for r in rows:
                r["unknown"] = unknown
            best = max(r["cos_max"] for r in rows)
            passage_best: dict[int, float] = {}
            for s, r in zip(out, rows, strict=True):
                passage_best[s.hit.index] = max(passage_best.get(s.hit.index, -1.0), r["cos_max"])
            for s, r in zip(out, rows, strict=True):
                r["d_cos_passage"] = passage_best[s.hit.index] - best
        return out, rows

    def _passage_rows(
        self, view: QuestionView, asked: _Question, vector: np.ndarray, hit: Hit, out: list[Scored], rows: list[dict]
    ) -> None:
        chunk = hit.chunk
        vectors = np.asarray(self.nodes.sentence_rows(hit.index), dtype=np.float32)
        sims = vectors @ vector  # (n, 2): the sentence alone, in context
        context = set(term_tuple(" ".join(chunk.section) + " " + " ".join(chunk.metadata.values())))
        passage = set(term_tuple(chunk.search_text()))
        coverage_passage = asked.coverage(passage)
        names_passage = share_found(view.names, passage)
        values_passage = values_missing(view, chunk.text)
        entry = _defines(view, chunk)
        row0 = self.nodes.offsets[hit.index]
        previous: set[str] = set()
        previous_text = ""
        for i, sentence in enumerate(chunk.sentences):
            own_text = chunk.sentence_text(sentence)
            own = set(term_tuple(own_text))
            back = leans_back(i, own_text)
            present = own | previous if back else own
            cos, cos_ctx = float(sims[i, 0]), float(sims[i, 1])
            coverage = asked.coverage(present)
            near = present | context | previous
            missing = [w for t, w in asked.weights.items() if t not in near]
            rows.append({
                "cos": cos, "cos_ctx": cos_ctx, "cos_max": max(cos, cos_ctx), "coverage": coverage,
                "coverage_near": asked.coverage(present, context | previous), "coverage_passage": coverage_passage,
                "bigrams": bigram_share(view, f"{previous_text} {own_text}" if back else own_text),
                "novel": log1p(len(own - view.asked)), "length": log1p(len(own_text.split())),
                "first": float(i == 0),
                "leans_back": float(back), "types": sentence_types(own_text, view.asked),
                "has_names": float(bool(view.names)), "names_sentence": share_found(view.names, present),
                "names_near": share_found(view.names, near), "names_passage": names_passage,
                "values_missing": values_passage, "missing_top": max(missing, default=0.0) / asked.total,
                "n_terms": float(len(present)), "head_sentence": float(view.head is None or view.head in present),
                "head_near": float(view.head is None or view.head in near),
                "interview": float(chunk.kind == "interview"),  # interview notes and register entries
                "name_share": name_share(own_text),
            })
            out.append(Scored(hit, sentence, row0 + i, 0.0, entry))
            previous, previous_text = own, own_text

    def rank_sentences(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Scored]:
        """Every sentence of `hits`, best first; `score` is the calibrated probability that it answers `question`
        for the best, and a share of it by logit for the others (ties: the better-ranked passage first)."""
        view = QuestionView.of(question)
        scored, rows = self.candidates(question, query_vector, hits, view)
        if not scored:
            return []
        model = self.model
        features = feature_matrix(rows, question_type(question))
        first = model.stage1.logit(features)
        top = np.argsort(-first, kind="stable")[: self.settings.align_top_n]
        align = np.zeros((len(scored), 3))
        logits = first
        if len(top) and self.embedder is not None:
            vectors = self.embedder.token_vectors([question, *(self.quote_text(scored[i]) for i in top)])
            align[top] = [alignment(vectors[0], v) for v in vectors[1:]]
            logits = merge_logits(first, top, model.stage2.logit(stage2_features(first[top], align[top])))
        best_one = scored[best_candidate(logits)]
        best_one.contrast = contrast(view, self.quote_text(best_one), self.sentence_before(best_one))
        confidence = model.confidence(logits, features, align, best_one.contrast, self.read(question, best_one))
        best = float(logits.max())
        for s, logit in zip(scored, logits, strict=True):
            s.score = confidence * math.exp(min(0.0, float(logit) - best))
        scored.sort(key=lambda s: (-s.score, s.hit.rank))
        return scored

    def read(self, question: str, s: Scored) -> float:
        """The pair reader's logit for `question` against a candidate and the sentence before it (0 without a
        reader, when the scorer gives it no weight)."""
        reader = self.reader if self.model.reads else None
        if reader is None:
            return 0.0
        return float(reader.logits([reader_text(self.sentence_before(s), self.quote_text(s))], [question])[0])

    @staticmethod
    def quote_text(s: Scored) -> str:
        """The text a candidate would be quoted as (with the sentence before when it leans on it)."""
        chunk = s.hit.chunk
        start, end = quote_span(chunk, s.sentence)
        return chunk.text[start - chunk.start : end - chunk.start]

    @staticmethod
    def sentence_before(s: Scored) -> str:
        """The sentence before a candidate in its passage ('' for the first)."""
        chunk = s.hit.chunk
        index = chunk.sentences.index(s.sentence)
        return chunk.sentence_text(chunk.sentences[index - 1]) if index else ""

    def rank_by_similarity(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Scored]:
        """Every sentence of `hits` ordered by meaning and words alone (no answer-type reasoning): how close a
        sentence is to a statement, which is what the fact-checker looks for."""
        scored, rows = self.candidates(question, query_vector, hits)
        for s, r in zip(scored, rows, strict=True):
            s.score = W_MEANING * max(0.0, r["cos_max"]) + W_WORDS * r["coverage"]
        scored.sort(key=lambda s: (-s.score, s.hit.rank))
        return scored

    def order(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Hit]:
        """`hits` in the order the answer to `question` ranks them (see `rerank`)."""
        return self.rerank(hits, self.rank_sentences(question, query_vector, hits))

    def rerank(self, hits: list[Hit], ranked: list[Scored]) -> list[Hit]:
        """The passages in the order of their best sentence's score, which is the order the answer cites and
        lists them (ties keep the retriever's order): the fused scores know which passage is about the
        question, the sentence scores which one answers it."""
        best: dict[int, float] = {}
        for s in ranked:
            best.setdefault(s.hit.index, s.score)
        order = sorted(hits, key=lambda h: (-best.get(h.index, 0.0), h.rank))
        return [Hit(h.chunk, h.index, h.score, rank) for rank, h in enumerate(order)]

    # ------------------------------------------------------------ selection

    def _select(self, question: str, ranked: list[Scored]) -> list[Scored]:
        """The best sentence; more only from the glossary entry the question asks about, or, for a list question
        ("Which countries…?"), sentences that add names or numbers the chosen ones lack."""
        best = ranked[0]
        chosen = [best]
        limit = self.settings.max_answer_sentences
        wants_list = is_list_question(question)
        for cand in ranked[1:]:
            if len(chosen) >= limit or cand.score < self.threshold:
                break  # the rest score lower still
            span = _quote_key(cand)
            if any(_overlaps(span, _quote_key(c)) or self._near_duplicate(cand, c) for c in chosen):
                continue
            entry = cand.entry and cand.hit.index == best.hit.index  # the rest of the glossary entry asked about
            listed = (wants_list and cand.score >= FURTHER_SHARE * best.score
                      and _adds_values(cand, chosen, question))
            if entry or listed:
                chosen.append(cand)
        return chosen

    def _near_duplicate(self, a: Scored, b: Scored) -> bool:
        va = np.asarray(self.nodes.sentence_vectors[a.row, 0], dtype=np.float32)
        vb = np.asarray(self.nodes.sentence_vectors[b.row, 0], dtype=np.float32)
        return float(va @ vb) > 0.95

    def _related(self, ranked: list[Scored], cited: set[str], limit: int = 3) -> list[Citation]:
        """The best sentence of each of the closest passages not already cited."""
        related: list[Citation] = []
        seen = set(cited)
        for cand in ranked:
            if cand.hit.chunk.id in seen:
                continue
            seen.add(cand.hit.chunk.id)
            related.append(citation(len(related) + 1, cand.hit.chunk, cand.sentence, cand.score))
            if len(related) >= limit:
                break
        return related


# A list question asks for several things: "Which countries…", "What cities…", "List…", "Name the…".
_LIST = re.compile(
    r"^\s*(?:list|name)\b|\b(?:which|what)\s+(?:[a-z-]+\s+)?[a-z-]{3,}(?:ies|[^su]s)\b(?<!\bis)", re.I
)
_VALUES = re.compile(r"\b[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*|\b\d[\d,.]*\b")


def is_list_question(question: str) -> bool:
    match = _LIST.search(question)
    return match is not None and not re.search(r"\b(this|does|was|has|its)$", match.group(0), re.I)


def _values(text: str) -> set[str]:
    return {m.group(0).lower() for m in _VALUES.finditer(text)}


def _adds_values(cand: Scored, chosen: list[Scored], question: str) -> bool:
    """Whether the candidate's quote names something (a name, a number) that neither the question nor the
    sentences already chosen name."""
    quote = Extractor.quote_text
    known = _values(question).union(*(_values(quote(c)) for c in chosen))
    text = quote(cand)
    words = text.split()
    return bool(_values(text) - known - {words[0].lower() if words else ""})


_LABEL = re.compile(r"^\s*([^:.;]{3,80}):\s")


def _defines(view: QuestionView, chunk: Chunk) -> bool:
    """Whether `chunk` is the glossary entry ("Global Universities: Approximation of…") of a term the question
    names: every sentence of the entry is then about what was asked."""
    label = _LABEL.match(chunk.text)
    if not label:
        return False
    terms = set(content_terms(label.group(1)))
    return bool(terms) and terms <= view.asked


def _unknown_note(unknown: list[str]) -> str | None:
    """The reason an abstention gives when some of the question's words occur nowhere in the documents: the things
    it asks about (nouns, adjectives, names). A verb or an adverb the documents do not use is a weak sign, users
    word the predicate their own way ("when did the city *get* into…", "do they *ever*…"), and a contraction is no
    topic."""
    lex = lexicon()
    unknown = [w for w in unknown if lex.pos(w) not in ("v", "r") and not any(c in w for c in "'’")]
    if not unknown:
        return None
    listed = ", ".join(f"“{w}”" for w in unknown[:4])
    return f"The documents never use {'the word' if len(unknown) == 1 else 'the words'} {listed}."


def _abstention_reason(question: str, unknown: list[str], closest: Scored | None) -> str | None:
    """Why an answer abstains, where it can say: the things asked about that no document names, else a name of the
    question the closest passage does not mention, else a contrast between the question and the closest passage."""
    if closest is None:
        return _unknown_note(unknown)
    return (_unknown_note(unknown) or _absent_note(question, closest.hit.chunk.search_text())
            or closest.contrast.note())


def _absent_note(question: str, text: str, passage: str = "closest passage") -> str | None:
    """What to check when `text` (the closest or the quoted passage) does not mention a name the question gives:
    what is asked may be stated there for another place or person only ("since when has the Riverbend mayor…"
    against a passage on Port Alder's and Ogdenville's mayors)."""
    present = set(term_tuple(text))
    absent = [name for name in names_of(question) if not set(term_tuple(name)) <= present]
    if not absent:
        return None
    return f"The {passage} does not mention {' or '.join(f'“{name}”' for name in absent[:3])}."


def _changed(question: str, resolved: str) -> str | None:
    """The question as understood, when it differs from the question as asked by more than capitals and accents
    (a spelling corrected, a follow-up resolved)."""
    return resolved if fold(resolved) != fold(question) else None


# A sentence that leans on the one before: it opens with a personal or demonstrative pronoun, or "given this",
# possibly after a short time phrase ("In the 1950s, it was a leader…"). English function words only.
_ANAPHORA = re.compile(
    r"^[(“\"]?(?:(?:in|by|since|during|after|before|at)\s[^,]{1,40},\s+)?"
    r"(it|its|this|these|they|their|those|he|she|his|her|such"
    r"|(?:given|despite|because of) (?:this|these|that))\b",
    re.I,
)


def leans_back(index: int, text: str) -> bool:
    """Whether sentence number `index` of a chunk, reading `text`, needs the sentence before it to be understood
    (it is then quoted, and scored, together with it)."""
    return bool(index and opens_with_pronoun(text))


def opens_with_pronoun(text: str) -> bool:
    """Whether a sentence opens with a personal or demonstrative pronoun (after a short time phrase at most)."""
    return bool(_ANAPHORA.match(text))


def quote_span(chunk: Chunk, sentence: Sentence) -> tuple[int, int]:
    """The span to quote for a sentence: the sentence itself, or, when it opens with a pronoun ("It is a
    midsized city…"), the sentence before it too, so the quote says what "it" is."""
    index = chunk.sentences.index(sentence)
    if leans_back(index, chunk.sentence_text(sentence)):
        return chunk.sentences[index - 1].start, sentence.end
    return sentence.start, sentence.end


def citation(n: int, chunk: Chunk, sentence: Sentence, score: float) -> Citation:
    """A citation quoting `sentence` (with its antecedent sentence when it needs one) verbatim."""
    meta = chunk.metadata
    start, end = quote_span(chunk, sentence)
    notes = [note for s in chunk.sentences if start <= s.start and s.end <= end for note in s.endnotes]
    quote = chunk.text[start - chunk.start : end - chunk.start]
    page, page_end = chunk.page_span(start, end)
    return Citation(
        n=n, source=chunk.source, section=chunk.section_label, quote=quote,
        start=start, end=end, score=round(float(score), 4), chunk_id=chunk.id,
        chunk_start=chunk.start, chunk_end=chunk.end, endnotes=notes, kind=chunk.kind,
        interviewee=meta.get("interviewee"), role=meta.get("role"), city=meta.get("city"), date=meta.get("date"),
        page=page, page_end=page_end if page_end != page else None, text=chunk.reading_text(start, end),
    )


def _quote_key(scored: Scored) -> tuple[str, int, int]:
    start, end = quote_span(scored.hit.chunk, scored.sentence)
    return scored.hit.chunk.source, start, end


def _overlaps(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def _contains(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] <= b[1] and b[2] <= a[2]


