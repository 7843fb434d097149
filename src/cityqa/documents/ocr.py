"""Text of scanned PDF pages (no text layer) by OCR with Tesseract, as positioned characters `pdftext` reads.

A page is scanned (`is_scanned`) when its text layer holds almost no letters or digits (fewer than
`TEXT_LAYER_CHARS`) while images cover a fair share of it (`IMAGE_SHARE`). `read_pages` renders such a page with
pdfium at `OCR_DPI` in grey, runs `tesseract <png> stdout -l LANGS --dpi 300 tsv` on it (`run_tesseract`, the one
function that starts a process, under a wall-clock timeout), and turns the word boxes of Tesseract's TSV into
`pdftext.Glyph`s (`glyphs_of`, pure): each word's characters spread over its box, every character of a line on the
line's baseline and at the line's type size, a generated space between words and a line break after each line.
`pdftext.lines_of` then makes the lines, and the page goes through `reading_order` and `page_text` like any other
page: columns, paragraph breaks at wide line gaps, headings by type size, running headers and page numbers.

- **type size** of a line: each word's height measures it by the letters the word has (capitals, digits and
  ascenders reach `CAP_HEIGHT` of the size above the baseline, x-height letters `X_HEIGHT`, descenders
  `DESCENDER` below it); the line takes the median of its words of the surest kind. The sizes of all OCR'd pages
  are then settled (`settle_sizes`): lines within `SIZE_SPREAD` of one another take one size, since `pdftext`
  starts a paragraph where the size changes by a tenth and measured sizes scatter by a few percent.
- **baseline**: the median bottom of the line's words without descenders (g j p q y, commas, brackets).
- **confidence**: words Tesseract scores below `MIN_CONFIDENCE` (of 100) are dropped. On clean scans no word
  scores below 80. On 21 degraded test pages (120-200 dpi, specks, blur, JPEG, a slight slant) 69% of the words
  under 10 were not words of the document (specks and marks read as ":", "°-", "saieliiiae"); between 10 and 30
  only 60% were, so a higher threshold would cost as many real words (41 more of 6,461) as junk it removes.

Coordinates: PDF points, y upwards, from the bottom-left corner of the page as rendered (the page as displayed,
after its rotation), so `pdftext`'s rules measure OCR lines as they measure a text layer. `pdfrender` highlights a
quote on a scanned page from the same glyphs (`ocr_glyphs`), OCR'ing the page again.

A leaf module (only `pdftext`): the sandbox child runs it, and Tesseract runs as the child's own child, under the
same memory limit, one page per process with `OCR_PAGE_TIMEOUT_SECONDS`. Nothing is downloaded: the language data
come from Debian's `tesseract-ocr-*` packages.
"""

from __future__ import annotations

import bisect
import itertools
import os
import shutil
import statistics
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .pdftext import Glyph, Line, lines_of

OCR_DPI = 300
MAX_PIXELS = 40_000_000  # a larger page is rendered at a lower resolution (A3 at 300 dpi is 17.4 million)
MIN_CONFIDENCE = 10.0  # see the module's docstring
TEXT_LAYER_CHARS = 20  # a page whose text layer has fewer letters and digits than this has no text layer
IMAGE_SHARE = 0.3  # ... and is scanned when images cover at least this share of it
OCR_PAGE_TIMEOUT_SECONDS = 60.0  # one page's Tesseract run
OCR_WORKERS = 2  # pages read at once (one Tesseract process each, one thread each)
CAP_HEIGHT = 0.70  # height of capitals and ascenders, as a share of the type size
X_HEIGHT = 0.50  # height of lower-case letters without ascenders
DESCENDER = 0.21  # depth below the baseline of g, j, p, q, y
TESSERACT = "tesseract"
SIZE_SPREAD = 0.08  # lines whose measured sizes differ by less than this share are set in one size
_TALL = frozenset("bdfhkl0123456789ABCDEFGHIJKLMNOPRSTUVWXYZ")  # a t is lower
_DEEP = frozenset("gjpqyQ,;()[]{}|_@$")  # below the baseline
_DOTTED = frozenset("ijt")  # x-height letters whose dot or stem rises above the others


