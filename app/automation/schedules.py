"""Schedules (Dagster's API): a cron string in a timezone, a target, and what each tick asks.

``evaluate_schedule`` is the pure tick the runtime calls at each instant ``CronSchedule``
gives; it never raises for the user's errors.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..declarations.job import UnresolvedAssetJobDefinition
from ..declarations.run_request import RunRequest
from ..errors import DefinitionsError
from ..partitions.definition import StaticPartitionsDefinition
from ..partitions.multi import MultiPartitionKey, MultiPartitionsDefinition
from ..partitions.time_window import TimeWindowPartitionsDefinition, _cron_of
from .cron import CronSchedule
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

SCHEDULE_NAME_TAG = "dagster/schedule_name"  # Dagster's tag on a schedule's runs


class DefaultScheduleStatus(StrEnum):
    """Whether a schedule runs before anyone starts or stops it."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@dataclass
class ScheduleEvaluationContext:
    """What a schedule's function receives: the tick's instant (aware, in the schedule's
    timezone), the resources, the instance and a logger."""

    scheduled_execution_time: datetime | None = None
    resources: Any = None
    instance: Any = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("millrace.schedule"))
    _resources: Mapping[str, Any] | None = None


def build_schedule_context(
    scheduled_execution_time: datetime | None = None,
    resources: Mapping[str, Any] | None = None,
    instance: Any = None,
    repository_def: Any = None,
) -> ScheduleEvaluationContext:
    """A context for calling a schedule in a test (``my_schedule(context)``)."""
    return ScheduleEvaluationContext(
        scheduled_execution_time=scheduled_execution_time,
        resources=resource_namespace(resources),
        instance=instance,
        _resources=dict(resources or {}),
    )


ScheduleFn = Callable[..., Any]


