"""Mistyped words in a question, corrected to the indexed documents' own words; a question typed all in lower
case given back the capitals the documents write its names with.

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

import itertools
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


# ------------------------------------------------------------------ capitals


_TOKEN = re.compile(r"[^\W\d_]+|\d+")
_CONNECTORS = frozenset({"of", "de", "del", "la", "los", "las", "the", "and", "for", "y", "du", "von", "van"})
_UPPER = "A-ZÀ-ÖØ-Þ"  # capitals of the Latin script
_CAPITAL_WORD = rf"[{_UPPER}][^\W_]*"
_RUN = re.compile(
    rf"(?<![^\W_]){_CAPITAL_WORD}"
    rf"(?:(?:[ \t]+|-|[ \t]+(?:(?:{'|'.join(sorted(_CONNECTORS))})[ \t]+)+){_CAPITAL_WORD})*"
)
_LOWER_WORD = re.compile(rf"(?<![^\W_])[^\W\d_{_UPPER}][^\W\d_]*")
MAX_RUN = 6  # words in the longest name looked up ("Office of International Affairs and Protocol")
MAX_INITIALS = 4  # letters in the longest initials written out ("oiap")


class Truecaser:
    """Gives a question typed without capitals ("how big is port alder's harbour") the capitals the documents write
    its names with ("Port Alder"), so that everything reading names from capitals sees them as in a question typed
    with care. A name is a run of capitalised words (joined by "of", "de", "the"…) in running text, not at a
    sentence's start; a one-word name counts only where the documents write it capitalised more often than not
    ("riverbend" → "Riverbend", "long" in "how long" stays). Questions with a capital after their first letter keep
    their capitals: their writer chose them.

    In any question, a short word no document uses that is the initials of a name the documents use ("otp", "PA")
    becomes that name ("Office of Trade and Protocol", "Port Alder"): users abbreviate the names they type most, and
    an unknown word counts against an answer. A word English knows (`known`: "us", "la") is taken for initials only
    when typed in capitals ("US", "LA")."""

    def __init__(self, texts: Callable[[], Iterable[str]], known: Callable[[str], bool] = lambda word: False) -> None:
        self._texts = texts
        self._known = known

    @cached_property
    def _tables(self) -> tuple[dict[tuple[str, ...], str], dict[str, str], frozenset[str]]:
        """The names by their folded words, the names of two to four capitalised words by their initials (where
        one name is the most frequent with them), and the documents' folded words (written in lower case, or in a
        name: a word seen only opening a sentence is not among them, and need not be). About 0.25 s per MB of text,
        once per index generation."""
        forms: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        lower: Counter[str] = Counter()
        for text in self._texts():
            for word, n in Counter(_LOWER_WORD.findall(text)).items():
                lower[fold(word)] += n
            for run in _runs(text):
                forms[tuple(fold(w) for w in _TOKEN.findall(run))][run] += 1
        written = {key: (counts.most_common(1)[0][0], sum(counts.values())) for key, counts in forms.items()}
        names = {key: name for key, (name, n) in written.items() if len(key) > 1 or n > lower[key[0]]}
        by_initials: dict[str, Counter[str]] = defaultdict(Counter)
        for name, n in written.values():
            capitals = [w for w in _TOKEN.findall(name) if w[0].isupper()]
            if 2 <= len(capitals) <= MAX_INITIALS:
                by_initials[fold("".join(w[0] for w in capitals))][name] += n
        initials = {}
        for letters, counts in by_initials.items():
            ranked = counts.most_common(2)
            if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
                initials[letters] = ranked[0][0]
        return names, initials, frozenset(lower).union(*forms)  # the lower-case words and every name's words

    def restore(self, question: str) -> str:
        """`question` with the initials of a name written out, and its names capitalised as the documents write
        them if it was typed without capitals."""
        typed_lower = not any(c.isupper() for c in question[1:])
        question = self._expand(question)
        if not typed_lower:
            return question
        names = self._tables[0]
        tokens = list(_TOKEN.finditer(question))
        out, end, i = [], 0, 0
        while i < len(tokens):
            for n in range(min(MAX_RUN, len(tokens) - i), 0, -1):
                span = tokens[i : i + n]
                name = names.get(tuple(fold(t.group(0)) for t in span))
                if name and _joined(question, span):
                    out += [question[end : span[0].start()], name]
                    end, i = span[-1].end(), i + n
                    break
            else:
                i += 1
        return "".join([*out, question[end:]])

    def _expand(self, question: str) -> str:
        if not any(map(self._may_be_initials, _TOKEN.findall(question))):
            return question  # most questions: the documents are not read
        _, initials, vocabulary = self._tables

        def expand(match: re.Match[str]) -> str:
            typed = match.group(0)
            if not self._may_be_initials(typed) or fold(typed) in vocabulary:
                return typed
            return initials.get(fold(typed), typed)

        return _TOKEN.sub(expand, question)

    def _may_be_initials(self, typed: str) -> bool:
        word = fold(typed)
        return (2 <= len(word) <= MAX_INITIALS and word.isalpha() and word not in STOPWORDS
                and (typed.isupper() or not self._known(word)))


def _runs(text: str) -> Iterable[str]:
    """The capitalised runs of `text` (capitalised words joined by a space, a hyphen or connectors), as written,
    without a sentence's opening word, a leading function word ("The") or a whole line (a heading in title case
    capitalises every word, names or not)."""
    for match in _RUN.finditer(text):
        if _whole_line(text, match.start(), match.end()):
            continue
        words = list(_TOKEN.finditer(match.group(0)))
        if _opens_sentence(text, match.start()):
            words = words[1:]
        while words and (not words[0].group(0)[0].isupper() or fold(words[0].group(0)) in STOPWORDS):
            words = words[1:]  # "The" opens a name only where a sentence or a title starts
        while words and not words[-1].group(0)[0].isupper():
            words = words[:-1]
        if words:
            yield match.group(0)[words[0].start() : words[-1].end()]


def _opens_sentence(text: str, start: int) -> bool:
    """Whether `start` begins a sentence: nothing before it but spaces since the text's or a paragraph's start or
    a sentence's end (a single line break inside a paragraph does not end a sentence)."""
    i, breaks = start - 1, 0
    while i >= 0 and text[i].isspace():
        breaks += text[i] == "\n"
        i -= 1
    while i >= 0 and text[i] in "\"'”’)]":
        i -= 1
    j = i
    while j >= 0 and text[j].isdigit():  # a note's number after the full stop ("… at Stanford.107 Given this")
        j -= 1
    return i < 0 or breaks > 1 or text[i] in ".!?:;•" or (j < i and j >= 0 and text[j] in ".!?")


def _whole_line(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return not text[line_start:start].strip() and not text[end : len(text) if line_end < 0 else line_end].strip()


def _joined(question: str, span: list[re.Match[str]]) -> bool:
    """Whether a question's words are one phrase (only spaces or hyphens between them, as a name's are)."""
    return all(question[a.end() : b.start()] in (" ", "-") for a, b in itertools.pairwise(span))
