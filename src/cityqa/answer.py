"""The extractive answerer: quote the sentences that best answer the question, each with its citation.

Each sentence of the retrieved passages is scored against the question by meaning (cosine of precomputed
sentence vectors) and by words (share of the question's idf-weighted content terms it contains, counting its
section heading and interview fields), adjusted for the kind of answer the question asks for (a date for
"when", a number for "how many", a name for "who"). The best sentences above the abstention threshold are the
answer, verbatim; below it the assistant says the documents do not contain the answer and lists the closest
passages instead.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .entities import find_dates, find_person_names, find_years, has_number
from .retrieve import Hit
from .settings import Settings
from .store import NodeStore
from .text import content_terms, normalise_space
from .types import Answer, Chunk, Citation, Sentence

NOT_FOUND = "Not found in the documents: nothing in the indexed sources answers this question."
W_MEANING, W_WORDS = 0.55, 0.45
TYPE_PENALTY = 0.75  # factor for a sentence that lacks the kind of value the question asks for


@dataclass
class Scored:
    hit: Hit
    sentence: Sentence
    row: int  # row in the NodeStore's sentence vectors
    score: float
    meaning: float
    coverage: float


class Extractor:
    """Scores and selects answer sentences within one index generation."""

    def __init__(self, nodes: NodeStore, settings: Settings) -> None:
        self.nodes = nodes
        self.settings = settings
        self._terms: dict[int, set[str]] = {}
        df: Counter[str] = Counter()
        for chunk in nodes.chunks:
            df.update(set(content_terms(chunk.search_text())))
        n = max(1, len(nodes.chunks))
        self.idf = {term: math.log(1 + n / count) for term, count in df.items()}
        self.default_idf = math.log(1 + n)

    def answer(self, question: str, resolved: str, query_vector: np.ndarray, hits: list[Hit]) -> Answer:
        ranked = self.rank_sentences(resolved, query_vector, hits)
        best = ranked[0].score if ranked else 0.0
        if best < self.settings.abstain_threshold:
            return Answer(
                question=question, answer=NOT_FOUND, abstained=True, confidence=best,
                related=self._related(ranked, cited=set()), resolved_question=_changed(question, resolved),
            )
        chosen = self._select(ranked)
        citations = [citation(n, s.hit.chunk, s.sentence, s.score) for n, s in enumerate(chosen, 1)]
        text = " ".join(f"{normalise_space(c.quote)} [{c.n}]" for c in citations)
        return Answer(
            question=question, answer=text, abstained=False, confidence=best, citations=citations,
            related=self._related(ranked, cited={c.chunk_id for c in citations}),
            resolved_question=_changed(question, resolved),
        )

    def rank_sentences(self, question: str, query_vector: np.ndarray, hits: list[Hit]) -> list[Scored]:
        terms = content_terms(question)
        weights = {t: self.idf.get(t, self.default_idf) for t in terms}
        total = sum(weights.values()) or 1.0
        wants = answer_type(question)
        scored: list[Scored] = []
        for hit in hits:
            vectors = np.asarray(self.nodes.sentence_rows(hit.index), dtype=np.float32)
            meanings = vectors @ query_vector.astype(np.float32)
            context = set(content_terms(" ".join(hit.chunk.section) + " " + " ".join(hit.chunk.metadata.values())))
            row0 = self.nodes.offsets[hit.index]
            for i, sentence in enumerate(hit.chunk.sentences):
                text = hit.chunk.sentence_text(sentence)
                present = set(content_terms(text))
                coverage = sum(w for t, w in weights.items() if t in present) / total
                coverage += 0.5 * sum(w for t, w in weights.items() if t in context and t not in present) / total
                meaning = max(0.0, float(meanings[i]))
                score = W_MEANING * meaning + W_WORDS * min(1.0, coverage)
                if wants and not _has_type(text, wants):
                    score *= TYPE_PENALTY
                scored.append(Scored(hit, sentence, row0 + i, score, meaning, coverage))
        scored.sort(key=lambda s: (-s.score, s.hit.rank))
        return scored

    def _select(self, ranked: list[Scored]) -> list[Scored]:
        best = ranked[0].score
        floor = max(self.settings.abstain_threshold, 0.8 * best)
        chosen: list[Scored] = []
        seen_spans: set[tuple[str, int, int]] = set()
        for cand in ranked:
            if cand.score < floor or len(chosen) >= self.settings.max_answer_sentences:
                break
            span = (cand.hit.chunk.source, cand.sentence.start, cand.sentence.end)
            if span in seen_spans or any(self._near_duplicate(cand, c) for c in chosen):
                continue
            seen_spans.add(span)
            chosen.append(cand)
        return chosen

    def _near_duplicate(self, a: Scored, b: Scored) -> bool:
        va = np.asarray(self.nodes.sentence_vectors[a.row], dtype=np.float32)
        vb = np.asarray(self.nodes.sentence_vectors[b.row], dtype=np.float32)
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


def citation(n: int, chunk: Chunk, sentence: Sentence, score: float) -> Citation:
    meta = chunk.metadata
    return Citation(
        n=n, source=chunk.source, section=chunk.section_label, quote=chunk.sentence_text(sentence),
        start=sentence.start, end=sentence.end, score=round(float(score), 4), chunk_id=chunk.id,
        chunk_start=chunk.start, chunk_end=chunk.end, endnotes=list(sentence.endnotes), kind=chunk.kind,
        interviewee=meta.get("interviewee"), role=meta.get("role"), city=meta.get("city"), date=meta.get("date"),
    )


_WHEN = re.compile(r"^\s*(when\b|(in )?what (year|date|month|decade)\b|since when\b)", re.I)
_HOW_MANY = re.compile(r"\b(how many|how much|what number|number of|how long|what percentage)\b", re.I)
_WHO = re.compile(r"^\s*(who|whom|whose)\b", re.I)


def answer_type(question: str) -> str | None:
    """The kind of value the question asks for: 'date', 'number', 'person', or None."""
    if _WHEN.search(question):
        return "date"
    if _HOW_MANY.search(question):
        return "number"
    if _WHO.search(question):
        return "person"
    return None


def _has_type(text: str, wants: str) -> bool:
    if wants == "date":
        return bool(find_years(text) or find_dates(text))
    if wants == "number":
        return has_number(text)
    return bool(find_person_names(text)) or bool(re.search(r"\b(mayor|director|manager|council|officer)\b", text, re.I))


def _changed(question: str, resolved: str) -> str | None:
    return resolved if resolved != question else None
