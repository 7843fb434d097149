"""Fact-check mode (issue 5): claim splitting, typed-value comparison, verdicts on the gold claims and on
held-out claims written for this test, citation offsets, and the `cityqa check` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cityqa.checking import factcheck
from cityqa.checking.factcheck import Text, compare, number_value, split_claims
from cityqa.cli import main
from cityqa.evaluation.metrics import claim_metrics
from cityqa.types import Verdict

# Measured 0.699 on the 186 gold claims (58 with one element swapped, 30 true ones in their writers' own words),
# with no false "supported"; the floor guards against regressions.
ACCURACY_FLOOR = 0.68

# Claims written for this test, not in tests/gold/claims.jsonl: a check that the rules were not fitted to it.
HELD_OUT = [
    ("In the 1990s San José's international affairs team had access to over a dozen international trade and "
     "investment offices abroad.", "supported"),
    ("Representatives of San José used to travel to Dublin every two years.", "supported"),
    ("Mark Chandler is Director of International Trade and Commerce for the City of San Francisco.", "supported"),
    ("Cities often engage in international relations work quietly.", "supported"),
    ("Representatives of San José previously traveled to Dublin every three years.", "contradicted"),
    ("In 2021, then mayor Robert Garcia led a delegation from the Port of Long Beach to Singapore.", "contradicted"),
    ("Mark Chandler of San Francisco was interviewed on October 6, 2022.", "contradicted"),
    ("The authors thank experts who took part in more than twenty targeted interviews.", "contradicted"),
    ("Fresno opened a trade office in Shanghai in 2021.", "not_found"),
    ("The Port of Oakland handles more cargo than the Port of Long Beach.", "not_found"),
]


def evaluate_claims(assistant: Any, claims: list[dict[str, Any]]) -> dict[str, Any]:
    """`metrics.claim_metrics` of the checker's verdicts on labelled claims, with the wrong ones listed."""
    verdicts = factcheck.check_claims(assistant, [c["claim"] for c in claims])
    report = claim_metrics([c["label"] for c in claims], [v.verdict for v in verdicts])
    report["errors"] = [{"id": c["id"], "gold": c["label"], "predicted": v.verdict}
                        for c, v in zip(claims, verdicts, strict=True) if c["label"] != v.verdict]
    return report


@pytest.fixture(scope="module")
def gold_report(assistant: Any, gold_claims: list[dict[str, Any]]) -> dict[str, Any]:
    return evaluate_claims(assistant, gold_claims)


@pytest.fixture(scope="module")
def held_out(assistant: Any) -> list[Verdict]:
    return factcheck.check_claims(assistant, [claim for claim, _ in HELD_OUT])


# ------------------------------------------------------------------ gold set


def test_gold_accuracy_and_no_false_supported(gold_report: dict[str, Any]) -> None:
    errors = [(e["id"], e["gold"], e["predicted"]) for e in gold_report["errors"]]
    assert gold_report["accuracy"] >= ACCURACY_FLOOR, errors
    assert gold_report["confusion"]["contradicted"]["supported"] == 0, errors
    assert gold_report["false_supported_rate"] == 0.0


@pytest.mark.parametrize("name", ["claims_heldout.jsonl", "claims_heldout2.jsonl"])
def test_no_false_supported_on_the_held_out_claim_files(assistant: Any, name: str) -> None:
    """Scored, never tuned on: the one error that must not happen is a wrong claim called supported."""
    rows = [json.loads(line) for line in (Path(__file__).parents[1] / "gold" / name).read_text().splitlines() if line]
    report = evaluate_claims(assistant, rows)
    assert report["confusion"]["contradicted"]["supported"] == 0, report["errors"]
    assert report["confusion"]["not_found"]["supported"] == 0, report["errors"]


def test_held_out_claims(held_out: list[Verdict]) -> None:
    predicted = [(claim, label, v.verdict) for (claim, label), v in zip(HELD_OUT, held_out, strict=True)]
    assert not [p for p in predicted if p[1] == "contradicted" and p[2] == "supported"], predicted
    assert sum(label == got for _, label, got in predicted) >= 8, predicted


