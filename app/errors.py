"""The errors Millrace raises; each message names the asset and where it is defined."""

from __future__ import annotations


class MillraceError(Exception):
    """Base class of every error Millrace raises on purpose."""


class DefinitionsError(MillraceError):
    """The declared assets do not form a valid graph (duplicate, unknown dep, cycle, ...)."""


class SelectionError(MillraceError):
    """A selection matched nothing, or could not be parsed."""


class PartitionKeyError(MillraceError, ValueError):
    """A partition key its definition does not have; the message offers the nearest valid ones."""


class CodeLoadError(MillraceError):
    """User code could not be imported, or exposes no definitions.

    Besides the full message: ``file`` and ``line`` say where in user code (when known) and
    ``detail`` is the one-line cause without the location, for a UI that shows its own.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.detail = detail if detail is not None else message.partition("\n")[0]


class MetadataError(MillraceError, TypeError):
    """A metadata entry cannot be stored (a TypeError too, as Dagster raises)."""


class StorageError(MillraceError):
    """The history (``millrace.db``) or a stored value cannot be read or written."""


class ResourceSetupError(MillraceError):
    """A resource's setup code raised before the run's first step."""


class MissingInputError(MillraceError):
    """An asset needs an upstream value that was never materialized."""


class TypeCheckError(MillraceError, TypeError):
    """A value does not fit its annotation, or a frame its declared column schema."""


class RunFailedError(MillraceError):
    """Raised by ``materialize(raise_on_error=True)`` when a step fails; carries the result."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result
