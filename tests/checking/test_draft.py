"""Checking a whole briefing draft (`cityqa.checking.draft`): a fictional multi-page Word memo made here, checked
against the shared corpus, annotated, and read back: a summary page comes first (name, SHA-256, counts, the
contradicted sentences first), every factual sentence carries one comment anchored on exactly its text, the others
are listed with the reason, the draft's text is unchanged; the Fact-check note names the draft and its hash."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn

from cityqa import Assistant
from cityqa.checking.briefing import ClaimCheck, claims_markdown
from cityqa.checking.draft import SUMMARY_TITLE, annotate_docx, check_draft, display_name, skip_reason
from cityqa.cli import main
from draftgen import (
    ABSENT,
    ADVICE,
    ALTERED,
    ALTERED_IN_TABLE,
    NO_FACT,
    QUESTION,
    REWORDED,
    TRUE,
    make_draft,
    summary_and_draft,
)


def anchored(path: Path) -> dict[str, str]:
    """Comment id -> the text its range covers, read from the document XML in order."""
    body = docx.Document(str(path)).element.body
    open_ids: list[str] = []
    text: dict[str, str] = {}
    for element in body.iter():
        if element.tag == qn("w:commentRangeStart"):
            open_ids.append(element.get(qn("w:id")))
        elif element.tag == qn("w:commentRangeEnd"):
            open_ids.remove(element.get(qn("w:id")))
        elif element.tag == qn("w:t"):
            for comment in open_ids:
                text[comment] = text.get(comment, "") + (element.text or "")
    return text


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory, assistant: Assistant) -> tuple[Path, Any, Path]:
    folder = tmp_path_factory.mktemp("draft")
    draft = make_draft(folder / "memo.docx")
    result = check_draft(assistant, draft)
    out = folder / "memo-checked.docx"
    annotate_docx(draft, result, out)
    return draft, result, out


def test_factual_sentences_are_checked_and_the_rest_listed_with_the_reason(checked: tuple[Path, Any, Path]) -> None:
    _, result, _ = checked
    verdicts = {result.sentences[i].text: v.verdict for i, v in result.verdicts.items()}
    assert set(verdicts) == {TRUE, ALTERED, REWORDED, ABSENT, ALTERED_IN_TABLE}
    assert verdicts[TRUE] == "supported" and verdicts[ALTERED] == "contradicted"
    assert verdicts[ALTERED_IN_TABLE] == "contradicted" and verdicts[ABSENT] != "supported"
    skipped = {s.text: s.skipped for s in result.sentences if s.skipped}
    assert skipped == {"Briefing: international affairs": "a heading", "Budget notes": "a heading",
                       QUESTION: "a question", ADVICE: "an opinion or recommendation",
                       NO_FACT: "no name, number, date or place to check", "Lowenthal": "too short to state a fact"}


def test_the_verdicts_are_those_of_checking_each_sentence_alone(checked: tuple[Path, Any, Path],
                                                                 assistant: Assistant) -> None:
    _, result, _ = checked
    for i, verdict in result.verdicts.items():
        [alone] = assistant.check(result.sentences[i].text)
        assert alone.verdict == verdict.verdict, result.sentences[i].text


def test_each_comment_sits_on_its_sentence_with_verdict_and_quote(checked: tuple[Path, Any, Path]) -> None:
    draft, result, out = checked
    comments = {c.comment_id: c.text for c in docx.Document(str(out)).comments}
    ranges = anchored(out)
    assert len(comments) == len(result.verdicts) == 5
    by_sentence = {ranges[str(cid)]: text for cid, text in comments.items()}
    assert set(by_sentence) == {TRUE, ALTERED, REWORDED, ABSENT, ALTERED_IN_TABLE}
    assert by_sentence[ALTERED].startswith("Contradicted") and "source says Fresno" in by_sentence[ALTERED]
    assert "Source: “" in by_sentence[TRUE] and "global-engagements-california-cities.txt" in by_sentence[TRUE]
    assert "source says 2009" in by_sentence[ALTERED_IN_TABLE]
    original = [p.text for p in docx.Document(str(draft)).paragraphs]
    summary, rest = summary_and_draft(out)
    assert summary[0] == SUMMARY_TITLE and rest == original  # the text is never changed, only preceded by a summary
    bold = [r for p in docx.Document(str(out)).paragraphs for r in p.runs if r.text == ALTERED]
    assert bold and bold[0].bold and bold[0].font.highlight_color is not None  # formatting kept, shaded


def test_summary_puts_the_contradicted_first(checked: tuple[Path, Any, Path]) -> None:
    _, result, _ = checked
    summary = result.summary_markdown()
    assert "| Contradicted | 2 |" in summary and "| Supported | 1 |" in summary
    assert summary.index("## Contradicted") < summary.index("## Supported") < summary.index("## Not checked")
    assert f"Draft `memo.docx` · SHA-256 `{result.sha256}` · checked {result.checked_at:%Y-%m-%d}" in summary


def test_the_annotated_draft_opens_on_its_summary_page(checked: tuple[Path, Any, Path]) -> None:
    """The summary page: title, the draft's name, SHA-256 and date, counts, then the contradicted sentences (with
    what differs and the source), the close match, the one not in the sources; supported ones only counted. It
    carries no comment, and a page break separates it from the draft."""
    draft, result, out = checked
    summary, _ = summary_and_draft(out)
    text = "\n".join(summary)
    assert summary[:3] == [SUMMARY_TITLE, "Draft: memo.docx", f"SHA-256: {result.sha256}"]
    assert summary[3].startswith(f"Checked {result.checked_at:%Y-%m-%d}") and "5 sentences checked, 6 not" in summary[3]
    for line in ["• Contradicted: 2", "• Close match: 1", "• Not in the sources: 1", "• Supported: 1"]:
        assert line in summary, line
    order = [text.index(f"“{sentence}”") for sentence in (ALTERED, ALTERED_IN_TABLE, REWORDED, ABSENT)]
    assert order == sorted(order) and text.index("Contradicted (2)") < order[0]
    assert f"“{TRUE}”" not in text  # supported: counted, not listed
    altered = next(line for line in summary if ALTERED in line)
    assert "claim says Sacramento, source says Fresno. Source: global-engagements-california-cities.txt" in altered
    assert "date: claim says 2012, source says 2009" in next(line for line in summary if ALTERED_IN_TABLE in line)
    body = docx.Document(str(out)).element.body
    assert body[0].xpath("string(.)") == SUMMARY_TITLE  # at the very top, before the draft's heading
    assert not any(p.xpath(".//w:commentRangeStart") for p in body[: len(summary) + 1])
    plain = draft.with_name("memo-plain.docx")
    annotate_docx(draft, result, plain, summary=False)
    original = [p.text for p in docx.Document(str(draft)).paragraphs]
    assert [p.text for p in docx.Document(str(plain)).paragraphs] == original  # no summary asked for


def test_a_file_name_xml_cannot_hold_is_shown_replaced(checked: tuple[Path, Any, Path]) -> None:
    """A control character or an undecodable byte in the draft's name (a Linux file name may hold both) would make
    lxml refuse the summary page; it shows as U+FFFD instead."""
    draft, result, _ = checked
    out = draft.with_name("odd-name.docx")
    annotate_docx(draft, dataclasses.replace(result, name="memo\x01\udcff.docx"), out)
    assert summary_and_draft(out)[0][1] == "Draft: memo\ufffd\ufffd.docx"
    assert display_name(Path("memo\udcff.docx")) == "memo\ufffd.docx"  # an undecodable byte of a Linux file name


def test_checking_reports_progress_sentence_by_sentence(tmp_path: Path, assistant: Assistant) -> None:
    heard: list[tuple[int, int, str]] = []
    check_draft(assistant, make_draft(tmp_path / "memo.docx"), progress=lambda *report: heard.append(report))
    assert heard[0] == (0, 1, "Reading memo.docx")
    assert heard[1:] == [(n, 5, f"Checking sentence {n + 1} of 5") for n in range(5)]


def test_the_fact_check_note_names_the_draft_and_its_hash(checked: tuple[Path, Any, Path],
                                                          assistant: Assistant) -> None:
    _, result, _ = checked
    cards = [ClaimCheck(v, result.checked_at, n, result.ref) for n, v in enumerate(result.verdicts.values(), 1)]
    pasted = ClaimCheck(cards[0].verdict, result.checked_at, 1)
    note = claims_markdown([cards[1], pasted], assistant.manifest["files"], assistant.fingerprint,
                           datetime(2026, 1, 2, tzinfo=UTC))
    assert f"Drafts checked (their claims are marked below):\n\n- `memo.docx` · SHA-256 `{result.sha256}`" in note
    assert note.count(f"- From the draft: `memo.docx` (SHA-256 `{result.sha256}`)") == 1  # not on the pasted claim
    assert "Drafts checked" not in claims_markdown([pasted], {}, "fp", datetime(2026, 1, 2, tzinfo=UTC))


def test_cli_annotates_a_draft_and_refuses_what_it_cannot(tmp_path: Path, assistant: Assistant,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    draft = make_draft(tmp_path / "memo.docx")
    index = str(assistant.settings.index_dir)
    code = main(["check", "--index", index, "--file", str(draft), "--annotate", str(tmp_path / "out.docx"),
                 "--summary", str(tmp_path / "out.md")])
    assert code == 0 and (tmp_path / "out.docx").is_file() and "| Contradicted | 2 |" in capsys.readouterr().out
    written = (tmp_path / "out.md").read_text(encoding="utf-8")
    sha = hashlib.sha256(draft.read_bytes()).hexdigest()
    assert written.startswith("# Fact-check of memo.docx") and f"Draft `memo.docx` · SHA-256 `{sha}`" in written
    assert summary_and_draft(tmp_path / "out.docx")[0][:3] == [SUMMARY_TITLE, "Draft: memo.docx", f"SHA-256: {sha}"]
    notes = tmp_path / "notes.md"
    notes.write_text(f"# Notes\n\n{TRUE}\n", encoding="utf-8")
    assert main(["check", "--index", index, "--file", str(notes), "--annotate", str(tmp_path / "x.docx")]) == 2
    fake = tmp_path / "fake.docx"
    fake.write_bytes(b"MZ\x90\x00 not a Word file")
    assert main(["check", "--index", index, "--file", str(fake), "--annotate", str(tmp_path / "y.docx")]) != 0
    assert not (tmp_path / "x.docx").exists() and not (tmp_path / "y.docx").exists()
    assert "fake.docx" in capsys.readouterr().err


@pytest.mark.parametrize(("sentence", "reason"), [
    ("Is Fresno a sister city of Kochi?", "a question"),
    ("Fresno, 2023.", "too short to state a fact"),
    ("We recommend that Fresno expand its programs in 2025.", "an opinion or recommendation"),
    ("The team met often and talked at length.", "no name, number, date or place to check"),
    ("Fresno banned caste discrimination in 2023.", None),
])
def test_skip_reasons(sentence: str, reason: str | None) -> None:
    assert skip_reason(sentence) == reason


def _nested_docx(path: Path, depth: int = 5000) -> Path:
    """A Word file whose document part nests `depth` elements: crafted to pass a parser that counts bytes."""
    import io
    import zipfile

    good = io.BytesIO()
    docx.Document().save(good)
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as archive:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                body = b"<w:p>" * depth + b"<w:r><w:t>Deep.</w:t></w:r>" + b"</w:p>" * depth
                data = data.replace(b"<w:body>", b"<w:body>" + body, 1)
            archive.writestr(item, data)
    return path


def _hostile_drafts(folder: Path) -> dict[str, Path]:
    from test_robustness import _zip_bomb

    fake = folder / "fake.docx"
    fake.write_bytes(b"MZ\x90\x00 an executable named like a Word file")
    empty = folder / "empty.docx"
    empty.write_bytes(b"")
    bomb = folder / "bomb.docx"
    _zip_bomb(bomb)
    big = folder / "big.md"
    with big.open("wb") as handle:  # sparse: over the size limit without writing it
        handle.truncate(600 * 2**20)
    return {"fake": fake, "empty": empty, "bomb": bomb, "nested": _nested_docx(folder / "nested.docx"), "big": big}


def test_hostile_drafts_are_refused_with_a_message_and_nothing_is_written(
    tmp_path: Path, assistant: Assistant, capsys: pytest.CaptureFixture[str]
) -> None:
    index = str(assistant.settings.index_dir)
    for name, path in _hostile_drafts(tmp_path).items():
        out = tmp_path / f"{name}-checked.docx"
        args = ["check", "--index", index, "--file", str(path), "--summary", str(tmp_path / f"{name}-summary.md")]
        code = main([*args, "--annotate", str(out)] if path.suffix == ".docx" else args)
        err = capsys.readouterr().err
        if name == "nested" and code == 0:  # lxml may read it: then it is checked like any draft, and annotated
            assert out.is_file()
            continue
        assert code != 0 and path.name in err and "Traceback" not in err, (name, code, err)
        assert not out.exists() and not (tmp_path / f"{name}-summary.md").exists(), name