def test_contradiction_names_the_differing_values(held_out: list[Verdict]) -> None:
    by_claim = {v.claim: v for v in held_out}
    every = by_claim["Representatives of San José previously traveled to Dublin every three years."]
    assert every.verdict == "contradicted"
    assert [(m.claim, m.source, m.kind) for m in every.mismatches] == [("three", "two", "number")]
    assert by_claim[HELD_OUT[5][0]].mismatches[0].kind == "date"


def test_a_real_event_attached_to_the_wrong_party_is_not_supported(assistant: Any) -> None:
    """The issue 13 cases: two sentences together hold every word, but each sentence alone states another group
    or actor; the evidence shown is the sentence the verdict rests on, with the conflict marked."""
    group, actor = factcheck.check_claims(assistant, [
        "Los Angeles Mayor Karen Bass spoke in support of Iranian protesters.",
        "San Francisco banned caste discrimination in 2022.",
    ])
    assert group.verdict == "contradicted"
    assert [(m.claim, m.source, m.kind) for m in group.mismatches] == [("Iranian", "Armenian", "group")]
    assert len(group.evidence) == 1 and "Armenian civilians" in group.evidence[0].quote
    conflict = [group.claim[m.start : m.end] for m in group.claim_marks if m.kind == "conflict"]
    assert conflict == ["Iranian"]
    quote = group.evidence[0].quote
    assert "Armenian" in [quote[m.start : m.end] for m in group.evidence_marks[0] if m.kind == "conflict"]
    assert actor.verdict != "supported"


def test_evidence_is_the_sentence_about_the_claimed_year(assistant: Any) -> None:
    verdict = factcheck.check_claims(
        assistant, ["In 2010, five of the nine cities had staff dedicated to international affairs."])[0]
    assert verdict.verdict == "contradicted"
    assert verdict.evidence[0].quote.startswith("In 2010, three out of the nine cities")
    assert [(m.claim, m.kind) for m in verdict.mismatches] == [("five of the nine", "count")]


# ------------------------------------------------------------------ verdict records and citations


def test_verdict_json_shape(held_out: list[Verdict]) -> None:
    for verdict in held_out:
        data = json.loads(json.dumps(verdict.to_dict()))
        assert set(data) == {"claim", "verdict", "confidence", "evidence", "mismatches", "claim_marks",
                             "evidence_marks", "unmatched"}
        assert data["verdict"] in {"supported", "close", "contradicted", "not_found"}
        assert all(len(pair) == 2 for pair in data["unmatched"]) and (data["verdict"] == "close" or
                                                                      not data["unmatched"])
        assert 0.0 <= data["confidence"] <= 1.0
        assert len(data["evidence_marks"]) == len(data["evidence"])
        for mark in data["claim_marks"]:
            assert 0 <= mark["start"] < mark["end"] <= len(data["claim"])
            assert mark["kind"] in {"match", "conflict"}
        for marks, cited in zip(data["evidence_marks"], data["evidence"], strict=True):
            assert all(0 <= m["start"] < m["end"] <= len(cited["quote"]) for m in marks)
        for m in data["mismatches"]:
            assert set(m) == {"claim", "source", "kind"}
        for c in data["evidence"]:
            assert {"quote", "source", "start", "end", "label", "section"} <= set(c)
        if data["verdict"] != "not_found":
            assert data["evidence"]
        if data["verdict"] == "contradicted":
            assert data["mismatches"]


def test_evidence_offsets_verify_against_the_source(
    assistant: Any, corpus_dir: Path, held_out: list[Verdict], gold_claims: list[dict[str, Any]]
) -> None:
    verdicts = held_out + factcheck.check_claims(assistant, [c["claim"] for c in gold_claims[::4]])
    texts: dict[str, str] = {}
    checked = 0
    for verdict in verdicts:
        for c in verdict.evidence:
            if c.source not in texts:
                texts[c.source] = (corpus_dir / c.source).read_bytes().decode("utf-8")
            assert texts[c.source][c.start : c.end] == c.quote
            checked += 1
    assert checked >= len(verdicts)


def test_check_splits_a_paragraph(assistant: Any) -> None:
    verdicts = factcheck.check(
        assistant, "Fresno banned caste discrimination in the city and Long Beach has an international affairs "
        "office. Abe Lowenthal's book Global California was published in 2009.",
    )
    assert [v.verdict for v in verdicts] == ["supported", "contradicted", "supported"]


