"""Mistyped words in a question, corrected to the indexed documents' own words.

A search engine that finds nothing for "sistr cities" fails its user on the first question. A question word is
taken as mistyped only when neither the documents use it (as written, or a word of the same stem) nor English
knows it (the bundled WordNet lexicon); it is then replaced by the documents' word one edit away (a letter
dropped, added, changed, or two neighbours swapped), the most frequent one if several are. A real word typed for
another ("form" for "from") and names the documents never use are left as typed: correcting them would change
the question. The correction is shown to the user as the question understood.

Candidates are found through deletions (the symmetric-delete method of SymSpell): a word and each of its one-letter
deletions index the document words that share them, so a look-up costs a handful of dictionary reads instead of
an edit distance against every document word. The index is built on the first word that needs it: questions
typed right never pay for it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from functools import cached_property

from ..documents.text import STOPWORDS, fold

MIN_LENGTH = 4  # shorter words have too many neighbours one edit away to be corrected safely
_WORD = re.compile(r"[^\W\d_]+")


class Speller:
    """Corrects words to the words of `texts` (read on first need). `known`: whether a word is right as typed
    although no text has it as written (an English word, an inflection of a document word)."""

    def __init__(self, texts: Callable[[], Iterable[str]], known: Callable[[str], bool] = lambda word: False) -> None:
        self._texts = texts
        self._known = known

    @cached_property
    def _counts(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for text in self._texts():
            counts.update(_WORD.findall(fold(text)))
        return counts

    @cached_property
    def _by_deletion(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = defaultdict(list)
        for word in self._counts:
            if len(word) >= MIN_LENGTH - 1:
                for key in _deletions(word):
                    index[key].append(word)
        return index

    def correction(self, word: str) -> str | None:
        """The document word `word` is a typo of (folded), or None when it is not one or cannot be told."""
        folded = fold(word)
        if len(folded) < MIN_LENGTH or folded in STOPWORDS or self._known(folded) or folded in self._counts:
            return None
        found = {w for key in _deletions(folded) for w in self._by_deletion.get(key, ()) if _one_edit(folded, w)}
        ranked = sorted(found, key=lambda w: -self._counts[w])
        if not ranked or (len(ranked) > 1 and self._counts[ranked[0]] == self._counts[ranked[1]]):
            return None  # nothing close, or two equally likely words: leave it as typed
        return ranked[0]

    def correct(self, text: str) -> str:
        """`text` with each mistyped word replaced (in capitals, or with a capital first letter, as typed); the
        rest unchanged."""

        def fix(match: re.Match[str]) -> str:
            typed = match.group(0)
            right = self.correction(typed)
            if right is None:
                return typed
            if typed.isupper():
                return right.upper()
            return right.capitalize() if typed[0].isupper() else right

        return _WORD.sub(fix, text)


def _deletions(word: str) -> set[str]:
    return {word, *(word[:i] + word[i + 1 :] for i in range(len(word)))}


def _one_edit(a: str, b: str) -> bool:
    """Whether `a` becomes `b` by one deletion, insertion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = next((k for k in range(len(a)) if a[k] != b[k]), len(a))
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:
        return True  # one letter changed
    return i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
