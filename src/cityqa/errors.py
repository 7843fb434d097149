"""One exception hierarchy for cityqa.

Every message says what went wrong *and what to do about it*. The CLI and the UI turn these into exit codes
and chat messages at the edge; library code only raises them.
"""

from __future__ import annotations


class CityqaError(Exception):
    """Base class for every error cityqa raises on purpose."""

    exit_code = 1


class ConfigError(CityqaError):
    """A setting is invalid or names something that does not exist (e.g. an embedding model path)."""

    exit_code = 2


class IndexNotFoundError(CityqaError):
    """There is no index at the given location yet."""

    exit_code = 3

    def __init__(self, index_dir: object) -> None:
        super().__init__(f"No index found at {index_dir}. Build it first: run `cityqa ingest --index {index_dir}`.")


class IndexMismatchError(CityqaError):
    """The index was built with other model or chunking settings than the current ones."""

    exit_code = 4

    def __init__(self, index_dir: object, built_with: dict[str, object], current: dict[str, object]) -> None:
        diff = ", ".join(
            f"{key}: index has {built_with.get(key)!r}, settings say {current.get(key)!r}"
            for key in sorted(set(built_with) | set(current))
            if built_with.get(key) != current.get(key)
        )
        self.index_dir, self.diff = index_dir, diff
        super().__init__(
            f"The index at {index_dir} was built with different settings ({diff}). "
            "Mixing them would return wrong passages: run `cityqa ingest --rebuild` to rebuild it "
            "with the current settings, or change the settings back."
        )
        self.built_with = built_with
        self.current = current


class IndexCorruptError(CityqaError):
    """The index files are unreadable (partially deleted, edited by hand, from a newer version)."""

    exit_code = 5

    def __init__(self, index_dir: object, detail: str) -> None:
        super().__init__(f"The index at {index_dir} cannot be read ({detail}). Run `cityqa ingest --rebuild`.")


class IndexLockedError(CityqaError):
    """Another process is writing the index; only one writer at a time is allowed."""

    exit_code = 6

    def __init__(self, index_dir: object, holder: str) -> None:
        super().__init__(
            f"Another cityqa process ({holder}) is updating the index at {index_dir}. "
            "Wait for it to finish and try again."
        )


class CorpusError(CityqaError):
    """The corpus folder is missing or holds no readable document."""

    exit_code = 7


class UnreadableFileError(CityqaError):
    """One corpus file cannot be read. Ingest skips it and reports the reason; it never stops the run."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class InputTooLongError(CityqaError):
    """A text to fact-check is longer than the limit (it would tie up the machine for minutes)."""

    exit_code = 2

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"The text to check is {length:,} characters long; the limit is {limit:,} "
            "(CITYQA_MAX_CHECK_CHARS). Check it in smaller parts."
        )


class EmbeddingModelError(ConfigError):
    """The embedding model cannot be loaded offline."""


class SquadFormatError(CityqaError):
    """A file given to `cityqa eval --squad` is not SQuAD 2.0 JSON (`data[].title`, `data[].paragraphs[].context`,
    `qas[]`)."""

    exit_code = 2


class EvalError(CityqaError):
    """The evaluation cannot run as asked (missing gold file, unknown system, no fact-checker)."""

    exit_code = 2


class PageImageError(CityqaError):
    """A PDF page could not be shown (not a PDF, no such page, or the renderer refused the file)."""


class UploadError(CityqaError):
    """A file offered for upload, or a document offered for removal, was refused; the corpus folder and the index
    are as they were. The message names the reason and what to do."""

    exit_code = 2

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason
