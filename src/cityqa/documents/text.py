"""Tokenising shared by answer scoring, follow-up resolution and fact-checking."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..types import Chunk


def fold(text: str) -> str:
    """Lower-case and strip accents so 'Bogotá' matches 'Bogota'."""
    if text.isascii():  # nothing to decompose (most text; the gazetteer folds 90k names at first use)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my no nor not now of
    off on once only or other our ours out over own same she should so some such than that the their theirs them
    then there these they this those through to too under until up very was we were what when where which while
    who whom whose why will with would you your yours according paper report say says said tell told describe
    described mention mentioned name named list give many much""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "nor", "lacks", "lack", "without", "none", "neither"})
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


@lru_cache(maxsize=1)
def _stemmer() -> Any:  # PyStemmer ships no type information
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    return [w.replace("’", "'").removesuffix("'s") for w in _WORD.findall(fold(text))]


def content_terms(text: str) -> list[str]:
    """Stemmed content words: lower-cased, accents folded, stop words dropped, in order, unique."""
    kept = [w for w in words(text) if w not in STOPWORDS and len(w) > 1]
    stems = _stemmer().stemWords(kept)
    return list(dict.fromkeys(stems))


def same_token(a: str, b: str) -> bool:
    """Equal, or one a prefix of the other ('Kenya'/'Kenyan', 'interview'/'interviewed'), the shorter one at
    least four letters long."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short)


def stem(word: str) -> str:
    """The stem of one lower-cased word (stop word or not)."""
    return str(_stemmer().stemWord(word))


@lru_cache(maxsize=200_000)
def term_tuple(text: str) -> tuple[str, ...]:
    """`content_terms`, remembered: the answerer meets the same sentences question after question."""
    return tuple(content_terms(text))


def normalise_space(text: str) -> str:
    return " ".join(text.split())


def document_frequencies(chunks: Iterable[Chunk]) -> Counter[str]:
    """In how many chunks each content term occurs (the answerer's idf). Computed once at ingest and stored
    with the generation; recomputed by the answerer only for node stores that do not carry it."""
    df: Counter[str] = Counter()
    for chunk in chunks:
        df.update(set(content_terms(chunk.search_text())))
    return df
