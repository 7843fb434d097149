"""Parse one untrusted PDF, DOCX or HTML file in a child process, under a time, memory and output limit.

Parsers of rich formats can loop forever, recurse until the stack overflows, or allocate without bound on a
malformed or hostile file (truncated PDFs, zip bombs, pathologically nested HTML). `extract` runs the
extractor of `cityqa.documents.extractors` in a fresh interpreter (`python <this file> SUFFIX PATH SOURCE`; also
runnable as `python -m cityqa.documents.sandbox`), so whatever the parser does, the ingest process only ever sees
a text or a reason:

- `PARSE_TIMEOUT_SECONDS`: wall-clock limit; the child, and any process it started, is killed after it.
- `PARSE_MEMORY_BYTES`: address-space limit of the child (RLIMIT_AS); a parser that needs more gets MemoryError.
- `PARSE_CPU_SECONDS`: CPU limit of the child (RLIMIT_CPU), a second net under the wall clock.
- `MAX_EXTRACTED_CHARS`: longer extracted text is refused rather than indexed.

Scanned PDF pages (no text layer) are read by OCR in a second run (`extract(..., ocr=OcrOptions, scanned=N)`),
once the first has said how many there are (`Extracted.scanned`): the same limits plus `OCR_SECONDS_PER_PAGE` of
wall clock and `OCR_CPU_SECONDS_PER_PAGE` of CPU per scanned page, at most `MAX_OCR_PAGES` of them. The child
renders the pages and runs Tesseract as its own child, one page per process under `ocr.OCR_PAGE_TIMEOUT_SECONDS`
and the same memory limit (`documents.ocr`), so a 20-page scan gets the time it needs while one parse keeps its 30 s.

The child imports only `documents.extractors`, `cityqa.errors` and, to read PDFs, `pdftext`, `pdfrender` and `ocr`
(`import cityqa` itself loads nothing), so a parse costs one small interpreter start (~0.2 s). It runs in a process
group of its own, with a private temporary folder (removed after it). Plain text and Markdown never come here;
`corpus.read_document` reads them in-process.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .extractors import Extracted
    from .ocr import OcrOptions

PARSE_TIMEOUT_SECONDS = 30.0
PARSE_CPU_SECONDS = 60
PARSE_MEMORY_BYTES = 2 << 30
MAX_EXTRACTED_CHARS = 20_000_000
OCR_SECONDS_PER_PAGE = 20.0  # wall clock per scanned page, on top of PARSE_TIMEOUT_SECONDS (about 3 s are needed)
OCR_CPU_SECONDS_PER_PAGE = 10  # the child's own CPU per scanned page (rendering it; Tesseract has its own limit)
MAX_OCR_PAGES = 300  # a PDF with more scanned pages is refused rather than OCR'd for an hour
_PACKAGE_DIR = Path(__file__).resolve().parent


class ParseFailure(Exception):
    """The file could not be parsed; `reason` says why in words for the ingest report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def extract(suffix: str, path: Path, source: str, timeout: float | None = None, ocr: OcrOptions | None = None,
            scanned: int = 0) -> Extracted:
    """`path` as its format's reader (`extractors.FORMATS[suffix].read`) extracts it, computed in a limited child
    process. With `ocr`, the format's `read_scanned` reads it, its `scanned` pages without a text layer by OCR, with
    `OCR_SECONDS_PER_PAGE` more time and `OCR_CPU_SECONDS_PER_PAGE` more CPU for each.

    Raises `ParseFailure` with a reason when the parser refuses the file, fails, crashes, runs out of memory or
    time, or extracts too much text."""
    from .extractors import FORMATS, Extracted

    kind = FORMATS[suffix].kind
    args, cpu = [suffix, str(path), source], PARSE_CPU_SECONDS
    if ocr is not None:
        if scanned > MAX_OCR_PAGES:
            raise ParseFailure(f"{kind} has {scanned} scanned pages (no text layer); OCR reads at most "
                               f"{MAX_OCR_PAGES} per file")
        args = ["--ocr", ocr.languages, ocr.executable, *args]
        timeout = (PARSE_TIMEOUT_SECONDS if timeout is None else timeout) + OCR_SECONDS_PER_PAGE * scanned
        cpu += OCR_CPU_SECONDS_PER_PAGE * scanned
    result = _run(args, b"", f"{kind} parser" if ocr is None else f"{kind} OCR", timeout, cpu)
    return Extracted(str(result["text"]), [int(n) for n in result.get("pages", ())],
                     {str(k): str(v) for k, v in result.get("metadata", {}).items()},
                     [int(n) for n in result.get("scanned", ())])