@dataclass(frozen=True)
class OcrOptions:
    """How to OCR: Tesseract's languages ("eng", "eng+deu") and its executable (a path, or a name on PATH)."""

    languages: str = "eng"
    executable: str = TESSERACT


@dataclass(frozen=True)
class Word:
    """One word of Tesseract's TSV: its text, confidence and box in pixels (y downwards)."""

    text: str
    left: int
    top: int
    right: int
    bottom: int
    confidence: float


class OcrError(Exception):
    """Tesseract failed or took too long on a page; the message ("took longer than 60 s", "failed (...)") says
    why."""


# ---------------------------------------------------------------- Tesseract's TSV to lines


def parse_tsv(tsv: str, min_confidence: float = MIN_CONFIDENCE) -> list[list[Word]]:
    """The lines of Tesseract's TSV output, each a list of its words, in Tesseract's reading order. Words below
    `min_confidence` and empty words are left out, and so are lines left without a word."""
    rows = tsv.splitlines()
    if not rows:
        return []
    header = rows[0].split("\t")
    at = {name: n for n, name in enumerate(header)}
    needed = ("level", "block_num", "par_num", "line_num", "left", "top", "width", "height", "conf", "text")
    if any(name not in at for name in needed):
        raise ValueError(f"not Tesseract TSV output (header {rows[0][:80]!r})")
    lines: dict[tuple[int, ...], list[Word]] = {}
    for row in rows[1:]:
        cells = row.split("\t")
        if len(cells) < len(header) - 1 or cells[at["level"]] != "5":
            continue
        text = cells[at["text"]].strip() if len(cells) > at["text"] else ""
        confidence = float(cells[at["conf"]])
        key = tuple(int(cells[at[name]]) for name in ("page_num", "block_num", "par_num", "line_num") if name in at)
        line = lines.setdefault(key, [])
        if not text or confidence < min_confidence:
            continue
        left, top = int(cells[at["left"]]), int(cells[at["top"]])
        line.append(Word(text, left, top, left + int(cells[at["width"]]), top + int(cells[at["height"]]), confidence))
    return [words for words in lines.values() if words]


def glyphs_of(lines: Sequence[Sequence[Word]], scale: float, height: float) -> list[Glyph]:
    """The words as characters in PDF points (`scale` pixels per point; `height` of the page in points, to turn y
    upwards): each word's characters spread evenly over its box, every character of a line on the line's baseline
    and type size, a generated space (size 0, as pdfium reports them) between words and a line break after each
    line."""
    glyphs: list[Glyph] = []
    for words in lines:
        size_px, baseline_px = _line_metrics(words)
        size, baseline = size_px / scale, height - baseline_px / scale
        for n, word in enumerate(words):
            if n:
                x = words[n - 1].right / scale
                glyphs.append(Glyph(" ", x, baseline, x, baseline, 0.0, baseline))
            width = (word.right - word.left) / len(word.text)
            bottom, top = height - word.bottom / scale, height - word.top / scale
            for i, char in enumerate(word.text):
                left = (word.left + i * width) / scale
                glyphs.append(Glyph(char, left, bottom, left + width / scale, top, size, baseline))
        x = words[-1].right / scale
        glyphs.append(Glyph("\n", x, baseline, x, baseline, 0.0, baseline))
    return glyphs


def _line_metrics(words: Sequence[Word]) -> tuple[float, float]:
    """(type size, baseline) of a line, in pixels: see the module's docstring. Each word's height gives a size by
    what letters it has (a slanted scan moves whole words, not their heights); the line takes the median of the
    surest kind of word it has."""
    for tall, deep in ((True, False), (True, True), (False, False), (False, True)):
        ratio = (CAP_HEIGHT if tall else X_HEIGHT) + (DESCENDER if deep else 0.0)
        sizes = [(w.bottom - w.top) / ratio for w in words if _kind(w.text) == (tall, deep)]
        if sizes:
            size = statistics.median(sizes)
            break
    else:  # punctuation alone
        size = statistics.median(w.bottom - w.top for w in words) / (CAP_HEIGHT + DESCENDER)
    flat = [w.bottom for w in words if not _DEEP.intersection(w.text)]
    baseline = statistics.median(flat) if flat else statistics.median(w.bottom for w in words) - DESCENDER * size
    return max(size, 1.0), baseline