class ScheduleDefinition:
    """Runs ``job`` or ``target`` at each tick of ``cron_schedule`` in ``execution_timezone``
    (default UTC). Without a function each tick requests one run with ``run_config`` and
    ``tags``; with one (``@schedule``) the function decides."""

    def __init__(
        self,
        name: str | None = None,
        *,
        cron_schedule: str | Sequence[str],
        job_name: str | None = None,
        run_config: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        execution_timezone: str | None = None,
        execution_fn: ScheduleFn | None = None,
        description: str | None = None,
        job: Any = None,
        default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
        required_resource_keys: set[str] | None = None,
        target: Any = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        where = f"ScheduleDefinition {name!r}" if name else "ScheduleDefinition"
        self.target: AutomationTarget | None = resolve_target(job, target, where)
        if self.target is None and job_name is None:
            raise DefinitionsError(f"{where}: pass job= or target=")
        if execution_fn is not None and run_config is not None:
            raise DefinitionsError(f"{where}: pass run_config or an execution function, not both")
        if name is None:
            if self.target is not None and self.target.job_name is not None:
                name = f"{self.target.job_name}_schedule"
            elif execution_fn is not None:
                name = execution_fn.__name__
            else:
                raise DefinitionsError(f"{where}: a schedule with an asset target needs a name")
        self.name = name
        self.schedule = CronSchedule(cron_schedule, execution_timezone)
        self.cron_schedule = cron_schedule
        self.execution_timezone = execution_timezone
        self.job_name = job_name or (self.target.job_name if self.target else None)
        self.run_config = dict(run_config or {})
        self.tags = dict(tags or {})
        self.description = description
        self.default_status = DefaultScheduleStatus(default_status)
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.metadata = dict(metadata or {})
        self._fn = execution_fn

    @property
    def job(self) -> Any:
        return None if self.target is None else self.target.job

    def __call__(self, context: ScheduleEvaluationContext | None = None, **resources: Any) -> Any:
        """What the function returns (a generator as a list), as Dagster's direct call does;
        a returned run config dict is copied."""
        if self._fn is None:
            raise DefinitionsError(
                f"schedule {self.name!r} has no function to call: it was built with run_config"
            )
        context = context or build_schedule_context(resources=resources)
        given = {**(context._resources or {}), **resources}
        result = call_user_fn(self._fn, context, given)
        if isinstance(result, dict):
            return copy.deepcopy(result)
        if result is not None and not isinstance(result, RunRequest | SkipReason | list):
            return list(result)
        return result

    def _requests(self, context: ScheduleEvaluationContext) -> list[RunRequest | SkipReason]:
        if self._fn is None:
            return [RunRequest(run_config=self.run_config, tags=self.tags)]
        result = call_user_fn(self._fn, context, context._resources or {})
        if isinstance(result, Mapping):  # a run config (Dagster's older return shape)
            return [RunRequest(run_config=copy.deepcopy(dict(result)), tags=self.tags)]
        return collect(result, f"schedule {self.name!r}")

    def __repr__(self) -> str:
        return f"<ScheduleDefinition {self.name!r} {self.cron_schedule!r}>"


def schedule(
    cron_schedule: str | Sequence[str],
    *,
    job_name: str | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    execution_timezone: str | None = None,
    description: str | None = None,
    job: Any = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    required_resource_keys: set[str] | None = None,
    target: Any = None,
    metadata: Mapping[str, Any] | None = None,
) -> Callable[[ScheduleFn], ScheduleDefinition]:
    """A schedule whose function takes a ``ScheduleEvaluationContext`` (and resources by
    parameter name) and returns or yields ``RunRequest``s, a ``SkipReason`` or a run config."""

    def decorate(fn: ScheduleFn) -> ScheduleDefinition:
        return ScheduleDefinition(
            name=name or fn.__name__,
            cron_schedule=cron_schedule,
            job_name=job_name,
            tags=tags,
            execution_timezone=execution_timezone,
            execution_fn=fn,
            description=description or fn.__doc__,
            job=job,
            default_status=default_status,
            required_resource_keys=required_resource_keys,
            target=target,
            metadata=metadata,
        )

    return decorate


def evaluate_schedule(
    schedule: ScheduleDefinition,
    scheduled_time: datetime | float,
    resources: Mapping[str, Any] | None = None,
    instance: Any = None,
) -> TickResult:
    """The tick of ``schedule`` at ``scheduled_time`` (a tick instant): its run requests, each
    tagged with the schedule's name, or its skip, or the error it raised."""
    moment = (
        datetime.fromtimestamp(scheduled_time, schedule.schedule.tz)
        if isinstance(scheduled_time, int | float)
        else scheduled_time.astimezone(schedule.schedule.tz)
    )
    context = ScheduleEvaluationContext(
        scheduled_execution_time=moment,
        resources=resource_namespace(resources),
        instance=instance,
        log=instigator_logger("schedule", schedule.name),
        _resources=dict(resources or {}),
    )
    try:
        items = schedule._requests(context)
    except Exception as exc:
        return failed(exc, None)
    return outcome(items, {SCHEDULE_NAME_TAG: schedule.name}, None)


def build_schedule_from_partitioned_job(
    job: Any,
    description: str | None = None,
    name: str | None = None,
    minute_of_hour: int | None = None,
    hour_of_day: int | None = None,
    day_of_week: int | None = None,
    day_of_month: int | None = None,
    default_status: DefaultScheduleStatus = DefaultScheduleStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    cron_schedule: str | None = None,
    execution_timezone: str | None = None,
) -> ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition:
    """A schedule from a partitioned job, as Dagster builds it:

    - time-window partitions: at the partitions' cadence, in their timezone; each tick
      requests the partition that just closed (run key = partition key). The offsets move
      the tick later within the period (``hour_of_day=2``: a daily job runs at 02:00 for
      yesterday). ``cron_schedule``/``execution_timezone`` are refused (Dagster's rule).
    - a multi-partitions definition with one time-window dimension: the same cadence; each
      tick requests every key of the other dimension with the window that just closed.
    - static partitions: at ``cron_schedule`` (required) in ``execution_timezone``; each tick
      requests every partition. The run key is the key and the tick's instant, so each tick
      runs them all (Dagster's run key is the key, deduplicated within a tick only).

    Dynamic partitions are refused, as Dagster refuses them. The job's partitions are its
    ``partitions_def``, or for a ``define_asset_job`` without one its assets': the schedule
    is then built when ``Definitions`` resolves the job, as Dagster defers it."""
    where = "build_schedule_from_partitioned_job"
    job_name = getattr(job, "name", job)
    if day_of_week is not None and day_of_month is not None:
        raise DefinitionsError(
            "Cannot provide both day_of_month and day_of_week parameter to "
            f"{where} (job {job_name!r})"
        )
    offsets = (minute_of_hour, hour_of_day, day_of_week, day_of_month)
    offset_given = any(offset is not None for offset in offsets)
    if (cron_schedule or execution_timezone) and offset_given:
        raise DefinitionsError(
            "Cannot provide both cron_schedule / execution_timezone parameters and "
            f"day_of_month / day_of_week / hour_of_day / minute_of_hour parameters to {where} "
            f"(job {job_name!r})"
        )
    partitions_def = getattr(job, "partitions_def", None)
    if partitions_def is None and isinstance(job, UnresolvedAssetJobDefinition):
        # Its partitions are its assets': known once Definitions resolves the job.
        return UnresolvedPartitionedAssetScheduleDefinition(
            job,
            dict(
                description=description,
                name=name,
                minute_of_hour=minute_of_hour,
                hour_of_day=hour_of_day,
                day_of_week=day_of_week,
                day_of_month=day_of_month,
                default_status=default_status,
                tags=tags,
                cron_schedule=cron_schedule,
                execution_timezone=execution_timezone,
            ),
        )
    if partitions_def is None:
        raise DefinitionsError(
            f"{where}: job {job_name!r} is not partitioned (it needs time-window, static, or "
            "multi partitions with one time-window dimension)"
        )
    window = _time_dimension(partitions_def, job_name)
    if window is None:  # static
        if cron_schedule is None:
            raise DefinitionsError(
                f"{where}: job {job_name!r}: creating a schedule from a static partitions "
                "definition requires a cron schedule (cron_schedule=)"
            )
        cron, timezone = cron_schedule, execution_timezone
    else:
        if cron_schedule or execution_timezone:
            raise DefinitionsError(
                f"{where}: job {job_name!r}: cannot provide cron_schedule or "
                "execution_timezone for a time-partitioned job (it runs at its partitions' "
                f"cadence, {window.cron_schedule!r} in {window.timezone})"
            )
        cron, timezone = window.cron_schedule, window.timezone
        if offset_given and window.schedule_type:
            day = day_of_week if day_of_week is not None else day_of_month
            cron = _cron_of(window.schedule_type, minute_of_hour or 0, hour_of_day or 0, day)
    fn = _partitioned_fn(partitions_def, window, dict(tags or {}))
    return ScheduleDefinition(
        name=name or f"{job_name}_schedule",
        cron_schedule=cron,
        execution_timezone=timezone,
        execution_fn=fn,
        description=description,
        job=job,
        default_status=default_status,
    )


class UnresolvedPartitionedAssetScheduleDefinition:
    """A schedule of a ``define_asset_job`` whose partitions come from its assets (Dagster's
    class): ``Definitions`` resolves the job, then builds the schedule with it."""

    def __init__(self, job: Any, arguments: dict[str, Any]) -> None:
        self.job = job
        self.arguments = arguments
        self.name = arguments["name"] or f"{job.name}_schedule"

    def resolve(self, defs: Any) -> ScheduleDefinition:
        built = build_schedule_from_partitioned_job(
            defs.get_job_def(self.job.name), **self.arguments
        )
        assert isinstance(built, ScheduleDefinition)
        return built

    def __repr__(self) -> str:
        return f"<UnresolvedPartitionedAssetScheduleDefinition {self.name!r}>"


def _time_dimension(partitions_def: Any, job_name: Any) -> TimeWindowPartitionsDefinition | None:
    """The time-window partitions a schedule follows (None: static, run on a cron), or the
    DefinitionsError Dagster raises for the rest."""
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        return partitions_def
    if isinstance(partitions_def, StaticPartitionsDefinition):
        return None
    if isinstance(partitions_def, MultiPartitionsDefinition):
        windows = [
            d.partitions_def
            for d in partitions_def.partitions_defs
            if isinstance(d.partitions_def, TimeWindowPartitionsDefinition)
        ]
        if len(windows) == 1:
            return windows[0]
    raise DefinitionsError(
        f"build_schedule_from_partitioned_job: job {job_name!r} has {partitions_def!r}; "
        "the permitted partitions definitions are: 1. TimeWindowPartitionsDefinition, "
        "2. MultiPartitionsDefinition with a single TimeWindowPartitionsDefinition dimension, "
        "3. StaticPartitionsDefinition (as Dagster; dynamic partitions have no schedule: use "
        "a sensor)"
    )


def _partitioned_fn(
    partitions_def: Any, window: TimeWindowPartitionsDefinition | None, tags: dict[str, str]
) -> ScheduleFn:
    def requests(context: ScheduleEvaluationContext) -> Any:
        now = context.scheduled_execution_time
        if window is None:  # static: every partition, each tick
            stamp = "" if now is None else now.isoformat()
            return [
                RunRequest(run_key=f"{key}@{stamp}", partition_key=key, tags=dict(tags))
                for key in partitions_def.get_partition_keys(now)
            ]
        key = window.get_last_partition_key(now)
        if key is None:
            return SkipReason("The job's PartitionsDefinition has no partitions yet")
        if window is partitions_def:
            return RunRequest(run_key=key, partition_key=key, tags=dict(tags))
        (dimension,) = [
            d.name for d in partitions_def.partitions_defs if d.partitions_def is window
        ]
        (other,) = [d for d in partitions_def.partitions_defs if d.name != dimension]
        store = context.instance if hasattr(context.instance, "get_dynamic_partitions") else None
        keys = [
            MultiPartitionKey({dimension: key, other.name: each})
            for each in other.partitions_def.get_partition_keys(now, store)
        ]
        if not keys:
            return SkipReason(f"No partitions of the job's other dimension for {key}")
        return [RunRequest(run_key=k, partition_key=k, tags=dict(tags)) for k in keys]

    return requests
