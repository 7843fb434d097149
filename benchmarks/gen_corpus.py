"""Generate a large distractor corpus: report-like text about many fictional cities, plus the real report.

    python benchmarks/gen_corpus.py OUT_DIR --chunks 100000 [--seed 7]

Paragraphs are recombined from sentence templates (sister cities, trade offices, consulates, delegations,
budgets, mayors, ports, tourism: the real report's topics) filled with fictional cities, countries, people, years
and figures. To keep embedding the 100k-chunk corpus within the benchmark budget, each document draws its
paragraphs from a fixed pool of unique paragraphs (`--pool`, default 6,000) under a fixed set of section headings:
every chunk is a distinct passage of a distinct file, but its text repeats elsewhere in the corpus, so the
embedding cache embeds each unique text once. Each paragraph is one chunk (3-4 sentences, well under 180 words).

The real report is copied in unchanged, so its gold questions must still be answered from it among distractors.
Sizes are nested: the first N documents of the 100k corpus are the 10k corpus, and so on (same seed).
"""

from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

REPORT = Path(__file__).resolve().parents[1] / "corpus" / "global-engagements-california-cities.txt"
PARAGRAPHS_PER_DOC = 50

_SYL = ("ka", "lo", "ve", "ran", "mor", "tel", "si", "bra", "dun", "qua", "ni", "zel", "ost", "pe", "var", "lin",
        "ha", "dor", "mi", "sen", "ta", "rok", "bel", "ul", "fen", "gri", "ad", "wen", "cor", "is")
_COUNTRIES = ("Veloria", "Marandia", "Ostrova", "Calderia", "Nuvania", "Telmark", "Sorvenia", "Pelagia", "Drumond",
              "Quessa", "Lindor", "Harvia", "Zeltia", "Bramont", "Ulmora", "Fenwick Isles", "Grisland", "Adrena")
_FIRST = ("Ana", "Boris", "Carla", "Dev", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jon", "Kira", "Luis", "Mara",
          "Nils", "Odile", "Pavel", "Rosa", "Sami", "Tess", "Ulla", "Vik", "Wen", "Yara", "Zed")
_LAST = ("Alden", "Brask", "Corvo", "Dunmore", "Ekwall", "Ferro", "Galt", "Hollis", "Ivers", "Jansky", "Kell",
         "Lorne", "Marsh", "Nadir", "Orsk", "Pryce", "Quill", "Rook", "Stavros", "Tamsin", "Ulric", "Voss")
_HEADINGS = {
    "sister": "Sister Cities and Friendship Agreements",
    "trade": "Trade Offices and Investment Missions",
    "staff": "International Affairs Staffing",
    "consul": "Consulates and Diplomatic Presence",
    "port": "Ports and Airports",
    "tourism": "Tourism Associations and Branding",
    "budget": "Budgets for Global Engagement",
    "leader": "Leadership and Public Statements",
}
_TEMPLATES = {
    "sister": [
        "{city} signed a sister-city agreement with {city2}, {country}, in {year}.",
        "The relationship between {city} and {city2} is among the oldest linkages in {country}.",
        "In {year}, {city} hosted a youth exchange with its sister city {city2}.",
        "{city} has {n} sister cities, most of them in {country}.",
        "Its friendship agreement with {city2} lapsed in {year} and was renewed two years later.",
    ],
    "trade": [
        "{city} opened a trade office in {city2}, {country}, in {year}.",
        "A delegation of business leaders from {country} visited {city} in {year} to discuss investment.",
        "The {city} trade mission to {country} in {year} included {n} local firms.",
        "Exports from {city} to {country} grew by {pct} percent between {year} and {year2}.",
        "The city's investment office counts {n} foreign-owned companies among its employers.",
    ],
    "staff": [
        "{city} employs {n} staff in its Office of International Affairs, led by {person}.",
        "In {year}, {city} created a protocol officer position reporting to the mayor.",
        "{person} has served as {city}'s point person for global engagement since {year}.",
        "The international affairs team of {city} was cut to {n} positions in {year}.",
    ],
    "consul": [
        "{n} countries maintain consulates in {city}, including {country}.",
        "The consulate of {country} in {city} opened in {year}.",
        "{city} hosts an annual reception for the consular corps each {month}.",
        "Consular officers from {country} meet {city} officials every quarter.",
    ],
    "port": [
        "The port of {city} handled {n} thousand containers in {year}.",
        "{city}'s airport added a direct flight to {city2}, {country}, in {year}.",
        "Port revenue funds {pct} percent of {city}'s international programs.",
        "The harbor commission of {city} signed a green shipping corridor pact with {city2} in {year}.",
    ],
    "tourism": [
        "{city}'s tourism association counted {n} thousand foreign visitors in {year}.",
        "Visitors from {country} are the largest group of international tourists in {city}.",
        "The {city} visitors bureau is funded by a {pct} percent hotel tax.",
        "A branding campaign launched in {year} presents {city} as a gateway to {country}.",
    ],
    "budget": [
        "{city} budgeted ${n} million for international affairs in fiscal year {year}.",
        "The global engagement budget of {city} fell by {pct} percent in {year}.",
        "In {year}, {city} spent ${n} thousand on protocol and official visits.",
        "{city}'s council approved a ${n} million grant for the {country} exchange program.",
    ],
    "leader": [
        "Mayor {person} of {city} led a delegation to {country} in {year}.",
        "In {month} {year}, {city}'s council passed a resolution on relations with {country}.",
        "{person}, then mayor of {city}, spoke about climate diplomacy in {city2} in {year}.",
        "Leadership interest in {city} rose after the {year} election of {person}.",
    ],
}
_MONTHS = ("January", "March", "May", "June", "September", "October", "November", "December")