def render_page(path: Path, page: int, quote: str, part: str = "whole", scale: float = 1.5,
                timeout: float | None = None, ocr: OcrOptions | None = None) -> tuple[bytes, int]:
    """PNG of a PDF page with `quote` highlighted (`pdfrender.render`) and the number of highlighted characters,
    rendered in a limited child process. A scanned page is OCR'd with `ocr` to find the quote (not at all without
    it). Raises `ParseFailure` with a reason when it cannot."""
    args = ["--render", str(path), str(page), part, f"{scale:g}"]
    if ocr is not None:
        args += [ocr.languages, ocr.executable]
    result = _run(args, quote.encode("utf-8"), "PDF renderer", timeout)
    return base64.b64decode(result["png"]), int(result["marked"])


def _run(args: list[str], stdin: bytes, what: str, timeout: float | None, cpu: int | None = None) -> dict[str, Any]:
    """Run the child on `args` (with `stdin`) under the limits; its JSON result, or `ParseFailure`."""
    limit = PARSE_TIMEOUT_SECONDS if timeout is None else timeout
    cpu = PARSE_CPU_SECONDS if cpu is None else cpu
    command = [sys.executable, "-I", str(_PACKAGE_DIR / "sandbox.py"), *args]
    with tempfile.TemporaryDirectory(prefix="cityqa-sandbox-") as scratch:  # the child's temporary files (OCR pages)
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
               "TMPDIR": scratch, "CITYQA_PARSE_MEMORY_BYTES": str(PARSE_MEMORY_BYTES),
               "CITYQA_PARSE_CPU_SECONDS": str(cpu), "CITYQA_MAX_EXTRACTED_CHARS": str(MAX_EXTRACTED_CHARS)}
        proc = _communicate(command, stdin, env, limit, what)
    if proc.returncode != 0:
        if proc.returncode < 0:
            name = _signal_name(-proc.returncode)
            if -proc.returncode == signal.SIGXCPU:
                raise ParseFailure(f"{what} used more than {cpu} s of CPU; skipped")
            raise ParseFailure(f"{what} crashed ({name}); skipped")
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise ParseFailure(f"{what} failed ({tail[0][:200]})")
    try:
        result = json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        raise ParseFailure(f"{what} returned no readable result") from None
    if "error" in result:
        raise ParseFailure(str(result["error"]))
    return dict(result)


def _communicate(command: list[str], stdin: bytes, env: dict[str, str], limit: float, what: str
                 ) -> subprocess.CompletedProcess[bytes]:
    """Run the child in a process group of its own; past `limit` seconds the whole group is killed (the child and
    any Tesseract it started) and `ParseFailure` raised."""
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(stdin, timeout=limit)
        except BaseException as exc:  # the timeout, or an interrupt: no child outlives the call
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # before the child is reaped, so its group id is still its own
            proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise ParseFailure(f"{what} took longer than {limit:g} s; skipped (malformed or hostile file?)"
                                   ) from None
            raise
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# ------------------------------------------------------------------ the child


