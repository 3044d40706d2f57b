"""Sensors (Dagster's API): a function run every ``minimum_interval_seconds`` that looks at
the world and a cursor, and asks for runs.

``evaluate_sensor`` is the pure tick: the runtime builds the context (cursor, last run key,
resources) from its storage, and stores the result's cursor and run requests; it never raises
for the user's errors. Asset, run-status and file sensors are ``SensorDefinition``s whose
function reads what the runtime put in their context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..declarations.run_request import RunRequest
from ..errors import DefinitionsError
from .target import AutomationTarget, resolve_target
from .tick import (
    SkipReason,
    TickResult,
    call_user_fn,
    collect,
    failed,
    instigator_logger,
    outcome,
    resource_namespace,
)

SENSOR_NAME_TAG = "dagster/sensor_name"  # Dagster's tag on a sensor's runs
DEFAULT_MINIMUM_INTERVAL_SECONDS = 30  # Dagster's sensor daemon interval

__all__ = [
    "DefaultSensorStatus",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "build_sensor_context",
    "evaluate_sensor",
    "sensor",
]


class DefaultSensorStatus(StrEnum):
    """Whether a sensor runs before anyone starts or stops it."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@dataclass(frozen=True)
class SensorResult:
    """A sensor's whole answer at once: requests, or a skip, and the new cursor."""

    run_requests: Sequence[RunRequest] | None = None
    skip_reason: SkipReason | str | None = None
    cursor: str | None = None

    def __post_init__(self) -> None:
        if self.run_requests and self.skip_reason is not None:
            raise DefinitionsError("SensorResult: pass run_requests or skip_reason, not both")


class SensorEvaluationContext:
    """What a sensor's function receives. ``cursor`` is the text it stored last tick;
    ``update_cursor`` sets the one stored after this tick (if the tick succeeds)."""

    def __init__(
        self,
        cursor: str | None = None,
        last_tick_completion_time: float | None = None,
        last_run_key: str | None = None,
        resources: Mapping[str, Any] | None = None,
        instance: Any = None,
        sensor_name: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self._cursor = cursor
        self.cursor_updated = False
        self.last_tick_completion_time = last_tick_completion_time
        self.last_run_key = last_run_key
        self.resource_values: dict[str, Any] = dict(resources or {})
        self.resources = resource_namespace(resources)
        self.instance = instance
        self.sensor_name = sensor_name
        self.log = log or instigator_logger("sensor", sensor_name or "sensor")

    @property
    def cursor(self) -> str | None:
        return self._cursor

    def update_cursor(self, cursor: str | None) -> None:
        self._cursor = cursor
        self.cursor_updated = True

    @property
    def last_completion_time(self) -> float | None:  # Dagster's older name
        return self.last_tick_completion_time


def build_sensor_context(
    cursor: str | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
    sensor_name: str | None = None,
    last_tick_completion_time: float | None = None,
    last_run_key: str | None = None,
) -> SensorEvaluationContext:
    """A context for calling a sensor in a test (``my_sensor(context)``)."""
    return SensorEvaluationContext(
        cursor=cursor,
        last_tick_completion_time=last_tick_completion_time,
        last_run_key=last_run_key,
        resources=resources,
        instance=instance,
        sensor_name=sensor_name,
    )


SensorFn = Callable[..., Any]


class SensorDefinition:
    """A sensor: ``evaluation_fn(context)`` returns or yields ``RunRequest``s, a
    ``SkipReason`` or a ``SensorResult``. ``job``/``target``/``asset_selection`` is what its
    requests run (none: each request names its ``job_name``)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        evaluation_fn: SensorFn | None = None,
        job_name: str | None = None,
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        job: Any = None,
        jobs: Sequence[Any] | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        asset_selection: Any = None,
        required_resource_keys: set[str] | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        target: Any = None,
    ) -> None:
        if evaluation_fn is None:
            raise DefinitionsError("SensorDefinition: pass evaluation_fn (or use @sensor)")
        name = name or evaluation_fn.__name__
        where = f"sensor {name!r}"
        if asset_selection is not None:
            if target is not None:
                raise DefinitionsError(f"{where}: pass asset_selection or target, not both")
            target = asset_selection
        many: tuple[Any, ...] = ()
        if jobs:
            if job is not None or target is not None or job_name is not None:
                raise DefinitionsError(
                    f"{where}: pass one of job=, jobs=, job_name=, target= and asset_selection="
                )
            targets = [resolve_target(each, None, where) for each in jobs]
            names = [t.job_name for t in targets if t is not None]
            doubled = sorted({n for n in names if names.count(n) > 1 and n is not None})
            if doubled:
                raise DefinitionsError(f"{where}: jobs= names {', '.join(doubled)} twice")
            if len(jobs) == 1:
                job = jobs[0]
            else:
                many = tuple(jobs)
        # Several jobs: no one target; each request names its job_name (evaluate_sensor checks).
        self.target: AutomationTarget | None = resolve_target(job, target, where)
        self.jobs: tuple[Any, ...] = many or (() if self.job is None else (self.job,))
        interval = DEFAULT_MINIMUM_INTERVAL_SECONDS
        if minimum_interval_seconds is not None:
            interval = minimum_interval_seconds
        if interval <= 0:
            raise DefinitionsError(f"{where}: minimum_interval_seconds must be positive")
        self.name = name
        self.job_name = job_name or (self.target.job_name if self.target else None)
        self.minimum_interval_seconds = interval
        self.description = description
        self.default_status = DefaultSensorStatus(default_status)
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.tags = dict(tags or {})
        self.metadata = dict(metadata or {})
        self._fn = evaluation_fn

    @property
    def job(self) -> Any:
        return None if self.target is None else self.target.job

    @property
    def job_names(self) -> tuple[str, ...]:
        """The names of ``jobs=``'s jobs when there are several (a request names one)."""
        if len(self.jobs) < 2:
            return ()
        return tuple(str(each.name) for each in self.jobs)

    @property
    def asset_selection(self) -> Any:
        return None if self.target is None else self.target.selection

    def __call__(self, context: SensorEvaluationContext | None = None, **resources: Any) -> Any:
        """What the function returns (a generator as a list), as Dagster's direct call."""
        context = context or build_sensor_context(resources=resources, sensor_name=self.name)
        result = self._invoke(context, {**context.resource_values, **resources})
        if result is not None and not isinstance(
            result, RunRequest | SkipReason | SensorResult | list
        ):
            return list(result)
        return result

    def _invoke(
        self, context: SensorEvaluationContext, resources: Mapping[str, Any], *extra: Any
    ) -> Any:
        """Call the function with the context and ``extra`` (an asset sensor's event)."""
        return call_user_fn(self._fn, context, resources, *extra)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def sensor(
    job_name: str | None = None,
    *,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    job: Any = None,
    jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    asset_selection: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    target: Any = None,
) -> Callable[[SensorFn], SensorDefinition]:
    """A sensor from a function of a ``SensorEvaluationContext`` (and resources by name)."""

    def decorate(fn: SensorFn) -> SensorDefinition:
        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=fn,
            job_name=job_name,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description or fn.__doc__,
            job=job,
            jobs=jobs,
            default_status=default_status,
            asset_selection=asset_selection,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
            target=target,
        )

    return decorate


