"""Training pairs for the pair reader: generated claims keep or break what their sentence states, as labelled."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from cityqa.evaluation.reader_data import (
    Pools,
    WordNet,
    claims_from_document,
    false_swap,
    nli_pairs,
    sentences,
    true_rewrite,
)
from cityqa.reading.scorer import MODELS_DIR

DOCUMENT = (
    "In 1998, the Harbor Office opened a trade bureau in Lisbon under director Ana Ruiz. "
    "The bureau hosted 14 delegations from Portugal and Brazil during its first year, which doubled exports. "
    "Its annual budget, set by the city council, rose to 2 million dollars in 2004. "
    "The council later closed the office in Porto because demand was low. "
    "Tomas Berg, a former consul, led the larger mission to Angola in 2007."
)


@pytest.fixture(scope="module")
def wordnet() -> WordNet:
    return WordNet(MODELS_DIR / "lexicon.json.gz")


def _values(text: str) -> list[str]:
    return re.findall(r"\b\d[\d,.]*\b|\b[A-Z][a-z]+\b", text)


def test_sentences_are_split_and_fragments_dropped() -> None:
    found = sentences(DOCUMENT + " Too short.")
    assert len(found) == 5 and found[0].startswith("In 1998") and "Too short." not in found


def test_true_rewrites_keep_every_value_of_their_sentence(wordnet: WordNet) -> None:
    rng = random.Random(0)
    kinds = Counter()
    for s in sentences(DOCUMENT) * 8:
        made = true_rewrite(s, wordnet, rng)
        if made is None:
            continue
        text, kind = made
        kinds[kind] += 1
        assert text != s
        # a rewrite may drop a clause but never states a value its sentence does not
        assert set(re.findall(r"\b\d[\d,.]*\b", text)) <= set(re.findall(r"\b\d[\d,.]*\b", s)), (kind, text)
    assert {"moved", "clause", "synonym"} <= set(kinds), kinds


def test_swaps_change_one_slot_to_something_the_sentence_does_not_say(wordnet: WordNet) -> None:
    rng = random.Random(1)
    pools = Pools.of(DOCUMENT, wordnet.pos)
    kinds = Counter()
    for s in sentences(DOCUMENT) * 10:
        made = false_swap(s, pools, wordnet, rng)
        assert made is not None
        text, kind = made
        kinds[kind] += 1
        assert text != s, kind
        if kind in {"year", "number", "name"}:
            assert set(_values(text)) - set(_values(s)), (kind, text)  # a value the sentence does not give
        if kind == "negation":
            assert " not " in text and " not " not in s
    assert {"year", "number", "name", "negation", "exchange"} <= set(kinds), kinds


def test_claims_from_a_document_are_labelled_and_paired_with_their_sentence(wordnet: WordNet) -> None:
    pairs = claims_from_document(DOCUMENT, wordnet, random.Random(2), "harbor")
    assert pairs and {p.label for p in pairs} == {0, 1}
    for p in pairs:
        assert p.hypothesis.strip() and p.text.strip()
        assert any(s in p.text for s in sentences(DOCUMENT))  # the premise is the document's own text
        assert p.label == 0 or not p.kind.endswith(("other", "year", "number", "name", "negation")), p


def test_nli_pairs_read_the_shared_sets_and_map_labels(tmp_path: pytest.TempPathFactory) -> None:
    folder = tmp_path  # type: ignore[assignment]
    rows = [
        '{"premise": "A man sleeps.", "hypothesis": "A person rests.", "label": "entailment"}',
        '{"premise": "A man sleeps.", "hypothesis": "A man runs.", "label": "contradiction"}',
        '{"premise": "A man sleeps.", "hypothesis": "A man is tired.", "label": "neutral"}',
        '{"premise": "One two.", "hypothesis": "Two one.", "label": "paraphrase"}',
    ]
    (folder / "mini.jsonl").write_text("\n".join(rows))  # type: ignore[operator]
    pairs = nli_pairs(folder, 10, random.Random(0), ["mini"])  # type: ignore[arg-type]
    assert sorted((p.hypothesis, p.label) for p in pairs) == [
        ("A man is tired.", 0), ("A man runs.", 0), ("A person rests.", 1), ("Two one.", 1)]