def _child(suffix: str, path: str, source: str, ocr: tuple[str, str] | None = None) -> dict[str, Any]:
    """Extract the file; with `ocr` (languages, Tesseract executable), its scanned pages by OCR."""
    _limit_resources()
    from cityqa.documents.extractors import FORMATS
    from cityqa.errors import UnreadableFileError  # `import cityqa` is lazy: these two modules are all it loads

    fmt = FORMATS[suffix]
    kind, read = fmt.kind, fmt.read
    if read is None:
        return {"error": f"{kind} files are decoded, not parsed"}
    if ocr is not None and fmt.read_scanned is None:
        return {"error": f"{kind} files have no scanned pages to OCR"}
    max_chars = int(os.environ.get("CITYQA_MAX_EXTRACTED_CHARS", MAX_EXTRACTED_CHARS))
    try:
        if ocr is not None and fmt.read_scanned is not None:
            from cityqa.documents.ocr import OcrOptions

            extracted = fmt.read_scanned(source, Path(path), OcrOptions(*ocr))
        else:
            extracted = read(source, Path(path))
    except UnreadableFileError as exc:
        return {"error": exc.reason}
    except RecursionError:
        return {"error": f"{kind} is nested too deeply to parse"}
    except MemoryError:
        limit = int(os.environ.get("CITYQA_PARSE_MEMORY_BYTES", PARSE_MEMORY_BYTES)) >> 20
        return {"error": f"{kind} needs more than {limit} MiB of memory to parse; skipped"}
    except Exception as exc:  # any parser bug on a malformed file is a reason, not a crash
        return {"error": f"{kind} cannot be parsed ({exc.__class__.__name__}: {str(exc)[:200]})"}
    size = len(extracted.text)
    if size > max_chars:
        return {"error": f"{kind} holds {size:,} characters of text; the limit is {max_chars:,}"}
    return {"text": extracted.text, "pages": extracted.pages, "metadata": extracted.metadata,
            "scanned": extracted.scanned}


def _limit_resources() -> None:
    import resource

    memory = int(os.environ.get("CITYQA_PARSE_MEMORY_BYTES", PARSE_MEMORY_BYTES))
    cpu = int(os.environ.get("CITYQA_PARSE_CPU_SECONDS", PARSE_CPU_SECONDS))
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_CORE, 0)):
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))


def _render_child(path: str, page: str, part: str, scale: str, *ocr: str) -> dict[str, Any]:
    """Render the page with the quote (stdin) highlighted; `ocr`: (languages, Tesseract) to OCR a scanned page."""
    _limit_resources()
    from cityqa.documents.ocr import OcrOptions
    from cityqa.documents.pdfrender import render

    quote = sys.stdin.buffer.read().decode("utf-8")
    options = OcrOptions(*ocr) if ocr else None
    try:
        png, marked = render(path, int(page), quote, part, float(scale), options)  # type: ignore[arg-type]
    except MemoryError:
        return {"error": "the PDF page needs too much memory to render"}
    except Exception as exc:  # a malformed page is a reason, not a crash
        return {"error": f"the PDF page cannot be rendered ({exc.__class__.__name__}: {str(exc)[:200]})"}
    return {"png": base64.b64encode(png).decode("ascii"), "marked": marked}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) in (5, 7) and args[0] == "--render":
        result = _render_child(*args[1:])
    elif len(args) == 3:
        result = _child(args[0], args[1], args[2])
    elif len(args) == 6 and args[0] == "--ocr":
        result = _child(args[3], args[4], args[5], ocr=(args[1], args[2]))
    else:
        print("usage: python -m cityqa.documents.sandbox SUFFIX PATH SOURCE | "
              "--ocr LANGUAGES TESSERACT SUFFIX PATH SOURCE | --render PATH PAGE PART SCALE [LANGUAGES TESSERACT]",
              file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a file: make `src/` importable, without the package __init__
        sys.path.insert(0, str(_PACKAGE_DIR.parent))
    raise SystemExit(main())
