"""Resolve short follow-up questions against earlier turns, without an LLM.

    "Does Springfield have a trade office?"  then  "What about Shelbyville?"
        -> "Does Shelbyville have a trade office?"
    "Who is the protocol director of Springfield?"  then  "When was she interviewed?"
        -> "When was Jane Doe interviewed?"   (the person named in the previous answer)

Places are recognised with a `Gazetteer` (`entities.default_gazetteer()` unless the caller passes the one that
also knows the indexed documents' own places, `Assistant.engine.places`). Questions are matched in any case
("what about shelbyville?"); answers, which quote the documents, only where a name is capitalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..documents.entities import Gazetteer, default_gazetteer, find_person_names
from ..types import Answer

_WHAT_ABOUT = re.compile(
    r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?:in\s+|for\s+|the\s+city\s+of\s+)?(?P<x>.+?)\s*\??\s*$"
    r"|^\s*and\s+(?:in\s+|for\s+)?(?P<y>[A-Z].*?)\s*\?\s*$",
    re.I,
)
_PERSON_PRONOUN = re.compile(r"\b(she|he|her|him|his|hers)\b", re.I)
_LEANS_ON_CONTEXT = re.compile(
    r"^\s*(and|but|also|so)\b|\b(it|its|they|them|their|theirs|that|this|those|these|there|he|she|him|her|his)\b",
    re.I,
)
_PLACE_PRONOUN = re.compile(r"\b(there|that city|this city|the city)\b", re.I)


@dataclass
class Turn:
    """One earlier exchange: the question as resolved, and what the answer named."""

    question: str
    answer: str = ""
    people: list[str] = field(default_factory=list)


def turns_from_history(history: Sequence[object] | None) -> list[Turn]:
    """Accept earlier `Answer`s, plain question strings, or chat messages ({"role", "content"} dicts)."""
    turns: list[Turn] = []
    for item in history or ():
        if isinstance(item, Answer):
            people = [c.interviewee for c in item.citations if c.interviewee]
            turns.append(Turn(item.resolved_question or item.question, item.answer, people))
        elif isinstance(item, str):
            turns.append(Turn(item))
        elif isinstance(item, dict) and item.get("role") == "user":
            turns.append(Turn(_content_text(item.get("content"))))
        elif isinstance(item, dict) and item.get("role") == "assistant" and turns:
            turns[-1].answer += " " + _content_text(item.get("content"))
    return turns


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # gradio's [{"type": "text", "text": ...}] form
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def resolve(
    question: str, history: Sequence[object] | None, known_people: Iterable[str] = (),
    gazetteer: Gazetteer | None = None,
) -> str:
    """Rewrite a follow-up into a standalone question; return it unchanged when it already stands alone.
    `gazetteer`: the places known (default: the general gazetteer)."""
    turns = turns_from_history(history)
    if not turns:
        return question
    places_known = gazetteer if gazetteer is not None else default_gazetteer()
    previous = turns[-1]
    match = _WHAT_ABOUT.match(question)
    if match:
        new = (match.group("x") or match.group("y")).strip()
        return _substitute(previous.question, new, known_people, places_known)
    if _PERSON_PRONOUN.search(question):
        person = _last_person(turns, known_people, places_known)
        if person:
            return _replace_person_pronoun(question, person)
    if _PLACE_PRONOUN.search(question):
        places = places_known.find(previous.question, any_case=True) or places_known.find(previous.answer)
        cities = [p for p in places if places_known.place_kind(p) == "city"]
        if "city" in question.lower() and cities:
            places = cities
        if places:
            place = places[-1]
            return _PLACE_PRONOUN.sub(lambda m: ("in " if m.group(1).lower() == "there" else "") + place, question, 1)
    if _LEANS_ON_CONTEXT.search(question) and len(question.split()) <= 10:
        # "In what year was it published?": keep the question's own form, and carry the topic along
        return f"{question.rstrip()} ({previous.question.strip()})"
    return question


def _substitute(base: str, new: str, known_people: Iterable[str], gazetteer: Gazetteer) -> str:
    """Put `new` in place of the entity of the same kind in the previous question."""
    if gazetteer.kind(new) or gazetteer.find(new, any_case=True):
        olds = [p for p in gazetteer.find(base, any_case=True) if not gazetteer.same_place(p, new)]
    else:
        olds = find_person_names(base, set(known_people), gazetteer)
    if olds:
        return base.replace(olds[-1], new, 1)
    return f"{base.rstrip(' ?')} for {new}?"


def _last_person(turns: list[Turn], known_people: Iterable[str], gazetteer: Gazetteer | None = None) -> str | None:
    known = set(known_people)
    for turn in reversed(turns):
        named = (find_person_names(text, known, gazetteer) for text in (turn.answer, turn.question))
        for candidates in (turn.people, *named):
            names = [c for c in candidates if c in known] or candidates
            if names:
                return names[0]
    return None


def _replace_person_pronoun(question: str, person: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group(1).lower()
        possessive = word in {"his", "hers"} or (
            word == "her" and re.match(r"\s+[a-z]", match.string[match.end() :]) is not None
        )
        return f"{person}'s" if possessive else person

    return _PERSON_PRONOUN.sub(swap, question, count=1)