def test_empty_text_gives_no_verdicts(assistant: Any) -> None:
    assert factcheck.check(assistant, "   ") == []


# ------------------------------------------------------------------ claim splitting


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        ("The office opened in 2019 and the city has a trade office.",
         ["The office opened in 2019.", "The city has a trade office."]),
        ("San José sent trade missions to Finland, South Korea, and Japan.",
         ["San José sent trade missions to Finland, South Korea, and Japan."]),
        ("Long Beach has an international affairs office and manager in its city government.",
         ["Long Beach has an international affairs office and manager in its city government."]),
        ("Fresno banned caste discrimination. Oakland has a port.",
         ["Fresno banned caste discrimination.", "Oakland has a port."]),
        ("The U.S. State Department funds it.", ["The U.S. State Department funds it."]),
        ("", []),
    ],
)
def test_split_claims(text: str, claims: list[str]) -> None:
    assert split_claims(text) == claims


# ------------------------------------------------------------------ typed values


def _mismatches(claim: str, evidence: str) -> list[tuple[str, str, str]]:
    return [(m.claim, m.source, m.kind) for m in compare(Text.of(claim), Text.of(evidence)).mismatches]


def test_number_words() -> None:
    assert number_value("seven") == number_value("7") == 7
    assert number_value("2,000") == 2000
    assert number_value("Third") == 3
    assert number_value("many") is None
    assert number_value("Twenty-two") == number_value("twenty two") == 22


def test_written_out_numbers_equal_digits() -> None:
    assert _mismatches("Seven offices were opened.", "7 offices were opened.") == []
    assert _mismatches("Twenty-two companies went.", "22 companies went.") == []
    assert _mismatches("Thirty companies went.", "22 companies went.") == [("Thirty", "22", "number")]
    assert _mismatches("The office had five contracted staff.", "The office had three contracted staff.") == [
        ("five", "three", "number")
    ]


def test_numbers_compare_only_when_they_count_the_same_thing() -> None:
    assert _mismatches("It supported 100 startups.", "It was supported by three contracted staff.") == []


def test_years_and_dates() -> None:
    assert _mismatches("The book was published in 2012.", "The book was published in 2009.") == [
        ("2012", "2009", "date")
    ]
    assert _mismatches("It happened in the 1950s.", "It happened in the 1950s.") == []
    assert _mismatches("He was interviewed on March 16, 2023.", "He was interviewed on November 16, 2023.") == [
        ("March 16, 2023", "November 16, 2023", "date")
    ]


def test_counts_and_ranks() -> None:
    assert _mismatches("All nine cities had staff.", "Seven of the nine cities had staff.") == [
        ("All nine", "Seven of the nine", "count")
    ]
    assert _mismatches("It is the oldest linkage.", "It is the third-oldest linkage.") == [
        ("oldest", "third-oldest", "number")
    ]


def test_a_reordered_claim_sets_no_word_against_a_year_or_number() -> None:
    """'Seoul was the destination of the fourth mission' says the source's '…the fourth mission to Seoul in 2019'
    in another order: the claim's 'destination' lands in the slot the year fills, but a noun is never said in place
    of a value; the ordinal, compared as a value, still decides."""
    source = "Mayor Dana Lee led the city's fourth trade mission to Seoul in 2019."
    assert _mismatches("Seoul was the destination of Mayor Dana Lee's fourth trade mission.", source) == []
    assert _mismatches("Seoul was the destination of Mayor Dana Lee's third trade mission.", source) == [
        ("third", "fourth", "number")
    ]


@pytest.mark.parametrize(("first", "second", "refers"), [
    ("Riverbend opened an office in 2014.", "It employs four staff.", True),
    ("Riverbend opened an office in 2014.", "The office reports to the city manager.", True),
    ("The city keeps seven sister-city ties.", "The oldest, with Kochi, dates back to 1965.", True),
    ("The city keeps seven sister-city ties.", "The mayor visited Kochi in 1965.", False),
    ("The city keeps seven sister-city ties.", "Many cities keep none.", False),
])
def test_a_sentence_refers_back_through_a_pronoun_a_named_noun_or_a_superlative(
        first: str, second: str, refers: bool) -> None:
    assert factcheck.refers_back(first, second) is refers


