"""Parse one untrusted PDF, DOCX or HTML file in a child process, under a time, memory and output limit.

Parsers of rich formats can loop forever, recurse until the stack overflows, or allocate without bound on a
malformed or hostile file (truncated PDFs, zip bombs, pathologically nested HTML). `extract_text` runs the
extractor of `cityqa.corpus` in a fresh interpreter (`python <this file> SUFFIX PATH SOURCE`; also runnable as
`python -m cityqa.sandbox`), so whatever the parser does, the ingest process only ever sees a text or a reason:

- `PARSE_TIMEOUT_SECONDS`: wall-clock limit; the child is killed after it.
- `PARSE_MEMORY_BYTES`: address-space limit of the child (RLIMIT_AS); a parser that needs more gets MemoryError.
- `PARSE_CPU_SECONDS`: CPU limit of the child (RLIMIT_CPU), a second net under the wall clock.
- `MAX_EXTRACTED_CHARS`: longer extracted text is refused rather than indexed.

The child imports only `cityqa.extractors` and `cityqa.errors` (`import cityqa` itself loads nothing), so a parse
costs one small interpreter start (~0.2 s). Plain text and Markdown never come here; `corpus.read_document` reads
them in-process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

PARSE_TIMEOUT_SECONDS = 30.0
PARSE_CPU_SECONDS = 60
PARSE_MEMORY_BYTES = 2 << 30
MAX_EXTRACTED_CHARS = 20_000_000
FORMAT_NAMES = {".pdf": "PDF", ".docx": "DOCX", ".html": "HTML", ".htm": "HTML"}
_PACKAGE_DIR = Path(__file__).resolve().parent


class ParseFailure(Exception):
    """The file could not be parsed; `reason` says why in words for the ingest report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def extract_text(suffix: str, path: Path, source: str, timeout: float | None = None) -> str:
    """Text of `path` as `extractors.EXTRACTORS[suffix]` extracts it, computed in a limited child process.

    Raises `ParseFailure` with a reason when the parser refuses the file, fails, crashes, runs out of memory or
    time, or extracts too much text."""
    limit = PARSE_TIMEOUT_SECONDS if timeout is None else timeout
    kind = FORMAT_NAMES.get(suffix, suffix)
    command = [sys.executable, "-I", str(_PACKAGE_DIR / "sandbox.py"), suffix, str(path), source]
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8",
           "CITYQA_PARSE_MEMORY_BYTES": str(PARSE_MEMORY_BYTES), "CITYQA_PARSE_CPU_SECONDS": str(PARSE_CPU_SECONDS),
           "CITYQA_MAX_EXTRACTED_CHARS": str(MAX_EXTRACTED_CHARS)}
    try:
        proc = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, timeout=limit, env=env, check=False,
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed the child
        reason = f"{kind} parser took longer than {limit:g} s; skipped (malformed or hostile file?)"
        raise ParseFailure(reason) from None
    if proc.returncode != 0:
        if proc.returncode < 0:
            name = _signal_name(-proc.returncode)
            if -proc.returncode == signal.SIGXCPU:
                raise ParseFailure(f"{kind} parser used more than {PARSE_CPU_SECONDS} s of CPU; skipped")
            raise ParseFailure(f"{kind} parser crashed ({name}); skipped")
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise ParseFailure(f"{kind} parser failed ({tail[0][:200]})")
    try:
        result = json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        raise ParseFailure(f"{kind} parser returned no readable result") from None
    if "error" in result:
        raise ParseFailure(str(result["error"]))
    return str(result["text"])


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# ------------------------------------------------------------------ the child


def _child(suffix: str, path: str, source: str) -> dict[str, str]:
    _limit_resources()
    from cityqa.errors import UnreadableFileError  # `import cityqa` is lazy: these two modules are all it loads
    from cityqa.extractors import EXTRACTORS

    kind = FORMAT_NAMES.get(suffix, suffix)
    max_chars = int(os.environ.get("CITYQA_MAX_EXTRACTED_CHARS", MAX_EXTRACTED_CHARS))
    try:
        text = EXTRACTORS[suffix](source, Path(path))
    except UnreadableFileError as exc:
        return {"error": exc.reason}
    except RecursionError:
        return {"error": f"{kind} is nested too deeply to parse"}
    except MemoryError:
        limit = int(os.environ.get("CITYQA_PARSE_MEMORY_BYTES", PARSE_MEMORY_BYTES)) >> 20
        return {"error": f"{kind} needs more than {limit} MiB of memory to parse; skipped"}
    except Exception as exc:  # any parser bug on a malformed file is a reason, not a crash
        return {"error": f"{kind} cannot be parsed ({exc.__class__.__name__}: {str(exc)[:200]})"}
    if len(text) > max_chars:
        return {"error": f"{kind} holds {len(text):,} characters of text; the limit is {max_chars:,}"}
    return {"text": text}


def _limit_resources() -> None:
    import resource

    memory = int(os.environ.get("CITYQA_PARSE_MEMORY_BYTES", PARSE_MEMORY_BYTES))
    cpu = int(os.environ.get("CITYQA_PARSE_CPU_SECONDS", PARSE_CPU_SECONDS))
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_CORE, 0)):
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, hard))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m cityqa.sandbox SUFFIX PATH SOURCE", file=sys.stderr)
        return 2
    result = _child(*args)
    sys.stdout.write(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # run as a file: make `src/` importable, without the package __init__
        sys.path.insert(0, str(_PACKAGE_DIR.parent))
    raise SystemExit(main())