def _kind(text: str) -> tuple[bool, bool] | None:
    """(has a capital, digit or ascender; has a descender) of a word; None when its height says nothing sure (an
    i or j dot without taller letters, punctuation alone)."""
    tall, deep = bool(_TALL.intersection(text)), bool(_DEEP.intersection(text))
    if not tall and (not text.isalpha() or _DOTTED.intersection(text)):
        return None
    return tall, deep


def settle_sizes(pages: Sequence[Sequence[Line]]) -> list[list[Line]]:
    """The OCR'd pages with every line's type size set to the size of its kind: the lines within `SIZE_SPREAD` of
    the size that most characters are near take the median of their sizes, then the same among the lines left
    (measured sizes scatter by a few percent, and `pdftext` starts a paragraph where the size changes by a tenth)."""
    items = sorted((line.size, len(line.text), p, n) for p, lines in enumerate(pages) for n, line in enumerate(lines))
    sizes = [size for size, *_ in items]
    weights = [max(1, chars) for _, chars, *_ in items]  # 0 once settled
    windows = [(bisect.bisect_left(sizes, size / (1 + SIZE_SPREAD)),
                bisect.bisect_right(sizes, size * (1 + SIZE_SPREAD))) for size in sizes]
    settled: dict[tuple[int, int], float] = {}
    while any(weights):
        total = list(itertools.accumulate(weights, initial=0))
        best = max((i for i, w in enumerate(weights) if w), key=lambda i: total[windows[i][1]] - total[windows[i][0]])
        members = [i for i in range(*windows[best]) if weights[i]]
        value = round(statistics.median(sizes[i] for i in members), 1)
        for i in members:
            settled[items[i][2], items[i][3]] = value
            weights[i] = 0
    return [[_resized(line, settled[p, n]) for n, line in enumerate(lines)] for p, lines in enumerate(pages)]


def _resized(line: Line, size: float) -> Line:
    glyphs = tuple(replace(g, size=size) if g.size > 0 else g for g in line.glyphs)
    return replace(line, size=size, glyphs=glyphs)


def lines_from_tsv(tsv: str, scale: float, height: float) -> list[Line]:
    """A page's `pdftext` lines from Tesseract's TSV of its picture (`scale`: pixels per point, `height` of the
    page in points)."""
    return lines_of(glyphs_of(parse_tsv(tsv), scale, height))


def merged(text_lines: Sequence[Line], ocr_lines: Sequence[Line]) -> list[Line]:
    """The OCR lines of a scanned page with the few lines its text layer has (a stamp, a file number) put in by
    height: each before the first OCR line below it."""
    def place(line: Line) -> int:
        return next((i for i, o in enumerate(ocr_lines) if o.baseline < line.baseline), len(ocr_lines))

    keyed = [(n, 1, n, line) for n, line in enumerate(ocr_lines)]
    keyed += [(place(line), 0, n, line) for n, line in enumerate(text_lines)]
    return [line for *_, line in sorted(keyed, key=lambda item: item[:3])]


# ---------------------------------------------------------------- pages


def is_scanned(page: Any, glyphs: Iterable[Glyph]) -> bool:
    """Has the pdfium page (almost) no text layer but images over a fair share of it?"""
    import pypdfium2.raw as raw

    if sum(1 for g in glyphs if g.char.isalnum()) >= TEXT_LAYER_CHARS:
        return False
    x0, y0, x1, y1 = page.get_bbox()
    area = 0.0
    for image in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE]):
        left, bottom, right, top = image.get_bounds()
        area += max(0.0, min(right, x1) - max(left, x0)) * max(0.0, min(top, y1) - max(bottom, y0))
    return area >= IMAGE_SHARE * (x1 - x0) * (y1 - y0)


def render_for_ocr(page: Any) -> tuple[Any, float]:
    """The page as a grey PIL image at `OCR_DPI` (less for a page larger than `MAX_PIXELS`) and its pixels per
    point."""
    width, height = page.get_size()
    scale = min(OCR_DPI / 72, (MAX_PIXELS / max(width * height, 1.0)) ** 0.5)
    return page.render(scale=scale, grayscale=True).to_pil().convert("L"), scale