def test_places_and_names() -> None:
    assert _mismatches("Leaders came from Japan.", "Leaders came from Taiwan.") == [("Japan", "Taiwan", "place")]
    assert _mismatches("Mayor Sam Liccardo welcomed him.", "Mayor Matt Mahan welcomed him.") == [
        ("Sam Liccardo", "Matt Mahan", "name")
    ]
    # a place in another role is not a contradiction: 'a sister city in Japan' vs 'leaders from Taiwan'
    assert _mismatches("The city has a sister city in Japan.", "The city hosted leaders from Taiwan.") == []


def test_negation() -> None:
    assert [m[2] for m in _mismatches("Long Beach has an international affairs office.",
                                      "Long Beach does not have an international affairs office.")] == ["negation"]
    assert _mismatches("Fresno does not have a major port.", "It is a city without a major port.") == []
    assert _mismatches("It costs little or nothing.", "It comes at little or no cost.") == []


def test_lexical_negations_agree_in_any_form() -> None:
    evidence = "There was an overall lack of coordinated trade policy throughout the region."
    assert _mismatches("The region lacked a coordinated trade policy.", evidence) == []  # 'lacked' / 'lack of'
    assert _mismatches("The region faced a shortage of coordinated trade policy.", evidence) == []
    assert [m[2] for m in _mismatches("The region had a coordinated trade policy.", evidence)] == ["negation"]
    assert [m[2] for m in _mismatches("The region saw an absence of trade policy.",
                                      "The region had a coordinated trade policy.")] == ["negation"]


def test_exclusions_flip_polarity_for_the_excluded_names() -> None:
    evidence = "Seven of the nine cities (all but Anaheim and Long Beach) have a point person for global engagements."
    assert _mismatches("Seven of the nine cities have a point person for global engagements.", evidence) == []
    assert _mismatches("Anaheim does not have a point person for global engagements.", evidence) == []
    assert _mismatches("Anaheim has a point person for global engagements.", evidence) == [
        ("affirmative", "all but Anaheim and Long Beach", "negation")
    ]
    assert [m[2] for m in _mismatches("Seven of the nine cities do not have a point person.", evidence)] == [
        "negation"
    ]


# ------------------------------------------------------------------ command line


def test_cli_check_json(assistant: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--index", str(assistant.settings.index_dir), "--json",
                 "Fresno banned caste discrimination in the city.", "Sacramento banned caste discrimination."])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [r["verdict"] for r in rows] == ["supported", "contradicted"]
    assert set(rows[0]) == {"claim", "verdict", "confidence", "evidence", "mismatches", "claim_marks",
                            "evidence_marks", "unmatched"}
    assert rows[1]["mismatches"] == [{"claim": "Sacramento", "source": "Fresno", "kind": "place"}]


