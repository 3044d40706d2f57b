"""Dagster's view of a run's events, as ``RunResult`` hands them out.

Each event a result returns is a copy of ours of a subclass that adds ``DagsterEvent``'s
accessors (``event_type_value``, ``step_key``, ``is_step_failure``,
``step_materialization_data.materialization``, ``step_failure_data.user_failure_data``, ...),
so Dagster code reads it as Dagster's while Millrace code still sees its own fields and class.
Kinds Dagster has no event for (early cutoff, waiting for a write lock, log lines) are
``ENGINE_EVENT``s, Dagster's kind for what the framework reports.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..automation.event_log import AssetMaterialization, DagsterEventType
from ..declarations.checks import AssetCheckKey
from ..declarations.metadata import MetadataValue
from ..declarations.observations import DATA_VERSION_TAG, AssetObservation
from ..events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    ErrorInfo,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from .failure import user_failure, user_frames

_RUN_END = {
    RunStatus.SUCCESS: DagsterEventType.RUN_SUCCESS,
    RunStatus.FAILURE: DagsterEventType.RUN_FAILURE,
    RunStatus.CANCELED: DagsterEventType.RUN_CANCELED,
    RunStatus.STARTED: DagsterEventType.ENGINE_EVENT,
}
# Dagster's step events: those of one node's step, materializations and check results too.
_STEP_EVENTS = frozenset(
    {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_SKIPPED,
        DagsterEventType.STEP_UP_FOR_RETRY,
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_OBSERVATION,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
)


@dataclass(frozen=True, slots=True)
class SerializableErrorInfo:
    """Dagster's error as data: ``message`` is ``"Type: text\\n"``, ``stack`` the user's frames."""

    message: str
    stack: list[str]
    cls_name: str | None
    cause: SerializableErrorInfo | None = None

    def to_string(self) -> str:
        text = self.message + "".join(self.stack)
        if self.cause is not None:
            text += (
                "\nThe above exception was caused by the following exception:\n"
                + self.cause.to_string()
            )
        return text

    @staticmethod
    def of(error: ErrorInfo, exc: BaseException | None) -> SerializableErrorInfo:
        """Of a stored error; with the exception that raised it, its causes too."""
        cause = None if exc is None else exc.__cause__
        return SerializableErrorInfo(
            message=f"{error}\n",
            stack=[error.traceback] if error.traceback else [],
            cls_name=error.type,
            cause=None if cause is None else _exception_info(cause),
        )


def _exception_info(exc: BaseException) -> SerializableErrorInfo:
    message = "".join(traceback.format_exception_only(type(exc), exc))
    cause = exc.__cause__
    return SerializableErrorInfo(
        message=message,
        stack=traceback.format_list(user_frames(exc)),
        cls_name=type(exc).__name__,
        cause=None if cause is None else _exception_info(cause),
    )


@dataclass(frozen=True, slots=True)
class UserFailureData:
    """What a ``Failure`` the asset raised said: its description and metadata."""

    label: str
    description: str | None
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepFailureData:
    error: SerializableErrorInfo
    user_failure_data: UserFailureData | None = None


@dataclass(frozen=True, slots=True)
class StepMaterializationData:
    materialization: AssetMaterialization


class DagsterEventView:
    """``DagsterEvent``'s accessors over one of our events (mixed into a copy of it)."""

    __slots__ = ()
    run_id: str
    asset_key: Any
    check_name: str | None

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.ENGINE_EVENT

    @property
    def event_type_value(self) -> str:
        """The kind's string, as Dagster stores it (``PIPELINE_SUCCESS`` for RUN_SUCCESS)."""
        return self.dagster_event_type.value

    @property
    def step_key(self) -> str | None:
        """The step's key as Dagster names it: the asset's node (``a__b`` for ``a/b``), or
        ``<node>_<check>`` for a check; None for events of the run itself."""
        key = self.asset_key
        if key is None or isinstance(self, RunStarted | RunFinished):
            return None
        node = key.to_python_identifier()
        return f"{node}_{self.check_name}" if self.check_name else node

    @property
    def node_name(self) -> str | None:
        return self.step_key

    @property
    def message(self) -> str:
        return ""

    @property
    def event_specific_data(self) -> Any:
        return None

    @property
    def is_step_event(self) -> bool:
        return self.dagster_event_type in _STEP_EVENTS

    @property
    def is_step_start(self) -> bool:
        return self.dagster_event_type is DagsterEventType.STEP_START

    @property
    def is_step_success(self) -> bool:
        return self.dagster_event_type is DagsterEventType.STEP_SUCCESS

    @property
    def is_step_failure(self) -> bool:
        return self.dagster_event_type is DagsterEventType.STEP_FAILURE

    @property
    def is_step_skipped(self) -> bool:
        return self.dagster_event_type is DagsterEventType.STEP_SKIPPED

    @property
    def is_step_up_for_retry(self) -> bool:
        return self.dagster_event_type is DagsterEventType.STEP_UP_FOR_RETRY

    @property
    def is_step_materialization(self) -> bool:
        return self.dagster_event_type is DagsterEventType.ASSET_MATERIALIZATION

    @property
    def is_asset_observation(self) -> bool:
        return False

    @property
    def is_engine_event(self) -> bool:
        return self.dagster_event_type is DagsterEventType.ENGINE_EVENT

    @property
    def is_job_success(self) -> bool:
        return self.dagster_event_type is DagsterEventType.RUN_SUCCESS

    @property
    def is_job_failure(self) -> bool:
        return self.dagster_event_type is DagsterEventType.RUN_FAILURE

    @property
    def is_failure(self) -> bool:
        return self.dagster_event_type in (
            DagsterEventType.STEP_FAILURE,
            DagsterEventType.RUN_FAILURE,
        )