def run_tesseract(image: Path, options: OcrOptions, timeout: float = OCR_PAGE_TIMEOUT_SECONDS) -> str:
    """Tesseract's TSV for one image file (one thread, killed after `timeout` seconds). Raises `OcrError`."""
    command = [options.executable, str(image), "stdout", "-l", options.languages, "--dpi", str(OCR_DPI), "tsv"]
    env = {"PATH": os.environ.get("PATH", ""), "OMP_THREAD_LIMIT": "1", "LC_ALL": "C.UTF-8"}
    try:
        proc = subprocess.run(command, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OcrError(f"took longer than {timeout:g} s") from None
    except OSError as exc:
        raise OcrError(f"failed (Tesseract cannot be run: {exc.strerror or exc})") from None
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise OcrError(f"failed (Tesseract: {tail[0][:200]})")
    return proc.stdout.decode("utf-8", "replace")


def read_pages(pages: Sequence[tuple[int, Any]], options: OcrOptions) -> list[list[Line]]:
    """The OCR lines of each (page number, pdfium page), their sizes settled across the pages (`settle_sizes`).
    Raises `OcrError` naming the page that failed."""
    return settle_sizes([lines_of(glyphs) for glyphs, _ in ocr_glyphs(pages, options)])


def ocr_glyphs(pages: Sequence[tuple[int, Any]], options: OcrOptions) -> list[tuple[list[Glyph], float]]:
    """The OCR glyphs of each (page number, pdfium page) in Tesseract's order (`glyphs_of`) and the page's height
    in points as rendered. Pages are rendered here, one after the other (pdfium is not thread-safe), while up to
    `OCR_WORKERS` Tesseract processes read the pages rendered before (at most twice as many wait as pictures).
    Raises `OcrError` naming the page that failed."""
    out: list[tuple[list[Glyph], float]] = []
    jobs: deque[tuple[int, Future[str], float, float]] = deque()

    def collect() -> None:
        number, job, scale, height = jobs.popleft()
        try:
            out.append((glyphs_of(parse_tsv(job.result()), scale, height), height))
        except OcrError as exc:
            pool.shutdown(cancel_futures=True)
            raise OcrError(f"OCR of page {number} {exc}") from None

    with tempfile.TemporaryDirectory(prefix="cityqa-ocr-") as tmp, ThreadPoolExecutor(OCR_WORKERS) as pool:
        for number, page in pages:
            if len(jobs) >= 2 * OCR_WORKERS:
                collect()
            image, scale = render_for_ocr(page)
            path = Path(tmp) / f"page-{number}.png"
            image.save(path, format="PNG", compress_level=1, dpi=(OCR_DPI, OCR_DPI))
            jobs.append((number, pool.submit(_read_image, path, options), scale, image.height / scale))
            del image
        while jobs:
            collect()
    return out


def _read_image(path: Path, options: OcrOptions) -> str:
    try:
        return run_tesseract(path, options)
    finally:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------- is OCR possible here?


def unavailable(options: OcrOptions) -> str | None:
    """Why Tesseract cannot read with these options on this machine (not installed, a language's data missing), as
    the end of a sentence; None when it can."""
    executable = shutil.which(options.executable)
    if executable is None:
        return "install tesseract-ocr to read it (apt-get install tesseract-ocr)"
    try:
        proc = subprocess.run([executable, "--list-langs"], capture_output=True, timeout=30, check=False,
                              env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Tesseract ({executable}) cannot be run ({exc.__class__.__name__}); reinstall tesseract-ocr"
    if proc.returncode != 0:
        return f"Tesseract ({executable}) does not list its languages; reinstall tesseract-ocr"
    listed = {name.strip() for name in proc.stdout.decode("utf-8", "replace").splitlines()[1:]}  # after the title
    missing = [lang for lang in options.languages.split("+") if lang not in listed]
    if missing:
        names = " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in missing)
        return f"Tesseract has no language data for {'+'.join(missing)} (CITYQA_OCR_LANGUAGES); install {names}"
    return None