def test_cli_check_human(assistant: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = tmp_path / "claims.txt"
    claims.write_text("Abe Lowenthal's book Global California was published in 2012.\n", encoding="utf-8")
    assert main(["check", "--index", str(assistant.settings.index_dir), "--file", str(claims)]) == 0
    out = capsys.readouterr().out
    assert "CONTRADICTED" in out and "claim says “2012”, source says “2009”" in out
    assert "global-engagements-california-cities.txt" in out


def test_cli_check_needs_a_claim(assistant: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--index", str(assistant.settings.index_dir)]) == 2
    assert "at least one claim" in capsys.readouterr().err


def test_the_check_limit_is_the_same_in_the_cli(
    assistant: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`CITYQA_MAX_CHECK_CHARS` bounds `cityqa check` as it bounds `Assistant.check` and the Fact-check tab."""
    monkeypatch.setenv("CITYQA_MAX_CHECK_CHARS", "100")
    claim = "Fresno banned caste discrimination in the city. " * 3  # 144 characters
    assert main(["check", "--index", str(assistant.settings.index_dir), claim]) == 2
    err = capsys.readouterr().err
    assert "144 characters" in err and "the limit is 100" in err
    assert main(["check", "--index", str(assistant.settings.index_dir), claim[:48]]) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Among the nine cities, Riverbend was first.", [("entity", "Riverbend")]),  # a preposition, then a name
        ("Back in the 1990s, the council met twice.", []),  # an adverb
        ("Even though it rained, Mayor Ada Lind spoke.", [("name", "Mayor Ada Lind")]),
        ("Per the Harbor Council Survey, trade grew.", [("entity", "Harbor Council Survey")]),
        ("Global Affairs Survey results were published.", [("entity", "Global Affairs Survey")]),  # a name after all
        ("Okiyama and Riverbend signed it.", [("entity", "Okiyama"), ("entity", "Riverbend")]),
    ],
)
def test_a_sentence_opening_word_is_not_taken_for_a_name(text: str, expected: list[tuple[str, str]]) -> None:
    values = [(v.kind, v.surface) for v in factcheck.extract_values(text) if v.kind in {"name", "entity"}]
    assert values == expected


def test_a_title_said_after_the_name_is_the_same_title() -> None:
    evidence = Text.of("Ada Lind, Commissioner of the Port of Alder, private interview, March 2, 2024.")
    same = compare(Text.of("Port of Alder Commissioner Ada Lind gave a private interview in March 2024."), evidence)
    assert not same.unverified and not same.mismatches
    other = compare(Text.of("Port of Riverbend Commissioner Ada Lind gave a private interview in March 2024."),
                    evidence)
    assert any(v.kind == "entity" for v in other.unverified) or other.mismatches


def test_a_true_claim_missing_one_word_is_a_close_match_that_says_which(assistant: Any) -> None:
    """Every value agrees (Los Angeles, 2010, the office's name) but the source does not say "already": the
    verdict is close, not supported and not "not in the sources", and names the word to check."""
    [verdict] = factcheck.check(
        assistant, "Los Angeles already had a director for its office of international trade and development in 2010.")
    assert verdict.verdict == "close" and ("already", "") in verdict.unmatched
    assert verdict.evidence and "2010" in verdict.evidence[0].quote
    assert verdict.to_dict()["unmatched"] == [[c, s] for c, s in verdict.unmatched]
    assert any(m.kind == "conflict" and verdict.claim[m.start:m.end] == "already" for m in verdict.claim_marks)
    shown = factcheck.format_verdict(verdict)
    assert "CLOSE MATCH" in shown and "check: “already”" in shown


def test_final_label_and_accuracy_count_a_close_true_claim_as_right() -> None:
    from cityqa.evaluation.metrics import final_label, verdict_right

    def v(label: str) -> Verdict:
        return Verdict("c", label, 0.5)  # type: ignore[arg-type]

    assert final_label([v("supported"), v("close")]) == "close"
    assert final_label([v("close"), v("not_found")]) == "not_found"
    assert final_label([v("close"), v("contradicted")]) == "contradicted"
    assert verdict_right("supported", "close") and not verdict_right("contradicted", "close")
    metrics = claim_metrics(["supported", "supported", "contradicted", "not_found"], ["close", "supported", "close",
                                                                                       "not_found"])
    assert metrics["accuracy"] == 0.75 and metrics["true_supported_or_close"] == 1.0
    assert metrics["true_supported"] == 0.5 and metrics["altered_close"] == 0.5


# ------------------------------------------------------------------ the pair reader's part


def test_a_claim_is_repaired_with_the_sources_values() -> None:
    from cityqa.types import Mismatch

    claim = "The Harbor Office was launched in 2019 with 14 staff."
    repaired = factcheck._repaired(claim, [Mismatch("2019", "2021", "date"), Mismatch("14", "twelve", "number")])
    assert repaired == "The Harbor Office was launched in 2021 with twelve staff."
    assert factcheck._repaired(claim, [Mismatch("2018", "2021", "date")]) is None  # not in the claim as shown


def test_only_value_mismatches_are_repaired_and_words_said_otherwise_are_read_as_is() -> None:
    evidence = Text.of("The Harbor Office opened in 2021 with twelve employees.")
    reworded = compare(Text.of("The Harbor Office opened in 2021 with twelve staff."), evidence)
    swapped = compare(Text.of("The Harbor Office opened in 2019 with twelve employees."), evidence)
    assert not factcheck._value_mismatches(reworded)  # a word in the object's slot: wording, not a value
    assert [m.kind for m in factcheck._value_mismatches(swapped)] == ["date"]


@pytest.mark.parametrize(("claim", "expected"), [
    ("The Harbor Office was launched in 2019.", "contradicted"),  # same event, worded otherwise, another year
    ("The Harbor Office began in 2021.", "close"),  # the same in other words: a person checks the words
])
def test_the_reader_settles_what_the_alignment_leaves_open(claim: str, expected: str) -> None:
    from cityqa.reading.reader import default_reader

    source = "The Harbor Office opened in 2021 under a director who reports to the city manager."
    reader = default_reader()
    assert reader is not None
    comparison = compare(Text.of(claim), Text.of(source))
    assert not comparison.supports and not comparison.contradicts  # the alignment alone cannot decide
    repaired = factcheck._repaired(claim, comparison.mismatches) if comparison.mismatches else None
    logit = float(reader.logits([source], [repaired or claim])[0])
    reading = factcheck.Reading(factcheck.Candidate([], comparison, 0), repaired is not None, logit)
    settled = factcheck.settle(claim, [reading])
    assert (settled.verdict if settled else "not_found") == expected, (comparison, logit)


def test_a_country_qualifying_a_swapped_city_is_part_of_that_difference() -> None:
    """'Bangkok, Thailand' against '…and Hanoi, Vietnam': one differing place, not a further place the sentence
    leaves unstated (which would keep the claim from being contradicted)."""
    evidence = Text.of("In 2019, the mayor led a delegation on a trip to Singapore and Hanoi, Vietnam.")
    claim = Text.of("In 2019, the mayor led a delegation on a trip to Singapore and Bangkok, Thailand.")
    result = compare(claim, evidence)
    assert [(m.claim, m.source, m.kind) for m in result.mismatches] == [("Bangkok, Thailand", "Hanoi", "place")]
    assert not result.unverified and result.contradicts


def test_words_set_against_a_differing_value_are_that_difference_not_another() -> None:
    """The alignment puts 'component based' against '2020'; the year already differs, so the claim differs in one
    value (the year), and the words stay set aside from the overlap like the year's."""
    evidence = Text.of("Foreign-Born Population: 2020 Census data and relevant demographic data.")
    result = compare(Text.of("The Foreign-Born Population component is based on 2010 Census data."), evidence)
    assert [(m.claim, m.source, m.kind) for m in result.mismatches] == [("2010", "2020", "date")]
    assert not result.words.conflicts and result.overlap == 1.0


def test_a_predicate_said_otherwise_is_to_check_not_a_contradiction() -> None:
    """'talks covering topics' against 'discussions on': the claim's run holds a verb, so the alignment has set a
    reworded predicate against the evidence's words, not one thing against another; a noun put for another
    ('students' for 'business leaders') still contradicts."""
    evidence = Text.of("In May 2021, the mayor welcomed the Lord Mayor of Cork for a flag-raising ceremony and "
                       "discussions on housing and transit.")
    reworded = compare(Text.of("In May 2021, the Lord Mayor of Cork came for a flag-raising and talks covering "
                               "topics such as housing and transit."), evidence)
    assert not reworded.contradicts and not reworded.words.conflicts
    assert all(c.kind == "predicate" for c in reworded.words.unsure) and reworded.words.unsure
    swapped = compare(Text.of("In 2023, the city hosted a delegation of students from Taiwan."),
                      Text.of("In 2023, the city hosted a delegation of business leaders from Taiwan."))
    assert [m.kind for m in swapped.mismatches] == ["object"]


def test_two_sentences_join_when_each_differs_only_by_the_claims_other_values() -> None:
    """'from three in 2010 to seven in 2024' joins two sentences' facts: each alone differs from the claim only
    in a value the claim also gives. A claim that takes its actor from one sentence and its object from the next
    does not: the first sentence alone says something the claim does not ('Armenian')."""
    joined = "The number of cities with offices rose from three in 2010 to seven in 2024."
    first = compare(Text.of(joined), Text.of("In 2010, three of the nine cities had offices."))
    second = compare(Text.of(joined), Text.of("In 2024, seven of the nine cities had offices."))
    assert first.mismatches and second.mismatches  # each alone differs
    assert factcheck.Candidate([], first, 0, [first, second]).joins(joined)
    mixed = "The mayor supported Iranian protesters."
    first = compare(Text.of(mixed), Text.of("The mayor spoke in support of Armenian civilians."))
    second = compare(Text.of(mixed), Text.of("The Board commended Iranian citizens for protesting."))
    assert not factcheck.Candidate([], first, 0, [first, second]).joins(mixed)
