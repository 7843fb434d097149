"""Shared fixtures: one small real corpus (the report plus fictional interview notes), indexed once per session
into a temporary folder with the real bundled model and a real Chroma store."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

for _key, _value in {
    "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
}.items():
    os.environ[_key] = _value

from cityqa import Answer, Assistant, Settings  # noqa: E402

GoldAnswers = list[tuple[dict[str, Any], Answer]]

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "corpus" / "global-engagements-california-cities.txt"
FIXTURE_CORPUS = Path(__file__).parent / "fixtures" / "corpus"
GOLD = Path(__file__).parent / "gold"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first: with `make test`'s two workers they then run beside the rest, not after it."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def make_corpus(folder: Path) -> Path:
    """A fresh copy of the shared test corpus in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPORT, folder / REPORT.name)
    for path in FIXTURE_CORPUS.iterdir():
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, corpus_dir: Path) -> Settings:
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path_factory.mktemp("index"))


@pytest.fixture(scope="session")
def assistant(settings: Settings) -> Assistant:
    """An assistant over the shared corpus, indexed once for the whole session. Do not mutate its corpus."""
    built = Assistant.open(settings=settings)
    built.ingest()
    return built


# The quoting mechanics (which sentences a quote holds, its citations and pages, the chat's chips, the briefing
# note) are tested where the assistant quotes: at the threshold the scorer shipped with before issue 24. The shipped
# threshold (few quotes, see README "Abstention") has its own tests: the floors and the abstention tests.
QUOTING_THRESHOLD = 0.14


@pytest.fixture(scope="session")
def quoting(settings: Settings, assistant: Assistant) -> Assistant:
    """The shared assistant's index and model, quoting from `QUOTING_THRESHOLD` up."""
    return Assistant(settings.model_copy(update={"abstain_threshold": QUOTING_THRESHOLD}), settings.index_dir,
                     embedder=assistant.embedder)


@pytest.fixture(scope="session")
def gold_questions() -> list[dict[str, Any]]:
    return load_jsonl(GOLD / "questions.jsonl")


class _Recording:
    """The assistant, keeping every answer it gives, in order: one `cityqa eval` pass then serves both the tests of
    the report's metrics and the tests that read the answers themselves."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.answers: list[Answer] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.assistant, name)

    def ask(self, question: str, history: Any = None, **kwargs: Any) -> Answer:
        answer = self.assistant.ask(question, history=history, **kwargs)
        self.answers.append(answer)
        return answer


@pytest.fixture(scope="session")
def gold_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, gold_questions: list[dict[str, Any]]
) -> tuple[dict[str, Any], GoldAnswers]:
    """The one pass over the gold questions per test run: the evaluation report of `cityqa` and every (gold item,
    answer) pair it scored. Under `make test`'s workers, the first worker to need it makes the pass and the
    others read its result (pytest-xdist's recipe for a session fixture run once)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return _gold_pass(request.getfixturevalue("assistant"), gold_questions)
    shared = tmp_path_factory.getbasetemp().parent / "gold-run.pickle"
    with FileLock(str(shared) + ".lock"):
        if shared.exists():
            return pickle.loads(shared.read_bytes())  # written by this run's other worker
        result = _gold_pass(request.getfixturevalue("assistant"), gold_questions)
        shared.write_bytes(pickle.dumps(result))
    return result


def _gold_pass(assistant: Assistant, gold_questions: list[dict[str, Any]]) -> tuple[dict[str, Any], GoldAnswers]:
    from cityqa.evaluation import evaluate

    recording = _Recording(assistant)
    report = evaluate.evaluate(recording, GOLD / "questions.jsonl", systems=["cityqa"])  # type: ignore[arg-type]
    answers = recording.answers[1:]  # after the untimed warm-up question
    return report, list(zip(gold_questions, answers, strict=True))


@pytest.fixture(scope="session")
def gold_answers(gold_run: tuple[dict[str, Any], GoldAnswers]) -> GoldAnswers:
    """Every gold question asked once per run (with its history), for all the tests that read the answers."""
    return gold_run[1]


@pytest.fixture(scope="session")
def gold_claims() -> list[dict[str, Any]]:
    return load_jsonl(GOLD / "claims.jsonl")


@pytest.fixture(scope="session", autouse=True)
def _model_loaded_once() -> None:
    """The bundled model, loaded once per test process: each index a test builds then exports its ONNX encoder
    in-process, as the crash test's children do, instead of starting a child that loads torch (~8 s a build)."""
    from cityqa.index.embeddings import _load
    from cityqa.settings import BUNDLED_MODEL

    _load(BUNDLED_MODEL)
