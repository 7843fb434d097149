"""The `cityqa` command in a real subprocess: ingest, ask (several questions, --file, --json), exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_corpus


def run(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cityqa.cli", *args], cwd=cwd, env=env, input=stdin, capture_output=True,
        text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    make_corpus(root / "corpus")
    result = run("ingest", "--corpus", "corpus", "--index", "idx", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "added 2" in result.stdout and "chunk(s) written" in result.stdout
    return root


def test_ingest_again_does_nothing(workdir: Path) -> None:
    result = run("ingest", "--corpus", "corpus", "--index", "idx", "--json", cwd=workdir)
    report = json.loads(result.stdout)
    assert report["chunks_written"] == 0 and len(report["unchanged"]) == 2


def test_ask_json_lines_for_several_questions(workdir: Path) -> None:
    (workdir / "qs.txt").write_text(
        "Who is the mayor of San José?\n\nWhat is the GDP of the Los Angeles metropolitan area?\n"
    )
    result = run("ask", "--index", "idx", "--json", "--file", "qs.txt", "When was Joe Hedges interviewed?",
                 cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["question"] for x in lines] == [
        "When was Joe Hedges interviewed?", "Who is the mayor of San José?",
        "What is the GDP of the Los Angeles metropolitan area?",
    ]
    assert "December 1, 2023" in " ".join(lines[0]["answer"].split())
    assert "Matt Mahan" in lines[1]["answer"] and lines[1]["citations"][0]["quote"] in lines[1]["answer"]
    assert lines[2]["abstained"] is True and lines[2]["related"]


def test_ask_text_output_lists_citations(workdir: Path) -> None:
    question = "Which countries did San José visit on trade missions in the 1990s and early 2000s?"
    result = run("ask", "--index", "idx", question, cwd=workdir, env={"CITYQA_ABSTAIN_THRESHOLD": "0.14"})
    assert "Finland" in result.stdout and "[1] global-engagements-california-cities.txt" in result.stdout


def test_a_not_found_says_why_under_the_verdict(workdir: Path) -> None:
    result = run("ask", "--index", "idx", "Which port is not self-funding?", cwd=workdir)
    lines = result.stdout.splitlines()
    assert lines[1] == "A: Not found in the documents: no passage clearly answers this question."
    assert "that the closest passage answers the question" in lines[2]
    assert lines[3] == "   why: The question is negated (“not”); the closest passage says nothing of the kind."


def test_missing_index_exit_code_and_message(tmp_path: Path) -> None:
    result = run("ask", "--index", str(tmp_path / "none"), "Anything?", cwd=tmp_path)
    assert result.returncode == 3
    assert "run `cityqa ingest" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_ingest_refuses_other_settings_unless_told_to_rebuild(tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    for path in corpus.iterdir():  # the interview notes are enough
        if path.suffix != ".md":
            path.unlink()
    first = run("ingest", "--corpus", "corpus", "--index", "idx", cwd=tmp_path, env={"CITYQA_CHUNK_MAX_WORDS": "60"})
    assert first.returncode == 0, first.stderr
    refused = run("ingest", "--corpus", "corpus", "--index", "idx", cwd=tmp_path)
    assert refused.returncode == 4 and "cityqa ingest --rebuild" in refused.stderr
    assert "chunk_max_words: index has 60, settings say 180" in refused.stderr
    rebuilt = run("ingest", "--corpus", "corpus", "--index", "idx", "--rebuild-if-changed", "--json", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "built with other settings (chunk_max_words: index has 60" in rebuilt.stderr
    assert "rebuilding it" in rebuilt.stderr and json.loads(rebuilt.stdout)["chunks_written"] > 0
    again = run("ingest", "--corpus", "corpus", "--index", "idx", "--rebuild-if-changed", "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["chunks_written"] == 0 and not again.stderr.strip()  # same settings: no rebuild


def test_no_question_is_a_usage_error(tmp_path: Path) -> None:
    result = run("ask", "--index", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "give at least one question" in result.stderr


def test_a_closed_pipe_ends_quietly(workdir: Path) -> None:
    """`cityqa ask --json … | head -1`: the reader goes away after the first line; the command ends with the
    status of a tool killed by SIGPIPE, and no traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    questions = ["Who is the mayor of San José?"] * 100  # far more than a pipe buffer (64 KiB) holds
    command = [sys.executable, "-m", "cityqa.cli", "ask", "--json", "--index", "idx", *questions]
    writer = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert writer.stdout is not None and writer.stderr is not None
    first = writer.stdout.readline()
    writer.stdout.close()  # what `head -1` does after its line
    status = writer.wait(timeout=300)
    stderr = writer.stderr.read().decode()
    assert json.loads(first)["question"] == questions[0]
    assert status == 141 and "Traceback" not in stderr and "BrokenPipe" not in stderr, (status, stderr)
