"""cityqa: answers about California cities' international affairs, quoted and cited from the source documents."""

from .assistant import Assistant
from .errors import (
    CityqaError,
    ConfigError,
    CorpusError,
    EmbeddingModelError,
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
