"""Checking a whole briefing draft (`cityqa.checking.draft`): a fictional multi-page Word memo made here, checked
against the shared corpus, annotated, and read back: every factual sentence carries one comment anchored on exactly
its text, the others are listed with the reason, the draft's text is unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn

from cityqa import Assistant
from cityqa.checking.draft import annotate_docx, check_draft, skip_reason
from cityqa.cli import main
from draftgen import ABSENT, ADVICE, ALTERED, ALTERED_IN_TABLE, NO_FACT, QUESTION, REWORDED, TRUE, make_draft


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
    assert [p.text for p in docx.Document(str(out)).paragraphs] == original  # the text is never changed
    bold = [r for p in docx.Document(str(out)).paragraphs for r in p.runs if r.text == ALTERED]
    assert bold and bold[0].bold and bold[0].font.highlight_color is not None  # formatting kept, shaded


def test_summary_puts_the_contradicted_first(checked: tuple[Path, Any, Path]) -> None:
    _, result, _ = checked
    summary = result.summary_markdown()
    assert "| Contradicted | 2 |" in summary and "| Supported | 1 |" in summary
    assert summary.index("## Contradicted") < summary.index("## Supported") < summary.index("## Not checked")
    assert result.sha256 in summary


def test_cli_annotates_a_draft_and_refuses_what_it_cannot(tmp_path: Path, assistant: Assistant,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    draft = make_draft(tmp_path / "memo.docx")
    index = str(assistant.settings.index_dir)
    code = main(["check", "--index", index, "--file", str(draft), "--annotate", str(tmp_path / "out.docx"),
                 "--summary", str(tmp_path / "out.md")])
    assert code == 0 and (tmp_path / "out.docx").is_file() and "| Contradicted | 2 |" in capsys.readouterr().out
    assert (tmp_path / "out.md").read_text(encoding="utf-8").startswith("# Fact-check of memo.docx")
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
