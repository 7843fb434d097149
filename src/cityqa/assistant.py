"""`Assistant`: the public entry point tying ingest, retrieval, answering, follow-ups and fact-checking together.

Its stages are passed in (the way httpx takes `transport=`): `embedder`, `retriever` (a `RetrieverFactory`),
`answerer` (an `AnswererFactory`) and `checker`, with today's parts as defaults. The evaluation's ablation and
llama-index baselines are assistants built with other parts (`evaluation/baselines.py`)."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checking.factcheck import Checkable

from .answering.answer import Answerer, AnswererFactory, Extractor, extractive
from .answering.followup import resolve
from .answering.retrieve import HybridRetriever, Retriever, RetrieverFactory
from .documents.entities import Gazetteer, gazetteer_for
from .documents.text import stem
from .errors import InputTooLongError
from .index.embeddings import Embedder, go_offline
from .index.ingest import Progress, ingest
from .index.nodes import NodeStore
from .index.store import IndexStore
from .reading.align import lexicon
from .reading.spelling import Speller, Truecaser
from .settings import Settings
from .types import Answer, Hit, IngestReport, SearchFilters, Verdict

Checker = Callable[["Checkable", str], list[Verdict]]  # fact-checks text against an assistant's index
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class _Engine:
    """Everything loaded for one index generation; swapped whole when the index changes."""

    manifest: dict[str, Any]
    nodes: NodeStore
    retriever: Retriever
    answerer: Answerer
    people: frozenset[str]
    settings: Settings
    embedder: Embedder

    @cached_property
    def extractor(self) -> Extractor:
        """The learned sentence scorer (the fact-checker and `make train` rank sentences with it): the answerer
        when it is the default extractive one, else one built for this generation on first use."""
        if isinstance(self.answerer, Extractor):
            return self.answerer
        return Extractor(self.nodes, self.settings, embedder=self.embedder)

    @cached_property
    def speller(self) -> Speller:
        """Corrects mistyped question words to this generation's words; built on first use. A word is right as
        typed when it is English or shares its stem with a document word ('partnering' / 'partners')."""
        terms = self.nodes.frequencies()

        def known(word: str) -> bool:
            return stem(word) in terms or lexicon().knows(word)

        return Speller(lambda: (c.text for c in self.nodes.chunks), known)

    @cached_property
    def truecaser(self) -> Truecaser:
        """Capitalises the names of a question typed in lower case as this generation's documents write them, and
        writes out the initials of their names; its tables are built on the first question that needs them."""
        return Truecaser(lambda: (c.text for c in self.nodes.chunks), lexicon().knows)

    @cached_property
    def places(self) -> Gazetteer:
        """The general gazetteer plus the places this generation's documents name; built on first use."""
        return gazetteer_for(self.nodes.chunks)


