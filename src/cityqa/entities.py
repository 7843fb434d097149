"""Small gazetteers and pattern helpers for places, people, numbers and dates.

Used to read interview registers, resolve follow-ups ("What about Fresno?") and compare typed values when
fact-checking. Deliberately rule-based: no model, no download, deterministic.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

CALIFORNIA_CITIES = (
    "Los Angeles", "San Diego", "San José", "San Jose", "San Francisco", "Fresno", "Sacramento", "Long Beach",
    "Oakland", "Bakersfield", "Anaheim", "Santa Ana", "Riverside", "Stockton", "Irvine", "Chula Vista",
    "Fremont", "San Bernardino", "Modesto", "Fontana", "Santa Clarita", "Oxnard", "Moreno Valley",
    "Huntington Beach", "Glendale", "Santa Rosa", "Ontario", "Elk Grove", "Oceanside", "Rancho Cucamonga",
    "Garden Grove", "Berkeley", "Pasadena", "Palo Alto", "Santa Monica", "Santa Barbara", "Torrance",
    "Pomona", "Salinas", "Hayward", "Sunnyvale", "Escondido", "Visalia", "Santa Clara", "Burbank",
)
WORLD_PLACES = (
    "Okiyama", "Dublin", "Singapore", "Phnom Penh", "Ho Chi Minh City", "Tokyo", "Osaka", "Shanghai", "Beijing",
    "Guangzhou", "Shenzhen", "Seoul", "Busan", "Taipei", "Manila", "Hanoi", "Bangkok", "Jakarta", "Mumbai",
    "Delhi", "Mexico City", "Guadalajara", "Tijuana", "Vancouver", "Toronto", "London", "Paris", "Berlin",
    "Madrid", "Barcelona", "Rome", "Milan", "Amsterdam", "Brussels", "Helsinki", "Stockholm", "Oslo",
    "Copenhagen", "Dubai", "Tel Aviv", "Yerevan", "Sydney", "Melbourne", "Auckland", "Nairobi", "Lagos",
    "Johannesburg", "São Paulo", "Buenos Aires", "Lima", "Bogotá", "Santiago", "Nagorno-Karabakh",
)
COUNTRIES = (
    "United States", "United Kingdom", "Finland", "South Korea", "North Korea", "Korea", "Taiwan", "Japan",
    "China", "Cambodia", "Vietnam", "Ireland", "Armenia", "Azerbaijan", "Iran", "India", "Mexico", "Canada",
    "Germany", "France", "Italy", "Spain", "Portugal", "Netherlands", "Belgium", "Sweden", "Norway", "Denmark",
    "Poland", "Ukraine", "Russia", "Turkey", "Israel", "Egypt", "Nigeria", "Kenya", "South Africa", "Brazil",
    "Argentina", "Chile", "Peru", "Colombia", "Australia", "New Zealand", "Philippines", "Indonesia",
    "Thailand", "Malaysia", "Pakistan", "Bangladesh", "Saudi Arabia", "United Arab Emirates", "Qatar",
    "Switzerland", "Austria", "Greece", "Ethiopia", "Ghana", "El Salvador", "Guatemala", "Honduras",
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


def fold(text: str) -> str:
    """Lower-case and strip accents so 'San José' matches 'San Jose'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@lru_cache(maxsize=1)
def _place_pattern() -> re.Pattern[str]:
    names = sorted({fold(n) for n in (*CALIFORNIA_CITIES, *WORLD_PLACES, *COUNTRIES)}, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(n) for n in names) + r")\b")


def find_places(text: str) -> list[str]:
    """Place names in `text`, in order, as spelled in the text (longest match wins)."""
    folded = fold(text)
    if len(folded) != len(text):  # accents that decompose to several characters: fall back to folded names
        return [m.group(1) for m in _place_pattern().finditer(folded)]
    return [text[m.start(1) : m.end(1)] for m in _place_pattern().finditer(folded)]


def place_kind(name: str) -> str:
    key = fold(name)
    if key in {fold(c) for c in COUNTRIES}:
        return "country"
    if key in {fold(c) for c in CALIFORNIA_CITIES}:
        return "city"
    return "place"


def same_place(a: str, b: str) -> bool:
    return fold(a) == fold(b)


_PERSON = re.compile(r"\b([A-Z][a-zà-ÿ’'-]+(?: [A-Z]\.)?(?: (?:de |van |von )?[A-Z][a-zà-ÿ’'-]+){1,2})\b")


def find_person_names(text: str, known: set[str] | None = None) -> list[str]:
    """Capitalised two- or three-word names that are not places; `known` names always count."""
    found = [name for name in (known or set()) if name in text]
    for match in _PERSON.finditer(text):
        name = match.group(1)
        if not find_places(name) and name not in found and name.split()[0] not in {"The", "In", "At", "City"}:
            found.append(name)
    return found


_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])")
_WORD_NUMBER = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b", re.I)
_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})(s?)\b")
_DATE = re.compile(r"\b(" + "|".join(m.capitalize() for m in MONTHS) + r")\s+(\d{1,2}),?\s+(\d{4})\b")


def find_years(text: str) -> list[str]:
    return [m.group(1) + m.group(2) for m in _YEAR.finditer(text)]


def find_dates(text: str) -> list[str]:
    """Dates written out ('October 16, 2023') as ISO strings."""
    return [
        f"{m.group(3)}-{MONTHS.index(m.group(1).lower()) + 1:02d}-{int(m.group(2)):02d}" for m in _DATE.finditer(text)
    ]


def find_numbers(text: str) -> list[float]:
    """Numbers that are not years, digits or words ('seven', 'third', 'a dozen')."""
    years = {m.span(1) for m in _YEAR.finditer(text)}
    values: list[float] = []
    for match in _NUMBER.finditer(text):
        if match.span(1) not in years:
            values.append(float(match.group(1).replace(",", "")))
    values += [float(NUMBER_WORDS[m.group(1).lower()]) for m in _WORD_NUMBER.finditer(text)]
    return values


def strip_years(text: str) -> str:
    """`text` with years and written-out dates blanked, so the numbers left are counts and amounts."""
    return _YEAR.sub(" ", _DATE.sub(" ", text))


def has_number(text: str) -> bool:
    """A count or amount, not counting years or the day in a date ('October 16, 2023')."""
    text = strip_years(text)
    return bool(_NUMBER.search(text) or _WORD_NUMBER.search(text))


_NAMED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w’'-]*(?:\s+(?:of\s+|and\s+|de\s+)?[A-Z][\w’'-]*)*)")


def named_spans(text: str) -> list[str]:
    """Capitalised spans that are not the first word: places, people, organisations, titled things."""
    spans = [part.strip() for m in _NAMED.finditer(text.strip()) for part in re.split(r"['’]s\b", m.group(1))]
    return [s for s in spans if s and s.lower() not in {"i", "what", "who", "which", "when", "where", "how"}]
