"""The errors Millrace raises; each message names the asset and where it is defined.

Dagster code catches Dagster's names for them (``except dg.DagsterInvalidDefinitionError``):
each of those is bound below to the class Millrace raises in the same situation, so the
hierarchy is Dagster's (``DagsterError`` is the base of all of them).
"""

from __future__ import annotations


class MillraceError(Exception):
    """Base class of every error Millrace raises on purpose."""


class DefinitionsError(MillraceError):
    """The declared assets do not form a valid graph (duplicate, unknown dep, cycle, ...)."""


class InvariantViolationError(MillraceError):
    """Code broke a rule only checkable while running: asking a run's result for an asset it
    did not materialize, a partition key outside a partitioned run, ..."""


class AssetNotFoundError(InvariantViolationError, KeyError):
    """An asset key the definitions do not materialize (a KeyError too)."""

    def __str__(self) -> str:  # KeyError would print the message quoted, as a repr
        return str(self.args[0]) if self.args else ""


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


class UserCodeExecutionError(MillraceError):
    """User code raised where Millrace had to report it as an error of its own; the user's
    exception is ``user_exception`` (the ``__cause__`` it was raised from)."""

    def __init__(self, message: str, user_exception: BaseException | None = None) -> None:
        super().__init__(message)
        self._user_exception = user_exception

    @property
    def user_exception(self) -> BaseException | None:
        return self._user_exception if self._user_exception is not None else self.__cause__


class StepExecutionError(UserCodeExecutionError):
    """Dagster's wrapper of what a step's body raised. Like Dagster's ``materialize`` and
    ``execute_in_process``, Millrace re-raises the user's own exception instead, so this
    name is for the imports and ``except`` clauses of ported code."""


class ResourceSetupError(UserCodeExecutionError):
    """A resource's setup code raised before the run's first step."""


class ConfigError(MillraceError):
    """The run config is malformed, or does not fit the Config of the assets it configures."""


class UnknownResourceError(MillraceError, AttributeError):
    """A step asked ``context.resources`` for a key the run does not provide (an
    AttributeError too, so ``hasattr(context.resources, key)`` works, as in Dagster).
    ``resource_name`` is that key."""

    def __init__(self, resource_name: str, message: str | None = None) -> None:
        super().__init__(message or f"Unknown resource '{resource_name}'")
        self.resource_name = resource_name


class InvalidInvocationError(MillraceError):
    """An asset or check function called directly (in a unit test) with arguments that do not
    fit it: no context for one that takes it, an input missing or given twice, ..."""


class MissingInputError(MillraceError):
    """An asset needs an upstream value that was never materialized."""


class TypeCheckError(MillraceError, TypeError):
    """A value does not fit its annotation, or a frame its declared column schema.

    ``description`` and ``metadata`` are those of Dagster's ``DagsterTypeCheckDidNotPass``."""

    def __init__(self, description: str | None = None, metadata: dict | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.metadata = dict(metadata or {})


class RunFailedError(MillraceError):
    """Raised by ``materialize(raise_on_error=True)`` when a step fails; carries the result."""

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class AssetCheckFailedError(RunFailedError):
    """Raised by ``materialize(raise_on_error=True)`` when a blocking check failed (at ERROR
    severity) and no step raised."""


class MaxRetriesExceededError(RunFailedError):
    """Raised by ``materialize(raise_on_error=True)`` when a step failed on its last retry;
    raised from that attempt's exception."""


# Dagster's names, as Dagster code catches them.
DagsterError = MillraceError
DagsterInvalidDefinitionError = DefinitionsError
DagsterInvariantViolationError = InvariantViolationError
DagsterInvalidSubsetError = SelectionError
DagsterUnknownPartitionError = PartitionKeyError
DagsterInvalidMetadata = MetadataError
DagsterUserCodeExecutionError = UserCodeExecutionError
DagsterExecutionStepExecutionError = StepExecutionError
DagsterResourceFunctionError = ResourceSetupError
DagsterUnknownResourceError = UnknownResourceError
DagsterInvalidConfigError = ConfigError
DagsterInvalidInvocationError = InvalidInvocationError
DagsterTypeCheckDidNotPass = TypeCheckError
DagsterAssetCheckFailedError = AssetCheckFailedError
DagsterMaxRetriesExceededError = MaxRetriesExceededError
