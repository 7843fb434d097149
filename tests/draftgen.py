"""A fictional briefing memo as a Word file, for the draft-checking tests and docs/make_draft_image.py: true,
altered, reworded and absent claims about the shared corpus among sentences with nothing to check; and how to read
an annotated copy back (its summary page, then the draft)."""

from __future__ import annotations

from pathlib import Path

import docx
from docx.enum.text import WD_BREAK

TRUE = "Fresno banned caste discrimination in the city."
ALTERED = "Sacramento banned caste discrimination."
REWORDED = "Los Angeles already had a director for its office of international trade and development in 2010."
ABSENT = "San Diego's Office of Global Affairs has an annual budget of $2 million."
ALTERED_IN_TABLE = "Abe Lowenthal's book Global California was published in 2012."
QUESTION = "Which cities should we visit next year?"
ADVICE = "The council should fund a new trade office in Sacramento."
NO_FACT = "This memo summarises recent activity for the team."


def make_draft(path: Path) -> Path:
    """Two pages: a heading, factual sentences (true, altered, reworded, absent) among others, a page break, a
    table whose cell holds an altered claim. Some sentences share a paragraph and a run with bold text inside."""
    document = docx.Document()
    document.add_heading("Briefing: international affairs", level=1)
    first = document.add_paragraph(f"{NO_FACT} {TRUE} ")
    first.add_run(ALTERED).bold = True
    first.add_run(f" {QUESTION}")
    document.add_paragraph(REWORDED)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_heading("Budget notes", level=2)
    document.add_paragraph(f"{ABSENT} {ADVICE}")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Lowenthal"
    table.cell(0, 1).text = ALTERED_IN_TABLE
    document.save(str(path))
    return path


def summary_and_draft(path: Path) -> tuple[list[str], list[str]]:
    """The body paragraphs' texts of an annotated draft, split at the page break that ends the summary page: the
    summary's, and the draft's own after it."""
    paragraphs = docx.Document(str(path)).paragraphs
    end = next(i for i, p in enumerate(paragraphs) if p._p.xpath('.//w:br[@w:type="page"]'))
    return [p.text for p in paragraphs[:end]], [p.text for p in paragraphs[end + 1 :]]