class _RunStartedView(DagsterEventView):
    __slots__ = ()

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.RUN_START


class _RunFinishedView(DagsterEventView):
    __slots__ = ()
    status: RunStatus

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return _RUN_END[self.status]


class _StepStartedView(DagsterEventView):
    __slots__ = ()

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.STEP_START


class _StepSucceededView(DagsterEventView):
    __slots__ = ()

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.STEP_SUCCESS


class _StepSkippedView(DagsterEventView):
    __slots__ = ()
    reason: str

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.STEP_SKIPPED

    @property
    def message(self) -> str:
        return self.reason


class _StepFailedView(DagsterEventView):
    __slots__ = ()
    raised: BaseException | None  # what the step raised, for a failure that ended it
    error: ErrorInfo
    will_retry: bool
    metadata: dict[str, MetadataValue]

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return (
            DagsterEventType.STEP_UP_FOR_RETRY if self.will_retry else DagsterEventType.STEP_FAILURE
        )

    @property
    def message(self) -> str:
        return str(self.error)

    @property
    def step_failure_data(self) -> StepFailureData:
        return StepFailureData(
            SerializableErrorInfo.of(self.error, self.raised), self._user_failure_data()
        )

    def _user_failure_data(self) -> UserFailureData | None:
        """A Failure's description (also behind the retries it ran out of) and the metadata
        its event carries."""
        failure = user_failure(self.raised)
        if failure is None:
            return None
        return UserFailureData("intentional-failure", failure.description, dict(self.metadata))

    @property
    def event_specific_data(self) -> StepFailureData:
        return self.step_failure_data


class _MaterializedView(DagsterEventView):
    __slots__ = ()
    metadata: dict[str, MetadataValue]
    partition_key: str | None

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.ASSET_MATERIALIZATION

    @property
    def partition(self) -> str | None:
        return self.partition_key

    @property
    def materialization(self) -> AssetMaterialization:
        """The ``AssetMaterialization`` (shorthand of ``step_materialization_data``'s)."""
        return AssetMaterialization(
            asset_key=self.asset_key, metadata=dict(self.metadata), partition=self.partition_key
        )

    @property
    def step_materialization_data(self) -> StepMaterializationData:
        return StepMaterializationData(self.materialization)

    @property
    def event_specific_data(self) -> StepMaterializationData:
        return self.step_materialization_data

    @property
    def message(self) -> str:
        return f"Materialized value {self.asset_key.to_user_string()}."


@dataclass(frozen=True, slots=True)
class AssetObservationData:
    asset_observation: AssetObservation


class _ObservedView(DagsterEventView):
    __slots__ = ()
    metadata: dict[str, MetadataValue]
    partition_key: str | None
    data_version: str | None
    description: str | None
    tags: dict[str, str]

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.ASSET_OBSERVATION

    @property
    def is_asset_observation(self) -> bool:
        return True

    @property
    def partition(self) -> str | None:
        return self.partition_key

    @property
    def asset_observation_data(self) -> AssetObservationData:
        tags = dict(self.tags)
        if self.data_version is not None:
            tags.setdefault(DATA_VERSION_TAG, self.data_version)
        observation = AssetObservation(
            asset_key=self.asset_key,
            metadata=dict(self.metadata),
            partition=self.partition_key,
            description=self.description,
            tags=tags,
        )
        return AssetObservationData(observation)

    @property
    def event_specific_data(self) -> AssetObservationData:
        return self.asset_observation_data


class _CheckEvaluatedView(DagsterEventView):
    __slots__ = ()

    @property
    def dagster_event_type(self) -> DagsterEventType:
        return DagsterEventType.ASSET_CHECK_EVALUATION

    @property
    def asset_check_key(self) -> AssetCheckKey:
        assert self.check_name is not None
        return AssetCheckKey(self.asset_key, self.check_name)


_MIXINS: dict[type[Event], type[DagsterEventView]] = {
    RunStarted: _RunStartedView,
    RunFinished: _RunFinishedView,
    StepStarted: _StepStartedView,
    StepSucceeded: _StepSucceededView,
    StepSkipped: _StepSkippedView,
    StepFailed: _StepFailedView,
    AssetMaterialized: _MaterializedView,
    AssetObserved: _ObservedView,
    AssetCheckEvaluated: _CheckEvaluatedView,
}
_VIEWS: dict[type[Event], tuple[type[Any], tuple[str, ...]]] = {}


def _view_class(cls: type[Event]) -> tuple[type[Any], tuple[str, ...]]:
    """The view class of one of our event classes, and the fields to copy."""
    found = _VIEWS.get(cls)
    if found is None:
        mixin = _MIXINS.get(cls, DagsterEventView)
        slots = ("raised",) if cls is StepFailed else ()
        # The same name and repr as ours: only the accessors are added.
        view = type(
            cls.__name__, (cls, mixin), {"__slots__": slots, "__qualname__": cls.__qualname__}
        )
        found = _VIEWS[cls] = (view, tuple(f.name for f in dataclasses.fields(cls)))
    return found


def dagster_view(event: Event, raised: BaseException | None = None) -> Any:
    """A copy of ``event`` with Dagster's accessors; ``raised`` is what a failed step raised."""
    cls, names = _view_class(type(event))
    view = object.__new__(cls)
    put = object.__setattr__
    for name in names:
        put(view, name, getattr(event, name))
    if cls.__slots__:
        put(view, "raised", raised)
    return view
