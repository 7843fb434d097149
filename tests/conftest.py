"""Shared fixtures: one small real corpus (the report plus fictional interview notes), indexed once per session
into a temporary folder with the real bundled model and a real Chroma store."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

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


@pytest.fixture(scope="session")
def gold_questions() -> list[dict[str, Any]]:
    return load_jsonl(GOLD / "questions.jsonl")


@pytest.fixture(scope="session")
def gold_answers(assistant: Assistant, gold_questions: list[dict[str, Any]]) -> GoldAnswers:
    """Every gold question asked once per run (with its history), for all the tests that read the answers."""
    return [(item, assistant.ask(item["question"], history=item.get("history"))) for item in gold_questions]


@pytest.fixture(scope="session")
def gold_claims() -> list[dict[str, Any]]:
    return load_jsonl(GOLD / "claims.jsonl")
