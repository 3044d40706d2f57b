"""Sensors on finished runs (Dagster's ``@run_status_sensor`` and ``@run_failure_sensor``).

The runtime turns each ``RUN_FINISHED`` it read after the cursor (a store id) into a
``RunStatusEvent`` and calls ``evaluate_run_status_sensor``: the function runs once per
matching run, and the cursor moves past every event given. With no cursor (a new sensor)
nothing is processed and the cursor starts after the events given, as Dagster's sensor only
reacts to runs that finish after it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ..errors import DefinitionsError
from .sensors import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorFn,
    evaluate_with,
)
from .target import is_job
from .tick import TickResult

if TYPE_CHECKING:
    from ..events import RunFinished, RunStatus


class DagsterRunStatus(StrEnum):
    """Dagster's run statuses; our ``events.RunStatus`` values are the same strings."""

    QUEUED = "QUEUED"
    NOT_STARTED = "NOT_STARTED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"

    @classmethod
    def of(cls, status: RunStatus) -> DagsterRunStatus:
        return cls(str(status))


_FINISHED = frozenset(
    {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
)


@dataclass(frozen=True)
class DagsterRun:
    """A run as Dagster describes it: what a status sensor is told about, ``context.run``,
    ``RunResult.dagster_run``. ``run_config`` is the config the run recorded."""

    run_id: str
    status: DagsterRunStatus
    job_name: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    run_config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_finished(self) -> bool:
        return self.status in _FINISHED

    @property
    def is_success(self) -> bool:
        return self.status == DagsterRunStatus.SUCCESS

    @property
    def is_failure(self) -> bool:
        return self.status == DagsterRunStatus.FAILURE

    @property
    def is_failure_or_canceled(self) -> bool:
        return self.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


@dataclass(frozen=True)
class FailureEvent:
    """What a failure sensor reads of the failure (Dagster's ``DagsterEvent.message``)."""

    message: str


@dataclass(frozen=True)
class RunStatusEvent:
    """A run reaching a status, with the store id of its event (the sensor's cursor)."""

    storage_id: int
    run: DagsterRun
    message: str = ""
    timestamp: float = 0.0


def run_status_event(
    finished: RunFinished,
    tags: Mapping[str, str] | None = None,
    job_name: str | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> RunStatusEvent:
    """The status event of one ``RUN_FINISHED``, with the run's tags, job and config from its
    start."""
    status = DagsterRunStatus.of(finished.status)
    run = DagsterRun(finished.run_id, status, job_name, tags or {}, run_config or {})
    return RunStatusEvent(finished.seq, run, finished.message, finished.timestamp)


class RunStatusSensorContext(SensorEvaluationContext):
    """A sensor context about one run: ``dagster_run``, and for a failure ``failure_event``."""

    def __init__(self, event: RunStatusEvent, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dagster_run = event.run
        self.dagster_event = FailureEvent(event.message)

    @property
    def failure_event(self) -> FailureEvent:
        return self.dagster_event


RunFailureSensorContext = RunStatusSensorContext


class RunStatusSensorDefinition(SensorDefinition):
    """Calls its function for each run reaching ``run_status`` (of ``monitored_jobs``, if
    given: jobs or job names)."""

    def __init__(
        self,
        run_status: DagsterRunStatus,
        monitored_jobs: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_status = DagsterRunStatus(run_status)
        names = [job.name if is_job(job) else job for job in monitored_jobs or ()]
        if not all(isinstance(name, str) for name in names):
            raise DefinitionsError(f"{self.name!r}: monitored_jobs takes jobs or job names")
        self.monitored_jobs = frozenset(names)

    def matches(self, run: DagsterRun) -> bool:
        if run.status != self.run_status:
            return False
        return not self.monitored_jobs or run.job_name in self.monitored_jobs

    def events_after(self, cursor: str | None) -> int | None:
        """The store id after which the runtime reads RUN_FINISHED (None: a new sensor,
        which needs only the newest)."""
        return int(cursor) if cursor else None


def build_run_status_sensor_context(
    sensor_name: str,
    dagster_run: DagsterRun,
    dagster_event: FailureEvent | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
) -> RunStatusSensorContext:
    """A context for calling a run-status sensor in a test."""
    message = dagster_event.message if dagster_event else ""
    return RunStatusSensorContext(
        RunStatusEvent(0, dagster_run, message),
        sensor_name=sensor_name,
        instance=instance,
        resources=resources,
    )


def evaluate_run_status_sensor(
    sensor: RunStatusSensorDefinition,
    context: SensorEvaluationContext,
    events: Sequence[RunStatusEvent],
) -> TickResult:
    """One tick: the function once per matching run, in store order; the requests of all,
    and the cursor past the last event. A raising call fails the tick, cursor unmoved."""
    events = sorted(events, key=lambda event: event.storage_id)
    # A new sensor on a home where no run has finished yet watches from the store's start,
    # so the first run that finishes is seen, not taken for the newest before it started.
    last = str(events[-1].storage_id) if events else (context.cursor or "0")
    if context.cursor is None:
        return TickResult(skip_reason="Started: watching runs that finish from now", cursor=last)
    after = int(context.cursor)
    requests: list[Any] = []
    for event in events:
        if event.storage_id <= after or not sensor.matches(event.run):
            continue
        one = RunStatusSensorContext(
            event,
            cursor=context.cursor,
            last_run_key=context.last_run_key,
            resources=context.resource_values,
            instance=context.instance,
            sensor_name=sensor.name,
        )
        result = evaluate_with(sensor, one)
        if result.error is not None:
            return result
        requests.extend(result.run_requests)
    if not requests:
        status = sensor.run_status.value
        return TickResult(skip_reason=f"No new runs with status {status} to act on", cursor=last)
    return TickResult(tuple(requests), None, last)


def run_status_sensor(
    run_status: DagsterRunStatus,
    *,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_job: Any = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[SensorFn], RunStatusSensorDefinition]:
    """A sensor called with a ``RunStatusSensorContext`` per run reaching ``run_status``; its
    requests run ``request_job``."""

    def decorate(fn: SensorFn) -> RunStatusSensorDefinition:
        return RunStatusSensorDefinition(
            run_status,
            monitored_jobs,
            name=name or fn.__name__,
            evaluation_fn=fn,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description or fn.__doc__,
            job=request_job,
            default_status=default_status,
            tags=tags,
            metadata=metadata,
        )

    return decorate


def run_failure_sensor(
    name: Callable[..., Any] | str | None = None,
    *,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_job: Any = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """``run_status_sensor(DagsterRunStatus.FAILURE)``; usable bare (``@run_failure_sensor``)."""
    decorate = run_status_sensor(
        DagsterRunStatus.FAILURE,
        name=None if callable(name) else name,
        minimum_interval_seconds=minimum_interval_seconds,
        description=description,
        monitored_jobs=monitored_jobs,
        default_status=default_status,
        request_job=request_job,
        tags=tags,
        metadata=metadata,
    )
    return decorate(name) if callable(name) else decorate