class Assistant:
    """Document-grounded question answering over one index.

    >>> assistant = Assistant.open(index_dir="index")          # doctest: +SKIP
    >>> assistant.ingest("corpus")                              # doctest: +SKIP
    >>> assistant.ask("Which cities have an office of international affairs?")  # doctest: +SKIP
    """

    def __init__(
        self, settings: Settings | None = None, index_dir: Path | str | None = None, *,
        embedder: Embedder | None = None, retriever: RetrieverFactory = HybridRetriever,
        answerer: AnswererFactory = extractive, checker: Checker | None = None,
    ) -> None:
        """`embedder`: share one loaded model between assistants (default: a new `Embedder` for the settings'
        model); `retriever`, `answerer`: how each index generation is searched and answered from; `checker`:
        the fact-checker, `factcheck.check` by default (imported on first use)."""
        go_offline()
        self.settings = settings or Settings()
        self.index_dir = Path(index_dir or self.settings.index_dir)
        self.store = IndexStore(self.index_dir, self.settings)
        self.embedder = embedder or Embedder(self.settings.embed_model, self.settings.embed_batch_size)
        self._open_retriever, self._open_answerer, self._checker = retriever, answerer, checker
        self._engine: _Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, index_dir: Path | str | None = None, settings: Settings | None = None, **stages: Any) -> Assistant:
        """An assistant over `index_dir`. The index is loaded on first use; `ingest` builds it if missing."""
        return cls(settings, index_dir, **stages)

    def with_stages(self, **stages: Any) -> Assistant:
        """An assistant over the same index and settings, sharing this one's loaded model, with other stages
        (`retriever=`, `answerer=`, `checker=`): how the evaluation's baselines are built."""
        return Assistant(self.settings, self.index_dir, embedder=self.embedder, **stages)

    # ------------------------------------------------------------ indexing

    def ingest(
        self, corpus_dir: Path | str | None = None, rebuild: bool = False, progress: Progress | None = None
    ) -> IngestReport:
        """Index `corpus_dir` incrementally (or from scratch with `rebuild`); questions keep working meanwhile."""
        report = ingest(
            self.settings, Path(corpus_dir or self.settings.corpus_dir), self.index_dir, rebuild=rebuild,
            embedder=self.embedder, progress=progress,
        )
        if not report.nothing_to_do or rebuild:
            self.reload()
        return report

    def reload(self) -> None:
        """Drop the loaded generation; the next question loads the current one."""
        with self._lock:
            self._engine = None

    @property
    def engine(self) -> _Engine:
        engine = self._engine
        if engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._load()
                engine = self._engine
        return engine

    def _load(self) -> _Engine:
        manifest = self.store.require_manifest()
        nodes = self.store.load_nodes(manifest)
        people = frozenset(c.metadata["interviewee"] for c in nodes.chunks if c.metadata.get("interviewee"))
        self.embedder.use_index(self.store.dir, self.settings.embed_backend)  # the index's ONNX query encoder
        retriever = self._open_retriever(self.store, manifest, nodes, self.embedder)
        answerer = self._open_answerer(nodes, self.settings, self.embedder)
        return _Engine(manifest, nodes, retriever, answerer, people, self.settings, self.embedder)

    @property
    def manifest(self) -> dict[str, Any]:
        return self.engine.manifest

    @property
    def fingerprint(self) -> str:
        return self.settings.fingerprint()

    # ------------------------------------------------------------ questions

    def ask(
        self,
        question: str,
        history: Sequence[object] | None = None,
        k: int | None = None,
        filters: SearchFilters | None = None,
    ) -> Answer:
        """Answer `question` from the documents, quoting and citing them; abstain when they do not say."""
        cleaned = clean_question(question)
        problem = self.question_problem(cleaned)
        if problem:
            return Answer(question=question, answer=problem, abstained=True, confidence=0.0, note=problem)
        engine = self.engine
        places = engine.places if history else None  # a first question needs no follow-up resolution
        resolved = resolve(self._understand(cleaned, engine), self._answered(history), engine.people, places)
        vector = self.embedder.encode_one(resolved)
        hits = engine.retriever.retrieve(resolved, vector, k or self.settings.top_k, filters)
        answer = engine.answerer.answer(cleaned, resolved, vector, hits)
        answer.question = question
        return answer

    def understand(self, question: str) -> str:
        """`question` as the answerer reads it: mistyped words corrected, the names of a question typed in lower
        case capitalised (each as `settings` allows); follow-ups are resolved by `ask`."""
        return self._understand(question, self.engine)

    def _understand(self, question: str, engine: _Engine) -> str:
        if self.settings.correct_spelling:
            question = engine.speller.correct(question)
        return engine.truecaser.restore(question) if self.settings.restore_capitals else question

    def passages(self, question: str, k: int | None = None, filters: SearchFilters | None = None) -> list[Hit]:
        """The passages retrieved for `question` (as asked, no follow-up resolution) in the order the answerer
        ranks them: the order an answer cites them and lists its related passages."""
        engine = self.engine
        vector = self.embedder.encode_one(question)
        k = k or self.settings.top_k
        hits = engine.retriever.retrieve(question, vector, k, filters)
        return engine.answerer.order(question, vector, hits)[:k]

    def _answered(self, history: Sequence[object] | None, depth: int = 3) -> list[object]:
        """Earlier turns given as bare question strings are answered again (cheaply), so a follow-up such as
        "When was she interviewed?" can see whom the previous answer named."""
        items = list(history or ())[-depth:]
        answered: list[object] = []
        for item in items:
            if isinstance(item, str):
                answered.append(self.ask(item, history=answered))
            else:
                answered.append(item)
        return answered

    def check(self, text: str) -> list[Verdict]:
        """Fact-check a statement or paragraph: one `Verdict` per atomic claim."""
        text = without_surrogates(text)
        if len(text) > self.settings.max_check_chars:
            raise InputTooLongError(len(text), self.settings.max_check_chars)
        if self._checker is None:
            from .checking.factcheck import check

            self._checker = check
        return self._checker(self, text)

    def question_problem(self, question: str) -> str | None:
        """Why a question cannot be asked as it is, in words for the user; None when it is fine."""
        if not question:
            return "Please type a question: this one is empty."
        if len(question) > self.settings.max_question_chars:
            return (
                f"This question is {len(question):,} characters long; the limit is "
                f"{self.settings.max_question_chars:,}. Please ask something shorter."
            )
        if not any(ch.isalnum() for ch in question):
            return "Please type a question in words: this one has no letters or digits."
        return None


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate (half of a UTF-16 pair: a str decoded from JSON can hold one, and no encoder,
    tokenizer or UTF-8 file takes it) replaced by U+FFFD, the replacement character."""
    return _SURROGATE.sub("\ufffd", text)


def clean_question(text: str) -> str:
    """Drop control characters and collapse white space."""
    kept = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in str(text or ""))
    return " ".join(kept.split())
