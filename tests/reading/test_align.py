"""Word alignment for the fact-checker (issue 13): the bundled WordNet tables and how claim words line up with
evidence words. Sentences are made up (no report wording), so these check the mechanism, not a fit."""

from __future__ import annotations

import pytest

from cityqa.reading.align import Lexicon, align, lexicon, tokenize


def _conflicts(claim: str, evidence: str) -> list[tuple[str, str, str]]:
    return [(c.claim_text, c.evidence_text, c.kind) for c in align(claim, evidence).conflicts]


# ------------------------------------------------------------------ lexicon


def test_bundled_lexicon_loads_offline_and_knows_common_words() -> None:
    lex = lexicon()
    assert isinstance(lex, Lexicon)
    assert lex.same("prohibit", "forbid")
    assert not lex.same("student", "leader")
    assert lex.opposite("rose", "fell")  # through the irregular forms: rise / fall
    assert lex.opposite("huge", "small")  # indirect: huge ~ large <-> small
    assert not lex.opposite("large", "big")


def test_every_word_of_a_synset_has_a_part_of_speech() -> None:
    """What lets a question be read without building the synset tables: `pos` lists every word they hold."""
    lex = lexicon()
    assert set(lex._tables[0]) == set(lex._pos)


@pytest.mark.parametrize(("word", "pos"), [("manager", "n"), ("sent", "v"), ("hosted", "v"), ("large", "a"),
                                           ("leaders", "n"), ("across", "r"), ("the", "")])
def test_part_of_speech_of_inflected_words(word: str, pos: str) -> None:
    assert lexicon().pos(word) == pos


def test_generalisation_follows_only_the_first_sense() -> None:
    lex = lexicon()
    assert lex.generalises("group", "delegation")
    assert lex.generalises("person", "student")
    assert not lex.generalises("groups", "leaders")  # 'leaders' as a collective is a rare sense
    assert not lex.generalises("delegation", "group")  # a narrower word does not follow from a broader one


# ------------------------------------------------------------------ alignment


def test_tokens_keep_offsets_into_the_text() -> None:
    text = "Shelbyville’s mayor met few donors."
    for token in tokenize(text):
        assert text[token.start : token.end] == token.surface
    assert [t.norm for t in tokenize(text) if t.content] == ["shelbyville", "mayor", "met", "few", "donors"]


def test_swapped_group_in_the_same_slot_is_a_conflict() -> None:
    assert _conflicts("The mayor praised the farmers of the valley.", "The mayor praised the teachers of the valley.") \
        == [("farmers", "teachers", "object")]


def test_swapped_actor_at_the_start_is_a_conflict() -> None:
    assert _conflicts("Garden clubs often hold plant sales.", "Church groups often hold plant sales.") == [
        ("Garden clubs", "Church groups", "actor")
    ]


def test_antonyms_are_opposite() -> None:
    assert _conflicts("Membership fell sharply last year.", "Membership rose sharply last year.") == [
        ("fell", "rose", "opposite")
    ]
    assert _conflicts("The town has few parks.", "The town has many parks.") == [("few", "many", "opposite")]


def test_synonyms_and_more_general_words_match() -> None:
    assert align("The council will prohibit fireworks.", "The council will forbid fireworks.").conflicts == []
    result = align("The town welcomed a group of farmers.", "The town welcomed a delegation of farmers.")
    assert (result.conflicts, result.missing) == ([], [])


def test_a_reworded_verb_is_not_a_conflict_but_a_missing_noun_is_missing() -> None:
    result = align("The club sent volunteers to the fair.", "The club dispatched volunteers to the fair.")
    assert result.conflicts == [] and result.missing == []
    result = align("The club sent elderly volunteers to the fair.", "The club sent volunteers to the fair.")
    assert [t.surface for t in result.missing] == ["elderly"]


def test_a_place_in_another_role_is_unsure() -> None:
    result = align("The mayor traveled to Springfield for the fair.",
                   "The mayor welcomed Springfield’s mayor to the fair.")
    assert [(c.claim_text, c.kind) for c in result.unsure] == [("to Springfield", "direction")]
    result = align("A delegation went to Ogdenville.", "A delegation came from Ogdenville.")
    assert [c.kind for c in result.unsure] == ["direction"]


def test_values_are_skipped_and_repeated_words_anchor_nothing() -> None:
    claim = "The city has a sister city in Japan."
    skip = [(claim.index("Japan"), claim.index("Japan") + 5)]
    assert align(claim, "The city hosted leaders from Taiwan.", skip).conflicts == []


def test_heading_words_count_as_stated() -> None:
    result = align("The survey component covers farmers.", "It covers farmers.", known=frozenset({"survey", "compon"}))
    assert result.missing == []
