"""cityqa: answers about California cities' international affairs, quoted and cited from the source documents.

`import cityqa` is cheap: each public name is imported from its module on first use (PEP 562), so a command, a
sandboxed parser or a test that needs only the records or the errors does not load the retrieval stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .assistant import Assistant
    from .errors import (
        CityqaError,
        ConfigError,
        CorpusError,
        EmbeddingModelError,
        EvalError,
        IndexCorruptError,
        IndexLockedError,
        IndexMismatchError,
        IndexNotFoundError,
        InputTooLongError,
        SquadFormatError,
        UnreadableFileError,
    )
    from .settings import Settings
    from .types import Answer, Chunk, Citation, Document, Hit, IngestReport, Mark, Mismatch, SearchFilters, Verdict

_MODULES = {
    "Assistant": "assistant",
    "Settings": "settings",
    **dict.fromkeys(
        ("CityqaError", "ConfigError", "CorpusError", "EmbeddingModelError", "EvalError", "IndexCorruptError",
         "IndexLockedError", "IndexMismatchError", "IndexNotFoundError", "InputTooLongError", "SquadFormatError",
         "UnreadableFileError"),
        "errors",
    ),
    **dict.fromkeys(
        ("Answer", "Chunk", "Citation", "Document", "Hit", "IngestReport", "Mark", "Mismatch", "SearchFilters",
         "Verdict"),
        "types",
    ),
}

__all__ = [
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "CityqaError",
    "ConfigError",
    "CorpusError",
    "Document",
    "EmbeddingModelError",
    "EvalError",
    "Hit",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IngestReport",
    "InputTooLongError",
    "Mark",
    "Mismatch",
    "SearchFilters",
    "Settings",
    "SquadFormatError",
    "UnreadableFileError",
    "Verdict",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'cityqa' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