@dataclass
class _Answer:
    items: list[RunRequest | SkipReason] = field(default_factory=list)
    cursor: str | None = None


def evaluate_sensor(sensor: SensorDefinition, context: SensorEvaluationContext) -> TickResult:
    """One tick of ``sensor``: its requests (tagged with its name), or its skip, and the cursor
    to store; a raising sensor is a failed tick whose cursor stays the one it was given."""
    return evaluate_with(sensor, context)


def evaluate_with(
    sensor: SensorDefinition, context: SensorEvaluationContext, *extra: Any
) -> TickResult:
    """``evaluate_sensor``, passing ``extra`` to the function after the context."""
    given = context.cursor
    if context.sensor_name is None:
        context.sensor_name = sensor.name
    try:
        answer = _answer(sensor, context, extra)
        _check_job_names(sensor, answer.items)
    except Exception as exc:
        return failed(exc, given)
    return outcome(answer.items, {SENSOR_NAME_TAG: sensor.name}, answer.cursor)


def _check_job_names(sensor: SensorDefinition, items: Sequence[RunRequest | SkipReason]) -> None:
    """A sensor of several jobs: each request names one of them (Dagster's check)."""
    names = sensor.job_names
    if not names:
        return
    expected = ", ".join(repr(n) for n in names)
    for item in items:
        if not isinstance(item, RunRequest):
            continue
        if item.job_name is None:
            raise DefinitionsError(
                f"sensor {sensor.name!r} targets several jobs, so each RunRequest must name "
                f"its job_name; a request (run_key={item.run_key!r}) named none. Expected one "
                f"of: {expected}"
            )
        if item.job_name not in names:
            raise DefinitionsError(
                f"sensor {sensor.name!r} returned a RunRequest with job_name "
                f"{item.job_name!r}, which is not one of its jobs. Expected one of: {expected}"
            )


def _answer(
    sensor: SensorDefinition, context: SensorEvaluationContext, extra: tuple[Any, ...]
) -> _Answer:
    result = sensor._invoke(context, context.resource_values, *extra)
    if not isinstance(result, SensorResult):
        return _Answer(collect(result, f"sensor {sensor.name!r}"), context.cursor)
    if result.cursor is not None and context.cursor_updated:
        raise DefinitionsError(
            f"sensor {sensor.name!r}: set the cursor with SensorResult(cursor=...) or "
            "context.update_cursor(), not both"
        )
    items: list[RunRequest | SkipReason] = list(result.run_requests or ())
    skip = result.skip_reason
    if skip is not None:
        items.append(skip if isinstance(skip, SkipReason) else SkipReason(skip))
    cursor = result.cursor if result.cursor is not None else context.cursor
    return _Answer(items, cursor)