def _city(rng: random.Random) -> str:
    name = "".join(rng.choice(_SYL) for _ in range(rng.randint(2, 3)))
    return name.capitalize() + rng.choice(("", "", " Falls", " Harbor", "ville", " Springs", "ton"))


def paragraph_pool(size: int, seed: int) -> list[tuple[str, str]]:
    """(heading, paragraph) pairs, each paragraph 3-4 filled sentences on the heading's topic."""
    rng = random.Random(seed)
    cities = sorted({_city(rng) for _ in range(4000)})
    pool: list[tuple[str, str]] = []
    seen: set[str] = set()
    topics = list(_TEMPLATES)
    while len(pool) < size:
        topic = topics[len(pool) % len(topics)]
        city = rng.choice(cities)
        sentences = []
        for template in rng.sample(_TEMPLATES[topic], rng.randint(3, 4)):
            year = rng.randint(1950, 2024)
            sentences.append(template.format(
                city=city, city2=rng.choice(cities), country=rng.choice(_COUNTRIES), year=year,
                year2=year + rng.randint(1, 9), n=rng.randint(2, 90), pct=rng.randint(2, 60),
                person=f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", month=rng.choice(_MONTHS),
            ))
        text = " ".join(sentences)
        if text not in seen:
            seen.add(text)
            pool.append((_HEADINGS[topic], text))
    return pool


def generate(out: Path, chunks: int, seed: int = 7, pool_size: int = 6000, distinct: bool = False) -> Path:
    """Write ~`chunks` distractor chunks (plus the real report) into `out`; returns `out`. With `distinct`, no
    paragraph is used twice (the pool is made large enough): nothing for an embedding cache to re-use."""
    if distinct:
        pool_size = max(pool_size, chunks + chunks // 10)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(REPORT, out / REPORT.name)
    pool = paragraph_pool(pool_size, seed)
    by_heading: dict[str, list[str]] = {}
    for heading, text in pool:
        by_heading.setdefault(heading, []).append(text)
    rng = random.Random(seed + 1)
    n_docs = max(1, round(chunks / PARAGRAPHS_PER_DOC))
    headings = list(by_heading)
    per_section = PARAGRAPHS_PER_DOC // len(headings)
    for d in range(n_docs):
        sub = out / f"part-{d // 500:03d}"
        sub.mkdir(exist_ok=True)
        lines: list[str] = []
        for heading in headings:
            lines += [heading, ""]
            picked = [by_heading[heading].pop() for _ in range(per_section)] if distinct else \
                rng.sample(by_heading[heading], per_section)
            for text in picked:
                lines += [text, ""]
        (sub / f"city-report-{d:05d}.txt").write_text("\n".join(lines), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pool", type=int, default=6000)
    args = parser.parse_args()
    generate(args.out, args.chunks, args.seed, args.pool)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
