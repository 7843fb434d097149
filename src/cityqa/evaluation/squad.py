"""SQuAD 2.0-format question sets as a cityqa corpus: text nobody here wrote, questions nobody here tuned for.

Each article becomes one Markdown document (`# Title`, then its paragraphs separated by blank lines), so every
answer's `answer_start` maps to an exact character span of the document cityqa indexes and cites. Used by
`cityqa eval --squad` and by the scorer's training script (`benchmarks/train_scorer.py`).

The data's licence (SQuAD 2.0: CC BY-SA 4.0, Rajpurkar, Jia & Liang 2018) travels with anything derived from it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SquadFormatError


@dataclass(frozen=True)
class SquadQuestion:
    """One question, with its answers as character spans of the article's document."""

    id: str
    question: str
    source: str  # the article's document, relative to the corpus folder
    answerable: bool
    answers: tuple[str, ...] = ()
    spans: tuple[tuple[int, int], ...] = ()  # answers in the document text
    plausible: tuple[tuple[int, int], ...] = ()  # unanswerable questions: what a careless reader would quote


@dataclass
class SquadSet:
    """Articles (document name -> text) and their questions."""

    documents: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # document name -> article title
    questions: list[SquadQuestion] = field(default_factory=list)

    def of_articles(self, titles: Sequence[str]) -> SquadSet:
        """The subset holding only the named articles (and their questions)."""
        keep = {source for source, title in self.titles.items() if title in set(titles)}
        return SquadSet(
            {s: t for s, t in self.documents.items() if s in keep},
            {s: t for s, t in self.titles.items() if s in keep},
            [q for q in self.questions if q.source in keep],
        )

    def write_corpus(self, folder: Path | str) -> Path:
        """Write one `.md` file per article into `folder` (created); returns the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for source, text in self.documents.items():
            (folder / source).write_text(text, encoding="utf-8")
        return folder


def document_name(title: str) -> str:
    return re.sub(r"[^\w-]+", "_", title).strip("_")[:100] + ".md"


def load_squad(path: Path | str, sample: int | None = None, seed: int = 0) -> SquadSet:
    """Read a SQuAD 2.0 file; with `sample`, keep that many questions drawn at random (by `seed`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        articles = data["data"]
    except FileNotFoundError as exc:
        raise SquadFormatError(f"SQuAD file {path} not found.") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise SquadFormatError(f"{path} is not SQuAD 2.0 JSON (expected a top-level 'data' list): {exc}") from exc
    squad = SquadSet()
    try:
        for article in articles:
            _add_article(squad, article)
    except (KeyError, TypeError, ValueError) as exc:
        raise SquadFormatError(f"{path}: an article or question lacks a field SQuAD 2.0 requires ({exc}).") from exc
    if not squad.questions:
        raise SquadFormatError(f"{path} holds no questions.")
    if sample is not None and sample < len(squad.questions):
        squad.questions = sorted(random.Random(seed).sample(squad.questions, sample), key=squad.questions.index)
    return squad


def _add_article(squad: SquadSet, article: dict) -> None:
    title = str(article["title"]).replace("_", " ")
    source = document_name(str(article["title"]))
    parts = [f"# {title}"]
    offset = len(parts[0]) + 2
    for paragraph in article["paragraphs"]:
        context = str(paragraph["context"])
        for qa in paragraph["qas"]:
            squad.questions.append(_question(qa, source, context, offset))
        parts.append(context)
        offset += len(context) + 2
    squad.documents[source] = "\n\n".join(parts) + "\n"
    squad.titles[source] = str(article["title"])


def _question(qa: dict, source: str, context: str, offset: int) -> SquadQuestion:
    def spans(items: list[dict]) -> tuple[tuple[int, int], ...]:
        found = []
        for item in items:
            start = int(item["answer_start"])
            text = str(item["text"])
            if context[start : start + len(text)] != text:  # a few SQuAD offsets are off: search for the text
                start = context.find(text)
            if start >= 0:
                found.append((offset + start, offset + start + len(text)))
        return tuple(dict.fromkeys(found))

    impossible = bool(qa.get("is_impossible", False)) or not qa.get("answers")
    answers = () if impossible else tuple(dict.fromkeys(str(a["text"]) for a in qa["answers"]))
    return SquadQuestion(
        id=str(qa["id"]), question=str(qa["question"]), source=source, answerable=not impossible,
        answers=answers, spans=() if impossible else spans(qa["answers"]),
        plausible=spans(qa.get("plausible_answers") or []) if impossible else (),
    )


def split_articles(titles: Sequence[str], seed: int, n_dev: int, n_test: int) -> dict[str, list[str]]:
    """A by-article split: `n_test` articles to report on, `n_dev` to tune on, the rest to train on."""
    order = sorted(titles)
    random.Random(seed).shuffle(order)
    return {
        "test": sorted(order[:n_test]), "dev": sorted(order[n_test : n_test + n_dev]),
        "train": sorted(order[n_test + n_dev :]),
    }
