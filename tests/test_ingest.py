"""Incremental ingest into a real Chroma store: what is embedded, removed, skipped, and refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cityqa import Assistant, IndexLockedError, IndexMismatchError, IndexNotFoundError, Settings
from cityqa.embeddings import Embedder
from cityqa.ingest import ingest
from cityqa.store import IndexStore
from conftest import FIXTURE_CORPUS

NOTES = next(FIXTURE_CORPUS.glob("*.md"))


class CountingEmbedder(Embedder):
    """The real bundled model, counting how many texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts)


@pytest.fixture
def small(tmp_path: Path) -> tuple[Settings, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(NOTES, corpus / NOTES.name)
    (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2001.\n\nIt closed in 2009.\n")
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), corpus


def _chroma_ids(settings: Settings) -> set[str]:
    return set(IndexStore(settings.index_dir, settings).collection().get(include=[])["ids"])


def _node_ids(settings: Settings) -> set[str]:
    store = IndexStore(settings.index_dir, settings)
    return set(store.load_nodes(store.require_manifest()).by_id)


def test_incremental_ingest_embeds_only_what_changed(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    embedder = CountingEmbedder()
    first = ingest(settings, embedder=embedder)
    assert sorted(first.added) == ["interview-notes-riverbend-fictional.md", "memo.txt"]
    assert first.chunks_written > 0 and embedder.texts > 0
    assert _chroma_ids(settings) == _node_ids(settings)

    embedder.texts = 0
    again = ingest(settings, embedder=embedder)
    assert again.nothing_to_do and again.chunks_written == 0 and embedder.texts == 0
    assert sorted(again.unchanged) == ["interview-notes-riverbend-fictional.md", "memo.txt"]

    (corpus / "memo.txt").write_text("Port Alder opened a trade office in 2003.\n")
    changed = ingest(settings, embedder=embedder)
    assert changed.changed == ["memo.txt"] and changed.chunks_written == 1
    assert embedder.texts == 3  # one chunk + its one sentence, alone and in context; nothing else re-embedded
    assert _chroma_ids(settings) == _node_ids(settings)

    (corpus / "memo.txt").unlink()
    removed = ingest(settings, embedder=embedder)
    assert removed.removed == ["memo.txt"] and removed.chunks_removed == 1
    ids = _chroma_ids(settings)
    assert ids == _node_ids(settings)
    store = IndexStore(settings.index_dir, settings)
    assert all(c.source != "memo.txt" for c in store.load_nodes(store.require_manifest()).chunks)
    assert len(list(settings.index_dir.glob("gen-*"))) == 1  # old generations are pruned


def test_unreadable_files_are_skipped_with_reasons_and_the_rest_indexed(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blob.md").write_bytes(b"\x00\xff\x00 binary")
    report = ingest(settings)
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons == {"empty.txt": "file is empty", "blob.md": reasons["blob.md"]}
    assert "binary" in reasons["blob.md"]
    assert sorted(report.added) == ["interview-notes-riverbend-fictional.md", "memo.txt"]
    assert "skipped empty.txt: file is empty" in report.summary()


def test_a_file_that_breaks_keeps_its_previous_version(small: tuple[Settings, Path]) -> None:
    settings, corpus = small
    ingest(settings)
    (corpus / "memo.txt").write_bytes(b"\x00\x00 corrupted")
    report = ingest(settings)
    assert report.skipped[0].source == "memo.txt"
    assert "previously indexed version is kept" in report.skipped[0].reason
    assert "2001" in Assistant.open(settings=settings).ask("When did Port Alder open a trade office?").answer


def test_settings_mismatch_is_refused_until_rebuild(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    ingest(settings)
    other = settings.model_copy(update={"chunk_max_words": 60})
    with pytest.raises(IndexMismatchError, match=r"cityqa ingest --rebuild"):
        Assistant.open(settings=other).ask("When did Port Alder open a trade office?")
    with pytest.raises(IndexMismatchError, match="chunk_max_words"):
        ingest(other)
    rebuilt = ingest(other, rebuild=True)
    assert rebuilt.chunks_written > 0
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert manifest["fingerprint"] == other.fingerprint() and manifest["shape"]["chunk_max_words"] == 60
    names = [c.name for c in IndexStore(settings.index_dir, other).client().list_collections()]
    assert names == [f"cityqa-{other.fingerprint()}"]  # the old collection is dropped after the switch


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="run `cityqa ingest"):
        Assistant.open(index_dir=tmp_path / "nothing").ask("Anything?")


def test_second_writer_is_refused_while_the_lock_is_held(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    with IndexStore(settings.index_dir, settings).write_lock(), pytest.raises(IndexLockedError, match="Wait for it"):
        ingest(settings)


def test_orphan_vectors_from_a_crashed_run_are_removed(small: tuple[Settings, Path]) -> None:
    settings, _ = small
    ingest(settings)
    collection = IndexStore(settings.index_dir, settings).collection()
    collection.add(ids=["orphan"], embeddings=[[0.1] * 384], documents=["left by a crash"])
    (settings.corpus_dir / "memo.txt").write_text("A new memo.\n")
    ingest(settings)
    assert "orphan" not in _chroma_ids(settings)
    assert _chroma_ids(settings) == _node_ids(settings)


def test_leftover_generations_of_a_killed_run_are_pruned_even_when_nothing_changed(
    small: tuple[Settings, Path],
) -> None:
    settings, _ = small
    ingest(settings)
    (settings.index_dir / "gen-000099.tmp").mkdir()  # what a run killed while writing its node store leaves
    (settings.index_dir / "gen-000100").mkdir()  # … or killed after writing it, before the manifest switched
    report = ingest(settings)
    assert report.nothing_to_do
    manifest = json.loads((settings.index_dir / "manifest.json").read_text())
    assert [p.name for p in settings.index_dir.glob("gen-*")] == [manifest["generation_dir"]]
